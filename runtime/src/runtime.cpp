// SPDX-License-Identifier: MIT
// runtime construction, its loop threads, and the run/stop entry points.
#include <corio/runtime.hpp>

#include <corio/detail/blocking_pool.hpp>
#include <corio/detail/stall_detector.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace corio::detail {

/// The loops of one runtime: loop 0 is driven by block_on()/run(), loops 1.. by threads
/// started here. Heap-allocated once, so the schedulers' pointer to the list survives moves
/// of the runtime.
class loop_group {
public:
    loop_group(std::size_t blocking_threads, std::vector<std::unique_ptr<scheduler>> loops)
        : pool_(blocking_threads), owned_(std::move(loops)) {
        for (auto& s : owned_) {
            loops_.push_back(s.get());
        }
        for (unsigned i = 0; i < loops_.size(); ++i) {
            loops_[i]->join_group(&loops_, i);
            loops_[i]->set_blocking_pool(&pool_);
        }
    }
    loop_group(const loop_group&) = delete;
    loop_group& operator=(const loop_group&) = delete;
    ~loop_group() { shut_down(); }

    /// Starts loops 1.. on their threads. Errors: the OS error from creating a thread (the
    /// threads already started are stopped and joined).
    result<void> start() {
        for (unsigned i = 1; i < loops_.size(); ++i) {
            try {
                threads_.emplace_back([this, i] { run_worker(i); });
            } catch (const std::system_error& e) {
                shut_down();
                return e.code();
            }
        }
        return {};
    }

    /// Starts the stall detector (runtime_options::stall_threshold > 0). Errors: the OS error
    /// from creating its thread.
    result<void> watch(std::chrono::milliseconds threshold, stall_detector::sink s) {
        try {
            watchdog_ = std::make_unique<stall_detector>(loops_, threshold, std::move(s));
        } catch (const std::system_error& e) {
            return e.code();
        }
        return {};
    }

    scheduler& loop(std::size_t i) noexcept { return *loops_[i]; }
    std::size_t size() const noexcept { return loops_.size(); }
    const std::vector<scheduler*>& loops() const noexcept { return loops_; }

    void stop_all() noexcept {
        {
            std::lock_guard lock(mutex_);
            should_run_ = false;
        }
        for (scheduler* s : loops_) {
            s->request_stop();
        }
    }

    /// Runs loops 1.. again after a stop(): one still running forgets the stop, one that ended
    /// starts again.
    void restart() noexcept {
        std::lock_guard lock(mutex_);
        if (should_run_) {
            return;
        }
        should_run_ = true;
        for (unsigned i = 1; i < loops_.size(); ++i) {
            loops_[i]->clear_stop();
        }
        changed_.notify_all();
    }

private:
    void run_worker(unsigned i) {
        scheduler& s = *loops_[i];
        std::unique_lock lock(mutex_);
        for (;;) {
            // should_run_ is the last word of stop_all()/restart(): a loop that consumed a stop
            // after a restart() runs again here rather than missing it.
            changed_.wait(lock, [&] { return shutdown_ || should_run_; });
            if (shutdown_) {
                break;
            }
            lock.unlock();
            try {
                s.run_until([] { return false; });
            } catch (const std::exception& e) {
                // Nobody can receive it on this thread: the loop cannot go on, and its tasks
                // would hang silently.
                fmt::print(stderr, "corio: loop {} failed: {}\n", i, e.what());
                std::terminate();
            }
            lock.lock();
        }
        // Every loop has stopped before any is destroyed, so no task can hand work to a loop
        // that is going away. The frames of a loop are destroyed on its own thread.
        ++stopped_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return destroy_; });
        lock.unlock();
        owned_[i].reset();
    }

    void shut_down() noexcept {
        watchdog_.reset();  // it reads the loops' state
        {
            std::lock_guard lock(mutex_);
            if (shutdown_) {
                return;
            }
            shutdown_ = true;
        }
        stop_all();  // should_run_ no longer matters once shutdown_ is set
        std::unique_lock lock(mutex_);
        changed_.notify_all();
        changed_.wait(lock, [&] { return stopped_ == threads_.size(); });
        destroy_ = true;
        changed_.notify_all();
        lock.unlock();
        for (auto& t : threads_) {
            t.join();
        }
        owned_.clear();  // loop 0, on the thread destroying the runtime
    }

    blocking_pool pool_;  // first: destroyed after every loop, whose tasks may wait on it
    std::vector<std::unique_ptr<scheduler>> owned_;
    std::vector<scheduler*> loops_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::size_t stopped_ = 0;
    bool should_run_ = true;
    bool shutdown_ = false;
    bool destroy_ = false;
    std::unique_ptr<stall_detector> watchdog_;
};

}  // namespace corio::detail

namespace corio {

result<runtime> runtime::create(runtime_options options) {
    const unsigned threads = std::max(options.threads, 1U);
    if (threads > 1 && options.clock) {
        return std::make_error_code(std::errc::invalid_argument);
    }
    std::vector<std::unique_ptr<detail::scheduler>> loops;
    for (unsigned i = 0; i < threads; ++i) {
        auto r = reactor::open(options.backend, options.backend_options);
        if (!r) {
            return r.error();
        }
        loops.push_back(std::make_unique<detail::scheduler>(std::move(*r), options.clock,
                                                            options.on_unhandled_exception));
    }
    auto group = std::make_unique<detail::loop_group>(std::max<std::size_t>(options.blocking_threads, 1),
                                                      std::move(loops));
    if (auto started = group->start(); !started) {
        return started.error();
    }
    if (options.stall_threshold > std::chrono::milliseconds::zero()) {
        if (auto watched = group->watch(options.stall_threshold, std::move(options.on_stall));
            !watched) {
            return watched.error();
        }
    }
    return runtime(std::move(group));
}

runtime::runtime(runtime_options options) {
    auto r = create(std::move(options));
    if (!r) {
        throw std::system_error(r.error(), "corio::runtime");
    }
    group_ = std::move(r->group_);
    sched_ = std::exchange(r->sched_, nullptr);
}

runtime::runtime(std::unique_ptr<detail::loop_group> group) noexcept
    : group_(std::move(group)), sched_(&group_->loop(0)) {}
runtime::runtime(runtime&& o) noexcept
    : group_(std::move(o.group_)), sched_(std::exchange(o.sched_, nullptr)) {}
runtime& runtime::operator=(runtime&& o) noexcept {
    if (this != &o) {
        group_ = std::move(o.group_);
        sched_ = std::exchange(o.sched_, nullptr);
    }
    return *this;
}
runtime::~runtime() = default;

void runtime::restart_loops() noexcept { group_->restart(); }

detail::scheduler& runtime::loop_at(unsigned loop, std::coroutine_handle<> frame) {
    if (loop >= group_->size()) {
        frame.destroy();
        throw usage_error("corio::runtime::spawn_on: no such loop in this runtime");
    }
    return group_->loop(loop);
}

void runtime::run() {
    restart_loops();
    sched_->run_until([] { return false; });
}

void runtime::stop() noexcept {
    if (group_) {
        group_->stop_all();
    }
}

unsigned runtime::threads() const noexcept { return static_cast<unsigned>(group_->size()); }

std::string_view runtime::backend_name() const noexcept { return sched_->io().backend_name(); }

reactor_stats runtime::backend_stats() const noexcept {
    reactor_stats sum;
    for (detail::scheduler* s : group_->loops()) {
        sum += s->io().stats();
    }
    return sum;
}

}  // namespace corio
