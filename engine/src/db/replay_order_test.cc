// Recovery applies the puts and deletes of consecutive log records in key
// order, not log order (ReplayRun in core.h): these tests check that the
// result is still exactly the state the log describes -- the same key written
// and deleted many times across records, records over several tables and
// families, catalog operations (create, drop, rename, clear) between them,
// and replay batches flushed part-way through a run.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "testing/harness_options.h"
#include "testing/test_util.h"

namespace manifold {
namespace {

using testing::Must;

using Tables = std::map<std::string, std::map<std::string, std::string>>;
using Model = std::map<std::string, Tables>;  // family -> table -> key -> value

const std::string kDb = "replay.db";

Options ReplayOptions(const std::shared_ptr<MemoryStorage>& storage, uint64_t dirty_bytes) {
  Options o = testing::HarnessOptions(storage, 1024, /*wal=*/true, 256 << 10);
  o.checkpoint_dirty_bytes = dirty_bytes;  // also the bound of a replay batch
  return o;
}

Model ReadAll(Database& db) {
  Model m;
  std::vector<std::string> cfs = Must(db.ListColumnFamilies());
  ReadTransaction r = Must(db.BeginRead());
  for (const std::string& cf : cfs) {
    Tables& tables = m[cf];
    for (const std::string& t : Must(r.ListTables(cf))) tables[t] = testing::Dump(Must(r.OpenTable(t, cf)));
  }
  return m;
}

// Syncs the log, then crashes: the close's own syncs fail and nothing written
// after the sync reaches the files, so the next open replays everything the
// log holds since the last checkpoint.
void CrashAfterSync(std::unique_ptr<Database> db, MemoryStorage& storage) {
  ASSERT_OK(db->Sync());
  storage.SetSyncHook([](uint64_t, const std::string&) { return Status::IOError("crashed"); });
  db.reset();
  storage.SimulatePowerLoss();
  storage.SetSyncHook(nullptr);
}

// A random log: `records` transactions of 1-4 puts/deletes over few keys (so
// that each key is written and deleted many times), mostly one family, some
// over two, with a catalog operation every so often.
void WriteLog(Database& db, Model& model, std::mt19937_64& rng, int records) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto key = [&]() { return "k" + std::to_string(pick(40)); };
  std::vector<std::string> families = {"default", "b"};
  for (int i = 0; i < records; i++) {
    const size_t roll = pick(100);
    if (roll < 6) {
      // A catalog operation on a random table of a random family.
      const std::string cf = families[pick(families.size())];
      WriteTransaction w = Must(db.BeginWrite(cf));
      Tables& tables = model[cf];
      const std::string t = "t" + std::to_string(pick(3));
      if (tables.count(t) == 0) {
        (void)Must(w.CreateTable(t, cf));
        tables[t];
      } else if (roll < 2) {
        ASSERT_OK(w.DropTable(t, cf));
        tables.erase(t);
      } else if (roll < 4) {
        ASSERT_OK(w.ClearTable(t, cf));
        tables[t].clear();
      } else {
        const std::string to = "t" + std::to_string(pick(3));
        if (to != t && tables.count(to) == 0) {
          ASSERT_OK(w.RenameTable(t, to, cf));
          tables[to] = std::move(tables[t]);
          tables.erase(t);
        }
      }
      ASSERT_OK(w.Commit(Durability::kNone));
      continue;
    }
    if (roll < 7) {
      // A family created, renamed or dropped (always "c", never written).
      const bool has_c = model.count("c") != 0, has_d = model.count("d") != 0;
      if (!has_c && !has_d) {
        ASSERT_OK(db.CreateColumnFamily("c"));
        model["c"];
      } else if (has_c && pick(2) == 0) {
        ASSERT_OK(db.RenameColumnFamily("c", "d"));
        model["d"] = std::move(model["c"]);
        model.erase("c");
      } else {
        const std::string name = has_c ? "c" : "d";
        ASSERT_OK(db.DropColumnFamily(name));
        model.erase(name);
      }
      continue;
    }
    const bool multi = roll >= 90;
    std::vector<std::string> bound = multi ? families : std::vector<std::string>{families[pick(2)]};
    WriteTransaction w = Must(multi ? db.BeginMultiWrite(bound) : db.BeginWrite(bound[0]));
    for (size_t n = 1 + pick(4); n > 0; n--) {
      const std::string& cf = bound[pick(bound.size())];
      Tables& tables = model[cf];
      const std::string t = "t" + std::to_string(pick(3));
      if (tables.count(t) == 0) continue;
      Table table = Must(w.OpenTable(t, cf));
      const std::string k = key();
      if (pick(3) == 0) {
        (void)Must(table.Delete(k));
        tables[t].erase(k);
      } else {
        std::string v = "v" + std::to_string(i) + std::string(pick(60), 'x');
        ASSERT_OK(table.Put(k, v));
        tables[t][k] = v;
      }
    }
    ASSERT_OK(w.Commit(Durability::kNone));
  }
}

class ReplayOrder : public ::testing::TestWithParam<uint64_t> {};

// dirty_bytes: the replay batch bound -- tiny, so that batches are flushed in
// the middle of runs, or large, so that one batch holds everything.
TEST_P(ReplayOrder, RecoveredStateIsTheLogsState) {
  const uint64_t seed = testing::TestSeed("ReplayOrder");
  std::mt19937_64 rng(seed);
  auto storage = std::make_shared<MemoryStorage>();
  Model model;
  model["default"];
  model["b"];
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, ReplayOptions(storage, UINT64_MAX)));
    ASSERT_OK(db->CreateColumnFamily("b"));
    for (const char* cf : {"default", "b"}) {
      WriteTransaction w = Must(db->BeginWrite(cf));
      (void)Must(w.CreateTable("t0", cf));
      ASSERT_OK(w.Commit());
      model[cf]["t0"];
    }
    ASSERT_OK(db->Checkpoint());
    WriteLog(*db, model, rng, 3000);
    ASSERT_EQ(ReadAll(*db), model) << "seed " << seed << ": the workload's own reads disagree with the model";
    CrashAfterSync(std::move(db), *storage);
  }
  std::unique_ptr<Database> db = Must(Database::Open(kDb, ReplayOptions(storage, GetParam())));
  EXPECT_GT(db->recovery().records, 2000u) << "the log should hold the workload";
  EXPECT_EQ(ReadAll(*db), model) << "seed " << seed;
  testing::ExpectClean(*db);
  // And again: closing ended in a checkpoint, so nothing is replayed twice.
  db.reset();
  db = Must(Database::Open(kDb, ReplayOptions(storage, GetParam())));
  EXPECT_EQ(db->recovery().records, 0u);
  EXPECT_EQ(ReadAll(*db), model) << "seed " << seed;
}

