// SPDX-License-Identifier: MIT
// runtime construction and the run/stop entry points.
#include <corio/runtime.hpp>

#include <system_error>

namespace corio {

result<runtime> runtime::create(runtime_options options) {
    auto r = reactor::open(options.backend, options.backend_options);
    if (!r) {
        return r.error();
    }
    return runtime(std::make_unique<detail::scheduler>(std::move(*r), options.clock,
                                                       std::move(options.on_unhandled_exception)));
}

runtime::runtime(runtime_options options) {
    auto r = create(std::move(options));
    if (!r) {
        throw std::system_error(r.error(), "corio::runtime");
    }
    sched_ = std::move(r->sched_);
}

runtime::runtime(std::unique_ptr<detail::scheduler> s) noexcept : sched_(std::move(s)) {}
runtime::runtime(runtime&&) noexcept = default;
runtime& runtime::operator=(runtime&&) noexcept = default;
runtime::~runtime() = default;

void runtime::run() {
    sched_->run_until([] { return false; });
}

void runtime::stop() noexcept {
    if (sched_) {
        sched_->request_stop();
    }
}

std::string_view runtime::backend_name() const noexcept { return sched_->io().backend_name(); }
reactor_stats runtime::backend_stats() const noexcept { return sched_->io().stats(); }

}  // namespace corio
