// SPDX-License-Identifier: MIT
// Tests for runtime::dump_tasks(): where each live task was spawned, its loop, and what it
// waits on; finished tasks leave the list; a loop that cannot answer is named.
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/channel.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/mutex.hpp>
#include <corio/task_group.hpp>
#include <corio/signal_listener.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/socket_pair.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::task_info;

corio::task<void> wait_recv(int fd) {
    corio::io_handle h(fd);
    std::array<std::byte, 16> buf{};
    (void)co_await h.recv(buf);
}

corio::task<void> nap() { (void)co_await corio::sleep_for(1h); }

// Awaited, not spawned: its wait shows on the task that spawned the caller.
corio::task<void> wait_event_inner(corio::event& ev) { (void)co_await ev.wait(); }
corio::task<void> wait_event(corio::event& ev) { co_await wait_event_inner(ev); }

const task_info* spawned_on_line(const corio::task_dump& d, unsigned line) {
    auto it = std::find_if(d.tasks.begin(), d.tasks.end(), [&](const task_info& t) {
        return !t.block_on && t.spawned_at.line() == line;
    });
    return it == d.tasks.end() ? nullptr : &*it;
}

bool from_this_file(const task_info& t) {
    return std::string_view(t.spawned_at.file_name()).ends_with("task_dump_test.cpp");
}

corio::runtime_options quiet(unsigned threads = 1) {
    corio::runtime_options o;
    o.threads = threads;
    o.stall_threshold = 0ms;  // these tests hold loops busy on purpose
    return o;
}

}  // namespace

TEST_CASE("dump_tasks names each task's spawn line and what it waits on", "[task_dump]") {
    corio::runtime rt(quiet());
    corio_test::socket_pair pair;
    corio::event ev;
    corio::event other;
    std::stop_source stop;
    const int fd = pair.take(0);
    unsigned recv_line = 0;
    unsigned nap_line = 0;
    unsigned event_line = 0;
    unsigned token_line = 0;
    unsigned root_line = 0;

    auto body = [&]() -> corio::task<void> {
        corio::spawn(wait_recv(fd)); recv_line = __LINE__;
        corio::spawn(nap()); nap_line = __LINE__;
        rt.spawn(wait_event(ev)); event_line = __LINE__;
        corio::spawn(wait_event(other), stop.get_token()); token_line = __LINE__;
        co_await corio::yield();  // queued behind them: they have all parked when we resume

        const corio::task_dump d = rt.dump_tasks();
        REQUIRE(d.tasks.size() == 5);
        CHECK(d.silent_loops.empty());
        CHECK(d.tasks[0].block_on);
        CHECK(d.tasks[0].spawned_at.line() == root_line);
        CHECK(d.tasks[0].st == task_info::state::running);
        for (const task_info& t : d.tasks) {
            CHECK(t.loop == 0);
            CHECK(from_this_file(t));
        }

        const task_info* r = spawned_on_line(d, recv_line);
        REQUIRE(r);
        CHECK(r->st == task_info::state::waiting);
        CHECK(r->waiting_on == "recv on fd " + std::to_string(fd));

        const task_info* n = spawned_on_line(d, nap_line);
        REQUIRE(n);
        CHECK(n->st == task_info::state::waiting);
        CHECK(n->waiting_on.starts_with("sleep until +"));
        CHECK(n->waiting_on.ends_with(" ms"));

        const task_info* e = spawned_on_line(d, event_line);
        REQUIRE(e);
        CHECK(e->waiting_on == "event::wait");
        const task_info* tk = spawned_on_line(d, token_line);  // the user's line, not spawn's
        REQUIRE(tk);
        CHECK(tk->waiting_on == "event::wait");

        const std::string text = d.to_string();
        CHECK(text.find("task_dump_test.cpp:" + std::to_string(recv_line)) != std::string::npos);
        CHECK(text.find("waiting: recv on fd " + std::to_string(fd)) != std::string::npos);
        CHECK(text.find("[block_on]: running") != std::string::npos);

        // A task that finished leaves the list; one made ready shows as ready.
        ev.set();
        other.set();
        const corio::task_dump ready = rt.dump_tasks();
        REQUIRE(spawned_on_line(ready, event_line));
        CHECK(spawned_on_line(ready, event_line)->st == task_info::state::ready);
        co_await corio::yield();
        const corio::task_dump after = rt.dump_tasks();
        CHECK(after.tasks.size() == 3);
        CHECK_FALSE(spawned_on_line(after, event_line));
        CHECK_FALSE(spawned_on_line(after, token_line));
        CHECK(spawned_on_line(after, recv_line));
    };
    root_line = __LINE__ + 1;
    rt.block_on(body());
    // Outside block_on, on the runtime's thread: the parked tasks are still listed.
    const corio::task_dump outside = rt.dump_tasks();
    CHECK(outside.tasks.size() == 2);
    CHECK(spawned_on_line(outside, nap_line));
}