// Mostly new keys, into tables that already hold keys: in key order most
// puts follow the previous one into its leaf without a descent (btree::Put's
// followers), which must stop at the leaf's upper bound, at an existing key,
// at a value too large to be inline, at a delete and at another table.
TEST_P(ReplayOrder, NewKeysFollowIntoTheirLeaves) {
  const uint64_t seed = testing::TestSeed("ReplayOrderNewKeys");
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto storage = std::make_shared<MemoryStorage>();
  Model model;
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, ReplayOptions(storage, UINT64_MAX)));
    WriteTransaction w = Must(db->BeginWrite());
    for (const char* t : {"t0", "t1"}) {
      Table table = Must(w.CreateTable(t));
      auto& m = model["default"][t];
      for (int i = 0; i < 1500; i++) {
        std::string k = "k" + std::to_string(pick(100000));
        ASSERT_OK(table.Put(k, "old"));
        m[k] = "old";
      }
    }
    ASSERT_OK(w.Commit());
    ASSERT_OK(db->Checkpoint());
    int ascending = 0;
    for (int i = 0; i < 3000; i++) {
      WriteTransaction x = Must(db->BeginWrite());
      for (size_t n = 1 + pick(4); n > 0; n--) {
        const std::string t = pick(4) == 0 ? "t1" : "t0";
        Table table = Must(x.OpenTable(t));
        auto& m = model["default"][t];
        const size_t roll = pick(100);
        std::string k = roll < 30 ? "z" + std::to_string(100000 + ascending++)  // the right edge
                                  : "k" + std::to_string(pick(100000));          // some exist
        if (roll >= 95) {
          (void)Must(table.Delete(k));
          m.erase(k);
          continue;
        }
        std::string v = "v" + std::to_string(i) + std::string(pick(10) == 0 ? 300 + pick(600) : pick(40), 'x');
        ASSERT_OK(table.Put(k, v));
        m[k] = v;
      }
      ASSERT_OK(x.Commit(Durability::kNone));
    }
    ASSERT_EQ(ReadAll(*db), model) << "seed " << seed;
    CrashAfterSync(std::move(db), *storage);
  }
  std::unique_ptr<Database> db = Must(Database::Open(kDb, ReplayOptions(storage, GetParam())));
  EXPECT_GT(db->recovery().records, 2000u) << "the log should hold the workload";
  EXPECT_EQ(ReadAll(*db), model) << "seed " << seed;
  testing::ExpectClean(*db);
}

