// The real engine (manifold::Database over FaultStorage over MemoryStorage)
// against every faultfs fault type. Each test asserts the engine's response:
// a clear error (the right Status code, a message naming the operation), or
// detection by checksum (a read or Check() reporting kCorruption / a problem),
// and never the silent loss of an acknowledged durable commit, wrong data or a
// crash. Where the device lies (lost or misdirected writes, rot in the newest
// header slot or log record) the tests assert exactly what happens and say why.
//
// Every test runs with the write-ahead log on (Wal) and off (NoWal): without
// it every durable commit is a checkpoint (pages, sync, header, sync); with it
// a commit appends a logical record and syncs the log, and checkpoints write
// the data file. Randomized tests print their seed; MANIFOLD_TEST_SEED reruns.
//
// Fault type -> test(s):
//   read-error          ReadErrorIsReportedAndTransient, ErrorsWhileCreatingADatabase
//   write-error         WriteErrorAbortsWithoutPoisoning, WriteErrorOnDataFile, PersistentWriteError
//   sync-error          SyncErrorPoisons
//   sync-drops-dirty    SyncDropsDirtyPoisonsAndNeverResurrects
//   resize-error        ResizeErrorAbortsWithoutPoisoning
//   open-error          OpenErrorIsReportedAndTransient
//   remove-error        RemoveErrorDoesNotAffectTheEngine
//   size-error          SizeErrorAtOpenIsReported
//   no-space            NoSpaceAbortsWithoutPoisoning, QuotaNoSpace, NoSpaceWhileAppendingToTheLog
//   short-read          ShortReadIsReported
//   partial-write       PartialWriteAbortsWithoutPoisoning
//   bit-flip            BitFlipIsDetectedByChecksum, BitFlipInNewestHeaderSlot, BitFlipInLogRecord
//   unreadable-sector   UnreadableSectorIsReported, UnreadableHeaderSlot
//   misdirected-write   MisdirectedWrites
//   lost-write          LostWrites
//   latency             LatencyOnlySlowsDown
//   power-cut           PowerCutAnywhere
//   crash-drop          CrashDrop, EveryCrashStateOfAnUnsyncedCommit, UnsyncedLogRecordsLandInAnyOrder
//   crash-torn          CrashTorn, EveryCrashStateOfAnUnsyncedCommit
//   crash-garbage       CrashGarbage
//   crash-zeros         CrashZeros
//   power-loss          (every crash test), PowerLossWithNothingUnsynced
//   all of them         ReplayReproducesAnEngineRun
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "faultfs/faultfs.h"
#include "testing/test_util.h"

namespace manifold::faultfs {
namespace {

using manifold::testing::Must;
using Model = std::map<std::string, std::string>;

constexpr char kDb[] = "db.manifold";
constexpr char kWal[] = "db.manifold-wal";
constexpr uint32_t kPageSize = 1024;  // two 512-byte sectors: pages can tear

bool Has(const Status& s, std::string_view what) { return s.message().find(what) != std::string::npos; }

// The model after round `round` of CommitRound (12 keys, one an overflow value).
Model RoundModel(Model m, int round, size_t vlen = 40) {
  for (int i = 0; i < 12; i++) {
    std::string k = "key" + std::to_string((round * 7 + i * 13) % 97);
    std::string v = "r" + std::to_string(round) + "-k" + std::to_string(i) + "-";
    v.resize(i == 0 ? 3 * kPageSize + 100 : vlen, static_cast<char>('a' + (round + i) % 26));
    m[k] = v;
  }
  return m;
}

// One write transaction making RoundModel(*model, round); *model is updated on success.
Status CommitRound(Database& db, int round, Model* model, Durability d = Durability::kImmediate, size_t vlen = 40) {
  Model next = RoundModel(*model, round, vlen);
  Model delta = RoundModel({}, round, vlen);
  MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginWrite());
  MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable("t"));
  for (const auto& [k, v] : delta) MANIFOLD_RETURN_IF_ERROR(t.Put(k, v));
  MANIFOLD_RETURN_IF_ERROR(w.Commit(d));
  *model = std::move(next);
  return Status::Ok();
}

Result<Model> ReadModel(Database& db) {
  MANIFOLD_ASSIGN_OR_RETURN(ReadTransaction r, db.BeginRead());
  Result<Table> t = r.OpenTable("t");
  if (!t.ok() && t.status().code() == Status::Code::kNotFound) return Model{};
  if (!t.ok()) return t.status();
  Model m;
  Iterator it = t->Scan();
  for (; it.Valid(); it.Next()) m.emplace(std::string(it.key()), std::string(it.value()));
  MANIFOLD_RETURN_IF_ERROR(it.status());
  return m;
}

void ExpectClean(Database& db) {
  Result<CheckReport> r = db.Check();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ok) << r->ToText();
}

// Reads every key (cache mostly cold); returns how many reads failed. Each
// failure must have `code` and name `words`; every success the right value.
int ReadAllKeys(Database& db, const Model& model, Status::Code code, std::string_view words) {
  Result<ReadTransaction> r = db.BeginRead();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return 1;
  Result<Table> t = r->OpenTable("t");
  if (!t.ok()) {
    EXPECT_EQ(t.status().code(), code) << t.status().ToString();
    return 1;
  }
  int failures = 0;
  for (const auto& [k, v] : model) {
    Result<std::string> got = t->Get(k);
    if (got.ok()) {
      EXPECT_EQ(*got, v) << "wrong value for " << k << " and no error";
      continue;
    }
    failures++;
    EXPECT_EQ(got.status().code(), code) << got.status().ToString();
    EXPECT_TRUE(Has(got.status(), words)) << got.status().ToString();
  }
  return failures;
}

class EngineFaults : public ::testing::TestWithParam<bool> {
 public:
  bool wal() const { return GetParam(); }

  static std::shared_ptr<FaultStorage> NewStorage(uint64_t seed = 1, DeviceTraits traits = {}) {
    FaultStorage::Options o;
    o.seed = seed;
    o.traits = traits;
    return FaultStorage::OverMemory(o);
  }

  Options Opts(const std::shared_ptr<FaultStorage>& fs) const {
    Options o;
    o.storage = fs;
    o.page_size = kPageSize;
    o.cache_bytes = 8 * kPageSize;  // the minimum: most reads go to storage
    o.wal = wal();
    o.wal_preallocate_bytes = 64 << 10;
    return o;
  }

  Result<std::unique_ptr<Database>> OpenDb(const std::shared_ptr<FaultStorage>& fs) const {
    return Database::Open(kDb, Opts(fs));
  }

  // Opens a fresh database on fs_ and commits `rounds` durable rounds.
  std::unique_ptr<Database> Populate(int rounds, Model* model, std::vector<Model>* history = nullptr) {
    auto db = Must(OpenDb(fs_), "open");
    if (history) history->push_back(*model);
    for (int r = 0; r < rounds; r++) {
      EXPECT_OK(CommitRound(*db, r, model));
      if (history) history->push_back(*model);
    }
    return db;
  }

