// The allocation-failure loop (SQLite's out-of-memory test). For each
// operation -- open with recovery, create, commit (with and without the log,
// over several families, with savepoints), checkpoint, column family create,
// range scans, close -- make its 1st allocation fail, then its 2nd, 3rd, ...
// until it succeeds with no failure left to inject. After every attempt:
//  - the operation returned OK or a clear error (kNoMemory, or the in-memory
//    storage's "out of memory" kNoSpace/kIOError, or kPoisoned naming one of
//    those); a scan never ends early
//    with an OK status;
//  - nothing leaked (every allocation made during the attempt was freed);
//  - the database reopens, check() is clean, and its contents are the state
//    before the operation or after it (after, if it succeeded), also after a
//    simulated power loss.
// Runs in its own binary: testing/fail_alloc.cc replaces operator new.
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "testing/fail_alloc.h"
#include "util/cow_map.h"
#include "testing/test_util.h"

namespace manifold {
namespace {

using testing::AllocationFailed;
using testing::AllocationsSinceArmed;
using testing::FailNthAllocation;
using testing::LiveAllocations;
using testing::MemOptions;
using testing::Must;
using testing::ScopedNoFailures;

constexpr const char* kPath = "db";
constexpr uint32_t kPageSize = 1024;
constexpr uint64_t kAttemptsMax = 200000;

// The bytes of the database's files.
struct Image {
  std::string db;
  std::string wal;  // empty: no log file
};

std::shared_ptr<MemoryStorage> StorageFrom(const Image& im) {
  auto s = std::make_shared<MemoryStorage>();
  if (!im.db.empty()) EXPECT_OK(s->WriteAll(kPath, im.db));
  if (!im.wal.empty()) EXPECT_OK(s->WriteAll(std::string(kPath) + "-wal", im.wal));
  return s;
}

// The durable bytes of every file (as a crash would leave them).
Image DurableImage(MemoryStorage& s) {
  s.SimulatePowerLoss();
  Image im;
  Result<std::string> db = s.ReadAll(kPath);
  if (db.ok()) im.db = *db;
  Result<std::string> wal = s.ReadAll(std::string(kPath) + "-wal");
  if (wal.ok()) im.wal = *wal;
  return im;
}

// Every column family ("cf/") and table ("cf/table") with its entries.
using Contents = std::map<std::string, std::map<std::string, std::string>>;

Contents DumpAll(Database& db) {
  Contents c;
  ReadTransaction r = Must(db.BeginRead());
  for (const std::string& cf : Must(r.ListColumnFamilies())) {
    c[cf + "/"];
    for (const std::string& t : Must(r.ListTables(cf))) {
      std::string name = cf;
      name += '/';
      name += t;
      c[name] = testing::Dump(Must(r.OpenTable(t, cf)));
    }
  }
  return c;
}

// Keys and values, built once: the test itself allocates nothing while armed.
constexpr int kKeys = 400;
const std::string& Value(int i) {
  static const std::vector<std::string> values = [] {
    std::vector<std::string> v;
    v.reserve(kKeys);
    // Every fifth value is larger than a quarter page: stored in overflow pages.
    for (int j = 0; j < kKeys; j++) v.push_back(std::string(j % 5 == 0 ? 300 : 20, static_cast<char>('a' + j % 26)) + std::to_string(j));
    return v;
  }();
  return values.at(static_cast<size_t>(i));
}
const std::string& Key(int i) {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> v;
    v.reserve(kKeys);
    for (int j = 0; j < kKeys; j++) {
      char k[16];
      std::snprintf(k, sizeof k, "k%04d", j);
      v.emplace_back(k);
    }
    return v;
  }();
  return keys.at(static_cast<size_t>(i));
}

// Puts keys [from, to) into cf/table in one transaction.
Status PutRange(Database& db, const std::string& cf, int from, int to, Durability d = Durability::kImmediate) {
  MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginWrite(cf));
  MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable("t"));
  for (int i = from; i < to; i++) MANIFOLD_RETURN_IF_ERROR(t.Put(Key(i), Value(i)));
  return w.Commit(d);
}

void AddRange(Contents* c, const std::string& cf, int from, int to) {
  for (int i = from; i < to; i++) (*c)[cf + "/t"][Key(i)] = Value(i);
}

// A clear report of an injected allocation failure.
bool ClearNoMemory(const Status& s) {
  if (s.code() == Status::Code::kNoMemory) return true;
  // The in-memory storage's own allocation failures, and a poisoning they caused.
  return (s.code() == Status::Code::kNoSpace || s.code() == Status::Code::kIOError ||
          s.code() == Status::Code::kPoisoned) &&
         s.message().find("out of memory") != std::string::npos;
}

