// SPDX-License-Identifier: MIT
// blocking_pool: the bounded set of threads that runs blocking calls off the runtime's loops.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>

namespace corio::detail {

struct waiter;
class blocking_pool;

/// Where a job stands, as its awaiter finds it when it lets go (blocking_pool::abandon).
enum class blocking_phase : unsigned char {
    queued,    ///< not started: abandon() took it out of the queue, so it never runs
    running,   ///< on a pool thread now: it finishes there and its result is dropped
    finished,  ///< done: its result (value or exception) is the awaiter's to take
    dropped,   ///< never started: the pool shut down first
};

/// One call handed to the pool. Shared by the pool and the task awaiting it, and freed by
/// whichever lets go last (unref), so either may go first: the call's state and captures live
/// until it has run, even when the awaiting frame is already gone.
class blocking_job {
public:
    blocking_job(const blocking_job&) = delete;
    blocking_job& operator=(const blocking_job&) = delete;

    /// Gives up one of the two references (the pool's or the awaiter's); the last frees it.
    void unref() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            delete this;
        }
    }

protected:
    blocking_job() noexcept = default;
    virtual ~blocking_job() = default;
    /// The call itself, on a pool thread; keeps what it returns or throws for the awaiter.
    virtual void run() noexcept = 0;

private:
    friend class blocking_pool;
    // Guarded by the pool's mutex.
    blocking_job* prev_ = nullptr;  // queue links while queued
    blocking_job* next_ = nullptr;
    waiter* awaiter_ = nullptr;  // woken (request_cancel) when the job ends; null once it let go
    blocking_phase phase_ = blocking_phase::queued;
    std::atomic<unsigned> refs_{2};  // the pool's (until run or dropped) and the awaiter's
};

/// Threads for calls that would block a loop (getaddrinfo, file I/O, CPU-heavy work); one per
/// runtime, shared by all its loops. Threads start on demand (none before the first job), at
/// most max_threads run at once, and one idle for idle_timeout exits. Jobs run in FIFO order.
/// Pool threads are named "corio-blocking" and block asynchronous signals, so process signals
/// reach the application's own threads and a blocking call in a job sees no EINTR or SIGPIPE.
class blocking_pool {
public:
    /// How long a thread with nothing to do waits for work before it exits (tokio's figure).
    static constexpr std::chrono::milliseconds default_idle_timeout{10'000};

    explicit blocking_pool(std::size_t max_threads,
                           std::chrono::milliseconds idle_timeout = default_idle_timeout) noexcept;
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;
    /// Takes no more jobs, drops the queued ones (an awaiter still parked on one is woken and
    /// finds it dropped), lets running ones finish and joins every thread.
    ~blocking_pool();

    std::size_t max_threads() const noexcept { return max_threads_; }

    /// Queues `job` (taking the pool's reference) and starts a thread if none is idle and fewer
    /// than max_threads exist. When the job ends or is dropped, `awaiter` (if not null) is
    /// woken through its scheduler's request_cancel, from the pool thread. Errors (the job is
    /// then not queued and the pool's reference is given back): errc::closed once the pool is
    /// shutting down; the OS error when no thread exists and none can be started.
    std::error_code submit(blocking_job& job, waiter* awaiter);
    /// The awaiter lets go (it is resumed or destroyed; on its loop's thread): the job no
    /// longer wakes it, and a job not started yet leaves the queue and never runs. Returns the
    /// phase the job was in. The awaiter still holds its reference (unref it after reading the
    /// result).
    blocking_phase abandon(blocking_job& job) noexcept;

    /// Threads alive now, and ever started: for tests and statistics.
    std::size_t thread_count() const;
    std::size_t threads_started() const;

private:
    using thread_list = std::list<std::thread>;
    void worker(thread_list::iterator self);
    bool wait_for_work(std::unique_lock<std::mutex>& lock);
    void finish(blocking_job& job) noexcept;
    void unlink(blocking_job& job) noexcept;
    std::error_code start_thread();
    void join_exited(std::unique_lock<std::mutex>& lock);

    const std::size_t max_threads_;
    const std::chrono::milliseconds idle_timeout_;
    mutable std::mutex mutex_;
    std::condition_variable work_;
    std::condition_variable exited_cv_;  // a thread left, while the destructor waits
    blocking_job* head_ = nullptr;  // the FIFO queue of jobs not started
    blocking_job* tail_ = nullptr;
    thread_list threads_;  // alive
    thread_list exited_;   // returned from worker(), not joined yet
    std::size_t idle_ = 0;     // threads waiting for work that no submit has claimed yet
    std::size_t wakeups_ = 0;  // claims of idle threads not yet taken up
    std::size_t started_ = 0;
    bool closing_ = false;
};

}  // namespace corio::detail
