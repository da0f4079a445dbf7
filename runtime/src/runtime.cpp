// SPDX-License-Identifier: MIT
// runtime construction and the run/stop entry points.
#include <corio/runtime.hpp>

#include <algorithm>
#include <system_error>

namespace corio {

result<runtime> runtime::create(runtime_options options) {
    auto r = reactor::open(options.backend, options.backend_options);
    if (!r) {
        return r.error();
    }
    auto pool = std::make_unique<detail::blocking_pool>(std::max<std::size_t>(options.blocking_threads, 1));
    auto sched = std::make_unique<detail::scheduler>(std::move(*r), options.clock,
                                                     std::move(options.on_unhandled_exception));
    sched->set_blocking_pool(pool.get());
    return runtime(std::move(sched), std::move(pool));
}

runtime::runtime(runtime_options options) {
    auto r = create(std::move(options));
    if (!r) {
        throw std::system_error(r.error(), "corio::runtime");
    }
    pool_ = std::move(r->pool_);
    sched_ = std::move(r->sched_);
}

runtime::runtime(std::unique_ptr<detail::scheduler> s,
                 std::unique_ptr<detail::blocking_pool> pool) noexcept
    : pool_(std::move(pool)), sched_(std::move(s)) {}
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
