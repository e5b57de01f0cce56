// B+tree behaviour through the public API, against a std::map model: random
// inserts, updates and deletes (exercising splits, merges, redistribution and
// root collapse) for several page sizes, with range scans and an integrity
// check after every commit.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "btree/btree.h"
#include "testing/test_util.h"

namespace manifold {
namespace {

using testing::Dump;
using testing::ExpectClean;
using testing::MemOptions;
using testing::Must;

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

class BTreeModelTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(BTreeModelTest, RandomOperationsMatchModel) {
  const uint32_t ps = GetParam();
  uint64_t seed = testing::TestSeed("BTreeModelTest");
  std::mt19937_64 rng(seed);
  auto storage = std::make_shared<MemoryStorage>();
  auto db = Must(Database::Open("t.db", MemOptions(storage, ps)));
  std::map<std::string, std::string> model;
  const size_t max_key = KeyBytesMax(ps);
  for (int round = 0; round < 12; round++) {
    auto w = Must(db->BeginWrite());
    auto t = Must(w.OpenOrCreateTable("t"));
    int ops = 300 + static_cast<int>(rng() % 700);
    for (int i = 0; i < ops; i++) {
      int kind = static_cast<int>(rng() % 10);
      // Keys from a small space so updates and deletes hit; sizes vary to
      // include maximum-size keys and overflow values.
      std::string key = std::to_string(rng() % 2000);
      if (rng() % 16 == 0) key += RandomBytes(rng, rng() % (max_key - key.size() + 1));
      if (kind < 6 || (round < 2)) {
        size_t vlen = rng() % 8 == 0 ? rng() % (3 * ps) : rng() % 64;
        std::string value = RandomBytes(rng, vlen);
        ASSERT_OK(t.Put(key, value));
        model[key] = value;
      } else {
        // Delete either a present key or a random one.
        if (!model.empty() && rng() % 2 == 0) {
          auto it = model.lower_bound(key);
          if (it == model.end()) it = model.begin();
          key = it->first;
        }
        bool existed = Must(t.Delete(key));
        EXPECT_EQ(existed, model.erase(key) == 1);
      }
    }
    // Delete in big ranges now and then to force merges and root collapse.
    if (round % 4 == 3) {
      for (auto it = model.begin(); it != model.end();) {
        if (rng() % 5 != 0) {
          ASSERT_TRUE(Must(t.Delete(it->first)));
          it = model.erase(it);
        } else {
          ++it;
        }
      }
    }
    ASSERT_EQ(Must(t.Len()), model.size());
    ASSERT_EQ(Dump(t), model) << "seed " << seed << " round " << round;
    ASSERT_OK(w.Commit(round % 3 == 0 ? Durability::kNone : Durability::kImmediate));
    ExpectClean(*db);
  }
  // Reopen and compare again.
  db.reset();
  db = Must(Database::Open("t.db", MemOptions(storage)));
  auto r = Must(db->BeginRead());
  auto t = Must(r.OpenTable("t"));
  EXPECT_EQ(Dump(t), model);
  EXPECT_EQ(Must(t.Len()), model.size());
  // Point lookups of every key and of absent keys.
  for (const auto& [k, v] : model) ASSERT_EQ(Must(t.Get(k)), v);
  EXPECT_TRUE(t.Get("absent-key").status().IsNotFound());
  ExpectClean(*db);
}

INSTANTIATE_TEST_SUITE_P(PageSizes, BTreeModelTest, ::testing::Values(512u, 1024u, 4096u, 65536u));

class RangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::make_shared<MemoryStorage>();
    db_ = Must(Database::Open("r.db", MemOptions(storage_, 512)));
    auto w = Must(db_->BeginWrite());
    auto t = Must(w.CreateTable("r"));
    for (int i = 0; i < 1000; i += 2) {  // even keys 0000..0998
      char k[8];
      std::snprintf(k, sizeof k, "%04d", i);
      ASSERT_OK(t.Put(k, std::string("v") + k));
    }
    ASSERT_OK(w.Commit());
  }
  std::vector<std::string> Collect(Iterator it, size_t limit = 100000) {
    std::vector<std::string> v;
    for (; it.Valid() && v.size() < limit; it.Next()) v.emplace_back(it.key());
    EXPECT_TRUE(it.status().ok()) << it.status().ToString();
    return v;
  }
  std::shared_ptr<MemoryStorage> storage_;
  std::unique_ptr<Database> db_;
};