struct Scenario {
  std::string name;
  Image start;
  Options options;  // storage is set per attempt
  Contents before;  // the state the operation starts from
  Contents after;   // the state it leaves when it succeeds
  // Runs the operation against `storage`; `arm` must wrap exactly the
  // operation under test. Returns the operation's first error, or OK.
  std::function<Status(const std::shared_ptr<MemoryStorage>& storage, const Options& options,
                       const std::function<void(bool)>& arm)>
      run;
};

Options ScenarioOptions(bool wal = true) {
  Options o;
  o.page_size = kPageSize;
  o.wal = wal;
  o.checkpoint_interval_ms = 0;  // no background checkpoints: each attempt is deterministic
  return o;
}

// Reopens without failures and checks the state. `must_be_after`: the
// operation succeeded (and what it did is durable).
void VerifyReopen(const Scenario& sc, const std::shared_ptr<MemoryStorage>& storage, bool must_be_after,
                  const char* when) {
  Options o = sc.options;
  o.storage = storage;
  Result<std::unique_ptr<Database>> db = Database::Open(kPath, o);
  ASSERT_TRUE(db.ok()) << when << ": reopen failed: " << db.status().ToString();
  testing::ExpectClean(**db);
  Contents c = DumpAll(**db);
  if (must_be_after) {
    EXPECT_TRUE(c == sc.after) << when << ": the operation succeeded but its effect is missing";
  } else {
    EXPECT_TRUE(c == sc.before || c == sc.after) << when << ": neither the state before nor the state after";
  }
  EXPECT_OK((*db)->Close());
}

// The loop. Attempt 0 fails nothing (warm-up: the engine's one-time
// allocations); attempt n fails the n-th allocation of the operation.
void RunLoop(const Scenario& sc) {
  uint64_t n = 0;
  uint64_t allocations = 0;
  for (;; n++) {
    ASSERT_LT(n, kAttemptsMax) << sc.name << ": the operation never succeeded";
    const int64_t live = LiveAllocations();
    bool fired = false;
    {
      std::shared_ptr<MemoryStorage> storage = StorageFrom(sc.start);
      auto arm = [n, &fired, &allocations](bool on) {
        if (on) {
          if (n == 0) return;
          FailNthAllocation(n);
        } else {
          allocations = AllocationsSinceArmed();
          FailNthAllocation(0);
          fired = n != 0 && AllocationFailed();
        }
      };
      Options o = sc.options;
      o.storage = storage;
      Status s = sc.run(storage, o, arm);
      if (fired) {
        EXPECT_TRUE(s.ok() || ClearNoMemory(s)) << sc.name << " attempt " << n << ": unclear error " << s.ToString();
      } else {
        EXPECT_TRUE(s.ok()) << sc.name << " attempt " << n << " (no failure injected): " << s.ToString();
      }
      VerifyReopen(sc, storage, s.ok(), "reopen");
      storage->SimulatePowerLoss();
      VerifyReopen(sc, storage, s.ok(), "reopen after power loss");
    }
    if (n > 0) {
      EXPECT_EQ(LiveAllocations(), live) << sc.name << " attempt " << n << ": allocations leaked";
    }
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << sc.name << ": stopped at attempt " << n << " (its allocation " << n << " failed: "
                    << (fired ? "yes" : "no") << ")";
      return;
    }
    if (n > 0 && !fired) break;
  }
  std::printf("[alloc-loop] %s: failed each of its %llu allocations in turn (%llu attempts), then succeeded\n",
              sc.name.c_str(), static_cast<unsigned long long>(n - 1), static_cast<unsigned long long>(n));
  EXPECT_GT(n, 1u) << sc.name << ": the operation allocated nothing?";
}

// A database with families "a" and "b", table t in each holding keys [0, 30),
// checkpointed and closed; its contents in *c.
Image CheckpointedImage(bool wal, Contents* c) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = ScenarioOptions(wal);
  o.storage = storage;
  {
    std::unique_ptr<Database> db = Must(Database::Open(kPath, o));
    EXPECT_OK(db->CreateColumnFamily("a"));
    EXPECT_OK(db->CreateColumnFamily("b"));
    EXPECT_OK(PutRange(*db, "a", 0, 30));
    EXPECT_OK(PutRange(*db, "b", 0, 30));
    *c = DumpAll(*db);
    EXPECT_OK(db->Close());
  }
  return DurableImage(*storage);
}

