// Error texts shared by the in-memory File implementations (the engine's
// MemoryStorage, crashsim's StateStorage): "OP PATH offset O len N: why".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "manifold/status.h"

namespace manifold {

inline std::string FileOpWhere(const char* op, const std::string& path, std::optional<uint64_t> offset, uint64_t len) {
  std::string s = std::string(op) + " " + path;
  if (offset) s += " offset " + std::to_string(*offset);
  s += " len " + std::to_string(len);
  return s;
}

inline Status FileReadOnlyError(const char* op, const std::string& path, std::optional<uint64_t> offset, uint64_t len) {
  return Status::IOError(FileOpWhere(op, path, offset, len) + ": file is opened read-only");
}

}  // namespace manifold
