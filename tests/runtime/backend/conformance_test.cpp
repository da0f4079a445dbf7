// SPDX-License-Identifier: MIT
// The reactor contract, checked once per available backend (see style guide, section 8).
#include <corio/reactor.hpp>

#include <catch2/catch.hpp>

#include <corio/backend.hpp>
#include <corio/error.hpp>
#include <corio/interest.hpp>

#include "support/socket_pair.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

// Every callback invocation, in order: which context it was for and what was reported.
struct dispatch_log {
    struct entry {
        int id;
        corio::readiness events;
    };
    std::vector<entry> entries;
};

// The context of one registration: an id, the log, and optionally a registration to remove
// when called (to remove others from inside a callback).
struct probe {
    int id = 0;
    dispatch_log* log = nullptr;
    corio::reactor* r = nullptr;
    corio::token remove_on_call{};
};

void record(void* context, corio::readiness events) noexcept {
    auto* p = static_cast<probe*>(context);
    p->log->entries.push_back({p->id, events});
    if (p->remove_on_call.valid()) {
        (void)p->r->remove(p->remove_on_call);
    }
}

std::unique_ptr<corio::reactor> open_named(const std::string& name) {
    auto r = corio::reactor::open(name);
    INFO("backend " << name);
    REQUIRE(r);
    REQUIRE(*r);
    return std::move(*r);
}

TEST_CASE("every available backend opens under its own name") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    auto r = open_named(name);
    CHECK(r->backend_name() == name);
    CHECK(r->size() == 0);
}

TEST_CASE("the list of available backends names the default backend") {
    const auto names = corio::available_backends();
    REQUIRE_FALSE(names.empty());
    CHECK(std::find(names.begin(), names.end(), corio::default_backend_name()) != names.end());
}

TEST_CASE("reactor::open with an unknown name reports errc::backend_unavailable") {
    auto r = corio::reactor::open("no-such-backend");
    REQUIRE_FALSE(r);
    CHECK(r.error() == corio::errc::backend_unavailable);
}

TEST_CASE("a backend reports a socket readable once data is written to its peer") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair pair;
    dispatch_log log;
    probe p{1, &log};
    auto t = r->add(pair.fd(0), corio::interest::read, record, &p);
    REQUIRE(t);
    CHECK(t->valid());
    CHECK(r->size() == 1);

    auto idle = r->poll(0ns);
    REQUIRE(idle);
    CHECK(*idle == 0);
    CHECK(log.entries.empty());

    REQUIRE(corio_test::send_text(pair.fd(1), "x") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].id == 1);
    CHECK(log.entries[0].events.is_readable());
    CHECK_FALSE(log.entries[0].events.is_writable());
    CHECK_FALSE(log.entries[0].events.is_hangup());
    CHECK(r->remove(*t));
}

TEST_CASE("a backend reports write readiness and follows modify()") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair pair;
    dispatch_log log;
    probe p{1, &log};
    auto t = r->add(pair.fd(0), corio::interest::write, record, &p);
    REQUIRE(t);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].events.is_writable());
    CHECK_FALSE(log.entries[0].events.is_readable());

    REQUIRE(r->modify(*t, corio::interest::read));
    log.entries.clear();
    auto quiet = r->poll(0ns);
    REQUIRE(quiet);
    CHECK(*quiet == 0);  // writable, but only reading is watched now
    CHECK(corio_test::send_text(pair.fd(1), "x") == 1);
    auto readable = r->poll(std::nullopt);
    REQUIRE(readable);
    CHECK(*readable == 1);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].events.is_readable());
    CHECK(r->remove(*t));
}

TEST_CASE("a backend reports a closed peer as readable, and recv then returns 0") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair pair;
    dispatch_log log;
    probe p{1, &log};
    auto t = r->add(pair.fd(0), corio::interest::read, record, &p);
    REQUIRE(t);
    pair.close(1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].events.is_readable());
    // The hang-up flag is a hint some kernels cannot give (select); the retried call is not.
    char c;
    CHECK(::recv(pair.fd(0), &c, 1, 0) == 0);
    CHECK(r->remove(*t));
}

TEST_CASE("after remove() a backend reports nothing more for the descriptor") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair pair;
    dispatch_log log;
    probe p{1, &log};
    auto t = r->add(pair.fd(0), corio::interest::read_write, record, &p);
    REQUIRE(t);
    REQUIRE(r->remove(*t));
    CHECK(r->size() == 0);
    CHECK(corio_test::send_text(pair.fd(1), "x") == 1);
    auto n = r->poll(0ns);
    REQUIRE(n);
    CHECK(*n == 0);
    CHECK(log.entries.empty());
}

TEST_CASE("a stale token is refused by modify and remove, and never matches a reused slot") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair first;
    corio_test::socket_pair second;
    dispatch_log log;
    probe p1{1, &log};
    probe p2{2, &log};
    auto old = r->add(first.fd(0), corio::interest::read, record, &p1);
    REQUIRE(old);
    REQUIRE(r->remove(*old));
    CHECK(r->modify(*old, corio::interest::write).error() == std::errc::invalid_argument);
    CHECK(r->remove(*old).error() == std::errc::invalid_argument);

    auto reused = r->add(second.fd(0), corio::interest::read, record, &p2);
    REQUIRE(reused);
    CHECK(reused->slot == old->slot);  // the slot is recycled under a new generation
    CHECK_FALSE(*reused == *old);
    CHECK(r->modify(*old, corio::interest::write).error() == std::errc::invalid_argument);
    CHECK(r->remove(*old).error() == std::errc::invalid_argument);
    CHECK(r->size() == 1);
    CHECK(r->remove(*reused));
}

