// SPDX-License-Identifier: MIT
// What a runtime tells about its tasks: a dump of the live ones, and stall reports.
#pragma once

#include <chrono>
#include <source_location>
#include <string>
#include <vector>

namespace corio {

/// One live task in a task_dump.
struct task_info {
    enum class state : unsigned char {
        running,  ///< it is the task that asked for the dump
        ready,    ///< queued to run at its loop's next turn
        waiting,  ///< suspended; `waiting_on` says on what
    };
    /// The loop (0 .. threads()-1) it runs on.
    unsigned loop = 0;
    /// Where spawn()/spawn_on()/block_on() was called for it. A default location (line 0) for
    /// a task of unknown origin.
    std::source_location spawned_at;
    /// True for the task block_on() runs, false for spawned ones.
    bool block_on = false;
    state st = state::waiting;
    /// For `waiting`: "recv on fd 7", "sleep until +12.3 ms", "event"; empty when the wait does
    /// not say (a primitive that records nothing, or an await of a coroutine that is not a
    /// corio task), printed "waiting (unknown)".
    std::string waiting_on;
};

/// The answer of runtime::dump_tasks(): the live tasks of every loop that answered.
struct task_dump {
    std::vector<task_info> tasks;
    /// Loops that did not answer in time: stalled (busy in one task), or not running.
    std::vector<unsigned> silent_loops;
    /// How long each loop was given to answer.
    std::chrono::milliseconds timeout{0};

    /// One line per task ("loop 1: echo.cpp:42 (task<> serve(...)): waiting: recv on fd 7"),
    /// then one per silent loop; never throws but for std::bad_alloc.
    std::string to_string() const;
};

/// What the stall detector (runtime_options::stall_threshold) reports: loop `loop` has been
/// running without returning to its reactor for `stalled_for`, in the task spawned at
/// `spawned_at` (a default location, line 0, when the task is of unknown origin or the loop
/// was busy outside any task).
struct stall_report {
    unsigned loop = 0;
    std::chrono::milliseconds stalled_for{0};
    std::source_location spawned_at;

    /// "corio: loop 1 stalled for 153 ms in a task spawned at file.cpp:42 (function)", or
    /// "... outside any task it can name (...)" for a default `spawned_at`.
    std::string to_string() const;
};

}  // namespace corio