// A run large enough (over 16,384 operations, no catalog operation) for
// ReplayRun::Sort to distribute it into buckets by table and key-prefix bits
// before sorting each: keys whose first 8 bytes are random, keys that share
// their first bytes (so the bits that differ are low in the prefix), keys
// shorter than 8 bytes, and a few hot keys put and deleted many times, whose
// last write in log order must win.
TEST_P(ReplayOrder, LargeRunSortedInBuckets) {
  const uint64_t seed = testing::TestSeed("ReplayOrderLargeRun");
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto storage = std::make_shared<MemoryStorage>();
  Model model;
  uint64_t ops = 0;
  uint64_t logged = 0;  // transactions that changed something (a delete of a missing key logs nothing)
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, ReplayOptions(storage, UINT64_MAX)));
    ASSERT_OK(db->CreateColumnFamily("b"));
    for (const char* cf : {"default", "b"}) {
      WriteTransaction w = Must(db->BeginWrite(cf));
      for (const char* t : {"t0", "t1"}) {
        (void)Must(w.CreateTable(t, cf));
        model[cf][t];
      }
      ASSERT_OK(w.Commit());
    }
    ASSERT_OK(db->Checkpoint());
    const std::vector<std::string> families = {"default", "b"};
    for (int i = 0; i < 10000; i++) {
      const bool multi = pick(10) == 0;
      std::vector<std::string> bound = multi ? families : std::vector<std::string>{families[pick(2)]};
      WriteTransaction w = Must(multi ? db->BeginMultiWrite(bound) : db->BeginWrite(bound[0]));
      bool changed = false;
      for (size_t n = 1 + pick(3); n > 0; n--, ops++) {
        const std::string& cf = bound[pick(bound.size())];
        const std::string t = pick(3) == 0 ? "t1" : "t0";
        auto& m = model[cf][t];
        Table table = Must(w.OpenTable(t, cf));
        std::string k;
        switch (pick(4)) {
          case 0: {
            k.resize(8 + pick(16));
            for (char& c : k) c = static_cast<char>(rng() & 0xff);
            break;
          }
          case 1: k = "user:" + std::to_string(10000000 + pick(90000000)); break;
          case 2: k = std::string(1, static_cast<char>('a' + pick(26))) + std::to_string(pick(1000)); break;
          default: k = "hot" + std::to_string(pick(5)); break;
        }
        if (pick(6) == 0) {
          const bool existed = Must(table.Delete(k));
          EXPECT_EQ(existed, m.erase(k) == 1) << k;
          changed = changed || existed;
        } else {
          std::string v = "v" + std::to_string(i) + std::string(pick(30), 'x');
          ASSERT_OK(table.Put(k, v));
          m[k] = v;
          changed = true;
        }
      }
      ASSERT_OK(w.Commit(Durability::kNone));
      logged += changed ? 1 : 0;
    }
    ASSERT_EQ(ReadAll(*db), model) << "seed " << seed;
    CrashAfterSync(std::move(db), *storage);
  }
  ASSERT_GT(ops, uint64_t{16384}) << "the run must be large enough for the bucketed sort";
  std::unique_ptr<Database> db = Must(Database::Open(kDb, ReplayOptions(storage, GetParam())));
  EXPECT_EQ(db->recovery().records, logged);
  EXPECT_EQ(ReadAll(*db), model) << "seed " << seed;
  testing::ExpectClean(*db);
}

INSTANTIATE_TEST_SUITE_P(BatchBounds, ReplayOrder, ::testing::Values(uint64_t{8} << 10, uint64_t{256} << 20),
                         [](const ::testing::TestParamInfo<uint64_t>& p) {
                           return p.param < (1u << 20) ? std::string("TinyBatches") : std::string("OneBatch");
                         });

}  // namespace
}  // namespace manifold
