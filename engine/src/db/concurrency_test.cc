// Concurrency: writers on different column families run in parallel, one
// writer per family, multi-family transactions commit atomically and never
// deadlock, checkpoints run beside open transactions, readers see consistent
// snapshots throughout. Run under the tsan preset as well (ci/test.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <future>
#include <optional>
#include <random>
#include <thread>

#include "testing/test_util.h"
#include "util/crash_point.h"

namespace manifold {
namespace {

using namespace std::chrono_literals;
using testing::ExpectClean;
using testing::MemOptions;
using testing::Must;

// Long enough for any machine (sanitizers included) to start a thread and
// commit; a writer that is wrongly blocked never finishes.
constexpr auto kPatience = 30s;
// How long a writer that must wait is watched to really wait.
constexpr auto kBlockedFor = 200ms;

std::unique_ptr<Database> OpenMem(const std::shared_ptr<MemoryStorage>& storage, bool wal = true) {
  Options o = MemOptions(storage);
  o.wal = wal;
  return Must(Database::Open("conc.db", o), "open");
}

Status PutOne(Database& db, const std::string& cf, const std::string& key, const std::string& value) {
  MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginWrite(cf));
  MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable("t"));
  MANIFOLD_RETURN_IF_ERROR(t.Put(key, value));
  return w.Commit();
}

Result<std::string> GetOne(Database& db, const std::string& cf, const std::string& key) {
  MANIFOLD_ASSIGN_OR_RETURN(ReadTransaction r, db.BeginRead());
  MANIFOLD_ASSIGN_OR_RETURN(Table t, r.OpenTable("t", cf));
  return t.Get(key);
}

class Concurrency : public ::testing::TestWithParam<bool> {  // param: with the log
 protected:
  std::shared_ptr<MemoryStorage> storage_ = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db_ = OpenMem(storage_, GetParam());
  void SetUp() override {
    ASSERT_OK(db_->CreateColumnFamily("a"));
    ASSERT_OK(db_->CreateColumnFamily("b"));
    ASSERT_OK(db_->CreateColumnFamily("c"));
  }
};

TEST_P(Concurrency, WriterOfAnotherFamilyCommitsWhileOneIsOpen) {
  WriteTransaction wa = Must(db_->BeginWrite("a"));
  ASSERT_OK(Must(wa.OpenOrCreateTable("t")).Put("ka", "va"));
  // With one database-wide writer lock this would wait for `wa` forever.
  auto other = std::async(std::launch::async, [&] { return PutOne(*db_, "b", "kb", "vb"); });
  ASSERT_EQ(other.wait_for(kPatience), std::future_status::ready) << "a writer of family b waited for family a";
  ASSERT_OK(other.get());
  EXPECT_EQ(Must(GetOne(*db_, "b", "kb")), "vb");
  ASSERT_OK(wa.Commit());
  EXPECT_EQ(Must(GetOne(*db_, "a", "ka")), "va");
  EXPECT_EQ(Must(GetOne(*db_, "b", "kb")), "vb") << "a's commit must not undo b's";
  ExpectClean(*db_);
}

TEST_P(Concurrency, SecondWriterOfTheSameFamilyWaits) {
  WriteTransaction w1 = Must(db_->BeginWrite("a"));
  ASSERT_OK(Must(w1.OpenOrCreateTable("t")).Put("k", "first"));
  std::atomic<bool> began{false};
  auto second = std::async(std::launch::async, [&] {
    WriteTransaction w2 = Must(db_->BeginWrite("a"));
    began = true;
    // It starts from w1's commit.
    Result<std::string> seen = Must(w2.OpenTable("t")).Get("k");
    EXPECT_TRUE(seen.ok() && *seen == "first") << (seen.ok() ? *seen : seen.status().ToString());
    MANIFOLD_RETURN_IF_ERROR(Must(w2.OpenTable("t")).Put("k", "second"));
    return w2.Commit();
  });
  EXPECT_EQ(second.wait_for(kBlockedFor), std::future_status::timeout);
  EXPECT_FALSE(began) << "two writers of one family were open at once";
  ASSERT_OK(w1.Commit());
  ASSERT_EQ(second.wait_for(kPatience), std::future_status::ready);
  ASSERT_OK(second.get());
  EXPECT_EQ(Must(GetOne(*db_, "a", "k")), "second");
}