Contents Reopened(const Image& im, bool wal) {
  auto storage = StorageFrom(im);
  Options o = ScenarioOptions(wal);
  o.storage = storage;
  std::unique_ptr<Database> db = Must(Database::Open(kPath, o));
  Contents c = DumpAll(*db);
  EXPECT_OK(db->Close());
  return c;
}

// Scenario::run for the open itself: Open armed, Close not.
Status OpenArmed(const std::shared_ptr<MemoryStorage>&, const Options& o, const std::function<void(bool)>& arm) {
  arm(true);
  Result<std::unique_ptr<Database>> db = Database::Open(kPath, o);
  arm(false);
  if (!db.ok()) return db.status();
  return (*db)->Close();
}

TEST(AllocFailure, OpenWithRecovery) {
  // Committed through the log, never checkpointed: open replays 40 records.
  auto storage = std::make_shared<MemoryStorage>();
  Scenario sc;
  sc.name = "open with recovery of 40 log records";
  sc.options = ScenarioOptions();
  Options setup = sc.options;
  setup.storage = storage;
  {
    std::unique_ptr<Database> db = Must(Database::Open(kPath, setup));
    ASSERT_OK(db->CreateColumnFamily("a"));
    ASSERT_OK(db->CreateColumnFamily("b"));
    ASSERT_OK(db->Checkpoint());
    for (int i = 0; i < 40; i++) ASSERT_OK(PutRange(*db, i % 2 ? "a" : "b", i * 3, i * 3 + 3));
    sc.start = DurableImage(*storage);  // a crash now
  }
  ASSERT_GT(sc.start.wal.size(), 2000u);
  sc.after = Reopened(sc.start, true);
  sc.before = sc.after;  // every record was acknowledged: recovery must bring back all of them
  ASSERT_EQ(sc.after.size(), 5u);  // default/, a/, a/t, b/, b/t
  sc.run = OpenArmed;
  RunLoop(sc);
}

TEST(AllocFailure, OpenCreates) {
  Scenario sc;
  sc.name = "open creating a database";
  sc.options = ScenarioOptions();
  sc.before = Contents{{"default/", {}}};  // a creation cut short is created again by the reopen
  sc.after = sc.before;
  sc.run = OpenArmed;
  RunLoop(sc);
}

// One transaction of puts and deletes on family "a" (the scenario's operation).
Status PutsAndDeletes(Database& db) {
  MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginWrite("a"));
  MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenTable("t"));
  for (int i = 30; i < 60; i++) MANIFOLD_RETURN_IF_ERROR(t.Put(Key(i), Value(i)));
  for (int i = 0; i < 10; i++) MANIFOLD_RETURN_IF_ERROR(t.Delete(Key(i * 3)).status());
  MANIFOLD_ASSIGN_OR_RETURN(Table u, w.CreateTable("u"));
  MANIFOLD_RETURN_IF_ERROR(u.Put("x", Value(5)));
  return w.Commit(Durability::kImmediate);
}

void ExpectPutsAndDeletes(Contents* c) {
  AddRange(c, "a", 30, 60);
  for (int i = 0; i < 10; i++) (*c)["a/t"].erase(Key(i * 3));
  (*c)["a/u"]["x"] = Value(5);
}

// Opens without failures, runs `op` armed, closes without failures.
Status OpenRunClose(const Options& o, const std::function<void(bool)>& arm,
                    const std::function<Status(Database&)>& before, const std::function<Status(Database&)>& op) {
  std::unique_ptr<Database> db = Must(Database::Open(kPath, o));
  if (before) MANIFOLD_RETURN_IF_ERROR(before(*db));
  arm(true);
  Status s = op(*db);
  arm(false);
  Status c = db->Close();
  if (s.ok() && !c.ok() && c.code() != Status::Code::kPoisoned) return c;
  return s;
}

// A scenario starting from CheckpointedImage(wal); `after` starts as `before`.
Scenario FromCheckpointed(std::string name, bool wal = true) {
  Scenario sc;
  sc.name = std::move(name);
  sc.options = ScenarioOptions(wal);
  sc.start = CheckpointedImage(wal, &sc.before);
  sc.after = sc.before;
  return sc;
}

// Scenario::run for OpenRunClose(before, op).
auto Opened(std::function<Status(Database&)> before, std::function<Status(Database&)> op) {
  return [before = std::move(before), op = std::move(op)](const std::shared_ptr<MemoryStorage>&, const Options& o,
                                                          const std::function<void(bool)>& arm) {
    return OpenRunClose(o, arm, before, op);
  };
}

