// Small helpers shared by the property tests: readable byte strings and a
// RapidCheck-friendly way to assert on Status codes.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifold/db.h"
#include "testing/harness_options.h"

namespace manifold::prop {

// "abc", "a\x00\xff" or 'v'*1500 (long runs of one byte are shortened).
inline std::string Printable(std::string_view s) {
  if (s.size() > 16) {
    bool same = true;
    for (char c : s) same = same && c == s[0];
    if (same) {
      std::string one = Printable(s.substr(0, 1));
      return "'" + one.substr(1, one.size() - 2) + "'*" + std::to_string(s.size());
    }
  }
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  if (s.size() > 64) out = out.substr(0, 60) + "...(" + std::to_string(s.size()) + " bytes)";
  out.push_back('"');
  return out;
}

inline std::string CodeName(Status::Code c) { return Status::CodeName(c); }

// Fails the property unless `s` has one of the codes in `allowed`.
inline void AssertCode(const Status& s, const char* expr, std::initializer_list<Status::Code> allowed) {
  for (auto c : allowed) {
    if (s.code() == c) return;
  }
  std::string want;
  for (auto c : allowed) want += std::string(want.empty() ? "" : " or ") + CodeName(c);
  RC_FAIL(std::string(expr) + " returned " + (s.ok() ? std::string("OK") : s.ToString()) + ", expected " + want);
}

// Both expand to a void expression, so `return PROP_ASSERT_OK(x);` works.
#define PROP_ASSERT_CODE(status_expr, ...) \
  ::manifold::prop::AssertCode((status_expr), #status_expr, {__VA_ARGS__})
#define PROP_ASSERT_OK(status_expr) PROP_ASSERT_CODE(status_expr, ::manifold::Status::Code::kOk)

// Options for the property tests (see testing/harness_options.h): a 1 MiB
// cache; durability follows only the model's commands.
inline Options TestOptions(std::shared_ptr<Storage> storage, uint32_t page_size, bool wal = true) {
  return testing::HarnessOptions(std::move(storage), page_size, wal, 1 << 20);
}

template <typename T>
T PropMust(Result<T> r, const char* what) {
  if (!r.ok()) RC_FAIL(std::string(what) + " failed: " + r.status().ToString());
  return std::move(r).value();
}

}  // namespace manifold::prop