TEST_P(Concurrency, MultiFamilyTransactionIsAtomicAndExclusivePerFamily) {
  WriteTransaction w = Must(db_->BeginMultiWrite({"b", "a", "a"}));
  EXPECT_EQ(w.column_families(), (std::vector<std::string>{"a", "b"}));
  ASSERT_OK(Must(w.OpenOrCreateTable("t", "a")).Put("k", "in a"));
  ASSERT_OK(Must(w.OpenOrCreateTable("t", "b")).Put("k", "in b"));
  // A family the transaction is not bound to is refused, with a clear error.
  Result<Table> not_mine = w.OpenOrCreateTable("t", "c");
  ASSERT_FALSE(not_mine.ok());
  EXPECT_EQ(not_mine.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(not_mine.status().message().find("'c'"), std::string::npos) << not_mine.status().ToString();
  // Nothing is visible before the commit.
  {
    ReadTransaction r = Must(db_->BeginRead());
    EXPECT_FALSE(r.OpenTable("t", "a").ok());
  }
  // Family c stays free; family b is taken.
  auto on_c = std::async(std::launch::async, [&] { return PutOne(*db_, "c", "k", "in c"); });
  ASSERT_EQ(on_c.wait_for(kPatience), std::future_status::ready);
  ASSERT_OK(on_c.get());
  auto on_b = std::async(std::launch::async, [&] { return PutOne(*db_, "b", "k", "b alone"); });
  EXPECT_EQ(on_b.wait_for(kBlockedFor), std::future_status::timeout) << "family b was free during the multi-family transaction";
  ASSERT_OK(w.Commit());
  ASSERT_EQ(on_b.wait_for(kPatience), std::future_status::ready);
  ASSERT_OK(on_b.get());
  EXPECT_EQ(Must(GetOne(*db_, "a", "k")), "in a");
  EXPECT_EQ(Must(GetOne(*db_, "b", "k")), "b alone");
  EXPECT_EQ(Must(GetOne(*db_, "c", "k")), "in c");
  ExpectClean(*db_);
}

TEST_P(Concurrency, OverlappingMultiFamilyTransactionsDoNotDeadlock) {
  // Each thread takes two families in its own order; families are acquired
  // all at once, so there is no lock-order cycle.
  const std::vector<std::vector<std::string>> orders = {{"a", "b"}, {"b", "a"}, {"b", "c"}, {"c", "a"}};
  std::vector<std::future<Status>> threads;
  for (size_t i = 0; i < orders.size(); i++) {
    threads.push_back(std::async(std::launch::async, [&, i]() -> Status {
      for (int round = 0; round < 50; round++) {
        MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db_->BeginMultiWrite(orders[i]));
        for (const std::string& cf : orders[i]) {
          MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable("t", cf));
          Result<std::string> v = t.Get("counter");
          MANIFOLD_RETURN_IF_ERROR(t.Put("counter", std::to_string((v.ok() ? std::stoi(*v) : 0) + 1)));
        }
        MANIFOLD_RETURN_IF_ERROR(w.Commit(round % 2 == 0 ? Durability::kImmediate : Durability::kNone));
      }
      return Status::Ok();
    }));
  }
  for (auto& t : threads) {
    ASSERT_EQ(t.wait_for(kPatience * 4), std::future_status::ready) << "deadlock";
    ASSERT_OK(t.get());
  }
  // Every increment survived: a: 3 threads x 50, b: 3 x 50, c: 2 x 50.
  EXPECT_EQ(Must(GetOne(*db_, "a", "counter")), "150");
  EXPECT_EQ(Must(GetOne(*db_, "b", "counter")), "150");
  EXPECT_EQ(Must(GetOne(*db_, "c", "counter")), "100");
  ExpectClean(*db_);
}