  // Closes (status ignored: callers check it where it matters) and reopens.
  std::unique_ptr<Database> Reopen(std::unique_ptr<Database> db) {
    if (db) (void)db->Close();
    db.reset();
    return Must(OpenDb(fs_), "reopen");
  }

  std::shared_ptr<FaultStorage> fs_ = NewStorage();
};

INSTANTIATE_TEST_SUITE_P(Log, EngineFaults, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Wal" : "NoWal"; });

// ============================================================ faults on the write path
//
// Commits (and, with the log, a checkpoint every third step) run until the
// fault surfaces. Faults while writing must abort that operation without
// poisoning: the next commit works. Faults of a sync must poison: later writes
// return kPoisoned naming the original error, Sync() does not retry, reads keep
// working, Close() says so, and reopening recovers. Either way, after reopening
// the state is exactly the acknowledged one (or, when the failed commit's data
// stayed in the cache, possibly that commit -- all of it), Check() is clean,
// and a random power loss afterwards loses nothing acknowledged.

struct WriteFaultCase {
  std::function<void(EngineFaults&, FaultStorage&)> arm;  // makes the fault happen from now on
  Status::Code code;
  std::string words;         // the message names the operation
  bool poisons = false;
  bool failed_may_survive = false;
  bool persistent = false;   // the fault stays until cleared: a retry fails the same way
};

FaultRule Until(FaultKind k) { return FaultRule::Nth(k, 1, 1000000); }  // fires until the test clears it

void RunWriteFault(EngineFaults& t, const WriteFaultCase& c) {
  Model model;
  auto db = t.Populate(3, &model);
  ASSERT_TRUE(db);
  FaultStorage& fs = *t.fs_;
  c.arm(t, fs);
  Model failed_model;
  bool failed = false;
  for (int step = 0; step < 80 && !failed; step++) {
    const bool checkpoint = t.wal() && step % 3 == 2;
    const int round = 10 + step;
    Status s = checkpoint ? db->Checkpoint() : CommitRound(*db, round, &model, Durability::kImmediate, 300);
    if (s.ok()) continue;
    failed = true;
    SCOPED_TRACE((checkpoint ? "checkpoint: " : "commit: ") + s.ToString());
    EXPECT_EQ(s.code(), c.code);
    EXPECT_TRUE(Has(s, c.words)) << "the message should name the operation (" << c.words << ")";
    failed_model = checkpoint ? model : RoundModel(model, round, 300);
    if (c.persistent) {  // still failing the same way
      Model m = model;
      Status again = CommitRound(*db, 70, &m);
      EXPECT_TRUE(again.code() == c.code || again.code() == Status::Code::kPoisoned) << again.ToString();
    }
  }
  ASSERT_TRUE(failed) << "the fault never reached an engine operation:\n" << fs.LogText();
  fs.ClearRules();
  fs.SetQuota(0);
  if (c.poisons) {
    Model m = model;
    Status s = CommitRound(*db, 90, &m);
    EXPECT_EQ(s.code(), Status::Code::kPoisoned) << s.ToString();
    EXPECT_TRUE(Has(s, "sync")) << "kPoisoned should carry the original error: " << s.ToString();
    Status sy = db->Sync();
    EXPECT_EQ(sy.code(), Status::Code::kPoisoned) << "Sync() must not retry a failed sync: " << sy.ToString();
    Result<Model> seen = ReadModel(*db);
    ASSERT_TRUE(seen.ok()) << "reads keep working: " << seen.status().ToString();
    for (const auto& [k, v] : model) EXPECT_EQ((*seen)[k], v) << k;
    EXPECT_TRUE(*seen == model || *seen == failed_model) << "a half-visible commit";
    Status cl = db->Close();
    EXPECT_EQ(cl.code(), Status::Code::kPoisoned) << cl.ToString();
  } else {
    EXPECT_OK(CommitRound(*db, 91, &model));
    failed_model = model;
    Result<Model> seen = ReadModel(*db);
    ASSERT_TRUE(seen.ok()) << seen.status().ToString();
    EXPECT_EQ(*seen, model);
    ExpectClean(*db);
  }
  db = t.Reopen(std::move(db));
  Model got = Must(ReadModel(*db), "read after reopen");
  if (got != model) {
    EXPECT_TRUE(c.failed_may_survive && got == failed_model)
        << "recovered state is neither the acknowledged one nor the whole failed commit";
  }
  ExpectClean(*db);
  EXPECT_OK(CommitRound(*db, 92, &got));
  db.reset();
  ASSERT_TRUE(fs.PowerLoss(CrashPolicy{}).ok());
  db = Must(t.OpenDb(t.fs_), "open after power loss");
  EXPECT_EQ(Must(ReadModel(*db)), got);
  ExpectClean(*db);
}

void ArmRule(EngineFaults&, FaultStorage& fs, const FaultRule& r) { ASSERT_TRUE(fs.AddRule(r).ok()); }

TEST_P(EngineFaults, WriteErrorAbortsWithoutPoisoning) {
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) { ArmRule(t, fs, FaultRule::Nth(FaultKind::kWriteError, 1)); },
                        Status::Code::kIOError, "write "});
}

TEST_P(EngineFaults, WriteErrorOnDataFile) {
  // With the log, data-file writes happen in checkpoints.
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) {
                          ArmRule(t, fs, FaultRule::Nth(FaultKind::kWriteError, 1).OnFile(kDb));
                        },
                        Status::Code::kIOError, "write " + std::string(kDb)});
}

TEST_P(EngineFaults, PersistentWriteError) {
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) {
                          ArmRule(t, fs, FaultRule::Nth(FaultKind::kWriteError, 1).Persistent());
                        },
                        Status::Code::kIOError, "write ", false, false, /*persistent=*/true});
}

TEST_P(EngineFaults, PartialWriteAbortsWithoutPoisoning) {
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) { ArmRule(t, fs, FaultRule::Nth(FaultKind::kPartialWrite, 1)); },
                        Status::Code::kIOError, "write "});
}

TEST_P(EngineFaults, ResizeErrorAbortsWithoutPoisoning) {
  // Until() because a failed shrink is ignored by design (it only leaves the file larger).
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) { ArmRule(t, fs, Until(FaultKind::kResizeError)); },
                        Status::Code::kIOError, "resize "});
}

TEST_P(EngineFaults, NoSpaceAbortsWithoutPoisoning) {
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) { ArmRule(t, fs, FaultRule::Nth(FaultKind::kNoSpace, 1)); },
                        Status::Code::kNoSpace, "No space left"});
}

TEST_P(EngineFaults, QuotaNoSpace) {
  RunWriteFault(*this, {[](EngineFaults&, FaultStorage& fs) {
                          uint64_t used = 0;
                          for (const auto& [p, d] : Must(fs.CurrentFiles()).files) used += d.size();
                          fs.SetQuota(used + 8 * kPageSize);
                        },
                        Status::Code::kNoSpace, "quota"});
}

