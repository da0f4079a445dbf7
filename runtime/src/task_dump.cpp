// SPDX-License-Identifier: MIT
// runtime::dump_tasks(): each loop lists its own tasks on its own thread.
#include <corio/runtime.hpp>

#include <corio/detail/sync_waiter.hpp>
#include <corio/detail/task_dump.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <string_view>

namespace corio::detail {
namespace {

std::string describe(const waiter& w, clock_type::time_point now) {
    // By content: a constexpr pointer to a literal is folded per translation unit, and two
    // copies of the literal need not share an address (under ASan they do not).
    if (std::string_view(w.what) == timed_waiter::until_text) {
        const auto& t = static_cast<const timed_waiter&>(w);
        if (t.deadline == clock_type::time_point::max()) {
            return "sleep forever";
        }
        const std::chrono::duration<double, std::milli> left = t.deadline - now;
        return fmt::format("{} {:+.1f} ms", w.what, left.count());
    }
    if (w.what_arg >= 0) {
        return fmt::format("{} {}", w.what, w.what_arg);
    }
    return w.what;
}

}  // namespace

std::string_view readable_function(const std::source_location& loc) noexcept {
    const std::string_view name = loc.function_name();
    if (!name.ends_with(".Frame*)")) {
        return name;
    }
    const std::size_t open = name.find('(');
    const std::size_t mangled = name.rfind("::_Z");
    if (open == std::string_view::npos || mangled == std::string_view::npos || mangled <= open) {
        return name;
    }
    return name.substr(open + 1, mangled - open - 1);
}

void scheduler::collect_tasks(std::vector<task_info>& out) const {
    const clock_type::time_point t = now();
    auto add = [&](const promise_base& p, bool block_on) {
        task_info& info = out.emplace_back();
        info.loop = index_;
        info.spawned_at = p.spawned_at();
        info.block_on = block_on;
        if (&p == running_) {
            info.st = task_info::state::running;
        } else if (ready_.holds(&p)) {
            info.st = task_info::state::ready;
        } else {
            info.st = task_info::state::waiting;
            const waiter* w = p.waiting_on_;
            if (w && w->st == waiter::state::parked && w->what) {
                info.waiting_on = describe(*w, t);
            } else if (const sync_waiter* sw = p.sync_waiting_on_) {
                info.waiting_on = sw->what();
            }
        }
    };
    if (block_on_root_) {
        add(*block_on_root_, true);
    }
    const std::size_t first = out.size();
    for (const promise_base* p = spawned_head_; p; p = p->detached_next_) {
        add(*p, false);
    }
    std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());  // oldest first
    const std::size_t grouped = out.size();
    for (const promise_base* p = tracked_head_; p; p = p->detached_next_) {
        add(*p, false);
    }
    std::reverse(out.begin() + static_cast<std::ptrdiff_t>(grouped), out.end());
}

void scheduler::request_dump(std::shared_ptr<dump_request> r) {
    {
        std::lock_guard lock(remote_mutex_);
        remote_dumps_.push_back(std::move(r));
    }
    notify_remote();
}

void scheduler::answer_dumps(std::vector<std::shared_ptr<dump_request>>& dumps) {
    std::vector<task_info> mine;
    collect_tasks(mine);
    for (auto& r : dumps) {
        std::lock_guard lock(r->mutex);
        r->tasks = mine;
        r->done = true;
        r->answered.notify_all();
    }
}

}  // namespace corio::detail

namespace corio {

task_dump runtime::dump_tasks(std::chrono::milliseconds per_loop_timeout) const {
    task_dump d;
    d.timeout = per_loop_timeout;
    detail::scheduler* here = detail::scheduler::current();
    const auto n = static_cast<unsigned>(sched_->loop_count());
    std::vector<std::shared_ptr<detail::dump_request>> asked(n);
    for (unsigned i = 0; i < n; ++i) {
        detail::scheduler& s = *sched_->loop(i);
        // Loop 0 outside block_on()/run() belongs to the calling (owner) thread: read directly.
        if (&s == here || (i == 0 && !here && !s.in_run())) {
            continue;
        }
        if (!s.in_run()) {
            d.silent_loops.push_back(i);  // stopped: nobody would answer
            continue;
        }
        asked[i] = std::make_shared<detail::dump_request>();
        s.request_dump(asked[i]);
    }
    const auto deadline = std::chrono::steady_clock::now() + per_loop_timeout;
    for (unsigned i = 0; i < n; ++i) {
        detail::scheduler& s = *sched_->loop(i);
        if (&s == here || (i == 0 && !here && !s.in_run())) {
            s.collect_tasks(d.tasks);
            continue;
        }
        if (!asked[i]) {
            continue;
        }
        std::unique_lock lock(asked[i]->mutex);
        if (asked[i]->answered.wait_until(lock, deadline, [&] { return asked[i]->done; })) {
            std::move(asked[i]->tasks.begin(), asked[i]->tasks.end(), std::back_inserter(d.tasks));
        } else {
            d.silent_loops.push_back(i);
        }
    }
    std::sort(d.silent_loops.begin(), d.silent_loops.end());
    return d;
}

std::string task_dump::to_string() const {
    std::string out = fmt::format("corio: {} live task{}\n", tasks.size(), tasks.size() == 1 ? "" : "s");
    for (const task_info& t : tasks) {
        const char* kind = t.block_on ? " [block_on]" : "";
        std::string state;
        switch (t.st) {
        case task_info::state::running:
            state = "running";
            break;
        case task_info::state::ready:
            state = "ready";
            break;
        case task_info::state::waiting:
            state = t.waiting_on.empty() ? "waiting (unknown)" : "waiting: " + t.waiting_on;
            break;
        }
        if (t.spawned_at.line() == 0) {
            fmt::format_to(std::back_inserter(out), "  loop {}: (unknown origin){}: {}\n", t.loop,
                           kind, state);
        } else {
            fmt::format_to(std::back_inserter(out), "  loop {}: {}:{} ({}){}: {}\n", t.loop,
                           t.spawned_at.file_name(), t.spawned_at.line(),
                           detail::readable_function(t.spawned_at), kind, state);
        }
    }
    for (unsigned i : silent_loops) {
        fmt::format_to(std::back_inserter(out),
                       "  loop {}: no answer within {} ms (stalled in a task, or not running)\n", i,
                       timeout.count());
    }
    return out;
}

}  // namespace corio
