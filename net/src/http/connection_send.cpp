// SPDX-License-Identifier: MIT
// One HTTP connection's send side: answers written under a deadline that measures lack of
// progress (a slow but steady reader gets the whole answer), and the buffers an idle one keeps.
#include "http/connection.hpp"

#include <corio/error.hpp>
#include <corio/file.hpp>

#include <algorithm>
#include <cstring>
#include <memory>


namespace corio::http::detail {
namespace {

using steady = std::chrono::steady_clock;

// A file body is read and sent in chunks of this size: few calls per file, little memory per
// connection sending one.
constexpr std::uint64_t file_chunk = 64 * 1024;

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

// The file is read with corio::file, a chunk at a time, and each chunk sent: a cold file waits
// for the disk off the loop (or in the kernel, on a completion backend) while other connections
// go on. sendfile(2) would save the copy, but blocks the loop on every page it must read.
task<result<void>> send_file(connection& c, file_body f) {
    c.writing = true;
    corio::file in(f.fd);  // owns and closes it
    const auto chunk_size = static_cast<std::size_t>(std::min<std::uint64_t>(f.size, file_chunk));
    const auto chunk = std::make_unique_for_overwrite<std::byte[]>(chunk_size);
    std::uint64_t offset = 0;
    result<void> outcome;
    while (offset < f.size && outcome) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(f.size - offset, chunk_size));
        auto n = co_await in.read_at(offset, {chunk.get(), want});
        if (!n) {
            outcome = n.error();
            break;
        }
        if (*n == 0) {  // the file shrank under us: the promised length cannot be kept
            outcome = errc::unexpected_eof;
            break;
        }
        std::span<const std::byte> left(chunk.get(), *n);
        while (!left.empty()) {
            auto sent = co_await c.s.send(left);
            if (!sent) {
                outcome = sent.error();
                break;
            }
            c.srv.metrics.bytes_out += *sent;
            left = left.subspan(*sent);
        }
        offset += *n;
        if (offset < f.size) {
            progressed(c);  // the peer took a chunk: its deadline starts again
        }
    }
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