TEST_CASE("an event for a registration removed earlier in the same batch is dropped") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair first;
    corio_test::socket_pair second;
    dispatch_log log;
    probe p1{1, &log, r.get()};
    probe p2{2, &log, r.get()};
    auto t1 = r->add(first.fd(0), corio::interest::read, record, &p1);
    auto t2 = r->add(second.fd(0), corio::interest::read, record, &p2);
    REQUIRE(t1);
    REQUIRE(t2);
    // Whichever callback runs first removes the other, whose event is already fetched.
    p1.remove_on_call = *t2;
    p2.remove_on_call = *t1;
    CHECK(corio_test::send_text(first.fd(1), "1") == 1);
    CHECK(corio_test::send_text(second.fd(1), "2") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(log.entries.size() == 1);
    CHECK(r->size() == 1);
}

TEST_CASE("an event fetched for a descriptor closed and reused within the batch is dropped") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair first;
    auto second = std::make_unique<corio_test::socket_pair>();
    std::optional<corio_test::socket_pair> third;
    dispatch_log log;
    probe p1{1, &log};
    probe p2{2, &log};
    probe p3{3, &log};
    auto t2 = r->add(second->fd(0), corio::interest::read, record, &p2);
    REQUIRE(t2);
    struct closer {
        probe* self;
        corio::reactor* r;
        corio::token victim;
        std::unique_ptr<corio_test::socket_pair>* victim_pair;
        std::optional<corio_test::socket_pair>* replacement;
        probe* replacement_probe;
        corio::token replacement_token{};
        int victim_fd = -1;
    };
    closer c{&p1, r.get(), *t2, &second, &third, &p3};
    c.victim_fd = second->fd(0);
    const auto close_and_reuse = [](void* context, corio::readiness events) noexcept {
        auto* k = static_cast<closer*>(context);
        record(k->self, events);
        if (!k->victim.valid()) {
            return;
        }
        // What a server does when one callback closes another connection and accepts a new
        // one: the new descriptor gets the old number and, here, the old slot.
        (void)k->r->remove(k->victim);
        k->victim = {};
        k->victim_pair->reset();
        k->replacement->emplace();
        auto t = k->r->add((*k->replacement)->fd(0), corio::interest::read, record,
                           k->replacement_probe);
        if (t) {
            k->replacement_token = *t;
        }
    };
    auto t1 = r->add(first.fd(0), corio::interest::read, close_and_reuse, &c);
    REQUIRE(t1);
    CHECK(corio_test::send_text(first.fd(1), "1") == 1);
    CHECK(corio_test::send_text(second->fd(1), "2") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    REQUIRE(third);
    CHECK(c.replacement_token.valid());
    CHECK(c.replacement_token.slot == t2->slot);
    // Whether the kernel listed the second socket before or after the first, the replacement
    // (which has no data) must not have been called with the old socket's event.
    for (const auto& e : log.entries) {
        CHECK(e.id != 3);
    }
    // The number is reused unless a lower one was freed meanwhile (libkqueue closes a dropped
    // kqueue's descriptors from its own thread): then the case did not arise this time.
    if (log.entries.size() == 1 && third->fd(0) != c.victim_fd) {
        WARN("descriptor " << c.victim_fd << " was not reused (got " << third->fd(0) << ")");
    }
    CHECK(r->remove(*t1));
    CHECK(r->remove(c.replacement_token));
}

TEST_CASE("add reports the kernel's error for a bad descriptor") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    dispatch_log log;
    probe p{1, &log};
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    ::close(fds[0]);
    ::close(fds[1]);
    auto t = r->add(fds[0], corio::interest::read, record, &p);
    REQUIRE_FALSE(t);
    CHECK(t.error() == std::errc::bad_file_descriptor);
    CHECK(r->size() == 0);
}

TEST_CASE("wake() from another thread makes a blocked poll return") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair pair;
    dispatch_log log;
    probe p{1, &log};
    auto t = r->add(pair.fd(0), corio::interest::read, record, &p);
    REQUIRE(t);
    const auto limit = 30s;  // far beyond any scheduling delay; reaching it fails the test
    const auto start = std::chrono::steady_clock::now();
    std::thread waker([&r] { r->wake(); });
    auto n = r->poll(limit);
    const auto waited = std::chrono::steady_clock::now() - start;
    waker.join();
    REQUIRE(n);
    CHECK(*n == 0);
    CHECK(waited < limit);
    CHECK(log.entries.empty());
    // The wake-up was consumed: the next poll does not return early because of it.
    auto idle = r->poll(0ns);
    REQUIRE(idle);
    CHECK(*idle == 0);
    CHECK(r->remove(*t));
}

}  // namespace
