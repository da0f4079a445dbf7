// SPDX-License-Identifier: MIT
// signal_set validation, and wait_signal as a listener that lives for one wait.
#include <corio/signal.hpp>

#include <corio/signal_listener.hpp>

#include <csignal>
#include <cstdint>

namespace corio {

void signal_set::add(int s) noexcept {
    if (s == 0) {
        return;  // an unused slot of the braced list
    }
    if (s < 1 || s > 64 || s == SIGKILL || s == SIGSTOP) {  // 64: the bits of mask_
        valid_ = false;
        return;
    }
    mask_ |= std::uint64_t{1} << (s - 1);
}

task<result<int>> wait_signal(signal_set signals, std::stop_token token) {
    auto listener = signal_listener::open(signals);
    if (!listener) {
        co_return listener.error();
    }
    auto sig = co_await listener->wait(std::move(token));
    co_return sig;
}

}  // namespace corio