TEST_P(Concurrency, CheckpointRunsWhileATransactionIsOpen) {
  ASSERT_OK(PutOne(*db_, "b", "before", "1"));
  WriteTransaction wa = Must(db_->BeginWrite("a"));
  Table t = Must(wa.OpenOrCreateTable("t"));
  for (int i = 0; i < 500; i++) ASSERT_OK(t.Put("key" + std::to_string(i), std::string(200, 'x')));
  auto checkpoint = std::async(std::launch::async, [&] { return db_->Checkpoint(); });
  ASSERT_EQ(checkpoint.wait_for(kPatience), std::future_status::ready) << "the checkpoint waited for an open transaction";
  ASSERT_OK(checkpoint.get());
  ExpectClean(*db_);  // the open transaction's pages are accounted for
  // Power loss now: the checkpoint's header must not reach (nor leak) the
  // open transaction's pages.
  storage_->SimulatePowerLoss();
  {
    auto crashed = Database::Open("conc.db", MemOptions(storage_));
    ASSERT_TRUE(crashed.ok()) << crashed.status().ToString();
    EXPECT_EQ(Must(GetOne(**crashed, "b", "before")), "1");
    ReadTransaction r = Must((*crashed)->BeginRead());
    EXPECT_FALSE(r.OpenTable("t", "a").ok()) << "an uncommitted transaction survived a crash";
    ExpectClean(**crashed);
  }
}

// Runs db.Checkpoint() while the crash-point hook holds it at `at` until
// `meanwhile`, run on another thread, is done (for at most kPatience).
// *held: the checkpoint reached `at` and `meanwhile` finished while it waited.
struct HoldCheckpointAt {
  static inline std::atomic<CrashPointId> at{CrashPointId::kCount};
  static inline std::function<void()> on_hit;  // set before `at`
  static void Hook(CrashPointId id) {
    CrashPointId want = id;
    if (at.compare_exchange_strong(want, CrashPointId::kCount)) on_hit();
  }
};

Status CheckpointHeldAt(Database& db, CrashPointId at, const std::function<void()>& meanwhile, bool* held) {
  std::promise<void> go, done;
  std::future<void> go_f = go.get_future();
  std::future<void> done_f = done.get_future();
  std::thread other([&] {
    go_f.wait();
    meanwhile();
    done.set_value();
  });
  bool hit = false;
  *held = false;
  HoldCheckpointAt::on_hit = [&] {
    hit = true;
    go.set_value();
    *held = done_f.wait_for(kPatience) == std::future_status::ready;
  };
  HoldCheckpointAt::at = at;
  SetCrashPointHook(&HoldCheckpointAt::Hook);
  Status s = db.Checkpoint();
  SetCrashPointHook(nullptr);
  HoldCheckpointAt::at = CrashPointId::kCount;
  if (!hit) go.set_value();  // the hook never ran: let `meanwhile` run anyway
  other.join();
  return s;
}

