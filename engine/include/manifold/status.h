// Status and Result<T>: how every fallible Manifold call reports what happened.
//
// No exception crosses the public API (an allocation failure inside the
// engine is returned as kNoMemory). A Status carries a stable Code (the
// numbers never change once released: tools and bindings may rely on them)
// and a human-readable message with context -- the file, offset, expected and
// actual checksum, and what to do about it. Result<T> is a Status or a value.
//
// Thread-safety: Status and Result are plain values; a const object may be
// read from several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace manifold {

class [[nodiscard]] Status {
 public:
  // Stable codes. Append only; never renumber.
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound = 1,         // key, table or column family does not exist
    kCorruption = 2,       // a checksum, structure or format check failed
    kIOError = 3,          // the storage backend reported an error
    kNoSpace = 4,          // the device or a quota is full; retry after freeing space
    kInvalidArgument = 5,  // bad input from the caller (name, size, option)
    kBusy = 6,             // locked by another process or handle
    kAborted = 7,          // the transaction was rolled back
    kPoisoned = 8,         // an earlier sync or header write failed; writes refused until reopen
    kNotSupported = 9,     // the file uses a feature or version we do not know
    kAlreadyExists = 10,   // create of something that exists
    kInvalidState = 11,    // call not allowed now (e.g. transaction already committed)
    kNoMemory = 12,        // an allocation failed (docs/durability.md, "Out of memory")
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status Aborted(std::string msg) { return Status(Code::kAborted, std::move(msg)); }
  static Status Poisoned(std::string msg) { return Status(Code::kPoisoned, std::move(msg)); }
  static Status NotSupported(std::string msg) { return Status(Code::kNotSupported, std::move(msg)); }
  static Status AlreadyExists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }
  static Status InvalidState(std::string msg) { return Status(Code::kInvalidState, std::move(msg)); }
  static Status NoMemory(std::string msg) { return Status(Code::kNoMemory, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }

  // "Corruption: <message>" -- what a tool prints.
  std::string ToString() const;
  static const char* CodeName(Code code);

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string msg) : code_(code), msg_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string msg_;
};

// A value or the Status explaining why there is none. Never holds an ok Status
// without a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status::InvalidState("Result built from an ok Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace manifold

// Early return of a failed Status (internal convenience; also usable by callers).
#define MANIFOLD_RETURN_IF_ERROR(expr)             \
  do {                                             \
    ::manifold::Status _mf_st = (expr);            \
    if (!_mf_st.ok()) return _mf_st;               \
  } while (0)

#define MANIFOLD_CONCAT_INNER_(a, b) a##b
#define MANIFOLD_CONCAT_(a, b) MANIFOLD_CONCAT_INNER_(a, b)
// `tmp` is a name and `lhs` a declaration or an lvalue (`auto x`, `y`):
// neither can be parenthesized, so clang-tidy's bugprone-macro-parentheses is
// silenced for these two macros only.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define MANIFOLD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()
// MANIFOLD_ASSIGN_OR_RETURN(auto x, Foo()); -- declares/assigns x or returns the error.
// Expands to several statements: never use it as the body of an unbraced if.
#define MANIFOLD_ASSIGN_OR_RETURN(lhs, expr) \
  MANIFOLD_ASSIGN_OR_RETURN_IMPL_(MANIFOLD_CONCAT_(_mf_res_, __LINE__), lhs, expr)
// NOLINTEND(bugprone-macro-parentheses)