TEST_P(EngineFaults, NoSpaceWhileAppendingToTheLog) {
  // ENOSPC on the log itself (a record write or the preallocation that makes
  // room for it): the commit fails with kNoSpace and is not acknowledged,
  // nothing acknowledged is lost, the database is not poisoned, and once
  // space is back commits succeed again (RunWriteFault checks all of it,
  // also after reopen and after a power loss).
  if (!wal()) GTEST_SKIP() << "no log without Options::wal";
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) {
                          ArmRule(t, fs, FaultRule::Nth(FaultKind::kNoSpace, 1).OnFile(std::string(kDb) + "-wal"));
                        },
                        Status::Code::kNoSpace, "log append"});
}

TEST_P(EngineFaults, LogWriteErrorFailsTheWholeGroup) {
  // Group commit writes the records of every queued commit with one write.
  // When that write fails, every commit of the group fails: none is visible,
  // none comes back after reopening, and the database is not poisoned.
  if (!wal()) GTEST_SKIP() << "no log without Options::wal";
  auto db = Must(OpenDb(fs_), "open");
  constexpr int kFollowers = 3;
  auto cf = [](int i) { return "c" + std::to_string(i); };
  auto commit = [&](int i, const std::string& key) -> Status {
    MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db->BeginWrite(cf(i)));
    MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable("t", cf(i)));
    MANIFOLD_RETURN_IF_ERROR(t.Put(key, "v-" + key));
    return w.Commit();
  };
  for (int i = 0; i <= kFollowers; i++) {
    ASSERT_OK(db->CreateColumnFamily(cf(i)));
    ASSERT_OK(commit(i, "before"));  // (also writes the log's zeros ahead: the next log writes are records)
  }
  // The next log write is slow: its leader holds the commit lock while the
  // three others queue up behind it. The one after it -- theirs -- fails.
  ASSERT_TRUE(fs_->AddRule(FaultRule::Nth(FaultKind::kLatency, 1).OnFile(kWal).OnOps({OpKind::kWrite}).Latency(1000000)).ok());
  ASSERT_TRUE(fs_->AddRule(FaultRule::Nth(FaultKind::kWriteError, 2).OnFile(kWal)).ok());
  Status slow;
  std::thread leader([&] { slow = commit(0, "slow"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::vector<Status> failed(kFollowers);
  std::vector<std::thread> followers;
  for (int i = 1; i <= kFollowers; i++) followers.emplace_back([&, i] { failed[i - 1] = commit(i, "failed"); });
  leader.join();
  for (std::thread& t : followers) t.join();
  EXPECT_OK(slow);
  for (const Status& s : failed) {
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
    EXPECT_TRUE(Has(s, "log append")) << s.ToString();
  }
  fs_->ClearRules();
  for (int i = 0; i <= kFollowers; i++) EXPECT_OK(commit(i, "after"));  // not poisoned
  auto expect = [&](Database& d) {
    ReadTransaction r = Must(d.BeginRead());
    for (int i = 0; i <= kFollowers; i++) {
      Model want = {{"after", "v-after"}, {"before", "v-before"}};
      if (i == 0) want["slow"] = "v-slow";
      EXPECT_EQ(testing::Dump(Must(r.OpenTable("t", cf(i)))), want) << cf(i);
    }
  };
  expect(*db);
  db = Reopen(std::move(db));
  expect(*db);
  ExpectClean(*db);
  db.reset();
  ASSERT_TRUE(fs_->PowerLoss(CrashPolicy{}).ok());
  db = Must(OpenDb(fs_), "open after power loss");
  expect(*db);
}

TEST_P(EngineFaults, SyncErrorPoisons) {
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) { ArmRule(t, fs, FaultRule::Nth(FaultKind::kSyncError, 1)); },
                        Status::Code::kIOError, "sync ", /*poisons=*/true, /*failed_may_survive=*/true});
}

TEST_P(EngineFaults, SyncDropsDirtyPoisonsAndNeverResurrects) {
  // Linux fsync semantics: the dirty pages are gone, and a retried fsync would
  // succeed. The engine must poison instead of retrying, and after reopening
  // the failed commit must be absent (failed_may_survive = false).
  RunWriteFault(*this, {[](EngineFaults& t, FaultStorage& fs) { ArmRule(t, fs, FaultRule::Nth(FaultKind::kSyncDropsDirty, 1)); },
                        Status::Code::kIOError, "sync ", /*poisons=*/true, /*failed_may_survive=*/false});
}

// ============================================================ faults at open

TEST_P(EngineFaults, OpenErrorIsReportedAndTransient) {
  Model model;
  auto db = Populate(2, &model);
  ASSERT_OK(db->Close());
  db.reset();
  // The existence check, the data file's open and (with the log) the log's open.
  for (uint64_t nth = 1; nth <= (wal() ? 3u : 2u); nth++) {
    ASSERT_TRUE(fs_->AddRule(FaultRule::Nth(FaultKind::kOpenError, nth)).ok());
    Status s = OpenDb(fs_).status();
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
    EXPECT_TRUE(Has(s, "open ") || Has(s, "exists ")) << s.ToString();
    EXPECT_TRUE(Has(s, kDb)) << s.ToString();
    fs_->ClearRules();
  }
  db = Must(OpenDb(fs_));
  EXPECT_EQ(Must(ReadModel(*db)), model);
  ExpectClean(*db);
}

TEST_P(EngineFaults, SizeErrorAtOpenIsReported) {
  Model model;
  auto db = Populate(2, &model);
  ASSERT_OK(db->Close());
  db.reset();
  ASSERT_TRUE(fs_->AddRule(FaultRule::Nth(FaultKind::kSizeError, 1)).ok());
  Status s = OpenDb(fs_).status();
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_TRUE(Has(s, "size ")) << s.ToString();
  fs_->ClearRules();
  db = Must(OpenDb(fs_));
  EXPECT_EQ(Must(ReadModel(*db)), model);
  ExpectClean(*db);
}

TEST_P(EngineFaults, ErrorsWhileCreatingADatabase) {
  // Each operation of creating a database fails in turn (the fault that fits
  // it): Open reports the error naming the operation, and a second Open then
  // creates a working database.
  std::vector<OpInfo> ops;
  {
    auto dry = NewStorage();
    dry->SetObserver([&ops](const OpInfo& i) { ops.push_back(i); });
    auto db = Must(OpenDb(dry));
    dry->SetObserver(nullptr);
  }
  ASSERT_GT(ops.size(), 5u);
  std::string unopenable;
  for (const OpInfo& op : ops) {
    FaultKind kind;
    switch (op.kind) {
      case OpKind::kOpen:
      case OpKind::kExists:
        kind = FaultKind::kOpenError;
        break;
      case OpKind::kWrite:
        kind = FaultKind::kWriteError;
        break;
      case OpKind::kResize:
        kind = FaultKind::kResizeError;
        break;
      case OpKind::kSync:
        kind = FaultKind::kSyncError;
        break;
      case OpKind::kSize:
        kind = FaultKind::kSizeError;
        break;
      case OpKind::kRead:
        kind = FaultKind::kReadError;
        break;
      default:
        continue;
    }
    SCOPED_TRACE(std::string(FaultKindName(kind)) + " at op " + std::to_string(op.op) + " (" + OpKindName(op.kind) +
                 " " + op.path + ")");
    auto fs = NewStorage();
    ASSERT_TRUE(fs->AddRule(FaultRule::Schedule(kind, {op.op})).ok());
    Result<std::unique_ptr<Database>> db = OpenDb(fs);
    ASSERT_FALSE(db.ok()) << "the fault was swallowed";
    EXPECT_EQ(db.status().code(), Status::Code::kIOError) << db.status().ToString();
    EXPECT_TRUE(Has(db.status(), std::string(OpKindName(op.kind)) + " ")) << db.status().ToString();
    db = OpenDb(fs);
    if (!db.ok()) {
      unopenable += "\n  " + std::string(FaultKindName(kind)) + " at " + OpKindName(op.kind) + " " + op.path +
                    (op.offset ? " offset " + std::to_string(*op.offset) : std::string()) + " -> then: " +
                    db.status().ToString();
      continue;
    }
    Model m;
    EXPECT_OK(CommitRound(**db, 1, &m));
    EXPECT_EQ(Must(ReadModel(**db)), m);
    ExpectClean(**db);
  }
  // A creation that failed (and was never acknowledged) must not leave a file
  // that every later Open rejects: the user would have to delete it by hand.
  EXPECT_TRUE(unopenable.empty()) << "ENGINE BUG: a failed database creation leaves an unopenable file:" << unopenable;
}