// A writer of another family that allocates new pages at the end of the file
// while a checkpoint builds its freelist: the header's page count covers
// those pages, so its freelist must list them (no header reaches them).
// Found by Concurrency.Stress under TSan; here the crash-point hook holds the
// checkpoint at that step while the writer allocates.
TEST_P(Concurrency, CheckpointListsPagesAllocatedWhileItBuildsTheFreelist) {
  ASSERT_OK(PutOne(*db_, "b", "before", "1"));
  ASSERT_OK(db_->Checkpoint());
  std::optional<Result<WriteTransaction>> w;
  bool wrote = false, held = false;
  Status checkpoint = CheckpointHeldAt(*db_, CrashPointId::kCheckpointFreeListed, [&] {
    // Between the checkpoint's listing and its freelist: a new family writer,
    // whose value takes a run of new pages at the end of the file. The
    // transaction stays open until after the checkpoint, then aborts.
    w.emplace(db_->BeginWrite("a"));
    if (!w->ok()) return;
    auto t = (*w)->OpenOrCreateTable("t");
    wrote = t.ok() && t->Put("big", std::string(size_t{200} * 1024, 'z')).ok();
  }, &held);
  if (w && w->ok()) (*w)->Abort();
  ASSERT_OK(checkpoint);
  ASSERT_TRUE(held) << "the checkpoint never reached checkpoint-free-listed, or the writer hung";
  ASSERT_TRUE(wrote);
  ExpectClean(*db_);
  // The writer aborted and nothing more was checkpointed: reopening from
  // that header must find every page reachable or free.
  storage_->SimulatePowerLoss();
  auto reopened = Database::Open("conc.db", [&] {
    Options o = MemOptions(storage_);
    o.wal = GetParam();
    return o;
  }());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(Must(GetOne(**reopened, "b", "before")), "1");
  ExpectClean(**reopened);
}

// A checkpoint writes the held pages of logged commits (their only images,
// pinned in the cache) before it takes commit_mu, while commits go on. A held
// page that a commit frees meanwhile must not be reused before the checkpoint
// ends: a transaction that got it could write its new contents to the file
// (here one too large for the log, which commits by checkpoint and writes its
// pages itself), and the checkpoint's write of the old image would land on
// top. The crash-point hook holds the checkpoint between taking the images
// and writing them while another thread frees the page and allocates.
TEST_P(Concurrency, HeldPagesACheckpointWritesAreNotReusedMeanwhile) {
  if (!GetParam()) GTEST_SKIP() << "pages are held only with the log";
  db_.reset();
  Options o = MemOptions(storage_);
  o.wal_txn_bytes_max = 2048;  // larger transactions commit by checkpoint
  db_ = Must(Database::Open("conc.db", o));
  ASSERT_OK(PutOne(*db_, "a", "k", "v1"));  // a's table: one leaf, held
  ASSERT_GT(Must(db_->Stats()).held_pages, 0u);
  std::map<std::string, std::string> big;
  for (int i = 0; i < 1000; i++) big["key" + std::to_string(10000 + i)] = std::string(100, static_cast<char>('a' + i % 26));
  Status freed, wrote;
  bool held = false;
  Status checkpoint = CheckpointHeldAt(*db_, CrashPointId::kCheckpointHeldCollected, [&] {
    freed = PutOne(*db_, "a", "k", "v2");  // copies the leaf: the held page is freed
    wrote = [&]() -> Status {  // takes every free page there is, and then some
      MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db_->BeginWrite("b"));
      MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable("t"));
      for (const auto& [k, v] : big) MANIFOLD_RETURN_IF_ERROR(t.Put(k, v));
      return w.Commit();
    }();
  }, &held);
  ASSERT_OK(checkpoint);
  ASSERT_OK(freed);
  ASSERT_OK(wrote);
  ASSERT_TRUE(held) << "the checkpoint never reached checkpoint-held-collected, or the writer hung";
  ExpectClean(*db_);  // reads the big transaction's pages from the file
  storage_->SimulatePowerLoss();
  db_.reset();
  db_ = Must(Database::Open("conc.db", o));
  EXPECT_EQ(Must(GetOne(*db_, "a", "k")), "v2");
  ReadTransaction r = Must(db_->BeginRead());
  EXPECT_EQ(testing::Dump(Must(r.OpenTable("t", "b"))), big);
  r.Close();
  ExpectClean(*db_);
}

TEST_P(Concurrency, CommitAfterACheckpointThatRanBesideIt) {
  WriteTransaction wa = Must(db_->BeginWrite("a"));
  Table t = Must(wa.OpenOrCreateTable("t"));
  for (int i = 0; i < 300; i++) ASSERT_OK(t.Put("key" + std::to_string(i), std::string(100, 'y')));
  ASSERT_OK(db_->Checkpoint());
  ASSERT_OK(PutOne(*db_, "b", "kb", "vb"));
  ASSERT_OK(wa.Commit());
  ExpectClean(*db_);
  ASSERT_OK(db_->Close());
  db_ = OpenMem(storage_, GetParam());
  EXPECT_EQ(Must(GetOne(*db_, "a", "key299")), std::string(100, 'y'));
  EXPECT_EQ(Must(GetOne(*db_, "b", "kb")), "vb");
  ExpectClean(*db_);
}

