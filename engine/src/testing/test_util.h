// Helpers shared by the engine's unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "manifold/db.h"

namespace manifold::testing {

// Seed for randomized tests: MANIFOLD_TEST_SEED if set, else random. Printed
// so that a failure can be rerun with the same seed.
inline uint64_t TestSeed(const char* test_name) {
  uint64_t seed;
  // Tests read the environment before they start threads, and nothing sets it.
  if (const char* env = std::getenv("MANIFOLD_TEST_SEED")) {  // NOLINT(concurrency-mt-unsafe)
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = std::random_device{}();
  }
  std::printf("[seed] %s: MANIFOLD_TEST_SEED=%llu\n", test_name, static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

template <typename T>
T Must(Result<T> r, const char* what = "") {
  EXPECT_TRUE(r.ok()) << what << ": " << r.status().ToString();
  if (!r.ok()) std::abort();
  return std::move(r).value();
}

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    const ::manifold::Status& _s = (expr);                 \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                    \
  do {                                                     \
    const ::manifold::Status& _s = (expr);                 \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

inline Options MemOptions(std::shared_ptr<MemoryStorage> storage, uint32_t page_size = 0) {
  Options o;
  o.storage = std::move(storage);
  o.page_size = page_size;
  return o;
}

// Every entry of a table, in order.
inline std::map<std::string, std::string> Dump(const Table& t) {
  std::map<std::string, std::string> m;
  auto it = t.Scan();
  for (; it.Valid(); it.Next()) m.emplace(std::string(it.key()), std::string(it.value()));
  EXPECT_TRUE(it.status().ok()) << it.status().ToString();
  return m;
}

inline void ExpectClean(Database& db) {
  Result<CheckReport> r = db.Check();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ok) << r->ToText();
}

}  // namespace manifold::testing
