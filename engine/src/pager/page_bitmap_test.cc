// PageBitmap (pager.h): the set of young pages, checked against std::set.
#include <cstdint>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "pager/pager.h"
#include "testing/test_util.h"

namespace manifold {
namespace {

TEST(PageBitmap, BehavesLikeASetAcrossClears) {
  std::mt19937_64 rng(testing::TestSeed("PageBitmap.BehavesLikeASetAcrossClears"));
  PageBitmap bits;
  std::set<uint64_t> model;
  for (int round = 0; round < 20; round++) {
    // Pages near 0, near word edges and far out (growth by more than double).
    const uint64_t span = round % 5 == 4 ? 1'000'000 : 700;
    for (int i = 0; i < 2000; i++) {
      const uint64_t p = rng() % span;
      switch (rng() % 3) {
        case 0:
          bits.Insert(p);
          model.insert(p);
          break;
        case 1:
          ASSERT_EQ(bits.Erase(p), model.erase(p) != 0) << "page " << p;
          break;
        default:
          ASSERT_EQ(bits.Contains(p), model.count(p) != 0) << "page " << p;
      }
      ASSERT_EQ(bits.size(), model.size());
    }
    for (uint64_t p : {uint64_t{0}, uint64_t{63}, uint64_t{64}, span - 1, span, span * 3}) {
      ASSERT_EQ(bits.Contains(p), model.count(p) != 0) << "page " << p;
    }
    if (round % 3 == 2) {
      bits.Clear();
      model.clear();
      for (uint64_t p = 0; p < span; p += 1 + rng() % 50) ASSERT_FALSE(bits.Contains(p)) << "page " << p << " after Clear()";
      ASSERT_EQ(bits.size(), 0u);
    }
  }
}

}  // namespace
}  // namespace manifold