namespace {

corio::task<void> lock_mutex(corio::mutex& m) { (void)co_await m.lock(); }
corio::task<void> recv_channel(corio::channel<int>& ch) { (void)co_await ch.recv(); }
corio::task<void> join_group(corio::event& never) {
    corio::task_group group;
    group.spawn([](corio::event& e) -> corio::task<void> { (void)co_await e.wait(); }(never));
    co_await group.join();
}

TEST_CASE("dump_tasks names waits on a mutex, a channel and a task_group's join", "[task_dump]") {
    // Declared before the runtime: the spawned tasks may still refer to them when it goes.
    corio::mutex m;
    corio::channel<int> ch(1);
    corio::event never;
    corio::runtime rt;
    rt.block_on([](corio::runtime& r, corio::mutex& m, corio::channel<int>& ch,
                   corio::event& never) -> corio::task<void> {
        auto held = co_await m.lock();
        const unsigned mutex_line = __LINE__ + 1;
        corio::spawn(lock_mutex(m));
        const unsigned channel_line = __LINE__ + 1;
        corio::spawn(recv_channel(ch));
        const unsigned join_line = __LINE__ + 1;
        corio::spawn(join_group(never));
        co_await corio::yield();  // each runs to its wait
        const corio::task_dump d = r.dump_tasks();
        REQUIRE(spawned_on_line(d, mutex_line));
        CHECK(spawned_on_line(d, mutex_line)->waiting_on == "mutex::lock");
        REQUIRE(spawned_on_line(d, channel_line));
        CHECK(spawned_on_line(d, channel_line)->waiting_on == "channel::recv");
        REQUIRE(spawned_on_line(d, join_line));
        CHECK(spawned_on_line(d, join_line)->waiting_on == "join of a task_group");
        held->unlock();
        (void)ch.try_send(7);
        co_await corio::yield();
        const corio::task_dump after = r.dump_tasks();
        CHECK_FALSE(spawned_on_line(after, mutex_line));
        CHECK_FALSE(spawned_on_line(after, channel_line));
        never.set();
    }(rt, m, ch, never));
}

unsigned group_child_line = 0;

// Two children in a group: one waits in a task it awaits, one sleeps; the group is joined
// once `go` is set, or destroyed with the children still suspended when `drop` is set.
corio::task<void> group_of_two(corio::event& go, bool drop) {
    corio::task_group group;
    group_child_line = __LINE__ + 1;
    group.spawn(wait_event(go));
    group.spawn(nap());
    if (drop) {
        co_await corio::yield();
        co_return;  // the group goes with both children suspended
    }
    (void)co_await go.wait();
    group.cancel();
    co_await group.join();
}

corio::task<void> mark(corio::event& ev) {
    ev.set();
    co_return;
}

// On loop 1: tells loop 0 (which owns `ev`) it is about to park, then parks in the same turn;
// loop 1 answers a dump only at its next turn, so the dump sees it parked.
corio::task<void> nap_on_one(corio::event& ev) {
    corio::spawn_on(0, mark(ev));
    (void)co_await corio::sleep_for(1h);
}

corio::task<void> spin_until(std::atomic<bool>& started, std::atomic<bool>& release) {
    started.store(true);
    while (!release.load()) {
    }
    co_return;
}

}  // namespace

