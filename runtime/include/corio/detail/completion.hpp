// SPDX-License-Identifier: MIT
// completion: an operation handed whole to a completion backend (io_uring), which reports its
// result instead of readiness. Kernel-neutral, so no liburing header reaches users.
#pragma once

#include <corio/detail/io_wait.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/interest.hpp>
#include <corio/result.hpp>

#include <cstddef>
#include <cstdint>

namespace corio {
class io_handle;
}

namespace corio::detail {

/// The operations a completion backend performs itself; everything else stays readiness-based.
/// read and write (corio::file) take an offset; fsync and fdatasync only the descriptor.
enum class completion_kind : std::uint8_t {
    recv, recv_pooled, read, send, writev, accept, connect, write, fsync, fdatasync
};

/// The offset of a read or write that uses (and advances) the file position: pipes, sockets.
inline constexpr std::uint64_t current_position = ~std::uint64_t{0};

/// What to submit: `data`/`size` are a buffer and its length, an iovec array and its count, or a
/// sockaddr and its length. Everything they point to must stay valid until the completion.
struct completion_request {
    completion_kind kind;
    int fd;
    void* data = nullptr;
    std::size_t size = 0;
    std::uint64_t offset = current_position;  // read, write: where in the file
};

/// A suspended operation handed whole to the kernel; lives in the awaiting coroutine's frame.
/// Only its completion (or its cancellation's) resumes it, once the kernel has let go of its
/// buffers: no readiness event ever reaches it.
struct completion : waiter {
    io_handle* owner = nullptr;   // whose reading or writing slot it occupies
    interest dir = interest::none;
    std::int32_t res = 0;         // the kernel's result: a count or fd, or -errno
    std::uint32_t requested = 0;  // bytes asked for: a full count means more may be ready
    std::byte* buffer = nullptr;  // recv_pooled: the pooled buffer that holds the bytes
    void* op = nullptr;           // the backend's record while submitted

    /// The kernel's result as a result<size_t>: bytes, or the errno it reported.
    result<std::size_t> bytes() const noexcept {
        if (res < 0) {
            return std::error_code(-res, std::system_category());
        }
        return static_cast<std::size_t>(res);
    }
};

/// Implemented by completion backends. Loop thread only.
class completion_port {
public:
    virtual ~completion_port() = default;
    /// Queues `r` (submitted with the loop's next wait). Returns false when it completed at once
    /// (res is set; e.g. a connection already accepted), true when `c` will be resumed later.
    virtual bool submit(completion& c, const completion_request& r) noexcept = 0;
    /// Asks the kernel to stop `c` early; `c` is still resumed by its completion (which may
    /// carry a result after all: data that arrived is never dropped).
    virtual void cancel(completion& c) noexcept = 0;
    /// As cancel, for a descriptor being closed: on return the kernel holds no reference to it
    /// (the close is real at once); `c` is still resumed by its completion.
    virtual void cancel_for_close(completion& c) noexcept = 0;
    /// For a frame destroyed mid-operation: on return the kernel no longer touches `c`'s
    /// buffers and `c` is never resumed.
    virtual void abandon(completion& c) noexcept = 0;
    /// A descriptor with backend-side state (a send's connection error kept for its reader) is
    /// being closed or released: the state goes, so the number's next owner does not inherit it.
    virtual void forget(int fd) noexcept = 0;
    /// The OS has just handed `fd` to a new owner, so any state still naming it belongs to a
    /// descriptor closed behind corio's back: its operations end with errc::stale_descriptor
    /// and nothing it took (bytes or a connection of the old file) reaches the new owner.
    virtual void evict(int fd) noexcept { (void)fd; }
    /// Arms a one-shot poll of `dir` on `fd`, owned by `w` (w.poll), for a readiness wait.
    /// Its result reaches w only through poll_ready(); never through a completion.
    virtual void poll(io_wait& w, int fd, interest dir) noexcept = 0;
    /// Drops w's poll (w is done, cancelled or going away); w is not touched afterwards.
    virtual void drop_poll(io_wait& w) noexcept = 0;
};

/// Called by the backend on the loop thread when `c`'s operation has completed.
void complete(completion& c) noexcept;

}  // namespace corio::detail
