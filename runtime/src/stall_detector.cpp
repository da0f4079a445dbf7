// SPDX-License-Identifier: MIT
// The stall detector's watchdog thread.
#include <corio/detail/stall_detector.hpp>

#include <corio/detail/scheduler.hpp>
#include <corio/detail/task_dump.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace corio {

std::string stall_report::to_string() const {
    if (spawned_at.line() == 0) {
        return fmt::format("corio: loop {} stalled for {} ms outside any task it can name "
                           "(timers, I/O dispatch, or a task of unknown origin)",
                           loop, stalled_for.count());
    }
    return fmt::format("corio: loop {} stalled for {} ms in a task spawned at {}:{} ({})", loop,
                       stalled_for.count(), spawned_at.file_name(), spawned_at.line(),
                       detail::readable_function(spawned_at));
}

}  // namespace corio

namespace corio::detail {

stall_detector::stall_detector(std::vector<scheduler*> loops, std::chrono::milliseconds threshold,
                               sink s)
    : loops_(std::move(loops)), threshold_(threshold), sink_(std::move(s)),
      thread_([this] { run(); }) {}

stall_detector::~stall_detector() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    stop_changed_.notify_all();
    thread_.join();
}

void stall_detector::run() {
    using namespace std::chrono;
    // Four samples per threshold: a stall is seen at most a quarter threshold late.
    const auto period = std::max(duration_cast<microseconds>(threshold_) / 4, microseconds(250));
    const auto threshold_ns = duration_cast<nanoseconds>(threshold_).count();
    // The busy_since value last reported per loop: a turn is reported once, and the next
    // report needs a new turn, i.e. a return to the reactor in between.
    std::vector<std::int64_t> reported(loops_.size(), 0);
    std::unique_lock lock(mutex_);
    while (!stop_changed_.wait_for(lock, period, [this] { return stop_; })) {
        const std::int64_t now = steady_clock::now().time_since_epoch().count();
        for (std::size_t i = 0; i < loops_.size(); ++i) {
            const std::int64_t since = loops_[i]->busy_since();
            if (since == 0 || since == reported[i] || now - since < threshold_ns) {
                continue;
            }
            reported[i] = since;
            const stall_report r{static_cast<unsigned>(i),
                                 duration_cast<milliseconds>(nanoseconds(now - since)),
                                 loops_[i]->running_spawned_at()};
            lock.unlock();  // the sink may be slow; stopping must not wait for it
            if (sink_) {
                sink_(r);
            } else {
                fmt::print(stderr, "{}\n", r.to_string());
            }
            lock.lock();
        }
    }
}

}  // namespace corio::detail
