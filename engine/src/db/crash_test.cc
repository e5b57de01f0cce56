// Power-loss crash test over the in-memory backend: run a workload of durable
// and non-durable commits, and at every sync point stop the world before the
// sync happens (every write not yet synced is dropped). After reopening, the
// state must be exactly the last acknowledged durable commit and Check() must
// be clean. The seed is printed; MANIFOLD_TEST_SEED reruns it.
#include <gtest/gtest.h>

#include <random>

#include "testing/test_util.h"

namespace manifold {
namespace {

using testing::MemOptions;

// cf -> table -> key -> value
using State = std::map<std::string, std::map<std::string, std::map<std::string, std::string>>>;

Result<State> ReadState(Database& db) {
  MANIFOLD_ASSIGN_OR_RETURN(auto r, db.BeginRead());
  MANIFOLD_ASSIGN_OR_RETURN(auto cfs, r.ListColumnFamilies());
  State s;
  for (const auto& cf : cfs) {
    auto& tables = s[cf];
    MANIFOLD_ASSIGN_OR_RETURN(auto names, r.ListTables(cf));
    for (const auto& n : names) {
      MANIFOLD_ASSIGN_OR_RETURN(auto t, r.OpenTable(n, cf));
      auto& m = tables[n];
      auto it = t.Scan();
      for (; it.Valid(); it.Next()) m.emplace(std::string(it.key()), std::string(it.value()));
      MANIFOLD_RETURN_IF_ERROR(it.status());
    }
  }
  return s;
}

struct Outcome {
  bool crashed = false;
  State acknowledged_durable;  // state as of the last durable commit that returned OK
  uint64_t syncs = 0;
};

// Runs the workload; the storage's sync hook may stop it. Never asserts on
// failures caused by the crash: they are expected.
Outcome RunWorkload(const std::shared_ptr<MemoryStorage>& storage, uint64_t seed, uint32_t page_size) {
  Outcome out;
  std::mt19937_64 rng(seed);
  State model;
  Result<std::unique_ptr<Database>> opened = Database::Open("crash.db", MemOptions(storage, page_size));
  if (!opened.ok()) {
    out.crashed = true;
    return out;
  }
  std::unique_ptr<Database> db = std::move(opened).value();
  model["default"];
  out.acknowledged_durable = model;
  for (int c = 0; c < 24; c++) {
    int what = static_cast<int>(rng() % 20);
    State next = model;
    if (what == 0) {  // column family create
      std::string cf = "cf" + std::to_string(rng() % 3);
      if (next.count(cf) != 0) continue;
      next[cf];
      if (!db->CreateColumnFamily(cf).ok()) {
        out.crashed = true;
        break;
      }
      model = next;
      out.acknowledged_durable = model;
      continue;
    }
    std::string cf = std::next(model.begin(), static_cast<long>(rng() % model.size()))->first;
    auto w = db->BeginWrite(cf);
    if (!w.ok()) {
      out.crashed = true;
      break;
    }
    bool ok = true;
    if (what == 1 && !next[cf].empty()) {  // drop a table
      std::string t = next[cf].begin()->first;
      ok = w->DropTable(t).ok();
      next[cf].erase(t);
    } else {
      std::string tname = "t" + std::to_string(rng() % 3);
      auto t = w->OpenOrCreateTable(tname);
      ok = t.ok();
      auto& m = next[cf][tname];
      int ops = 1 + static_cast<int>(rng() % 80);
      for (int i = 0; ok && i < ops; i++) {
        std::string k = "k" + std::to_string(rng() % 300);
        if (rng() % 4 == 0) {
          ok = t->Delete(k).ok();
          m.erase(k);
        } else {
          std::string v(rng() % 8 == 0 ? 600 + rng() % 3000 : rng() % 40, static_cast<char>('a' + c % 26));
          ok = t->Put(k, v).ok();
          m[k] = v;
        }
      }
    }
    bool durable = rng() % 5 != 0;
    if (!ok || !w->Commit(durable ? Durability::kImmediate : Durability::kNone).ok()) {
      out.crashed = true;
      break;
    }
    model = next;
    if (durable) out.acknowledged_durable = model;
  }
  if (!out.crashed) {
    if (db->Sync().ok()) {
      out.acknowledged_durable = model;
    } else {
      out.crashed = true;
    }
  }
  db.reset();
  out.syncs = storage->sync_count();
  return out;
}

class PowerLossTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(PowerLossTest, EverySyncPointRecoversLastAcknowledgedDurableCommit) {
  const uint32_t ps = GetParam();
  uint64_t seed = testing::TestSeed("PowerLossTest");
  // Dry run: how many sync points does the workload have?
  auto dry = std::make_shared<MemoryStorage>();
  Outcome full = RunWorkload(dry, seed, ps);
  ASSERT_FALSE(full.crashed);
  ASSERT_GT(full.syncs, 20u);
  for (uint64_t k = 1; k <= full.syncs + 1; k++) {
    auto storage = std::make_shared<MemoryStorage>();
    storage->SetSyncHook([k](uint64_t n, const std::string&) {
      return n >= k ? Status::IOError("simulated power loss before sync " + std::to_string(n)) : Status::Ok();
    });
    Outcome o = RunWorkload(storage, seed, ps);
    EXPECT_EQ(o.crashed, k <= full.syncs) << "k=" << k;
    storage->SimulatePowerLoss();
    storage->SetSyncHook(nullptr);
    auto db = Database::Open("crash.db", MemOptions(storage));
    ASSERT_TRUE(db.ok()) << "k=" << k << " seed=" << seed << ": " << db.status().ToString();
    Result<State> got = ReadState(**db);
    ASSERT_TRUE(got.ok()) << "k=" << k << ": " << got.status().ToString();
    State want = o.acknowledged_durable;
    if (want.empty()) want["default"];
    ASSERT_EQ(*got, want) << "crash before sync " << k << " of " << full.syncs << ", seed " << seed;
    testing::ExpectClean(**db);
    // Recovery is repeatable: open again after another power loss.
    db->reset();
    storage->SimulatePowerLoss();
    auto again = Database::Open("crash.db", MemOptions(storage));
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(*ReadState(**again), want);
  }
}

INSTANTIATE_TEST_SUITE_P(PageSizes, PowerLossTest, ::testing::Values(512u, 4096u));

}  // namespace
}  // namespace manifold