// Many writers (one family each, plus a multi-family one), readers checking
// snapshot consistency, checkpoints and column family create/drop, all at
// once; then every acknowledged commit must be there, before and after a
// power loss.
TEST_P(Concurrency, Stress) {
  const uint64_t seed = testing::TestSeed("Concurrency.Stress");
  constexpr int kWriters = 6;
  constexpr int kCommits = 60;
  for (int w = 0; w < kWriters; w++) ASSERT_OK(db_->CreateColumnFamily("w" + std::to_string(w)));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto fail = [&](const std::string& what) {
    if (failures++ < 5) ADD_FAILURE() << what;
  };
  std::vector<std::thread> threads;
  threads.reserve(kWriters + 1);
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(seed + w);
      const std::string cf = "w" + std::to_string(w);
      for (int i = 0; i < kCommits; i++) {
        auto txn = db_->BeginWrite(cf);
        if (!txn.ok()) return fail(cf + " begin: " + txn.status().ToString());
        auto t = txn->OpenOrCreateTable("t");
        if (!t.ok()) return fail(t.status().ToString());
        // Two keys with the same value: readers check they always agree.
        const std::string v = std::to_string(i) + std::string(rng() % 300, 'v');
        if (!t->Put("x", v).ok() || !t->Put("y", v).ok()) return fail("put");
        if (!t->Put("n" + std::to_string(i), "1").ok()) return fail("put n");
        const Durability d = rng() % 3 == 0 ? Durability::kNone : Durability::kImmediate;
        Status s = txn->Commit(d);
        if (!s.ok()) return fail(cf + " commit: " + s.ToString());
      }
    });
  }
  threads.emplace_back([&] {  // multi-family writer over w0 and w1: keys "mx" in both agree
    for (int i = 0; i < kCommits / 2; i++) {
      auto txn = db_->BeginMultiWrite({"w0", "w1"});
      if (!txn.ok()) return fail("multi begin: " + txn.status().ToString());
      for (const char* cf : {"w0", "w1"}) {
        auto t = txn->OpenOrCreateTable("m", cf);
        if (!t.ok() || !t->Put("mx", std::to_string(i)).ok()) return fail("multi put");
      }
      Status s = txn->Commit();
      if (!s.ok()) return fail("multi commit: " + s.ToString());
    }
  });
  std::vector<std::thread> helpers;
  helpers.reserve(4);
  for (int r = 0; r < 2; r++) {
    helpers.emplace_back([&] {
      while (!stop) {
        auto read = db_->BeginRead();
        if (!read.ok()) return fail("begin read: " + read.status().ToString());
        for (int w = 0; w < kWriters; w++) {
          auto t = read->OpenTable("t", "w" + std::to_string(w));
          if (!t.ok()) continue;  // not created yet
          auto x = t->Get("x"), y = t->Get("y");
          if (!x.ok() || !y.ok() || *x != *y) fail("torn snapshot in w" + std::to_string(w));
        }
        auto m0 = read->OpenTable("m", "w0"), m1 = read->OpenTable("m", "w1");
        if (m0.ok() != m1.ok()) {
          fail("multi-family commit half visible (table)");
        } else if (m0.ok()) {
          auto a = m0->Get("mx"), b = m1->Get("mx");
          if (!a.ok() || !b.ok() || *a != *b) fail("multi-family commit half visible");
        }
      }
    });
  }
  helpers.emplace_back([&] {
    while (!stop) {
      Status s = db_->Checkpoint();
      if (!s.ok()) return fail("checkpoint: " + s.ToString());
      std::this_thread::sleep_for(5ms);
    }
  });
  helpers.emplace_back([&] {
    for (int i = 0; !stop; i++) {
      const std::string cf = "tmp" + std::to_string(i % 3);
      Status s = db_->CreateColumnFamily(cf);
      if (s.ok()) s = PutOne(*db_, cf, "k", "v");
      if (s.ok()) s = db_->DropColumnFamily(cf);
      if (!s.ok()) return fail("create/drop: " + s.ToString());
      Result<CheckReport> c = db_->Check();
      if (!c.ok() || !c->ok) return fail("check during the run: " + (c.ok() ? c->ToText() : c.status().ToString()));
    }
  });
  for (int i = 0; i <= kWriters; i++) threads[i].join();
  stop = true;
  for (auto& h : helpers) h.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_OK(db_->Sync());
  auto verify = [&](Database& db, const char* when) {
    SCOPED_TRACE(when);
    ReadTransaction r = Must(db.BeginRead());
    for (int w = 0; w < kWriters; w++) {
      Table t = Must(r.OpenTable("t", "w" + std::to_string(w)));
      EXPECT_EQ(Must(t.Len()), 2u + kCommits) << "w" << w;
      EXPECT_EQ(Must(t.Get("x")).substr(0, 2), std::to_string(kCommits - 1));
    }
    EXPECT_EQ(Must(Must(r.OpenTable("m", "w0")).Get("mx")), std::to_string(kCommits / 2 - 1));
    EXPECT_EQ(Must(Must(r.OpenTable("m", "w1")).Get("mx")), std::to_string(kCommits / 2 - 1));
    ExpectClean(db);
  };
  verify(*db_, "before the power loss");
  Result<DatabaseStats> st = db_->Stats();
  ASSERT_TRUE(st.ok());
  for (const auto& cf : st->column_families) {
    if (cf.name == "w2") {
      EXPECT_EQ(cf.commits, static_cast<uint64_t>(kCommits));
    }
    if (cf.name == "w0") {
      EXPECT_EQ(cf.commits, static_cast<uint64_t>(kCommits + kCommits / 2));
    }
  }
  storage_->SimulatePowerLoss();  // everything was synced: nothing may be lost
  db_ = OpenMem(storage_, GetParam());
  verify(*db_, "after the power loss and reopen");
}

