#pragma once
// A value or an error a person can act on. The simulator keeps its own small type instead of
// hub::Result: it must not share code with the hub (docs/adr/0010-simulators.md).

#include <string>
#include <utility>
#include <variant>

namespace gxm {

struct Error {
  std::string code;     // stable, machine-readable (e.g. "BAD_SIGNATURE")
  std::string message;  // what is wrong and where, for a person
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::move(e)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

inline Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

}  // namespace gxm