TEST_P(EngineFaults, RemoveErrorDoesNotAffectTheEngine) {
  // The engine removes no file today (the log is recycled, not deleted): a
  // storage whose every Remove fails must not matter. Should the engine start
  // removing files, each failure must surface as kIOError naming the removal.
  size_t rule = Must(fs_->AddRule(FaultRule::Probability(FaultKind::kRemoveError, 1)));
  Model model;
  auto db = Populate(3, &model);
  ASSERT_TRUE(db);
  if (wal()) ASSERT_OK(db->Checkpoint());
  EXPECT_OK(CommitRound(*db, 5, &model));
  Status cl = db->Close();
  if (!cl.ok()) {
    EXPECT_TRUE(cl.code() == Status::Code::kIOError && Has(cl, "remove ")) << cl.ToString();
  }
  db = Reopen(nullptr);
  EXPECT_EQ(Must(ReadModel(*db)), model);
  ExpectClean(*db);
  std::printf("[info] remove-error: the engine issued %llu Remove calls\n",
              static_cast<unsigned long long>(fs_->rule_fired(rule)));
}

// ============================================================ faults and damage on the read path

TEST_P(EngineFaults, ReadErrorIsReportedAndTransient) {
  Model model;
  auto db = Reopen(Populate(4, &model));
  ASSERT_TRUE(fs_->AddRule(FaultRule::Probability(FaultKind::kReadError, 0.5).OnFile(kDb)).ok());
  EXPECT_GT(ReadAllKeys(*db, model, Status::Code::kIOError, "read "), 0);
  Result<CheckReport> rep = db->Check();  // reads everything: must notice
  EXPECT_TRUE(!rep.ok() || !rep->ok);
  fs_->ClearRules();
  EXPECT_EQ(ReadAllKeys(*db, model, Status::Code::kIOError, "read "), 0);  // transient: nothing stuck
  EXPECT_OK(CommitRound(*db, 50, &model));                                // not poisoned
  ExpectClean(*db);
  // At open.
  ASSERT_OK(db->Close());
  db.reset();
  ASSERT_TRUE(fs_->AddRule(FaultRule::Nth(FaultKind::kReadError, 1)).ok());
  Status s = OpenDb(fs_).status();
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_TRUE(Has(s, "read ")) << s.ToString();
  fs_->ClearRules();
  db = Must(OpenDb(fs_));
  EXPECT_EQ(Must(ReadModel(*db)), model);
}

TEST_P(EngineFaults, ShortReadIsReported) {
  Model model;
  auto db = Reopen(Populate(4, &model));
  ASSERT_TRUE(fs_->AddRule(FaultRule::Probability(FaultKind::kShortRead, 0.5).OnFile(kDb)).ok());
  EXPECT_GT(ReadAllKeys(*db, model, Status::Code::kIOError, "short read "), 0);
  fs_->ClearRules();
  EXPECT_EQ(ReadAllKeys(*db, model, Status::Code::kIOError, "short read "), 0);
  EXPECT_OK(CommitRound(*db, 50, &model));
  ExpectClean(*db);
}

TEST_P(EngineFaults, BitFlipIsDetectedByChecksum) {
  uint64_t seed = manifold::testing::TestSeed("BitFlipIsDetectedByChecksum");
  int detected = 0;
  for (int trial = 0; trial < 6; trial++) {
    fs_ = NewStorage(MixSeed(seed, trial));
    Model model;
    auto db = Reopen(Populate(4, &model));
    // The first read from the data file after open rots a bit inside the range
    // it reads, and sees it: that page (or overflow value) must fail its checksum.
    size_t rule = Must(fs_->AddRule(FaultRule::Nth(FaultKind::kBitFlip, 1 + trial).OnFile(kDb)));
    int failures = ReadAllKeys(*db, model, Status::Code::kCorruption, "checksum");
    if (fs_->rule_fired(rule) == 0) continue;  // the reads were all cached
    EXPECT_GT(failures, 0) << fs_->LogText();
    detected += failures > 0;
    Result<CheckReport> rep = db->Check();
    ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    EXPECT_FALSE(rep->ok) << "Check() must report the rotten page";
    // Writes stay possible (nothing poisoned); a transaction touching the
    // rotten page fails with kCorruption, others commit.
    Status s = CommitRound(*db, 60, &model);  // the model follows on success
    EXPECT_TRUE(s.ok() || s.code() == Status::Code::kCorruption) << s.ToString();
    // After reopening it is still detected, never returned as data.
    db = Reopen(std::move(db));
    (void)ReadAllKeys(*db, model, Status::Code::kCorruption, "checksum");
  }
  EXPECT_GT(detected, 0);
}

