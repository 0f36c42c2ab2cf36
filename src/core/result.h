// Result<T>: either a value of type T or a non-ok Status. The value-or-error
// return type of every fallible function that produces something.
//
// Thread-safety: as for T.
#pragma once

#include <cassert>
#include <optional>
#include <utility>

#include "core/status.h"

namespace cadre {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "a Result built from a Status must carry an error");
    if (status_.ok()) status_ = Status::Internal("Result built from an ok Status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }

  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

  T value_or(T fallback) const { return ok() ? *value_ : std::move(fallback); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace cadre

#define CADRE_CONCAT_INNER_(a, b) a##b
#define CADRE_CONCAT_(a, b) CADRE_CONCAT_INNER_(a, b)

// `CADRE_ASSIGN_OR_RETURN(auto x, f());` binds the value or returns the error.
#define CADRE_ASSIGN_OR_RETURN(lhs, expr) \
  CADRE_ASSIGN_OR_RETURN_IMPL_(CADRE_CONCAT_(cadre_result_, __LINE__), lhs, expr)
#define CADRE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