void CommitScenario(bool wal) {
  Scenario sc = FromCheckpointed(wal ? "commit (log)" : "commit (no log: a checkpoint)", wal);
  ExpectPutsAndDeletes(&sc.after);
  sc.run = Opened(nullptr, PutsAndDeletes);
  RunLoop(sc);
}

TEST(AllocFailure, CommitWithLog) { CommitScenario(true); }
TEST(AllocFailure, CommitWithoutLog) { CommitScenario(false); }

TEST(AllocFailure, MultiFamilyCommitWithSavepoint) {
  Scenario sc = FromCheckpointed("multi-family commit with a savepoint restored");
  AddRange(&sc.after, "a", 100, 110);
  AddRange(&sc.after, "b", 100, 105);
  sc.run = Opened(nullptr, [](Database& db) -> Status {
    static const std::vector<std::string> families = {"b", "a"};
    MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginMultiWrite(families));
    MANIFOLD_ASSIGN_OR_RETURN(Table a, w.OpenTable("t", "a"));
    MANIFOLD_ASSIGN_OR_RETURN(Table b, w.OpenTable("t", "b"));
    for (int i = 100; i < 110; i++) MANIFOLD_RETURN_IF_ERROR(a.Put(Key(i), Value(i)));
    MANIFOLD_ASSIGN_OR_RETURN(uint64_t sp, w.SetSavepoint());
    for (int i = 0; i < 30; i++) MANIFOLD_RETURN_IF_ERROR(b.Delete(Key(i)).status());
    MANIFOLD_RETURN_IF_ERROR(w.RestoreSavepoint(sp));
    for (int i = 100; i < 105; i++) MANIFOLD_RETURN_IF_ERROR(b.Put(Key(i), Value(i)));
    return w.Commit(Durability::kImmediate);
  });
  RunLoop(sc);
}

TEST(AllocFailure, Checkpoint) {
  Scenario sc = FromCheckpointed("checkpoint of 20 logged commits");
  for (int i = 0; i < 20; i++) AddRange(&sc.before, i % 2 ? "a" : "b", 200 + i * 2, 202 + i * 2);
  sc.after = sc.before;  // acknowledged before the checkpoint: present whatever it does
  sc.run = Opened(
      [](Database& db) -> Status {
        for (int i = 0; i < 20; i++) MANIFOLD_RETURN_IF_ERROR(PutRange(db, i % 2 ? "a" : "b", 200 + i * 2, 202 + i * 2));
        return Status::Ok();
      },
      [](Database& db) { return db.Checkpoint(); });
  RunLoop(sc);
}

TEST(AllocFailure, CreateColumnFamily) {
  Scenario sc = FromCheckpointed("create column family");
  sc.after["c/"];
  sc.run = Opened(nullptr, [](Database& db) { return db.CreateColumnFamily("c"); });
  RunLoop(sc);
}

TEST(AllocFailure, RangeScans) {
  Scenario sc = FromCheckpointed("range scans (forward, reverse, prefix)");
  const std::map<std::string, std::string> all = sc.before["a/t"];
  sc.run = Opened(nullptr, [all](Database& db) -> Status {
    MANIFOLD_ASSIGN_OR_RETURN(ReadTransaction r, db.BeginRead());
    MANIFOLD_ASSIGN_OR_RETURN(Table t, r.OpenTable("t", "a"));
    // A scan either returns every entry in its range or reports why not.
    auto scan = [](Iterator it, std::map<std::string, std::string>* got) -> Status {
      for (; it.Valid(); it.Next()) {
        std::string_view k = it.key(), v = it.value();
        if (!it.status().ok()) break;  // value() can fail (an overflow value)
        ScopedNoFailures test_side;
        (*got)[std::string(k)] = std::string(v);
      }
      return it.status();
    };
    std::map<std::string, std::string> want, got;
    {
      ScopedNoFailures test_side;
      want.insert(all.lower_bound(Key(5)), all.lower_bound(Key(25)));
    }
    MANIFOLD_RETURN_IF_ERROR(scan(t.Range(Bound::Included(Key(5)), Bound::Excluded(Key(25))), &got));
    EXPECT_TRUE(got == want) << "forward range: " << got.size() << " of " << want.size() << " entries, status OK";
    got.clear();
    MANIFOLD_RETURN_IF_ERROR(scan(t.Scan(/*reverse=*/true), &got));
    EXPECT_TRUE(got == all) << "reverse scan: " << got.size() << " of " << all.size() << " entries, status OK";
    got.clear();
    MANIFOLD_RETURN_IF_ERROR(scan(t.Prefix("k001"), &got));
    EXPECT_EQ(got.size(), 10u) << "prefix scan, status OK";
    std::string v;
    MANIFOLD_RETURN_IF_ERROR(t.Get(Key(10), &v));
    EXPECT_EQ(v, Value(10));
    return Status::Ok();
  });
  RunLoop(sc);
}