TEST_P(EngineFaults, BitFlipInNewestHeaderSlot) {
  // Rot in the newest header slot: its checksum fails and open falls back to
  // the other slot -- the previous checkpoint.
  //  - Without the log that is the previous commit: the newest commit is lost,
  //    reported as a Check() warning. Nothing on the medium tells rot from a
  //    header write torn by a crash (after which the fallback is exactly
  //    right), so this is the expected, documented outcome.
  //  - With the log, the newest checkpoint reset the log, so falling back
  //    loses every commit since the checkpoint before. But the log's header
  //    records the LSN it starts at, which is beyond the fallback header's
  //    checkpoint LSN + 1: the engine can see that records are missing and must
  //    fail with kCorruption rather than open an older state.
  Model model;
  std::vector<Model> history;
  auto db = Populate(4, &model, &history);
  ASSERT_OK(db->Close());
  db.reset();
  // Find the newest slot: the one with the higher generation (u64 at offset 16).
  std::string image = Must(fs_->CurrentFiles()).files[kDb];
  auto gen = [&](size_t off) {
    uint64_t g = 0;
    for (int i = 7; i >= 0; i--) g = (g << 8) | static_cast<unsigned char>(image[off + 16 + static_cast<size_t>(i)]);
    return g;
  };
  const size_t newest = gen(kPageSize) > gen(0) ? kPageSize : 0;
  ASSERT_OK(fs_->FlipBit(kDb, newest + 20, 3));
  auto reopened = OpenDb(fs_);
  if (wal() && !reopened.ok()) {
    EXPECT_EQ(reopened.status().code(), Status::Code::kCorruption) << reopened.status().ToString();
    return;
  }
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  db = std::move(reopened).value();
  Result<CheckReport> rep = db->Check();
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(rep->ok) << rep->ToText();
  ASSERT_FALSE(rep->warnings.empty()) << "the fallback must be reported";
  EXPECT_NE(rep->warnings[0].find("header slot"), std::string::npos) << rep->warnings[0];
  Model got = Must(ReadModel(*db));
  bool is_prefix = false;
  size_t which = 0;
  for (size_t i = 0; i < history.size(); i++) {
    if (history[i] == got) {
      is_prefix = true;
      which = i;
    }
  }
  EXPECT_TRUE(is_prefix) << "the fallback must be an older acknowledged state, not a mix";
  if (wal()) {
    EXPECT_EQ(which, history.size() - 1)
        << "ENGINE BUG: with the log, open fell back to an older checkpoint (acknowledged state " << which << " of "
        << history.size() - 1 << ") although the log header's start LSN shows that records are missing";
  } else {
    EXPECT_EQ(which, history.size() - 2);
  }
  std::printf("[info] header bit flip (%s): reopened at acknowledged state %zu of %zu; warning: %s\n",
              wal() ? "wal" : "no wal", which, history.size() - 1, rep->warnings[0].c_str());
}

TEST_P(EngineFaults, UnreadableSectorIsReported) {
  Model model;
  auto db = Reopen(Populate(4, &model));
  ASSERT_TRUE(fs_->AddRule(FaultRule::Nth(FaultKind::kUnreadableSector, 1).OnFile(kDb)).ok());
  EXPECT_GT(ReadAllKeys(*db, model, Status::Code::kIOError, "read "), 0);
  fs_->ClearRules();
  // Latent: it stays unreadable, with the same clear error.
  int again = ReadAllKeys(*db, model, Status::Code::kIOError, "unreadable sector");
  EXPECT_GT(again, 0);
  Result<CheckReport> rep = db->Check();
  EXPECT_TRUE(!rep.ok() || !rep->ok);
  // Not poisoned: writes either commit or fail cleanly (when they need the bad page).
  Model m = model;
  Status s = CommitRound(*db, 60, &m);
  EXPECT_TRUE(s.ok() || s.code() == Status::Code::kIOError) << s.ToString();
}

TEST_P(EngineFaults, UnreadableHeaderSlot) {
  // A latent sector error in a header slot: open reports the failed read. (It
  // does not fall back to the other slot as it does for a bad checksum; for a
  // sector that cannot be read at all a clear error is the safe answer.)
  Model model;
  auto db = Populate(2, &model);
  ASSERT_OK(db->Close());
  db.reset();
  for (uint64_t slot : {uint64_t{0}, uint64_t{kPageSize}}) {
    auto fs = NewStorage();
    ASSERT_OK(Must(fs_->CurrentFiles()).WriteTo(*fs->base()));
    ASSERT_OK(fs->MarkUnreadable(kDb, slot));
    Result<std::unique_ptr<Database>> r = OpenDb(fs);
    if (r.ok()) {  // a fallback would be fine too, if it says so
      Result<CheckReport> rep = (*r)->Check();
      ASSERT_TRUE(rep.ok());
      EXPECT_FALSE(rep->warnings.empty());
      EXPECT_EQ(Must(ReadModel(**r)), model);
      continue;
    }
    EXPECT_EQ(r.status().code(), Status::Code::kIOError) << r.status().ToString();
    EXPECT_TRUE(Has(r.status(), "read " + std::string(kDb) + " offset " + std::to_string(slot))) << r.status().ToString();
  }
}

TEST_P(EngineFaults, BitFlipInLogRecord) {
  if (!wal()) GTEST_SKIP() << "no log";
  // Durable commits whose records are still in the log (no checkpoint yet),
  // then a power loss that keeps everything synced.
  std::vector<OpInfo> ops;
  fs_->SetObserver([&ops](const OpInfo& i) {
    if (i.kind == OpKind::kWrite && i.path == kWal && i.offset && *i.offset >= 4096) ops.push_back(i);
  });
  Model model;
  std::vector<Model> history;
  auto db = Populate(4, &model, &history);
  fs_->SetObserver(nullptr);
  ASSERT_GE(ops.size(), 4u);
  ASSERT_TRUE(fs_->PowerLoss(CrashPolicy::DropAll()).ok());
  db.reset();
  FileSet files = Must(fs_->CurrentFiles());
  // (1) Rot in the last record: indistinguishable from a record torn by a crash,
  // so the default recovery (kTolerateTornTail) drops it and reports a torn
  // tail: the last acknowledged commit is gone, the state is the one before.
  // (2) With kAbsoluteConsistency the same rot is an error.
  // (3) Rot in an earlier record, with valid records after it: an error.
  for (int c = 0; c < 3; c++) {
    auto fs = NewStorage();
    ASSERT_OK(files.WriteTo(*fs->base()));
    const OpInfo& rec = c == 2 ? ops[ops.size() - 3] : ops.back();
    ASSERT_OK(fs->FlipBit(kWal, *rec.offset + 30, 1));
    Options o = Opts(fs);
    if (c == 1) o.wal_recovery = WalRecoveryMode::kAbsoluteConsistency;
    Result<std::unique_ptr<Database>> r = Database::Open(kDb, o);
    SCOPED_TRACE("case " + std::to_string(c));
    if (c == 0) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_TRUE((*r)->recovery().torn_tail);
      EXPECT_EQ(Must(ReadModel(**r)), history[history.size() - 2]);
      ExpectClean(**r);
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();
      EXPECT_TRUE(Has(r.status(), kWal)) << r.status().ToString();
    }
  }
}

// ============================================================ lying devices: lost and misdirected writes

enum class Outcome { kOpenFailed, kReadFailed, kCheckFailed, kExact, kOlder, kWrong };
const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOpenFailed:
      return "open-detects";
    case Outcome::kReadFailed:
      return "read-detects";
    case Outcome::kCheckFailed:
      return "check-detects";
    case Outcome::kExact:
      return "exact";
    case Outcome::kOlder:
      return "older-state";
    case Outcome::kWrong:
      return "WRONG";
  }
  return "?";
}
bool Detected(Outcome o) { return o == Outcome::kOpenFailed || o == Outcome::kReadFailed || o == Outcome::kCheckFailed; }

