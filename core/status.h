// Expected failures as values (leveldb's Status, absl::StatusOr): a down endpoint, a full disk or a
// bad query parameter is a Status, never an exception; a bad config is collected in ConfigErrors
// and returned as one Status::InvalidConfig (docs/ARCHITECTURE.md, "Errors"). Exceptions are
// reserved for misuse; a function that returns Status or Result<T> catches what its callees throw
// (SQLiteCpp, yaml-cpp, nlohmann::json, std::stoi) and returns it as a Status.
//
// Both types are [[nodiscard]]: dropping one is a compile warning. Ignoring a Status on purpose is
// written `(void)Call();  // why it may fail unseen`.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace obsmon {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,
    kInvalidConfig,  // the configuration file is bad: the message holds every error, one a line
    kNotFound,
    kIoError,
    kUnavailable,
    kInternal,
    kCancelled  // given up on purpose (the one who asked has gone)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status InvalidConfig(std::string msg) { return Status(Code::kInvalidConfig, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  static Status Cancelled(std::string msg) { return Status(Code::kCancelled, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsInvalidConfig() const { return code_ == Code::kInvalidConfig; }
  bool IsCancelled() const { return code_ == Code::kCancelled; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

namespace detail {
// A value read from a Result that holds an error is a bug in the caller: crash with the
// reason rather than read an empty optional (undefined behaviour).
[[noreturn]] inline void DieOnErrorResult(const Status& status) {
  std::fprintf(stderr, "obsmon: value read from a Result that holds an error: %s\n",
               status.ToString().c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace detail

// A value or the non-OK Status that explains why there is none. value(), operator* and
// operator-> are checked: on an error they abort with the Status's message (as absl::StatusOr
// does); test ok() first.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Status>, "Result<Status> makes no sense: return Status");

 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  // `status` must be an error. An OK Status carries no value, so it is turned into an internal
  // error that names the mistake instead of a Result that is neither a value nor an error.
  Result(Status status)  // NOLINT: implicit by design
      : status_(status.ok() ? Status::Internal("Result constructed from an OK Status (a bug: return a value)")
                            : std::move(status)) {}

  bool ok() const { return value_.has_value(); }
  // OK when the Result holds a value.
  const Status& status() const { return status_; }

  T& value() & { Check(); return *value_; }
  const T& value() const& { Check(); return *value_; }
  T&& value() && { Check(); return std::move(*value_); }
  T* operator->() { Check(); return &*value_; }
  const T* operator->() const { Check(); return &*value_; }
  T& operator*() & { Check(); return *value_; }
  const T& operator*() const& { Check(); return *value_; }
  T&& operator*() && { Check(); return std::move(*value_); }

 private:
  void Check() const {
    if (!value_.has_value()) detail::DieOnErrorResult(status_);
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace obsmon
