// Fault and operation names, and the fault log's line format (fault_log.h).
#include "faultfs/fault_log.h"

#include <array>
#include <cstdlib>

namespace manifold::faultfs {

namespace {

constexpr std::array<const char*, kOpKindCount> kOpNames = {
    "open", "exists", "remove", "read", "write", "sync", "size", "resize", "powerloss",
};

constexpr std::array<const char*, kFaultKindCount> kFaultNames = {
    "read-error",       "write-error",   "sync-error",    "sync-drops-dirty", "resize-error",
    "open-error",       "remove-error",  "size-error",    "no-space",         "short-read",
    "partial-write",    "bit-flip",      "unreadable-sector", "misdirected-write", "lost-write",
    "latency",          "power-cut",     "crash-drop",    "crash-torn",       "crash-garbage",
    "crash-zeros",      "power-loss",
};

bool NeedsEscape(unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '=' || c == '%'; }

std::string Escape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (NeedsEscape(c)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  if (out.empty()) out = "%00";  // never an empty token (cannot occur for real paths)
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> Unescape(std::string_view s) {
  if (s == "%00") return std::string();
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) {
      return Status::InvalidArgument("bad percent escape in '" + std::string(s) + "'");
    }
    int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("bad percent escape in '" + std::string(s) + "'");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

}  // namespace

const char* OpKindName(OpKind kind) {
  auto i = static_cast<size_t>(kind);
  return i < kOpNames.size() ? kOpNames[i] : "unknown";
}

std::optional<OpKind> OpKindFromName(std::string_view name) {
  for (size_t i = 0; i < kOpNames.size(); i++) {
    if (name == kOpNames[i]) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

const char* FaultKindName(FaultKind kind) {
  auto i = static_cast<size_t>(kind);
  return i < kFaultNames.size() ? kFaultNames[i] : "unknown";
}

std::optional<FaultKind> FaultKindFromName(std::string_view name) {
  for (size_t i = 0; i < kFaultNames.size(); i++) {
    if (name == kFaultNames[i]) return static_cast<FaultKind>(i);
  }
  return std::nullopt;
}

std::vector<FaultKind> AllFaultKinds() {
  std::vector<FaultKind> v;
  for (int i = 0; i < kFaultKindCount; i++) v.push_back(static_cast<FaultKind>(i));
  return v;
}

uint32_t NaturalOps(FaultKind kind) {
  constexpr uint32_t kAll = OpBit(OpKind::kOpen) | OpBit(OpKind::kExists) | OpBit(OpKind::kRemove) |
                            OpBit(OpKind::kRead) | OpBit(OpKind::kWrite) | OpBit(OpKind::kSync) |
                            OpBit(OpKind::kSize) | OpBit(OpKind::kResize);
  switch (kind) {
    case FaultKind::kReadError:
    case FaultKind::kShortRead:
    case FaultKind::kBitFlip:
    case FaultKind::kUnreadableSector:
      return OpBit(OpKind::kRead);
    case FaultKind::kWriteError:
    case FaultKind::kPartialWrite:
    case FaultKind::kMisdirectedWrite:
    case FaultKind::kLostWrite:
      return OpBit(OpKind::kWrite);
    case FaultKind::kSyncError:
    case FaultKind::kSyncDropsDirty:
      return OpBit(OpKind::kSync);
    case FaultKind::kResizeError:
      return OpBit(OpKind::kResize);
    case FaultKind::kOpenError:
      return OpBit(OpKind::kOpen) | OpBit(OpKind::kExists);
    case FaultKind::kRemoveError:
      return OpBit(OpKind::kRemove);
    case FaultKind::kSizeError:
      return OpBit(OpKind::kSize);
    case FaultKind::kNoSpace:
      return OpBit(OpKind::kWrite) | OpBit(OpKind::kResize);
    case FaultKind::kLatency:
    case FaultKind::kPowerCut:
      return kAll;
    case FaultKind::kCrashDrop:
    case FaultKind::kCrashTorn:
    case FaultKind::kCrashGarbage:
    case FaultKind::kCrashZeros:
    case FaultKind::kPowerLoss:
      return 0;
  }
  return 0;
}

std::string FaultRecord::Param(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return v;
  }
  return std::string();
}

bool FaultRecord::HasParam(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return true;
  }
  return false;
}

std::optional<uint64_t> FaultRecord::ParamU64(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return ParseU64(v);
  }
  return std::nullopt;
}

FaultRecord& FaultRecord::Set(std::string_view key, std::string value) {
  for (auto& [k, v] : params) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  params.emplace_back(std::string(key), std::move(value));
  return *this;
}

std::string FaultRecord::ToLine() const {
  std::string s = "op=" + std::to_string(op) + " file=" + Escape(file) + " kind=" + OpKindName(kind);
  if (offset) s += " offset=" + std::to_string(*offset);
  if (len) s += " len=" + std::to_string(*len);
  s += " fault=";
  s += FaultKindName(fault);
  for (const auto& [k, v] : params) s += " " + Escape(k) + "=" + Escape(v);
  return s;
}

Result<FaultRecord> FaultRecord::Parse(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  FaultRecord r;
  bool have_op = false, have_file = false, have_kind = false, have_fault = false;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view tok = line.substr(pos, end - pos);
    pos = end + 1;
    if (tok.empty()) continue;
    size_t eq = tok.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::InvalidArgument("fault log token '" + std::string(tok) + "' is not key=value");
    }
    MANIFOLD_ASSIGN_OR_RETURN(std::string key, Unescape(tok.substr(0, eq)));
    MANIFOLD_ASSIGN_OR_RETURN(std::string value, Unescape(tok.substr(eq + 1)));
    auto number = [&](std::optional<uint64_t>* out) -> Status {
      *out = ParseU64(value);
      if (!*out) return Status::InvalidArgument("fault log: " + key + "=" + value + " is not a number");
      return Status::Ok();
    };
    if (!have_fault && key == "op") {
      std::optional<uint64_t> v;
      MANIFOLD_RETURN_IF_ERROR(number(&v));
      r.op = *v;
      have_op = true;
    } else if (!have_fault && key == "file") {
      r.file = value;
      have_file = true;
    } else if (!have_fault && key == "kind") {
      std::optional<OpKind> k = OpKindFromName(value);
      if (!k) return Status::InvalidArgument("fault log: unknown operation kind '" + value + "'");
      r.kind = *k;
      have_kind = true;
    } else if (!have_fault && key == "offset") {
      MANIFOLD_RETURN_IF_ERROR(number(&r.offset));
    } else if (!have_fault && key == "len") {
      MANIFOLD_RETURN_IF_ERROR(number(&r.len));
    } else if (!have_fault && key == "fault") {
      std::optional<FaultKind> f = FaultKindFromName(value);
      if (!f) return Status::InvalidArgument("fault log: unknown fault '" + value + "'");
      r.fault = *f;
      have_fault = true;
    } else if (have_fault) {
      r.params.emplace_back(std::move(key), std::move(value));
    } else {
      return Status::InvalidArgument("fault log: unexpected key '" + key + "' before fault=");
    }
  }
  if (!have_op || !have_file || !have_kind || !have_fault) {
    return Status::InvalidArgument("fault log line lacks one of op=, file=, kind=, fault=: '" + std::string(line) + "'");
  }
  return r;
}