// Reopens and classifies what the engine makes of the files against the
// acknowledged history (history.back() = the latest acknowledged state).
Outcome Classify(EngineFaults& t, const std::shared_ptr<FaultStorage>& fs, const std::vector<Model>& history,
                 std::string* why) {
  Result<std::unique_ptr<Database>> db = t.OpenDb(fs);
  if (!db.ok()) {
    *why = db.status().ToString();
    bool clear = db.status().code() == Status::Code::kCorruption || db.status().code() == Status::Code::kIOError;
    return clear ? Outcome::kOpenFailed : Outcome::kWrong;
  }
  Result<Model> m = ReadModel(**db);
  if (!m.ok()) {
    *why = m.status().ToString();
    return m.status().code() == Status::Code::kCorruption ? Outcome::kReadFailed : Outcome::kWrong;
  }
  bool known = false, latest = *m == history.back();
  for (const Model& h : history) known |= h == *m;
  if (!known) {
    *why = "reads returned a state that was never committed, without an error";
    return Outcome::kWrong;
  }
  Result<CheckReport> rep = (*db)->Check();
  if (!rep.ok() || !rep->ok) {
    *why = rep.ok() ? rep->problems.front() : rep.status().ToString();
    return Outcome::kCheckFailed;
  }
  return latest ? Outcome::kExact : Outcome::kOlder;
}

// Runs: 3 durable commits, then the target commit (with the log: and a
// checkpoint), and `kind` at each write of the target part in turn; then a
// power loss that keeps every unsynced write (only the faulty one misbehaves).
void RunLyingWrites(EngineFaults& t, FaultKind kind) {
  struct Run {
    std::vector<OpInfo> writes;
    std::vector<Model> history;
  };
  auto workload = [&](const std::shared_ptr<FaultStorage>& fs, Run* run) {
    run->history.clear();
    Model model;
    auto db = Must(t.OpenDb(fs));
    run->history.push_back(model);
    for (int r = 0; r < 3; r++) {
      ASSERT_OK(CommitRound(*db, r, &model));
      run->history.push_back(model);
    }
    fs->SetObserver([run](const OpInfo& i) {
      if (i.kind == OpKind::kWrite) run->writes.push_back(i);
    });
    ASSERT_OK(CommitRound(*db, 3, &model));  // the device acknowledges everything
    run->history.push_back(model);
    if (t.wal()) ASSERT_OK(db->Checkpoint());
    fs->SetObserver(nullptr);
    ASSERT_TRUE(fs->PowerLoss(CrashPolicy::KeepAll()).ok());
  };
  Run dry;
  workload(EngineFaults::NewStorage(), &dry);
  ASSERT_FALSE(dry.writes.empty());
  std::map<std::string, std::map<std::string, int>> summary;  // target class -> outcome -> count
  for (const OpInfo& w : dry.writes) {
    auto fs = EngineFaults::NewStorage();
    size_t rule = Must(fs->AddRule(FaultRule::Schedule(kind, {w.op})));
    Run run;
    workload(fs, &run);
    ASSERT_EQ(fs->rule_fired(rule), 1u) << "the workload is not deterministic";
    const bool header = w.path == kDb && *w.offset < 2 * kPageSize;
    const std::string cls = w.path == kWal ? (*w.offset < 4096 ? "log-header" : "log-record")
                                           : (header ? "data-header" : "data-page");
    std::string why;
    Outcome o = Classify(t, fs, run.history, &why);
    summary[cls][OutcomeName(o)]++;
    SCOPED_TRACE(std::string(FaultKindName(kind)) + " of " + cls + " write op " + std::to_string(w.op) + " offset " +
                 std::to_string(*w.offset) + " len " + std::to_string(*w.len) + ": " + OutcomeName(o) + " " + why +
                 "\n" + fs->LogText());
    ASSERT_NE(o, Outcome::kWrong);
    if (cls == "data-page") {
      // A page reachable from the final header is recorded there with its
      // checksum: stale bytes at the intended place are detected. With the
      // log, the checkpoint replaces the logged commit's catalog pages (it
      // rewrites every family's checkpoint LSN), so a lost write of one of
      // those is never read: the exact state, with a clean Check(), is then
      // right too. Never an older state.
      EXPECT_TRUE(Detected(o) || (t.wal() && o == Outcome::kExact));
    } else if (cls == "data-header" && !t.wal()) {
      // The new header never reaches its slot (lost, or written elsewhere):
      // the other slot is the newest valid one -- the previous commit, exactly.
      // Nothing on the medium says otherwise, so no engine could detect it
      // short of reading back (unless a misdirected header clobbers live data).
      EXPECT_TRUE(o == Outcome::kOlder || (kind == FaultKind::kMisdirectedWrite && Detected(o)));
    } else if (cls == "data-header") {
      // With the log, the checkpoint that wrote this header then reset the log
      // (its header names the LSN it starts at). Falling back to the older
      // header leaves a gap between that header's checkpoint LSN and the log:
      // detectable, so an older state is an engine bug here.
      EXPECT_TRUE(Detected(o) || o == Outcome::kExact)
          << "ENGINE BUG: after a lost checkpoint header the database silently reopened at an older state, "
             "although the log's start LSN shows that records are missing";
    } else {
      // Headers of the data file or the log, log records: an acknowledged commit
      // may be lost (the device lied), but only as an older acknowledged state
      // (a prefix), or the damage is detected.
      EXPECT_TRUE(Detected(o) || o == Outcome::kOlder || o == Outcome::kExact);
    }
  }
  std::string line;
  for (const auto& [cls, outcomes] : summary) {
    line += " " + cls + ":";
    for (const auto& [o, n] : outcomes) line += " " + o + "x" + std::to_string(n);
  }
  std::printf("[info] %s (%s):%s\n", FaultKindName(kind), t.wal() ? "wal" : "no wal", line.c_str());
}

TEST_P(EngineFaults, LostWrites) { RunLyingWrites(*this, FaultKind::kLostWrite); }

TEST_P(EngineFaults, MisdirectedWrites) { RunLyingWrites(*this, FaultKind::kMisdirectedWrite); }

// ============================================================ latency

TEST_P(EngineFaults, LatencyOnlySlowsDown) {
  ASSERT_TRUE(fs_->AddRule(FaultRule::Probability(FaultKind::kLatency, 1).OnOps({OpKind::kSync}).Latency(500)).ok());
  ASSERT_TRUE(fs_->AddRule(FaultRule::Probability(FaultKind::kLatency, 0.2).Latency(50)).ok());
  auto t0 = std::chrono::steady_clock::now();
  Model model;
  auto db = Populate(4, &model);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(ms, 4 * 0.5);  // at least one delayed sync per durable commit
  EXPECT_GE(fs_->fault_count(FaultKind::kLatency), 4u);
  EXPECT_EQ(Must(ReadModel(*db)), model);
  db = Reopen(std::move(db));
  EXPECT_EQ(Must(ReadModel(*db)), model);
  ExpectClean(*db);
}

// ============================================================ power loss and crash images

// A workload of durable and non-durable commits (and, with the log, a
// checkpoint) that stops at the first error. states[i] is the state after the
// i-th commit attempt; acked is the last state acknowledged as durable (-1:
// the database was never created).
struct Trace {
  std::vector<Model> states;
  int acked = -1;
  int attempted = 0;
};

