// SPDX-License-Identifier: MIT
// stall_detector: a watchdog thread that reports loops busy too long in one turn.
#pragma once

#include <corio/diagnostics.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace corio::detail {

class scheduler;

/// Samples each loop's busy_since() about four times per threshold; reports a turn that has
/// lasted at least the threshold once, naming the task the loop resumed last. Reads only the
/// loops' atomics, never their tasks, so a loop may finish and free that task meanwhile.
class stall_detector {
public:
    using sink = std::function<void(const stall_report&)>;
    /// Starts the thread. Throws std::system_error if it cannot be created. The loops must
    /// outlive the detector.
    stall_detector(std::vector<scheduler*> loops, std::chrono::milliseconds threshold, sink s);
    /// Stops and joins the thread.
    ~stall_detector();
    stall_detector(const stall_detector&) = delete;
    stall_detector& operator=(const stall_detector&) = delete;

private:
    void run();

    std::vector<scheduler*> loops_;
    std::chrono::milliseconds threshold_;
    sink sink_;
    std::mutex mutex_;
    std::condition_variable stop_changed_;
    bool stop_ = false;
    std::thread thread_;  // last: started once everything above is ready
};

}  // namespace corio::detail
