// SPDX-License-Identifier: MIT
// result<T>: the value of a fallible operation, or the std::error_code saying why it failed.
#pragma once

#include <corio/error.hpp>

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace corio {

/// A T or a std::error_code, as std::expected<T, std::error_code> (C++23) would hold.
/// value() on an error throws usage_error: check with `if (r)` or use value_or().
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;

    result()
        requires std::is_default_constructible_v<T>
        : v_(std::in_place_index<0>) {}
    result(const T& v) : v_(std::in_place_index<0>, v) {}
    result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
    result(std::error_code e) : v_(std::in_place_index<1>, e) {}
    result(std::errc e) : result(std::make_error_code(e)) {}
    result(corio::errc e) : result(make_error_code(e)) {}
    template <class U>
        requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
                 !std::is_convertible_v<U &&, std::error_code> &&
                 !std::is_same_v<std::remove_cvref_t<U>, std::errc> &&
                 !std::is_same_v<std::remove_cvref_t<U>, corio::errc>)
    result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { check(); return *std::get_if<0>(&v_); }
    const T& value() const& { check(); return *std::get_if<0>(&v_); }
    T&& value() && { check(); return std::move(*std::get_if<0>(&v_)); }

    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    /// The error, or a default (success) error_code when a value is held.
    std::error_code error() const noexcept {
        const auto* e = std::get_if<1>(&v_);
        return e ? *e : std::error_code{};
    }

    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? *std::get_if<0>(&v_) : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U>
    T value_or(U&& fallback) && {
        return has_value() ? std::move(*std::get_if<0>(&v_))
                           : static_cast<T>(std::forward<U>(fallback));
    }

private:
    void check() const {
        if (!has_value()) {
            throw usage_error("corio::result::value() called on an error: " + error().message());
        }
    }
    std::variant<T, std::error_code> v_;
};

/// Success, or the std::error_code saying why the operation failed.
/// A default-constructed result<void> is success.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;

    result() noexcept = default;
    result(std::error_code e) noexcept : e_(e) {}
    result(std::errc e) noexcept : e_(std::make_error_code(e)) {}
    result(corio::errc e) noexcept : e_(make_error_code(e)) {}

    bool has_value() const noexcept { return !e_; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        if (e_) {
            throw usage_error("corio::result::value() called on an error: " + e_.message());
        }
    }
    std::error_code error() const noexcept { return e_; }

private:
    std::error_code e_;
};

}  // namespace corio
