// A small deterministic PRNG for faultfs: xoshiro256** seeded by splitmix64.
//
// faultfs must reproduce a run bit for bit from its seed on every platform and
// standard library, so it never uses std:: distributions (whose output differs
// between libstdc++ and libc++). Every random choice goes through Rng, whose
// outputs are fully specified here.
//
// Thread-safety: none; each owner serializes its own Rng.
#pragma once

#include <cstddef>
#include <cstdint>

namespace manifold::faultfs {

// One step of splitmix64: advances *state and returns the next output.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Combines two values into a derived seed (order matters).
inline uint64_t MixSeed(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0x9e3779b97f4a7c15ull) ^ 0x6a09e667f3bcc909ull;
  SplitMix64(&s);
  return SplitMix64(&s);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { Seed(seed); }

  void Seed(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& w : s_) w = SplitMix64(&sm);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n == 0 returns 0. Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t n) {
    if (n <= 1) return 0;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // multiple of n
    uint64_t x;
    do {
      x = Next();
    } while (x >= limit);
    return x % n;
  }

  // True with probability p (p <= 0: never, p >= 1: always; no draw then).
  bool Chance(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    // 53 random bits -> a double in [0, 1), exact in IEEE arithmetic.
    return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p;
  }

  // Fills out[0, n) with random bytes (little-endian words: same bytes on every host).
  void Fill(char* out, size_t n) {
    size_t i = 0;
    while (i < n) {
      uint64_t v = Next();
      for (int b = 0; b < 8 && i < n; b++, i++) out[i] = static_cast<char>(static_cast<uint8_t>(v >> (8 * b)));
    }
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace manifold::faultfs
