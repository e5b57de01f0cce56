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

// "cf/table:entries ..." -- a failure message people can read.
std::string Summary(const State& s) {
  std::string out;
  for (const auto& [cf, tables] : s) {
    out += cf + "{";
    for (const auto& [t, m] : tables) out += " " + t + ":" + std::to_string(m.size());
    out += " } ";
  }
  return out;
}

struct Outcome {
  bool crashed = false;
  // The state after each commit attempted, in commit order, the last one
  // possibly the failed (in-flight) one. Recovery may yield any of them from
  // the last acknowledged durable commit on: a prefix of the commit order that
  // contains every acknowledged durable commit. (A commit that failed may or
  // may not be durable, as with any failed commit.)
  std::vector<State> history;
  size_t acknowledged = 0;     // index in history of the last acknowledged durable commit
  State acknowledged_durable;
  uint64_t syncs = 0;          // sync points of the workload, up to its last Sync()
  uint64_t syncs_total = 0;    // ... and of closing the database
};

// How the database is configured: without the log, with it, and with tiny
// checkpoint thresholds so that checkpoints (and log resets) run mid-workload.
enum class LogMode { kNoWal, kWal, kWalTinyCheckpoints };

Options CrashOptions(const std::shared_ptr<MemoryStorage>& storage, uint32_t page_size, LogMode mode) {
  Options o = MemOptions(storage, page_size);
  o.wal = mode != LogMode::kNoWal;
  if (mode == LogMode::kWalTinyCheckpoints) {
    o.checkpoint_wal_bytes = 2048;
    o.checkpoint_dirty_bytes = uint64_t{16} * page_size;
    o.wal_preallocate_bytes = 4096;
  }
  return o;
}

// Runs the workload; the storage's sync hook may stop it. Never asserts on
// failures caused by the crash: they are expected.
Outcome RunWorkload(const std::shared_ptr<MemoryStorage>& storage, uint64_t seed, uint32_t page_size, LogMode mode) {
  Outcome out;
  std::mt19937_64 rng(seed);
  State model;
  model["default"];  // a new database, or one whose creation a crash cut short
  out.history.push_back(model);
  auto ack = [&] {
    out.acknowledged = out.history.size() - 1;
    out.acknowledged_durable = out.history.back();
  };
  ack();
  Result<std::unique_ptr<Database>> opened = Database::Open("crash.db", CrashOptions(storage, page_size, mode));
  if (!opened.ok()) {
    out.crashed = true;
    return out;
  }
  std::unique_ptr<Database> db = std::move(opened).value();
  // Records `next` as attempted and commits it; on success it is the model
  // (and acknowledged, if durable). False: the crash stopped the workload.
  auto commit = [&](WriteTransaction& w, const State& next, Durability d) {
    out.history.push_back(next);
    if (!w.Commit(d).ok()) {
      out.crashed = true;
      return false;
    }
    model = next;
    if (d == Durability::kImmediate) ack();
    return true;
  };
  for (int c = 0; c < 24; c++) {
    int what = static_cast<int>(rng() % 20);
    State next = model;
    if (what == 0) {  // column family create
      std::string cf = "cf" + std::to_string(rng() % 3);
      if (next.count(cf) != 0) continue;
      next[cf];
      out.history.push_back(next);
      if (!db->CreateColumnFamily(cf).ok()) {
        out.crashed = true;
        break;
      }
      model = next;
      ack();
      continue;
    }
    if (what == 2 && model.size() >= 2) {  // one transaction over two column families
      std::string a = model.begin()->first, b = std::next(model.begin())->first;
      auto w = db->BeginMultiWrite({b, a});
      bool ok = w.ok();
      for (const std::string& cf : {a, b}) {
        if (!ok) break;
        auto t = w->OpenOrCreateTable("multi", cf);
        ok = t.ok();
        for (int i = 0; ok && i < 20; i++) {
          std::string k = "m" + std::to_string(rng() % 50), v = "round" + std::to_string(c);
          ok = t->Put(k, v).ok();
          next[cf]["multi"][k] = v;
        }
      }
      if (!ok) {
        out.crashed = true;
        break;
      }
      if (!commit(*w, next, Durability::kImmediate)) break;
      continue;
    }
    std::string cf = std::next(model.begin(), static_cast<long>(rng() % model.size()))->first;
    if (what == 3) {
      // A checkpoint while a write transaction is open and holds new pages:
      // its header must list them as free (it does not reach them).
      auto w = db->BeginWrite(cf);
      if (!w.ok()) {
        out.crashed = true;
        break;
      }
      auto t = w->OpenOrCreateTable("open");
      bool ok = t.ok();
      for (int i = 0; ok && i < 60; i++) {
        std::string k = "o" + std::to_string(rng() % 200), v(100, 'o');
        ok = t->Put(k, v).ok();
        next[cf]["open"][k] = v;
      }
      if (!ok || !db->Checkpoint().ok()) {
        out.crashed = true;
        break;
      }
      ack();  // the checkpoint made everything before it durable
      if (rng() % 2 == 0) {
        w->Abort();
        continue;
      }
      if (!commit(*w, next, Durability::kImmediate)) break;
      continue;
    }
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
    if (!ok) {
      out.crashed = true;
      break;
    }
    if (!commit(*w, next, durable ? Durability::kImmediate : Durability::kNone)) break;
  }
  if (!out.crashed) {
    if (db->Sync().ok()) {
      ack();
    } else {
      out.crashed = true;
    }
  }
  out.syncs = storage->sync_count();
  db.reset();
  out.syncs_total = storage->sync_count();
  return out;
}

