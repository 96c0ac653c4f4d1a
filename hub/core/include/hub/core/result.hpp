#pragma once
// Result<T>: the value of an operation whose failure is expected (bad input, a refusal,
// a service that does not answer). Exceptions are kept for start-up errors and broken
// invariants. Value type: copyable/movable, no thread-safety of its own.

#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace hub {

// A failure a person can act on: a stable machine code (e.g. "INSUFFICIENT_BALANCE",
// "MIGRATION_FAILED") and a sentence saying what is wrong and where.
struct Error {
  std::string code;
  std::string message;

  // "CODE: message", unless the message already starts with its code.
  std::string to_string() const {
    return message.rfind(code, 0) == 0 ? message : code + ": " + message;
  }
};

inline Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return checked(); }
  T& value() & { return checked(); }
  T&& value() && { return std::move(checked()); }
  const T& operator*() const& { return checked(); }
  T& operator*() & { return checked(); }
  const T* operator->() const { return &checked(); }
  T* operator->() { return &checked(); }

  const Error& error() const {
    if (ok()) throw std::logic_error("Result::error() on a success");
    return std::get<Error>(v_);
  }

  T value_or(T fallback) const { return ok() ? std::get<T>(v_) : std::move(fallback); }

 private:
  T& checked() {
    if (!ok()) throw std::logic_error("Result::value() on an error: " + error().to_string());
    return std::get<T>(v_);
  }
  const T& checked() const {
    if (!ok()) throw std::logic_error("Result::value() on an error: " + error().to_string());
    return std::get<T>(v_);
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    if (ok()) throw std::logic_error("Result::error() on a success");
    return error_;
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace hub