TEST_F(RangeTest, BoundsInclusiveExclusiveForwardReverse) {
  auto r = Must(db_->BeginRead());
  auto t = Must(r.OpenTable("r"));
  using V = std::vector<std::string>;
  EXPECT_EQ(Collect(t.Range(Bound::Included("0010"), Bound::Included("0016"))), (V{"0010", "0012", "0014", "0016"}));
  EXPECT_EQ(Collect(t.Range(Bound::Excluded("0010"), Bound::Excluded("0016"))), (V{"0012", "0014"}));
  EXPECT_EQ(Collect(t.Range(Bound::Included("0011"), Bound::Included("0015"))), (V{"0012", "0014"}));
  EXPECT_EQ(Collect(t.Range(Bound::Included("0010"), Bound::Included("0016"), true)),
            (V{"0016", "0014", "0012", "0010"}));
  EXPECT_EQ(Collect(t.Range(Bound::Excluded("0010"), Bound::Excluded("0016"), true)), (V{"0014", "0012"}));
  EXPECT_EQ(Collect(t.Range(Bound::Excluded("0011"), Bound::Excluded("0015"), true)), (V{"0014", "0012"}));
  EXPECT_EQ(Collect(t.Range(Bound::Unbounded(), Bound::Excluded("0004"))), (V{"0000", "0002"}));
  EXPECT_EQ(Collect(t.Range(Bound::Included("0995"), Bound::Unbounded())), (V{"0996", "0998"}));
  EXPECT_EQ(Collect(t.Range(Bound::Included("0995"), Bound::Unbounded(), true)), (V{"0998", "0996"}));
  EXPECT_EQ(Collect(t.Range(Bound::Included("0999"), Bound::Unbounded())), V{});
  EXPECT_EQ(Collect(t.Range(Bound::Included("0016"), Bound::Included("0010"))), V{});  // empty range
  EXPECT_EQ(Collect(t.Scan()).size(), 500u);
  EXPECT_EQ(Collect(t.Scan(true)).front(), "0998");
  EXPECT_EQ(Collect(t.Prefix("009")), (V{"0090", "0092", "0094", "0096", "0098"}));
  EXPECT_EQ(Collect(t.Prefix("009", true)), (V{"0098", "0096", "0094", "0092", "0090"}));
  EXPECT_EQ(Collect(t.Prefix("1")), V{});
}

TEST_F(RangeTest, SeekWithinBounds) {
  auto r = Must(db_->BeginRead());
  auto t = Must(r.OpenTable("r"));
  auto it = t.Range(Bound::Included("0100"), Bound::Excluded("0200"));
  it.Seek("0151");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "0152");
  EXPECT_EQ(it.value(), "v0152");
  it.Seek("0050");  // below the range: clamps to the lower bound
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "0100");
  it.Seek("0300");
  EXPECT_FALSE(it.Valid());
  auto rev = t.Range(Bound::Unbounded(), Bound::Unbounded(), true);
  rev.Seek("0151");
  ASSERT_TRUE(rev.Valid());
  EXPECT_EQ(rev.key(), "0150");
  rev.Next();
  EXPECT_EQ(rev.key(), "0148");
}

TEST_F(RangeTest, IteratorInvalidatedByWrite) {
  auto w = Must(db_->BeginWrite());
  auto t = Must(w.OpenTable("r"));
  auto it = t.Scan();
  ASSERT_TRUE(it.Valid());
  ASSERT_OK(t.Put("zzz", "1"));
  EXPECT_FALSE(it.Valid());
  EXPECT_EQ(it.status().code(), Status::Code::kInvalidState);
}

}  // namespace
}  // namespace manifold