TEST_CASE("dump_tasks lists each child of a task_group as a task, spawned where "
          "task_group::spawn was called, until it ends or its group goes", "[task_dump]") {
    corio::event go;
    corio::runtime rt;
    rt.block_on([](corio::runtime& r, corio::event& go) -> corio::task<void> {
        const unsigned group_line = __LINE__ + 1;
        corio::spawn(group_of_two(go, false));
        co_await corio::yield();
        const corio::task_dump d = r.dump_tasks();
        REQUIRE(spawned_on_line(d, group_child_line));
        CHECK(spawned_on_line(d, group_child_line)->waiting_on == "event::wait");
        REQUIRE(spawned_on_line(d, group_child_line + 1));
        CHECK(spawned_on_line(d, group_child_line + 1)->waiting_on.starts_with("sleep until"));
        REQUIRE(spawned_on_line(d, group_line));
        CHECK(spawned_on_line(d, group_line)->waiting_on == "event::wait");
        CHECK(d.tasks.size() == 4);  // block_on, the group's task, its two children
        go.set();
        for (int i = 0; i < 10 && r.dump_tasks().tasks.size() > 1; ++i) {
            co_await corio::yield();  // the children end, then the join, then the group's task
        }
        const corio::task_dump after = r.dump_tasks();
        CHECK_FALSE(spawned_on_line(after, group_child_line));
        CHECK_FALSE(spawned_on_line(after, group_child_line + 1));
        CHECK_FALSE(spawned_on_line(after, group_line));
        CHECK(after.tasks.size() == 1);

        const unsigned dropped_line = __LINE__ + 1;
        corio::spawn(group_of_two(go, true));  // `go` is set: the first child ends at once
        co_await corio::yield();
        co_await corio::yield();
        const corio::task_dump dropped = r.dump_tasks();
        CHECK_FALSE(spawned_on_line(dropped, dropped_line));
        CHECK_FALSE(spawned_on_line(dropped, group_child_line + 1));  // destroyed with its group
        CHECK(dropped.tasks.size() == 1);
    }(rt, go));
}

TEST_CASE("dump_tasks asks every loop, and names a loop that does not answer", "[task_dump]") {
    corio::runtime rt(quiet(2));
    corio::event parked;
    unsigned nap_line = 0;
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
    auto body = [&]() -> corio::task<void> {
        rt.spawn_on(1, nap_on_one(parked)); nap_line = __LINE__;
        (void)co_await parked.wait();
        const corio::task_dump d = rt.dump_tasks();
        CHECK(d.silent_loops.empty());
        const task_info* n = spawned_on_line(d, nap_line);
        REQUIRE(n);
        CHECK(n->loop == 1);
        CHECK(n->st == task_info::state::waiting);
        CHECK(n->waiting_on.starts_with("sleep until"));

        // Loop 1 busy in one task cannot answer: the dump says so instead of reading its list.
        corio::spawn_on(1, spin_until(started, release));
        while (!started.load()) {
        }
        const corio::task_dump stalled = rt.dump_tasks(20ms);
        release.store(true);
        CHECK(stalled.silent_loops == std::vector<unsigned>{1});
        CHECK_FALSE(spawned_on_line(stalled, nap_line));
        CHECK(stalled.to_string().find("loop 1: no answer within 20 ms") != std::string::npos);
    };
    rt.block_on(body());
}

TEST_CASE("dump_tasks from another thread lists the running loop's tasks", "[task_dump]") {
    corio::runtime rt(quiet());
    corio::task_dump seen;
    std::atomic<bool> answered{false};
    auto body = [&]() -> corio::task<void> {
        std::thread asker([&] {
            seen = rt.dump_tasks(5s);
            answered.store(true);
        });
        while (!answered.load()) {  // the loop keeps turning, so it answers
            co_await corio::yield();
        }
        asker.join();
    };
    rt.block_on(body());
    REQUIRE(seen.tasks.size() == 1);
    CHECK(seen.tasks[0].block_on);
    CHECK(seen.tasks[0].st == task_info::state::ready);
}

namespace {

// The snippet of docs/multicore.md "Seeing inside", as the examples use it.
// SIGUSR1 prints every live task to stderr and waits on; any other signal is returned.
corio::task<corio::result<int>> next_signal(corio::signal_listener& signals,
                                            const corio::runtime& rt) {
    for (;;) {
        auto sig = co_await signals.wait();
        if (!sig || *sig != SIGUSR1) {
            co_return sig;
        }
        fmt::print(stderr, "{}", rt.dump_tasks().to_string());
    }
}

}  // namespace

TEST_CASE("the SIGUSR1 dump snippet of the docs dumps and waits on", "[task_dump]") {
    corio::runtime rt(quiet());
    auto signals = corio::signal_listener::open({SIGUSR1, SIGUSR2});
    REQUIRE(signals);
    auto body = [&]() -> corio::task<void> {
        ::raise(SIGUSR1);
        ::raise(SIGUSR2);
        const auto sig = co_await next_signal(*signals, rt);
        REQUIRE(sig);
        CHECK(*sig == SIGUSR2);
    };
    rt.block_on(body());
}
