// Shared workload for the Manifold benchmarks: a fixed-seed data set of
// random fixed-size keys and values, a small deterministic PRNG, and
// temporary-directory helpers. Header-only; used by bench_kv.cc.
//
// Everything here is deterministic for a given (N, seed), so every engine in
// one run -- and every run on every machine -- sees the same keys, the same
// load order and the same sequence of probed keys.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace manifold_bench {

inline constexpr size_t kKeyBytes = 24;
inline constexpr size_t kValueBytes = 150;
inline constexpr uint64_t kDefaultN = 1'000'000;
inline constexpr uint64_t kDefaultSeed = 0x4D414E49464F4C44ull;  // "MANIFOLD"
inline constexpr int kRangeLength = 10;

// SplitMix64: tiny, fast, fully specified (unlike std:: distributions), so
// the data set is identical across standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (modulo bias is negligible for n << 2^64).
  uint64_t Uniform(uint64_t n) { return Next() % n; }
  void Fill(char* out, size_t len) {
    while (len >= 8) {
      uint64_t v = Next();
      std::memcpy(out, &v, 8);
      out += 8;
      len -= 8;
    }
    if (len > 0) {
      uint64_t v = Next();
      std::memcpy(out, &v, len);
    }
  }

 private:
  uint64_t state_;
};

// Reads a positive integer from the environment, or returns `fallback`.
inline uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 0);
  if (end == s || *end != '\0' || v == 0) {
    std::fprintf(stderr, "bench: ignoring invalid %s=%s (using %llu)\n", name, s,
                 static_cast<unsigned long long>(fallback));
    return fallback;
  }
  return v;
}

// N entries of random kKeyBytes-byte keys and kValueBytes-byte values, stored
// contiguously. Entry i is the i-th one generated; the generation order is the
// (random) load order. Keys are checked to be distinct.
class Workload {
 public:
  Workload(uint64_t n, uint64_t seed) : n_(n), seed_(seed) {
    keys_.resize(n * kKeyBytes);
    values_.resize(n * kValueBytes);
    Rng rng(seed);
    for (uint64_t i = 0; i < n; ++i) {
      rng.Fill(&keys_[i * kKeyBytes], kKeyBytes);
      rng.Fill(&values_[i * kValueBytes], kValueBytes);
    }
    // 192 random bits per key make a collision practically impossible, but a
    // duplicate would silently change the entry count, so verify.
    std::vector<uint32_t> order(n);
    for (uint64_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
    std::sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) { return key(a) < key(b); });
    for (uint64_t i = 1; i < n; ++i) {
      if (key(order[i - 1]) == key(order[i])) {
        std::fprintf(stderr, "bench: duplicate key generated (seed %llu); pick another seed\n",
                     static_cast<unsigned long long>(seed));
        std::exit(2);
      }
    }
  }

  uint64_t size() const { return n_; }
  uint64_t seed() const { return seed_; }
  std::string_view key(uint64_t i) const { return {&keys_[i * kKeyBytes], kKeyBytes}; }
  std::string_view value(uint64_t i) const { return {&values_[i * kValueBytes], kValueBytes}; }
  // Seed for the PRNG that picks probed keys in the read benchmarks (the same
  // sequence for every engine).
  uint64_t probe_seed() const { return seed_ ^ 0xA5A5A5A5A5A5A5A5ull; }

 private:
  uint64_t n_;
  uint64_t seed_;
  std::vector<char> keys_;
  std::vector<char> values_;
};

// The process-wide data set: N from MANIFOLD_BENCH_N (default 1,000,000),
// seed from MANIFOLD_BENCH_SEED (default kDefaultSeed). Built on first use.
inline const Workload& GlobalWorkload() {
  static const Workload w(EnvU64("MANIFOLD_BENCH_N", kDefaultN), EnvU64("MANIFOLD_BENCH_SEED", kDefaultSeed));
  return w;
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object is destroyed.
class TempDir {
 public:
  explicit TempDir(const char* tag) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/manifold-bench-" + tag + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      std::perror(("bench: mkdtemp " + tmpl).c_str());
      std::exit(2);
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace manifold_bench
