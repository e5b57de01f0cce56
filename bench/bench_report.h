// Shared helpers for bench_commit and bench_recovery: percentiles, number
// formatting, a small table printer (aligned text and Markdown), environment
// knobs, and the run's description. Header-only. Uses workload.h for the PRNG,
// EnvU64 and TempDir.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/utsname.h>
#include <unistd.h>

#include "workload.h"

namespace manifold_bench {

inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Nearest-rank percentile (q in [0, 1]) of `v`, which it sorts. 0 if empty.
inline double PercentileNanos(std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(q * static_cast<double>(v.size()));
  if (rank >= v.size()) rank = v.size() - 1;
  return static_cast<double>(v[rank]);
}

// A comma-separated list of positive integers from the environment, or `fallback`.
inline std::vector<int> EnvIntList(const char* name, std::vector<int> fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  std::vector<int> out;
  std::string_view rest(s);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string item(rest.substr(0, comma));
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0 || v > 1024) {
      std::fprintf(stderr, "bench: ignoring invalid %s=%s\n", name, s);
      return fallback;
    }
    out.push_back(static_cast<int>(v));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

inline std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// 1234567 -> "1.23M", 61234 -> "61.2k", 812 -> "812".
inline std::string Human(double v) {
  if (v >= 10e6) return Fmt("%.1fM", v / 1e6);
  if (v >= 1e6) return Fmt("%.2fM", v / 1e6);
  if (v >= 100e3) return Fmt("%.0fk", v / 1e3);
  if (v >= 10e3) return Fmt("%.1fk", v / 1e3);
  if (v >= 1e3) return Fmt("%.2fk", v / 1e3);
  return Fmt("%.0f", v);
}

// Microseconds from nanoseconds, with sensible precision.
inline std::string Micros(double ns) {
  double us = ns / 1e3;
  if (us >= 1000) return Fmt("%.0f", us);
  if (us >= 10) return Fmt("%.1f", us);
  return Fmt("%.2f", us);
}

inline std::string Ratio(double num, double den) {
  if (num <= 0 || den <= 0) return "n/a";
  return Fmt("%.2fx", num / den);
}

// A table printed as aligned text (to a terminal) or as Markdown (to the report).
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header, std::vector<bool> right_align = {})
      : header_(std::move(header)), right_(std::move(right_align)) {
    right_.resize(header_.size(), true);
    if (!right_.empty()) right_[0] = false;
  }
  void Add(std::vector<std::string> row) {
    row.resize(header_.size());
    rows_.push_back(std::move(row));
  }
  bool empty() const { return rows_.empty(); }

  std::string Text() const {
    std::vector<size_t> w(header_.size());
    for (size_t c = 0; c < header_.size(); ++c) w[c] = header_[c].size();
    for (const auto& r : rows_) {
      for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], r[c].size());
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& r) {
      for (size_t c = 0; c < r.size(); ++c) {
        std::string pad(w[c] - r[c].size(), ' ');
        out += c == 0 ? "" : "  ";
        out += right_[c] ? pad + r[c] : r[c] + pad;
      }
      out += '\n';
    };
    line(header_);
    size_t total = 0;
    for (size_t c = 0; c < w.size(); ++c) total += w[c] + (c == 0 ? 0 : 2);
    out += std::string(total, '-') + '\n';
    for (const auto& r : rows_) line(r);
    return out;
  }

  std::string Markdown() const {
    std::string out = "|";
    for (const auto& h : header_) out += " " + h + " |";
    out += "\n|";
    for (size_t c = 0; c < header_.size(); ++c) out += right_[c] ? "---:|" : "---|";
    out += '\n';
    for (const auto& r : rows_) {
      out += "|";
      for (const auto& cell : r) out += " " + cell + " |";
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// "0.52 / 0.40" (1 and 5 minutes), or "" where /proc/loadavg is missing.
inline std::string LoadAverage() {
  std::string out;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    double l1 = 0, l5 = 0;
    if (std::fscanf(f, "%lf %lf", &l1, &l5) == 2) out = Fmt("%.2f", l1) + " / " + Fmt("%.2f", l5);
    std::fclose(f);
  }
  return out;
}

// "2026-11-25 18:56, 2 CPUs, Linux 6.1.0 x86_64, g++ 12.2.0, NDEBUG, load average
// 0.50 / 0.40 at the end" -- for the report.
inline std::string MachineLine() {
  char date[32] = "?";
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  if (localtime_r(&t, &tm) != nullptr) std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
  struct utsname u {};
  std::string os = "?";
  if (uname(&u) == 0) os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  std::string line = std::string(date) + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs, " + os;
#if defined(__clang__)
  line += ", clang " __clang_version__;
#elif defined(__GNUC__)
  line += ", g++ " __VERSION__;
#endif
#if defined(NDEBUG)
  line += ", NDEBUG";
#else
  line += ", assertions on (not a Release build)";
#endif
  // Other work on the machine skews sync latencies a lot: say how busy it was.
  std::string load = LoadAverage();
  if (!load.empty()) line += ", load average " + load + " at the end";
  return line;
}

inline std::string TempBase() {
  const char* base = std::getenv("TMPDIR");
  return base != nullptr && *base != '\0' ? base : "/tmp";
}

// Writes `text` to $MANIFOLD_BENCH_REPORT when that is set. False on failure.
inline bool WriteReportFile(const std::string& text, const char* tool) {
  const char* path = std::getenv("MANIFOLD_BENCH_REPORT");
  if (path == nullptr || *path == '\0') return true;
  FILE* f = std::fopen(path, "w");
  if (f == nullptr) {
    std::perror((std::string(tool) + ": " + path).c_str());
    return false;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fclose(f) == 0) && ok;
  if (ok) {
    std::fprintf(stderr, "%s: wrote %s\n", tool, path);
  } else {
    std::fprintf(stderr, "%s: could not write %s\n", tool, path);
  }
  return ok;
}

}  // namespace manifold_bench
