// core/: the shared vocabulary of oomsentinel.
// Result<T> and Error: expected failures (a cgroup that vanished, bad kernel text) are values.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace oomsentinel {

// An expected failure: errno (0 when the failure is not a system call's), a message that
// says what went wrong, and the path involved (empty when there is none).
struct Error {
  int errnum = 0;
  std::string message;
  std::string path;

  // "path: message (strerror)" with the parts that are present.
  std::string describe() const;
  // True for the errors that mean "the file or cgroup is gone", not "it is broken".
  bool isGone() const;
};

Error makeError(std::string message, std::string path = {}, int errnum = 0);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;

}  // namespace oomsentinel
