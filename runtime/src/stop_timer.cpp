// SPDX-License-Identifier: MIT
// stop_timer: a timer_node of the running scheduler's queue, laid out in the timer's own bytes.
#include <corio/stop_timer.hpp>

#include <corio/detail/scheduler.hpp>
#include <corio/error.hpp>

#include <new>
#include <type_traits>

namespace corio {
namespace {

// What node_ holds: the queue entry, the loop whose queue it is (or was last) filed in, and the
// source to stop. Constructed with the stop_timer, destroyed with it.
struct stop_node final : detail::timer_node {
    detail::scheduler* sched = nullptr;
    std::stop_source* source = nullptr;
};

// Never destroyed explicitly: stop_timer's destructor only has to unlink it.
static_assert(std::is_trivially_destructible_v<stop_node>);

stop_node& node_in(std::byte* bytes) noexcept {
    return *std::launder(reinterpret_cast<stop_node*>(bytes));
}
const stop_node& node_in(const std::byte* bytes) noexcept {
    return *std::launder(reinterpret_cast<const stop_node*>(bytes));
}

detail::scheduler& running(const char* what) {
    auto* s = detail::scheduler::current();
    if (!s) {
        throw usage_error(what);
    }
    return *s;
}

}  // namespace

stop_timer::stop_timer(std::stop_source source) noexcept : source_(std::move(source)) {
    // Checked here, where both layouts are known: the header reserves bytes without the type.
    static_assert(sizeof(stop_node) <= node_size, "stop_timer::node_size is too small");
    static_assert(alignof(stop_node) <= node_align, "stop_timer::node_ is misaligned");
    auto* n = ::new (static_cast<void*>(node_)) stop_node;
    n->source = &source_;
    n->fire = [](detail::timer_node* t) {
        auto* self = static_cast<stop_node*>(t);
        self->source->request_stop();
    };
}

stop_timer::~stop_timer() { disarm(); }

void stop_timer::arm(clock_type::duration after) {
    detail::scheduler& s = running("corio::stop_timer::arm: no runtime is running on this thread");
    arm_at(detail::deadline_after(s.polled_at(), after));
}

void stop_timer::arm_at(clock_type::time_point deadline) {
    detail::scheduler& s = running("corio::stop_timer::arm_at: no runtime is running on this thread");
    stop_node& n = node_in(node_);
    if (n.linked()) {
        if (n.sched != &s) {
            throw usage_error("corio::stop_timer: armed on another runtime; disarm it there first");
        }
        s.timers().cancel(n);
    }
    n.sched = &s;
    n.deadline = deadline;
    s.timers().insert(n);
}

void stop_timer::disarm() noexcept {
    stop_node& n = node_in(node_);
    if (n.linked()) {
        n.sched->timers().cancel(n);
    }
}

bool stop_timer::armed() const noexcept {
    return node_in(node_).linked();
}

clock_type::time_point stop_timer::deadline() const noexcept {
    return node_in(node_).deadline;
}

clock_type::time_point loop_time() {
    return running("corio::loop_time: no runtime is running on this thread").polled_at();
}

}  // namespace corio
