// CowMap (util/cow_map.h): the catalog's map of column families. Checked
// against std::map under random operations, with copies taken along the way
// that must not change when the map they were copied from does; and the
// sharing itself: a copy shares every value, a change copies one value.
#include "util/cow_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "testing/test_util.h"

namespace manifold {
namespace {

struct Val {
  int x = 0;
  bool operator==(const Val&) const = default;
};

std::map<std::string, int> Contents(const CowMap<Val>& m) {
  std::map<std::string, int> out;
  std::string prev;
  bool first = true;
  for (const auto& [k, v] : m) {
    EXPECT_TRUE(first || prev < k) << "keys out of order: '" << prev << "' then '" << k << "'";
    first = false;
    prev = k;
    out.emplace(k, v.x);
  }
  EXPECT_EQ(out.size(), m.size());
  return out;
}

TEST(CowMapTest, MatchesStdMapAndCopiesStayAsTheyWere) {
  const uint64_t seed = testing::TestSeed("CowMapTest.MatchesStdMapAndCopiesStayAsTheyWere");
  std::mt19937_64 rng(seed);
  CowMap<Val> m;
  std::map<std::string, int> model;
  std::vector<std::pair<CowMap<Val>, std::map<std::string, int>>> copies;
  // Up to ~600 keys: chunks split (past 2 * kChunk) and empty out again.
  auto key = [&] { return "k" + std::to_string(rng() % 600); };
  for (int step = 0; step < 20000; step++) {
    const std::string k = key();
    switch (rng() % 8) {
      case 0:
      case 1: {  // insert or change through operator[]
        const int x = static_cast<int>(rng() % 1000);
        m[k].x = x;
        model[k] = x;
        break;
      }
      case 2: {  // change an existing value only
        Val* v = m.Mutable(k);
        ASSERT_EQ(v != nullptr, model.count(k) != 0) << k << ", seed " << seed;
        if (v != nullptr) model[k] = ++v->x;
        break;
      }
      case 3:
        ASSERT_EQ(m.Erase(k), model.erase(k) != 0) << k << ", seed " << seed;
        break;
      case 4: {
        const std::string to = key();
        const bool ok = model.count(k) != 0 && model.count(to) == 0;
        ASSERT_EQ(m.Rename(k, to), ok) << k << " -> " << to << ", seed " << seed;
        if (ok) {
          model[to] = model[k];
          model.erase(k);
        }
        break;
      }
      case 5: {  // Put a value shared with another map
        CowMap<Val> other;
        other[k].x = -static_cast<int>(step);
        m.Put(k, other.Share(k));
        model[k] = -step;
        break;
      }
      case 6: {
        const Val* v = m.Find(k);
        ASSERT_EQ(v != nullptr, model.count(k) != 0) << k << ", seed " << seed;
        if (v != nullptr) {
          ASSERT_EQ(v->x, model[k]) << k << ", seed " << seed;
        }
        ASSERT_EQ(m.Share(k) != nullptr, v != nullptr);
        break;
      }
      case 7:
        if (copies.size() < 20 && rng() % 50 == 0) copies.emplace_back(m, model);
        break;
    }
    if (step % 1000 == 999) {
      ASSERT_EQ(Contents(m), model) << "seed " << seed << ", step " << step;
      for (const auto& [copy, then] : copies) ASSERT_EQ(Contents(copy), then) << "a copy changed, seed " << seed;
    }
  }
  int changed = 0;
  m.ForEachMutable([&](const std::string& k, Val& v) {
    v.x += 7;
    model[k] += 7;
    changed++;
  });
  EXPECT_EQ(static_cast<size_t>(changed), model.size());
  EXPECT_EQ(Contents(m), model) << "seed " << seed;
  for (const auto& [copy, then] : copies) EXPECT_EQ(Contents(copy), then) << "a copy changed, seed " << seed;
}

TEST(CowMapTest, ACopySharesValuesUntilOneChanges) {
  CowMap<Val> a;
  for (int i = 0; i < 1000; i++) a["f" + std::to_string(i)].x = i;
  const CowMap<Val> b = a;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the test
  EXPECT_TRUE(a == b);
  for (int i = 0; i < 1000; i++) {
    const std::string k = "f" + std::to_string(i);
    ASSERT_EQ(a.Find(k), b.Find(k)) << "a copy copied value " << k;
  }
  a.Mutable("f500")->x = -1;
  EXPECT_EQ(b.Find("f500")->x, 500);
  EXPECT_NE(a.Find("f500"), b.Find("f500"));
  EXPECT_EQ(a.Find("f499"), b.Find("f499")) << "a change copied a value it did not touch";
  EXPECT_FALSE(a == b);
  const Val* mine = a.Find("f500");
  EXPECT_EQ(a.Mutable("f500"), mine) << "a value this map owns alone was copied again";
  a.Mutable("f500")->x = 500;
  EXPECT_TRUE(a == b);  // equal values, though no longer the same object
  EXPECT_EQ(a.Mutable("nope"), nullptr);
  EXPECT_FALSE(a.Rename("f1", "f2"));  // the target exists
  EXPECT_FALSE(a.Rename("nope", "new"));
  EXPECT_TRUE(a.Rename("f1", "zz"));
  EXPECT_EQ(a.Find("zz")->x, 1);
  EXPECT_EQ(b.Find("f1")->x, 1);
  EXPECT_EQ(b.Find("zz"), nullptr);
}

}  // namespace
}  // namespace manifold