class PowerLossTest : public ::testing::TestWithParam<std::tuple<uint32_t, LogMode>> {};

TEST_P(PowerLossTest, EverySyncPointRecoversLastAcknowledgedDurableCommit) {
  const uint32_t ps = std::get<0>(GetParam());
  const LogMode mode = std::get<1>(GetParam());
  uint64_t seed = testing::TestSeed("PowerLossTest");
  // Dry run: how many sync points does the workload have?
  auto dry = std::make_shared<MemoryStorage>();
  Outcome full = RunWorkload(dry, seed, ps, mode);
  ASSERT_FALSE(full.crashed);
  ASSERT_GT(full.syncs, 15u);
  for (uint64_t k = 1; k <= full.syncs_total + 1; k++) {
    auto storage = std::make_shared<MemoryStorage>();
    storage->SetSyncHook([k](uint64_t n, const std::string&) {
      return n >= k ? Status::IOError("simulated power loss before sync " + std::to_string(n)) : Status::Ok();
    });
    Outcome o = RunWorkload(storage, seed, ps, mode);
    EXPECT_EQ(o.crashed, k <= full.syncs) << "k=" << k;
    storage->SimulatePowerLoss();
    storage->SetSyncHook(nullptr);
    auto db = Database::Open("crash.db", CrashOptions(storage, 0, mode));
    ASSERT_TRUE(db.ok()) << "k=" << k << " seed=" << seed << ": " << db.status().ToString();
    Result<State> got = ReadState(**db);
    ASSERT_TRUE(got.ok()) << "k=" << k << ": " << got.status().ToString();
    // The recovered state must be one of the states from the last acknowledged
    // durable commit on (never older, never a state that did not exist).
    State want = o.acknowledged_durable;
    bool found = false;
    for (size_t i = o.acknowledged; i < o.history.size() && !found; i++) {
      if (*got == o.history[i]) {
        found = true;
        want = o.history[i];
      }
    }
    ASSERT_TRUE(found) << "crash before sync " << k << " of " << full.syncs << ", seed " << seed
                       << "\n  recovered:            " << Summary(*got)
                       << "\n  acknowledged durable: " << Summary(o.acknowledged_durable);
    testing::ExpectClean(**db);
    // Recovery is repeatable: open again after another power loss.
    db->reset();
    storage->SimulatePowerLoss();
    auto again = Database::Open("crash.db", CrashOptions(storage, 0, mode));
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(*ReadState(**again), want);
  }
  // One line per configuration, for ci/main.sh's campaign report.
  std::printf("[crash] page_size=%u log=%d crash_points=%llu seed=%llu violations=0\n", ps, static_cast<int>(mode),
              static_cast<unsigned long long>(full.syncs_total) + 1, static_cast<unsigned long long>(seed));
}

std::string ParamName(const ::testing::TestParamInfo<std::tuple<uint32_t, LogMode>>& p) {
  static const char* kNames[] = {"NoWal", "Wal", "WalTinyCheckpoints"};
  return std::to_string(std::get<0>(p.param)) + "_" + kNames[static_cast<int>(std::get<1>(p.param))];
}

INSTANTIATE_TEST_SUITE_P(PageSizesAndLogModes, PowerLossTest,
                         ::testing::Combine(::testing::Values(512u, 4096u),
                                            ::testing::Values(LogMode::kNoWal, LogMode::kWal,
                                                              LogMode::kWalTinyCheckpoints)),
                         ParamName);

}  // namespace
}  // namespace manifold
