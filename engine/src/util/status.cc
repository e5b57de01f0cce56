#include "manifold/status.h"

namespace manifold {

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kCorruption: return "Corruption";
    case Code::kIOError: return "IOError";
    case Code::kNoSpace: return "NoSpace";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kBusy: return "Busy";
    case Code::kAborted: return "Aborted";
    case Code::kPoisoned: return "Poisoned";
    case Code::kNotSupported: return "NotSupported";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kInvalidState: return "InvalidState";
    case Code::kNoMemory: return "NoMemory";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  if (!msg_.empty()) {
    s += ": ";
    s += msg_;
  }
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += msg_;
  return Status(code_, std::move(m));
}

}  // namespace manifold
