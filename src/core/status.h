// Status: the outcome of an operation, as a value. A Status is either ok or
// carries a code and a message that says what went wrong and where (file,
// line, field). Errors cross module boundaries only as Status / Result<T>;
// exceptions from libraries are caught at the module edge and turned into one.
//
// Thread-safety: a Status is an immutable value; const methods may be called
// from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace cadre {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // bad input: a file, field or argument is wrong
  kNotFound,           // a named thing does not exist
  kAlreadyExists,      // a unique thing exists already
  kFailedPrecondition, // the system is not in a state that allows this
  kConflict,           // someone else changed it first (stale fence, answered twice)
  kUnavailable,        // transient: try again later (busy database, 503, reset)
  kResourceExhausted,  // a limit was hit (size, rate, budget, disk full)
  kDeadlineExceeded,   // a timeout elapsed
  kCancelled,          // an operator or shutdown cancelled it
  kIOError,            // the operating system refused (permissions, read-only)
  kCorruption,         // stored data is damaged
  kInternal,           // a bug: an invariant did not hold
  kSuspended,          // not an error: the task parked (timer, event, lock)
};

std::string_view status_code_name(StatusCode code);

class Status {
 public:
  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {StatusCode::kConflict, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {StatusCode::kDeadlineExceeded, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Suspended(std::string msg) { return {StatusCode::kSuspended, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool is(StatusCode code) const { return code_ == code; }

  // "not_found: playbook 'x' does not exist"
  std::string to_string() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status with_context(std::string_view context) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace cadre

// Returns early from the enclosing function when `expr` yields a non-ok Status.
#define CADRE_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::cadre::Status cadre_status_ = (expr);      \
    if (!cadre_status_.ok()) return cadre_status_; \
  } while (0)
