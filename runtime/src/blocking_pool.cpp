// SPDX-License-Identifier: MIT
// The blocking pool's threads, queue and the hand-back of finished jobs to their awaiters.
#include <corio/detail/blocking_pool.hpp>

#include <corio/detail/scheduler.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/error.hpp>

#include <pthread.h>

#include <csignal>
#include <iterator>
#include <new>
#include <utility>

namespace corio::detail {
namespace {

// Resumes the awaiter on its own loop. request_cancel is the scheduler's one way to wake a
// parked waiter from another thread that the waiter can take back when it is destroyed first
// (waiter::release forgets it); a handle given to schedule_remote could not be.
void wake(waiter& w) noexcept { w.sched->request_cancel(w); }

// Blocks asynchronous signals on the calling thread until destroyed, so that a thread started
// meanwhile begins with them blocked. Faults (SIGSEGV...) stay deliverable: blocked, the kernel
// would kill the process without running a handler such as a sanitizer's.
class async_signals_blocked {
public:
    async_signals_blocked() noexcept {
        sigset_t set;
        sigfillset(&set);
        for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) {
            sigdelset(&set, s);
        }
        ok_ = ::pthread_sigmask(SIG_BLOCK, &set, &old_) == 0;
    }
    ~async_signals_blocked() {
        if (ok_) {
            ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
        }
    }
    async_signals_blocked(const async_signals_blocked&) = delete;
    async_signals_blocked& operator=(const async_signals_blocked&) = delete;

private:
    sigset_t old_{};
    bool ok_ = false;
};

}  // namespace

blocking_pool::blocking_pool(std::size_t max_threads,
                             std::chrono::milliseconds idle_timeout) noexcept
    : max_threads_(max_threads == 0 ? 1 : max_threads), idle_timeout_(idle_timeout) {}

blocking_pool::~blocking_pool() {
    std::unique_lock lock(mutex_);
    closing_ = true;
    blocking_job* dropped = std::exchange(head_, nullptr);
    tail_ = nullptr;
    for (blocking_job* j = dropped; j; j = j->next_) {
        j->phase_ = blocking_phase::dropped;
        if (waiter* w = std::exchange(j->awaiter_, nullptr)) {
            wake(*w);
        }
    }
    work_.notify_all();
    lock.unlock();
    while (dropped) {
        blocking_job* next = dropped->next_;
        dropped->unref();  // the pool's reference: this may destroy the callable, unrun
        dropped = next;
    }
    // Running jobs finish: each worker moves itself to exited_ once it is done.
    lock.lock();
    while (!threads_.empty()) {
        exited_cv_.wait(lock);
    }
    thread_list done;
    done.swap(exited_);
    lock.unlock();
    for (auto& t : done) {
        t.join();
    }
}

std::error_code blocking_pool::submit(blocking_job& job, waiter* awaiter) {
    std::unique_lock lock(mutex_);
    if (closing_) {
        lock.unlock();
        job.unref();
        return make_error_code(errc::closed);
    }
    job.awaiter_ = awaiter;
    job.phase_ = blocking_phase::queued;
    job.prev_ = tail_;
    job.next_ = nullptr;
    (tail_ ? tail_->next_ : head_) = &job;
    tail_ = &job;
    if (idle_ > 0) {
        --idle_;
        ++wakeups_;
        work_.notify_one();
        return {};
    }
    if (threads_.size() < max_threads_) {
        // A thread that cannot start is no loss while others run: they take the job later.
        if (auto ec = start_thread(); ec && threads_.empty()) {
            unlink(job);
            job.awaiter_ = nullptr;
            lock.unlock();
            job.unref();
            return ec;
        }
    }
    return {};
}

blocking_phase blocking_pool::abandon(blocking_job& job) noexcept {
    std::unique_lock lock(mutex_);
    job.awaiter_ = nullptr;
    const blocking_phase phase = job.phase_;
    if (phase != blocking_phase::queued) {
        return phase;
    }
    unlink(job);
    job.phase_ = blocking_phase::dropped;
    lock.unlock();
    job.unref();  // the pool's; the awaiter still holds one, so the job stays until it reads it
    return phase;
}

std::size_t blocking_pool::thread_count() const {
    std::lock_guard lock(mutex_);
    return threads_.size();
}

std::size_t blocking_pool::threads_started() const {
    std::lock_guard lock(mutex_);
    return started_;
}

void blocking_pool::unlink(blocking_job& job) noexcept {
    (job.prev_ ? job.prev_->next_ : head_) = job.next_;
    (job.next_ ? job.next_->prev_ : tail_) = job.prev_;
    job.prev_ = job.next_ = nullptr;
}

std::error_code blocking_pool::start_thread() {
    thread_list::iterator self;
    try {
        self = threads_.emplace(threads_.end());
    } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    async_signals_blocked inherited_by_the_thread;
    try {
        // The worker touches `self` only under mutex_, which the caller holds until *self is set.
        *self = std::thread([this, self] { worker(self); });
    } catch (const std::system_error& e) {
        threads_.erase(self);
        return e.code();
    }
    ++started_;
    return {};
}

void blocking_pool::worker(thread_list::iterator self) {
    ::pthread_setname_np(::pthread_self(), "corio-blocking");
    std::unique_lock lock(mutex_);
    for (;;) {
        if (head_) {
            blocking_job& job = *head_;
            unlink(job);
            job.phase_ = blocking_phase::running;
            lock.unlock();
            job.run();
            finish(job);
            lock.lock();
        } else if (!exited_.empty()) {
            join_exited(lock);
        } else if (!wait_for_work(lock)) {
            break;
        }
    }
    exited_.splice(exited_.end(), threads_, self);
    exited_cv_.notify_all();
}

bool blocking_pool::wait_for_work(std::unique_lock<std::mutex>& lock) {
    ++idle_;
    const auto deadline = std::chrono::steady_clock::now() + idle_timeout_;
    for (;;) {
        // A claim by submit() comes first, even past the deadline: that job counts on us.
        if (wakeups_ > 0) {
            --wakeups_;
            return true;
        }
        if (closing_ || work_.wait_until(lock, deadline) == std::cv_status::timeout) {
            if (wakeups_ > 0) {
                continue;
            }
            --idle_;
            return false;
        }
    }
}

void blocking_pool::join_exited(std::unique_lock<std::mutex>& lock) {
    thread_list done;
    done.swap(exited_);
    lock.unlock();
    for (auto& t : done) {
        t.join();
    }
    lock.lock();
}

void blocking_pool::finish(blocking_job& job) noexcept {
    {
        std::lock_guard lock(mutex_);
        job.phase_ = blocking_phase::finished;
        // Under the lock: the awaiter cannot be destroyed while it is being woken.
        if (waiter* w = std::exchange(job.awaiter_, nullptr)) {
            wake(*w);
        }
    }
    job.unref();
}

}  // namespace corio::detail
