// SPDX-License-Identifier: MIT
// Per-thread recycling allocator for coroutine frames: no malloc per task in steady state.
#pragma once

#include <cstddef>

namespace corio::detail {

/// Returns memory for a coroutine frame of `size` bytes. Frames up to 2 KiB come from this
/// thread's free lists (refilled by frame_deallocate); larger ones from ::operator new.
void* frame_allocate(std::size_t size);

/// Gives a frame back. May run on any thread: the block joins that thread's free list, or goes to
/// the heap once that thread's lists were freed at its exit (by a later thread_local destructor,
/// a thread_local runtime's).
void frame_deallocate(void* p, std::size_t size) noexcept;

}  // namespace corio::detail