Trace CrashWorkload(EngineFaults& t, const std::shared_ptr<FaultStorage>& fs) {
  Trace tr;
  tr.states.push_back({});
  Result<std::unique_ptr<Database>> opened = t.OpenDb(fs);
  if (!opened.ok()) return tr;
  std::unique_ptr<Database> db = std::move(opened).value();
  tr.acked = 0;
  Model model;
  for (int round = 0; round < 6; round++) {
    const Durability d = (round == 1 || round == 3) ? Durability::kNone : Durability::kImmediate;
    tr.states.push_back(RoundModel(model, round));
    tr.attempted = static_cast<int>(tr.states.size()) - 1;
    if (!CommitRound(*db, round, &model, d).ok()) return tr;
    if (d == Durability::kImmediate) tr.acked = tr.attempted;
    if (t.wal() && round == 2 && !db->Checkpoint().ok()) return tr;
  }
  if (db->Close().ok()) tr.acked = tr.attempted;
  return tr;
}

// Checks the database after a crash against the trace: it opens, Check() is
// clean, the state is one of states[acked..attempted] (every acknowledged
// durable commit is there, nothing is half there), and recovery is repeatable.
void VerifyAfterCrash(EngineFaults& t, const std::shared_ptr<FaultStorage>& fs, const Trace& tr, const std::string& where) {
  SCOPED_TRACE(where);
  Result<std::unique_ptr<Database>> db = t.OpenDb(fs);
  if (tr.acked < 0 && !db.ok()) {
    // Creation never completed: nothing was acknowledged; the error must be clear.
    EXPECT_TRUE(db.status().code() == Status::Code::kCorruption) << db.status().ToString();
    return;
  }
  ASSERT_TRUE(db.ok()) << "recovery failed on a legal crash state (only writes that were never synced were dropped, "
                          "torn or damaged): "
                       << db.status().ToString() << "\n"
                       << fs->LogText();
  Result<Model> got = ReadModel(**db);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  int match = -1;
  for (int i = std::max(tr.acked, 0); i <= tr.attempted; i++) {
    if (tr.states[static_cast<size_t>(i)] == *got) match = i;
  }
  ASSERT_GE(match, 0) << "recovered state is not one of states " << tr.acked << ".." << tr.attempted
                      << " (acknowledged durable commit lost, or a partial commit)\n"
                      << fs->LogText();
  ExpectClean(**db);
  db->reset();
  ASSERT_TRUE(fs->PowerLoss(CrashPolicy::DropAll()).ok());  // crash again right after recovery
  Result<std::unique_ptr<Database>> again = t.OpenDb(fs);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Must(ReadModel(**again)), *got) << "recovery is not repeatable";
}

// Power cut at `points` operations of the workload (from a dry run), a crash
// image by `policy`, then VerifyAfterCrash. Returns the crash choices made
// (FaultKind -> count over all points).
// Crashes the workload at `points` random operations (more, up to ten times
// as many, until a crash has made at least one fault of kind `wanted`: a few
// seeds in ten thousand cut only where the policy finds nothing to tear or
// garble).
std::map<FaultKind, uint64_t> CrashCampaign(EngineFaults& t, uint64_t seed, DeviceTraits traits, const CrashPolicy& policy,
                                            int points, std::optional<FaultKind> wanted = std::nullopt) {
  uint64_t total_ops = 0;
  {
    auto dry = EngineFaults::NewStorage(seed, traits);
    Trace tr = CrashWorkload(t, dry);
    EXPECT_EQ(tr.attempted, 6);
    total_ops = dry->op_count();
  }
  std::map<FaultKind, uint64_t> made;
  Rng r(seed);
  for (int p = 0; p < points || (wanted && made[*wanted] == 0 && p < 10 * points); p++) {
    const uint64_t cut = 1 + r.Uniform(total_ops);
    auto fs = EngineFaults::NewStorage(MixSeed(seed, cut), traits);
    EXPECT_TRUE(fs->AddRule(FaultRule::Schedule(FaultKind::kPowerCut, {cut})).ok());
    Trace tr = CrashWorkload(t, fs);
    EXPECT_TRUE(fs->powered_off() || fs->fault_count(FaultKind::kPowerCut) == 0);
    fs->ClearRules();
    EXPECT_TRUE(fs->PowerLoss(policy).ok());
    for (FaultKind k : {FaultKind::kCrashDrop, FaultKind::kCrashTorn, FaultKind::kCrashGarbage, FaultKind::kCrashZeros}) {
      made[k] += fs->fault_count(k);
    }
    VerifyAfterCrash(t, fs, tr,
                     "power cut at op " + std::to_string(cut) + " of " + std::to_string(total_ops) + ", seed " +
                         std::to_string(seed) + ", traits " + traits.ToString());
    if (::testing::Test::HasFatalFailure()) break;
  }
  return made;
}

TEST_P(EngineFaults, PowerCutAnywhere) {
  uint64_t seed = manifold::testing::TestSeed("PowerCutAnywhere");
  Rng r(seed);
  DeviceTraits traits;
  traits.sector_size = r.Chance(0.5) ? 512 : 4096;
  traits.atomic_sectors = r.Chance(0.5);
  traits.safe_append = r.Chance(0.5);
  CrashCampaign(*this, seed, traits, CrashPolicy{}, 10);
}

TEST_P(EngineFaults, CrashDrop) {
  uint64_t seed = manifold::testing::TestSeed("CrashDrop");
  auto made = CrashCampaign(*this, seed, DeviceTraits{}, CrashPolicy::Only(Fate::kDrop), 6, FaultKind::kCrashDrop);
  EXPECT_GT(made[FaultKind::kCrashDrop], 0u);
}

TEST_P(EngineFaults, CrashTorn) {
  uint64_t seed = manifold::testing::TestSeed("CrashTorn");
  auto made = CrashCampaign(*this, seed, DeviceTraits{}, CrashPolicy::Only(Fate::kTorn), 6, FaultKind::kCrashTorn);
  EXPECT_GT(made[FaultKind::kCrashTorn], 0u);
}

TEST_P(EngineFaults, CrashGarbage) {
  uint64_t seed = manifold::testing::TestSeed("CrashGarbage");
  DeviceTraits traits;
  traits.atomic_sectors = false;
  auto made = CrashCampaign(*this, seed, traits, CrashPolicy::Only(Fate::kGarbage), 6, FaultKind::kCrashGarbage);
  EXPECT_GT(made[FaultKind::kCrashGarbage], 0u);
}

TEST_P(EngineFaults, CrashZeros) {
  uint64_t seed = manifold::testing::TestSeed("CrashZeros");
  DeviceTraits traits;
  traits.atomic_sectors = false;
  auto made = CrashCampaign(*this, seed, traits, CrashPolicy::Only(Fate::kZeros), 6, FaultKind::kCrashZeros);
  EXPECT_GT(made[FaultKind::kCrashZeros], 0u);
}

