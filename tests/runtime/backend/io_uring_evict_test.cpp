// SPDX-License-Identifier: MIT
// completion_port::evict on io_uring: a descriptor closed behind corio's back while an
// operation was on it, and its number reused by a new socket. The stale operation ends with
// errc::stale_descriptor and the new socket's bytes go to its new owner only. The call site
// (a descriptor handed to a new io_handle) is the reactor's; here the port is called directly.
#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <catch2/catch.hpp>

#include "support/io_uring_runtime.hpp"
#include "support/socket_pair.hpp"

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using corio::task;
using corio_test::as_string;

struct stale_outcome {
    corio::result<std::size_t> stale = std::errc::io_error;  // the old handle's recv
    bool stale_done = false;
    std::string new_owner_got;  // what the new owner's recv returned (or its error)
};

task<> recv_stale(corio::io_handle& h, stale_outcome& out, corio::event& done) {
    std::byte buf[64];
    out.stale = co_await h.recv(buf);
    if (out.stale) {
        out.new_owner_got += "[stale op took: " + as_string({buf, *out.stale}) + "]";
    }
    out.stale_done = true;
    done.set();
}

/// Parks a recv on `old_h`, lets the loop submit it (`submitted`) or not, then closes the
/// descriptor behind the handle's back, puts a new socket (`fresh`) under the same number,
/// has its peer send, evicts, and receives on a new handle for the number.
task<stale_outcome> reuse_behind_back(corio::io_handle& old_h, corio_test::socket_pair& fresh,
                                      bool submitted) {
    stale_outcome out;
    corio::event done;
    corio::spawn(recv_stale(old_h, out, done));
    co_await corio::yield();  // the spawned task has run up to its recv, queued in the SQ
    if (submitted) {
        co_await corio::yield();  // after the loop's poll: in the kernel, holding the old file
    }
    const int number = old_h.fd();
    ::close(number);  // behind corio's back
    REQUIRE(::dup2(fresh.fd(0), number) == number);
    fresh.close(0);
    REQUIRE(corio_test::send_text(fresh.fd(1), "for the new owner") == 17);
    corio::detail::scheduler::current()->io().completions()->evict(number);
    auto ended = co_await corio::with_timeout(5s, [](corio::event& done) -> task<> {
        (void)co_await done.wait();
    }(done));
    CHECK(ended);
    corio::io_handle new_h(number);
    std::byte buf[64];
    auto got = co_await corio::with_timeout(5s, [](corio::io_handle& h, std::span<std::byte> b)
                                                    -> task<corio::result<std::size_t>> {
        co_return co_await h.recv(b);
    }(new_h, buf));
    out.new_owner_got += got ? as_string({buf, *got}) : got.error().message();
    (void)old_h.release();  // its number is new_h's now
    co_return out;
}

/// Runs reuse_behind_back on an io_uring runtime (skipped where there is none) and checks
/// the stale recv ended with stale_descriptor while the new owner got the new socket's bytes.
void check_evicted(bool submitted) {
    auto rt = corio_test::io_uring_runtime_or_skip();
    if (!rt) {
        return;
    }
    corio_test::socket_pair old_pair;
    corio_test::socket_pair fresh;
    corio::io_handle old_h(old_pair.take(0));
    const stale_outcome out = rt->block_on(reuse_behind_back(old_h, fresh, submitted));
    INFO("what the new owner got: " << out.new_owner_got);
    REQUIRE(out.stale_done);
    REQUIRE_FALSE(out.stale);
    CHECK(out.stale.error() == corio::errc::stale_descriptor);
    CHECK(out.new_owner_got == "for the new owner");
}

TEST_CASE("io_uring evict: a recv in the kernel on a descriptor closed behind corio's back ends "
          "with stale_descriptor; the number's new socket serves its new owner") {
    check_evicted(true);
}

TEST_CASE("io_uring evict: a recv not yet submitted when its descriptor number was reused ends "
          "with stale_descriptor and never reads the new socket") {
    check_evicted(false);
}

}  // namespace
