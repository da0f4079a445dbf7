// SPDX-License-Identifier: MIT
// Tests for corio/net/udp_socket.hpp's batches: send_many and recv_many (sendmmsg/recvmmsg)
// counts, contents, senders and truncation per datagram, and their errors.
#include <corio/net/udp_socket.hpp>

#include <corio/cancel.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/udp_loopback.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <vector>

using corio::task;
using corio::net::datagram_slot;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::outgoing_datagram;
using corio::net::udp_socket;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

std::string message(std::size_t i) { return "datagram #" + std::to_string(i) + std::string(i, '+'); }

// Receives `want` datagrams with recv_many, `slots` at a time; returns their texts in order.
task<std::vector<std::string>> receive_texts(udp_socket& s, std::size_t want, std::size_t slots,
                                             std::vector<endpoint>* senders = nullptr) {
    std::vector<std::array<std::byte, 128>> storage(slots);
    std::vector<datagram_slot> batch(slots);
    for (std::size_t i = 0; i < slots; ++i) {
        batch[i].buffer = storage[i];
    }
    std::vector<std::string> got;
    while (got.size() < want) {
        auto n = co_await s.recv_many(batch);
        require_ok(n, "recv_many");
        REQUIRE(*n >= 1);
        REQUIRE(*n <= std::min(slots, udp_socket::max_batch));
        for (std::size_t i = 0; i < *n; ++i) {
            CHECK_FALSE(batch[i].info.truncated());
            got.push_back(text_of(batch[i].buffer.first(batch[i].info.size)));
            if (senders) {
                senders->push_back(batch[i].info.sender);
            }
        }
    }
    co_return got;
}

TEST_CASE("send_many sends a batch in one call and recv_many receives it in order") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        std::vector<std::string> texts;
        for (std::size_t i = 0; i < 10; ++i) {
            texts.push_back(message(i));
        }
        std::vector<outgoing_datagram> out;
        for (const auto& t : texts) {
            out.push_back({datagram_of(t), udp_endpoint(b)});
        }
        auto sent = co_await a.send_many(out);
        require_ok(sent, "send_many");
        CHECK(*sent == texts.size());  // loopback takes them all: nothing is waiting
        std::vector<endpoint> senders;
        auto got = co_await receive_texts(b, texts.size(), 16, &senders);
        CHECK(got == texts);
        for (const auto& from : senders) {
            CHECK(from == udp_endpoint(a));
        }
    }());
}

TEST_CASE("a batch larger than max_batch is sent in part, and the count says how much") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        REQUIRE(b.set_receive_buffer_size(1 << 20));
        const std::size_t total = udp_socket::max_batch + 6;
        std::vector<std::string> texts;
        std::vector<outgoing_datagram> out;
        for (std::size_t i = 0; i < total; ++i) {
            texts.push_back(message(i % 40));
        }
        for (const auto& t : texts) {
            out.push_back({datagram_of(t), udp_endpoint(b)});
        }
        auto first = co_await a.send_many(out);
        require_ok(first, "send_many");
        CHECK(*first == udp_socket::max_batch);
        auto rest = co_await a.send_many(std::span(out).subspan(*first));
        require_ok(rest, "send_many rest");
        CHECK(*rest == total - udp_socket::max_batch);
        auto got = co_await receive_texts(b, total, 200);
        CHECK(got == texts);
    }());
}

TEST_CASE("recv_many reports each datagram's sender and truncation on its own") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket c = bind_udp();
        udp_socket b = bind_udp();
        require_ok(co_await a.send_to(datagram_of("from a"), udp_endpoint(b)), "a");
        require_ok(co_await c.send_to(datagram_of("from c, and too long for its slot"), udp_endpoint(b)), "c");
        require_ok(co_await a.send_to({}, udp_endpoint(b)), "empty");
        std::array<std::array<std::byte, 8>, 4> storage{};
        std::array<datagram_slot, 4> slots{};
        for (std::size_t i = 0; i < slots.size(); ++i) {
            slots[i].buffer = storage[i];
        }
        std::size_t received = 0;
        std::array<corio::net::datagram_info, 3> infos{};
        std::array<std::string, 3> texts;
        while (received < 3) {
            auto n = co_await b.recv_many(std::span(slots).first(3 - received));
            require_ok(n, "recv_many");
            for (std::size_t i = 0; i < *n; ++i, ++received) {
                infos[received] = slots[i].info;
                texts[received] = text_of(slots[i].buffer.first(slots[i].info.size));
            }
        }
        CHECK(texts[0] == "from a");
        CHECK(infos[0].sender == udp_endpoint(a));
        CHECK_FALSE(infos[0].truncated());
        CHECK(texts[1] == "from c, ");
        CHECK(infos[1].truncated());
        CHECK(infos[1].length == std::string("from c, and too long for its slot").size());
        CHECK(infos[1].sender == udp_endpoint(c));
        CHECK(infos[2].size == 0);
        CHECK(infos[2].length == 0);
    }());
}

TEST_CASE("a connected socket's send_many needs no addresses") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        REQUIRE(a.connect(udp_endpoint(b)));
        const std::array<std::string, 3> texts{"one", "two", "three"};
        std::array<outgoing_datagram, 3> out{};
        for (std::size_t i = 0; i < texts.size(); ++i) {
            out[i].data = datagram_of(texts[i]);
        }
        auto sent = co_await a.send_many(out);
        require_ok(sent, "send_many");
        CHECK(*sent == 3);
        auto got = co_await receive_texts(b, 3, 2);
        CHECK(got == std::vector<std::string>(texts.begin(), texts.end()));
    }());
}

TEST_CASE("send_many with a destination of the other family sends none of the batch") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        const std::array<outgoing_datagram, 2> bad{
            outgoing_datagram{datagram_of("fine"), udp_endpoint(b)},
            outgoing_datagram{datagram_of("v6"), endpoint(ip_address::v6_loopback(), 9)}};
        auto sent = co_await a.send_many(bad);
        CHECK(sent.error() == std::errc::address_family_not_supported);
        auto empty = co_await a.send_many({});
        CHECK(empty.error() == std::errc::invalid_argument);
        auto no_slots = co_await b.recv_many({});
        CHECK(no_slots.error() == std::errc::invalid_argument);
        // Nothing of the refused batch went out: the first datagram b sees is the next one.
        require_ok(co_await a.send_to(datagram_of("next"), udp_endpoint(b)), "send_to");
        auto got = co_await receive_texts(b, 1, 4);
        CHECK(got == std::vector<std::string>{"next"});
    }());
}

task<corio::result<std::size_t>> receive_many(udp_socket& s, std::span<datagram_slot> slots) {
    co_return co_await s.recv_many(slots);
}

TEST_CASE("a cancelled recv_many resumes with operation_canceled and takes nothing") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        std::array<std::byte, 16> storage{};
        std::array<datagram_slot, 1> slots{datagram_slot{storage, {}}};
        auto timed = co_await corio::with_timeout(1ms, receive_many(b, slots));
        CHECK(timed.error() == std::errc::timed_out);
        require_ok(co_await a.send_to(datagram_of("kept"), udp_endpoint(b)), "send_to");
        auto got = co_await receive_texts(b, 1, 1);
        CHECK(got == std::vector<std::string>{"kept"});
    }());
}

}  // namespace
