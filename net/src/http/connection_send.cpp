// SPDX-License-Identifier: MIT
// One HTTP connection's send side: answers written under a deadline that measures lack of
// progress (a slow but steady reader gets the whole answer), and the buffers an idle one keeps.
#include "http/connection.hpp"

#include <corio/error.hpp>

#include <cerrno>
#include <cstring>

#include <sys/sendfile.h>
#include <unistd.h>

namespace corio::http::detail {
namespace {

using steady = std::chrono::steady_clock;

std::span<const std::byte> as_bytes(const std::string& s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// After a partial write: the peer took bytes, so its deadline starts again. Only the idle one:
// a 100 Continue goes out under the head's deadline, which progress must not extend.
void progressed(connection& c) {
    if (c.timer_for == deadline::idle) {
        arm_idle(c);
    }
}

void release(std::string& s) {
    if (s.capacity() > retained_buffer) {
        std::string().swap(s);
    }
}

}  // namespace

void arm_idle(connection& c) {
    c.timer.arm(c.srv.options.idle_timeout);
    c.timer_for = deadline::idle;
}

task<result<void>> flush(connection& c) {
    result<void> sent;
    if (!c.out.empty()) {
        c.writing = true;  // stop() lets this write finish: it is an answer in flight
        const std::span<const std::byte> all = as_bytes(c.out);
        std::size_t done = 0;
        while (done < all.size()) {
            auto n = co_await c.s.send(all.subspan(done));
            if (!n) {
                sent = n.error();
                break;
            }
            done += *n;
            c.srv.metrics.bytes_out += *n;
            if (done < all.size()) {
                progressed(c);  // re-armed only when a wait follows: none on the common path
            }
        }
        c.writing = false;
        c.out.clear();
    }
    if (c.answered > 0) {
        // From the read that brought the requests to the write that answered them (or to the
        // end of a file body, written before this): one clock read per write, not two per
        // request (with pipelining, those were a tenth of the CPU).
        const double seconds = std::chrono::duration<double>(steady::now() - c.read_at).count();
        c.srv.metrics.record_latency(seconds, std::exchange(c.answered, 0));
    }
    co_return sent;
}

// sendfile(2): the kernel copies from the page cache to the socket; EAGAIN means the socket
// buffer is full, so wait for it to drain (the handle's readiness cache must forget writable).
task<result<void>> send_file(connection& c, file_body f) {
    c.writing = true;
    off_t offset = 0;
    const auto size = static_cast<off_t>(f.size);
    result<void> outcome;
    bool moved = false;  // bytes went out since the deadline was last set
    while (offset < size) {
        const ssize_t n = ::sendfile(c.s.handle().fd(), f.fd, &offset,
                                     static_cast<std::size_t>(size - offset));
        if (n > 0) {
            c.srv.metrics.bytes_out += static_cast<std::uint64_t>(n);
            moved = true;
            continue;
        }
        if (n == 0) {  // the file shrank under us: the promised length cannot be kept
            outcome = errc::unexpected_eof;
            break;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN) {
            outcome = std::error_code(errno, std::system_category());
            break;
        }
        if (std::exchange(moved, false)) {
            progressed(c);
        }
        c.s.handle().clear_ready(interest::write);
        if (auto ready = co_await c.s.handle().wait_ready(interest::write); !ready) {
            outcome = ready.error();
            break;
        }
    }
    ::close(f.fd);
    c.writing = false;
    co_return outcome;
}

void shrink_input(connection& c) {
    const std::size_t pending = c.end - c.begin;
    if (c.in.size() <= initial_buffer || pending > initial_buffer / 2) {
        return;
    }
    std::vector<char> smaller(initial_buffer);
    std::memcpy(smaller.data(), c.in.data() + c.begin, pending);
    c.in = std::move(smaller);
    c.begin = 0;
    c.end = pending;
}

void release_idle_buffers(connection& c) {
    release(c.out);
    release(c.body);
    release(c.arena);
    shrink_input(c);
}

}  // namespace corio::http::detail