std::string FormatFaultLog(const std::vector<FaultRecord>& records) {
  std::string s;
  for (const FaultRecord& r : records) {
    s += r.ToLine();
    s += '\n';
  }
  return s;
}

Result<std::vector<FaultRecord>> ParseFaultLog(std::string_view text) {
  std::vector<FaultRecord> out;
  size_t pos = 0;
  uint64_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    line_no++;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    Result<FaultRecord> r = FaultRecord::Parse(line.substr(first));
    if (!r.ok()) return r.status().WithContext("fault log line " + std::to_string(line_no));
    out.push_back(std::move(r).value());
  }
  return out;
}

std::string EncodeSectorMap(std::string_view map) {
  std::string out;
  size_t i = 0;
  while (i < map.size()) {
    size_t j = i;
    while (j < map.size() && map[j] == map[i]) j++;
    out += map[i];
    out += std::to_string(j - i);
    i = j;
  }
  return out;
}

Result<std::string> DecodeSectorMap(std::string_view rle) {
  std::string out;
  size_t i = 0;
  while (i < rle.size()) {
    char c = rle[i++];
    if (c != 'n' && c != 'o' && c != 'g' && c != 'z') {
      return Status::InvalidArgument("sector map '" + std::string(rle) + "': unknown state '" + std::string(1, c) + "'");
    }
    size_t j = i;
    while (j < rle.size() && rle[j] >= '0' && rle[j] <= '9') j++;
    std::optional<uint64_t> n = ParseU64(rle.substr(i, j - i));
    if (!n || *n == 0 || *n > (uint64_t{1} << 32)) {
      return Status::InvalidArgument("sector map '" + std::string(rle) + "': bad run length");
    }
    out.append(static_cast<size_t>(*n), c);
    i = j;
  }
  return out;
}

}  // namespace manifold::faultfs