TEST_P(EngineFaults, UnsyncedLogRecordsLandInAnyOrder) {
  if (!wal()) GTEST_SKIP() << "no log";
  // Two non-durable commits append two log records that are never synced.
  // The page cache may write them back in any order, so a power loss can keep
  // the second and lose the first -- an ordinary crash, no device misbehaving.
  // Nothing of either was acknowledged as durable, so recovery must open the
  // database at the last durable commit (it must not apply the second record
  // without the first: prefix consistency).
  Model model;
  std::vector<Model> history;
  auto db = Populate(2, &model, &history);
  ASSERT_OK(CommitRound(*db, 5, &model, Durability::kNone));
  ASSERT_OK(CommitRound(*db, 6, &model, Durability::kNone));
  CrashImage img = fs_->CaptureCrashImage();
  CrashPlan plan = img.KeepAllPlan();
  std::vector<size_t> records;
  for (size_t i = 0; i < img.ops().size(); i++) {
    if (img.ops()[i].kind == UnsyncedKind::kWrite && img.ops()[i].path == kWal) records.push_back(i);
  }
  ASSERT_EQ(records.size(), 2u) << "expected one unsynced log record per commit";
  plan.maps[records[0]].assign(img.MapLength(records[0]), 'o');  // the first record is lost, the second landed
  ASSERT_OK(img.Validate(plan));
  ASSERT_TRUE(fs_->PowerLoss(plan).ok());
  db.reset();
  Result<std::unique_ptr<Database>> r = OpenDb(fs_);
  ASSERT_TRUE(r.ok()) << "ENGINE BUG: recovery rejects a legal crash state (unsynced log records written back out of "
                         "order): "
                      << r.status().ToString();
  EXPECT_EQ(Must(ReadModel(**r)), history.back());
  ExpectClean(**r);
}

TEST_P(EngineFaults, PowerLossWithNothingUnsynced) {
  Model model;
  auto db = Populate(3, &model);
  ASSERT_OK(db->Close());
  db.reset();
  EXPECT_EQ(fs_->unsynced_count(), 0u) << "Close() must leave nothing unsynced";
  FileSet before = Must(fs_->CurrentFiles());
  FileSet after = Must(fs_->PowerLoss(CrashPolicy{}));
  EXPECT_EQ(before, after);
  db = Must(OpenDb(fs_));
  EXPECT_EQ(Must(ReadModel(*db)), model);
  ExpectClean(*db);
}

// Small exhaustive case: every legal crash state of one non-durable commit
// left unsynced (in the cache) when the power goes (sampled when too many).
TEST_P(EngineFaults, EveryCrashStateOfAnUnsyncedCommit) {
  Model model;
  std::vector<Model> history;
  auto db = Populate(2, &model, &history);
  Model pending = model;
  ASSERT_OK(CommitRound(*db, 7, &pending, Durability::kNone, 8));
  CrashImage img = fs_->CaptureCrashImage();
  ASSERT_GT(img.ops().size(), 0u);
  EnumerateOptions eo;
  eo.max_states = 1 << 16;
  Result<uint64_t> n = img.Count(eo);
  uint64_t index = 0, checked = 0;
  auto verify = [&](const CrashPlan& plan) {
                  FileSet files = Must(img.Build(plan));
                  auto fs = NewStorage();
                  EXPECT_OK(files.WriteTo(*fs->base()));
                  Result<std::unique_ptr<Database>> r = OpenDb(fs);
                  EXPECT_TRUE(r.ok()) << r.status().ToString();
                  if (!r.ok()) return false;
                  Model got = Must(ReadModel(**r));
                  EXPECT_TRUE(got == model || got == pending) << "state " << index - 1;
                  Result<CheckReport> rep = (*r)->Check();
                  EXPECT_TRUE(rep.ok() && rep->ok);
                  checked++;
                  return !::testing::Test::HasFailure();
  };
  if (n.ok()) {
    // Every legal state, or an even sample of them when there are many (keeps the test fast).
    const uint64_t stride = std::max<uint64_t>(1, *n / 32);
    ASSERT_TRUE(img.Enumerate(eo, [&](const CrashPlan& plan) { return index++ % stride != 0 || verify(plan); }).ok());
  } else {
    // Too many to enumerate (the log's preallocated region is written in many
    // pieces): seeded random states instead.
    uint64_t seed = manifold::testing::TestSeed("EveryCrashStateOfAnUnsyncedCommit");
    for (int i = 0; i < 32 && !::testing::Test::HasFailure(); i++) {
      index = static_cast<uint64_t>(i);
      verify(img.RandomPlan(CrashPolicy{}, MixSeed(seed, static_cast<uint64_t>(i))));
    }
  }
  std::printf("[info] %s legal crash states of %zu unsynced operations, %llu checked\n",
              n.ok() ? std::to_string(*n).c_str() : "too many", img.ops().size(), static_cast<unsigned long long>(checked));
}

// ============================================================ replay of an engine run

// Runs a tolerant workload (errors are recorded, a poisoned database is
// reopened) under random faults of many kinds and two power losses.
std::vector<int> FaultyEngineRun(EngineFaults& t, const std::shared_ptr<FaultStorage>& fs) {
  std::vector<int> codes;
  Model model;
  std::unique_ptr<Database> db;
  for (int step = 0; step < 40; step++) {
    if (!db) {
      Result<std::unique_ptr<Database>> r = t.OpenDb(fs);
      codes.push_back(static_cast<int>(r.status().code()));
      if (!r.ok()) continue;
      db = std::move(r).value();
    }
    Status s;
    if (step % 5 == 4) {
      Result<Model> m = ReadModel(*db);
      s = m.status();
    } else if (t.wal() && step % 7 == 6) {
      s = db->Checkpoint();
    } else {
      s = CommitRound(*db, step, &model, step % 3 == 0 ? Durability::kNone : Durability::kImmediate);
    }
    codes.push_back(static_cast<int>(s.code()));
    if (s.code() == Status::Code::kPoisoned || s.code() == Status::Code::kCorruption) {
      (void)db->Close();
      db.reset();
    }
    if (step == 15 || step == 30) {
      db.reset();
      codes.push_back(fs->PowerLoss(CrashPolicy{}).ok() ? 0 : 1);
    }
  }
  return codes;
}

TEST_P(EngineFaults, ReplayReproducesAnEngineRun) {
  uint64_t seed = manifold::testing::TestSeed("ReplayReproducesAnEngineRun");
  DeviceTraits traits;
  traits.atomic_sectors = false;
  auto orig = NewStorage(seed, traits);
  for (FaultKind k : {FaultKind::kReadError, FaultKind::kWriteError, FaultKind::kSyncError, FaultKind::kSyncDropsDirty,
                      FaultKind::kShortRead, FaultKind::kPartialWrite, FaultKind::kLostWrite, FaultKind::kBitFlip,
                      FaultKind::kResizeError, FaultKind::kNoSpace, FaultKind::kLatency}) {
    ASSERT_TRUE(orig->AddRule(FaultRule::Probability(k, 0.01).Latency(1)).ok());
  }
  std::vector<int> want = FaultyEngineRun(*this, orig);
  const std::string log = orig->LogText();
  auto rep = NewStorage(seed + 12345, traits);  // another seed: only the log decides
  ASSERT_OK(rep->LoadReplay(log));
  std::vector<int> got = FaultyEngineRun(*this, rep);
  EXPECT_TRUE(rep->divergences().empty()) << rep->divergences().front();
  EXPECT_EQ(got, want);
  EXPECT_EQ(rep->LogText(), log);
  EXPECT_GT(orig->total_faults(), 0u);
}

}  // namespace
}  // namespace manifold::faultfs