INSTANTIATE_TEST_SUITE_P(LogModes, Concurrency, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Wal" : "NoWal"; });

TEST(GroupCommit, HistogramCountsRecordsPerSync) {
  auto storage = std::make_shared<MemoryStorage>();
  auto db = OpenMem(storage);
  ASSERT_OK(db->CreateColumnFamily("a"));
  DatabaseStats before = Must(db->Stats());
  for (int i = 0; i < 10; i++) ASSERT_OK(PutOne(*db, "a", "k" + std::to_string(i), "v"));
  DatabaseStats st = Must(db->Stats());
  ASSERT_EQ(st.wal_records_per_sync.size(), std::size(kSyncHistogramBounds));
  // One writer: every sync covers exactly its own record.
  EXPECT_EQ(st.wal_records_per_sync[0] - before.wal_records_per_sync[0], 10u);
  EXPECT_EQ(st.wal_syncs - before.wal_syncs, 10u);
  EXPECT_GT(st.wal_file_bytes, 0u);
  // Ten records in one sync: kNone commits, then Sync().
  for (int i = 0; i < 10; i++) {
    WriteTransaction w = Must(db->BeginWrite("a"));
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("n" + std::to_string(i), "v"));
    ASSERT_OK(w.Commit(Durability::kNone));
  }
  ASSERT_OK(db->Sync());
  DatabaseStats after = Must(db->Stats());
  EXPECT_EQ(after.wal_records_per_sync[4] - st.wal_records_per_sync[4], 1u) << "bucket 9..16";
  EXPECT_NE(after.ToJson().find("\"wal_records_per_sync\""), std::string::npos);
  EXPECT_NE(after.ToText().find("<=16: 1"), std::string::npos) << after.ToText();
  for (const auto& cf : after.column_families) {
    if (cf.name == "a") {
      EXPECT_EQ(cf.commits, 20u);
      EXPECT_EQ(cf.entries, 20u);
    }
  }
  ASSERT_OK(db->Checkpoint());
  EXPECT_GT(Must(db->Stats()).checkpoints, after.checkpoints);
}

