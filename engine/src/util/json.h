// JSON string escaping for the engine's reports (CheckReport::ToJson,
// DatabaseStats::ToJson) and the harness's (crashsim --json).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace manifold {

// `s` as the inside of a JSON string: quotes, backslashes and control
// characters escaped; other bytes (UTF-8 included) as they are.
inline std::string JsonEscape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          o += b;
        } else {
          o += c;
        }
    }
  }
  return o;
}

}  // namespace manifold