TEST(AllocFailure, Close) {
  Scenario sc = FromCheckpointed("close (final checkpoint)");
  AddRange(&sc.before, "a", 300, 320);
  sc.after = sc.before;
  sc.run = [](const std::shared_ptr<MemoryStorage>&, const Options& o, const std::function<void(bool)>& arm) {
    std::unique_ptr<Database> db = Must(Database::Open(kPath, o));
    MANIFOLD_RETURN_IF_ERROR(PutRange(*db, "a", 300, 320));
    arm(true);
    Status s = db->Close();
    db.reset();  // the destructor too: Close again after a failed one
    arm(false);
    return s;
  };
  RunLoop(sc);
}

// The catalog's map (util/cow_map.h) on its own: each change either
// completes or, when an allocation fails, leaves the map as it was -- never
// an empty chunk (a later look-up would read past it) or a lost entry (a
// family renamed in a failed transaction must not vanish from the map).
// Each change runs on a map that shares its chunks and values with a copy
// (so that it has to copy them) and on one that does not.
TEST(AllocFailure, CatalogMapChangesAreAllOrNothing) {
  using Map = CowMap<int>;
  auto make = [](int n) {
    Map m;
    for (int i = 0; i < n; i++) m["k" + std::to_string(1000 + i)] = i;
    return m;
  };
  auto contents = [](const Map& m) {
    std::map<std::string, int> out;
    for (const auto& [k, v] : m) out.emplace(k, v);
    for (const auto& [k, v] : out) EXPECT_EQ(m.Find(k) != nullptr ? *m.Find(k) : -1, v) << k;
    EXPECT_EQ(m.Find("absent"), nullptr);
    EXPECT_EQ(out.size(), m.size());
    return out;
  };
  struct Change {
    const char* name;
    int entries;  // of the map it runs on
    std::function<void(Map&)> run;
  };
  const Change changes[] = {
      {"insert into an empty map", 0, [](Map& m) { m["a"] = 1; }},
      {"insert that splits a chunk", 2 * static_cast<int>(Map::kChunk), [](Map& m) { m["k5000"] = 7; }},
      {"rename", 100, [](Map& m) { ASSERT_TRUE(m.Rename("k1010", "zz")); }},
      {"rename to the front", 100, [](Map& m) { ASSERT_TRUE(m.Rename("k1090", "a")); }},
      {"erase", 100, [](Map& m) { ASSERT_TRUE(m.Erase("k1050")); }},
      {"change a value", 100, [](Map& m) { *m.Mutable("k1020") = -5; }},
      {"put a shared value", 100, [](Map& m) { m.Put("k1030", std::make_shared<int>(42)); }},
  };
  for (const Change& ch : changes) {
    for (const bool shared : {false, true}) {
      SCOPED_TRACE(std::string(ch.name) + (shared ? ", shared with a copy" : ""));
      Map expected = make(ch.entries);
      ch.run(expected);
      const std::map<std::string, int> after = contents(expected);
      for (uint64_t n = 1;; n++) {
        Map m = make(ch.entries);
        std::optional<Map> copy;
        if (shared) copy.emplace(m);
        const std::map<std::string, int> before = contents(m);
        bool threw = false;
        FailNthAllocation(n);
        try {
          ch.run(m);
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        FailNthAllocation(0);
        if (copy) {
          EXPECT_EQ(contents(*copy), before) << "the copy changed";
        }
        if (threw) {
          ASSERT_EQ(contents(m), before) << "allocation " << n << " failed and the map changed";
          continue;
        }
        // Done -- also when a failure was absorbed (a chunk split put off
        // to a later insert): then try the next allocation.
        EXPECT_EQ(contents(m), after) << "allocation " << n;
        if (AllocationFailed()) continue;
        if (shared) {
          EXPECT_GE(n, 2u) << "a change of a shared map allocated nothing: it changed what the copy holds";
        }
        break;
      }
    }
  }
}

}  // namespace
}  // namespace manifold