// Each column family records, in its catalog entry, the LSN its checkpointed
// data covers; it survives a reopen (decoded from the catalog tree).
TEST(CheckpointLsn, EveryFamilyRecordsTheLsnItsCheckpointCovers) {
  auto storage = std::make_shared<MemoryStorage>();
  auto db = OpenMem(storage);
  ASSERT_OK(db->CreateColumnFamily("a"));
  ASSERT_OK(db->CreateColumnFamily("b"));
  for (int i = 0; i < 5; i++) ASSERT_OK(PutOne(*db, i % 2 ? "a" : "b", "k" + std::to_string(i), "v"));
  ASSERT_OK(db->Checkpoint());
  DatabaseStats st = Must(db->Stats());
  ASSERT_GE(st.checkpoint_lsn, 7u);  // two families created, five commits
  for (const auto& cf : st.column_families) EXPECT_EQ(cf.checkpoint_lsn, st.checkpoint_lsn) << cf.name;
  ASSERT_OK(PutOne(*db, "a", "later", "v"));  // a logged commit does not move it
  for (const auto& cf : Must(db->Stats()).column_families) EXPECT_EQ(cf.checkpoint_lsn, st.checkpoint_lsn) << cf.name;
  db.reset();  // Close: a final checkpoint covers the later commit too
  db = OpenMem(storage);
  DatabaseStats again = Must(db->Stats());
  EXPECT_EQ(again.checkpoint_lsn, st.checkpoint_lsn + 1);
  for (const auto& cf : again.column_families) EXPECT_EQ(cf.checkpoint_lsn, again.checkpoint_lsn) << cf.name;
  EXPECT_NE(again.ToJson().find("\"checkpoint_lsn\": " + std::to_string(again.checkpoint_lsn) + ", \"commits\""),
            std::string::npos);
  ExpectClean(*db);
}

// A logged commit releases its column families before it waits for the log
// sync (and may run a checkpoint after that). Close() must wait until it has
// returned before it releases the files. Here the commit is held just after
// the release while another thread closes: Close() must not return meanwhile
// (before the fix it did, and released the log the commit was about to sync).
TEST(CloseTest, WaitsForACommitThatReleasedItsFamilies) {
  auto storage = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db = OpenMem(storage);
  std::promise<Status> closed;
  std::future<Status> closed_f = closed.get_future();
  std::thread closer;
  bool hit = false, returned_meanwhile = false;
  HoldCheckpointAt::on_hit = [&] {
    hit = true;
    closer = std::thread([&] { closed.set_value(db->Close()); });
    returned_meanwhile = closed_f.wait_for(kBlockedFor) == std::future_status::ready;
  };
  HoldCheckpointAt::at = CrashPointId::kCommitReleased;
  SetCrashPointHook(&HoldCheckpointAt::Hook);
  const Status commit = PutOne(*db, "default", "k", "v");
  SetCrashPointHook(nullptr);
  HoldCheckpointAt::at = CrashPointId::kCount;
  if (closer.joinable()) closer.join();
  ASSERT_TRUE(hit) << "the commit never reached commit-released";
  EXPECT_OK(commit);
  EXPECT_FALSE(returned_meanwhile) << "Close() returned while a commit was still in flight";
  ASSERT_EQ(closed_f.wait_for(kPatience), std::future_status::ready);
  EXPECT_OK(closed_f.get());
  db.reset();
  db = OpenMem(storage);
  EXPECT_EQ(Must(GetOne(*db, "default", "k"), "get after reopen"), "v");
}

}  // namespace
}  // namespace manifold
