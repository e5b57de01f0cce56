// Database-level behaviour: persistence, catalog, transactions, snapshots,
// savepoints, free space, cache budget, large values and limits.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testing/test_util.h"

namespace manifold {
namespace {

using testing::Dump;
using testing::ExpectClean;
using testing::MemOptions;
using testing::Must;

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen(uint32_t page_size = 0) {
    db_.reset();
    db_ = Must(Database::Open("test.db", MemOptions(storage_, page_size)));
  }
  void PutOne(std::string_view table, std::string_view k, std::string_view v,
              Durability d = Durability::kImmediate, std::string_view cf = kDefaultColumnFamily) {
    auto w = Must(db_->BeginWrite(cf));
    auto t = Must(w.OpenOrCreateTable(table));
    ASSERT_OK(t.Put(k, v));
    ASSERT_OK(w.Commit(d));
  }
  Result<std::string> GetOne(std::string_view table, std::string_view k, std::string_view cf = kDefaultColumnFamily) {
    MANIFOLD_ASSIGN_OR_RETURN(auto r, db_->BeginRead());
    MANIFOLD_ASSIGN_OR_RETURN(auto t, r.OpenTable(table, cf));
    return t.Get(k);
  }
  std::shared_ptr<MemoryStorage> storage_ = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db_;
};

TEST_F(DbTest, NewDatabaseHasDefaultColumnFamily) {
  EXPECT_EQ(Must(db_->ListColumnFamilies()), std::vector<std::string>{"default"});
  EXPECT_EQ(db_->page_size(), kPageSizeDefault);
  ExpectClean(*db_);
}

TEST_F(DbTest, DurableCommitSurvivesReopenAndPowerLoss) {
  PutOne("t", "k1", "v1");
  storage_->SimulatePowerLoss();
  Reopen();
  EXPECT_EQ(Must(GetOne("t", "k1")), "v1");
  ExpectClean(*db_);
}

TEST_F(DbTest, NonDurableCommitVisibleAtOnceLostOnPowerLossUntilSynced) {
  PutOne("t", "k1", "v1");
  PutOne("t", "k2", "v2", Durability::kNone);
  EXPECT_EQ(Must(GetOne("t", "k2")), "v2");
  storage_->SimulatePowerLoss();
  db_.reset();  // the old handle's file is gone with the "power"
  Reopen();
  EXPECT_EQ(Must(GetOne("t", "k1")), "v1");
  EXPECT_TRUE(GetOne("t", "k2").status().IsNotFound());
  PutOne("t", "k3", "v3", Durability::kNone);
  ASSERT_OK(db_->Sync());
  storage_->SimulatePowerLoss();
  Reopen();
  EXPECT_EQ(Must(GetOne("t", "k3")), "v3");
  ExpectClean(*db_);
}

TEST_F(DbTest, NonDurableCommitMadeDurableByNextDurableCommit) {
  PutOne("t", "a", "1", Durability::kNone);
  PutOne("t", "b", "2", Durability::kImmediate);
  storage_->SimulatePowerLoss();
  Reopen();
  EXPECT_EQ(Must(GetOne("t", "a")), "1");
  EXPECT_EQ(Must(GetOne("t", "b")), "2");
}

TEST_F(DbTest, ColumnFamilyLifecycle) {
  ASSERT_OK(db_->CreateColumnFamily("users"));
  EXPECT_EQ(db_->CreateColumnFamily("users").code(), Status::Code::kAlreadyExists);
  PutOne("t", "k", "in-users", Durability::kImmediate, "users");
  PutOne("t", "k", "in-default");
  EXPECT_EQ(Must(GetOne("t", "k", "users")), "in-users");
  EXPECT_EQ(Must(GetOne("t", "k")), "in-default");
  ASSERT_OK(db_->RenameColumnFamily("users", "people"));
  EXPECT_EQ(Must(GetOne("t", "k", "people")), "in-users");
  EXPECT_EQ(GetOne("t", "k", "users").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(Must(db_->ListColumnFamilies()), (std::vector<std::string>{"default", "people"}));
  Reopen();
  EXPECT_EQ(Must(GetOne("t", "k", "people")), "in-users");
  ASSERT_OK(db_->DropColumnFamily("people"));
  EXPECT_EQ(db_->DropColumnFamily("people").code(), Status::Code::kNotFound);
  EXPECT_EQ(db_->DropColumnFamily("default").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->BeginWrite("people").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(Must(db_->ListColumnFamilies()), std::vector<std::string>{"default"});
  ExpectClean(*db_);
}

TEST_F(DbTest, NamesAreValidated) {
  EXPECT_EQ(db_->CreateColumnFamily("").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->CreateColumnFamily(std::string(256, 'x')).code(), Status::Code::kInvalidArgument);
  EXPECT_OK(db_->CreateColumnFamily(std::string(255, 'x')));
  EXPECT_EQ(db_->CreateColumnFamily(std::string("a\0b", 3)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->CreateColumnFamily("bad\xff").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->CreateColumnFamily("trunc\xc3").code(), Status::Code::kInvalidArgument);
  EXPECT_OK(db_->CreateColumnFamily("ünïcødé ok"));
  EXPECT_EQ(db_->CreateColumnFamily("overlong\xc0\xaf").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->CreateColumnFamily("surrogate\xed\xa0\x80").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->CreateColumnFamily("too-big\xf4\x90\x80\x80").code(), Status::Code::kInvalidArgument);
  auto w = Must(db_->BeginWrite());
  Status s = w.CreateTable("tab\nle").status();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("control character"), std::string::npos) << s.ToString();
}

TEST_F(DbTest, NamesMustFitTheCatalogKeyLimitOfSmallPages) {
  storage_ = std::make_shared<MemoryStorage>();
  Reopen(512);  // catalog keys of at most KeyBytesMax(512) = 89 bytes
  Status s = db_->CreateColumnFamily(std::string(100, 'c'));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("too long for this page size"), std::string::npos) << s.ToString();
  ASSERT_OK(db_->CreateColumnFamily(std::string(60, 'c')));
  auto w = Must(db_->BeginWrite(std::string(60, 'c')));
  EXPECT_EQ(w.CreateTable(std::string(40, 't')).status().code(), Status::Code::kInvalidArgument);
  Must(w.CreateTable(std::string(28, 't')));  // 60 + 1 + 28 = 89
  ASSERT_OK(w.Commit());
  ExpectClean(*db_);
}

TEST_F(DbTest, TableLifecycle) {
  {
    auto w = Must(db_->BeginWrite());
    auto a = Must(w.CreateTable("a"));
    ASSERT_OK(a.Put("k", "v"));
    EXPECT_EQ(w.CreateTable("a").status().code(), Status::Code::kAlreadyExists);
    Must(w.CreateTable("b"));
    EXPECT_EQ(Must(w.ListTables()), (std::vector<std::string>{"a", "b"}));
    ASSERT_OK(w.RenameTable("a", "c"));
    EXPECT_EQ(a.Get("k").status().code(), Status::Code::kInvalidState);  // handle followed the old name
    EXPECT_EQ(Must(Must(w.OpenTable("c")).Get("k")), "v");
    EXPECT_EQ(w.OpenTable("a").status().code(), Status::Code::kNotFound);
    ASSERT_OK(w.Commit());
  }
  {
    auto w = Must(db_->BeginWrite());
    auto c = Must(w.OpenTable("c"));
    ASSERT_OK(c.Put("k2", "v2"));
    ASSERT_OK(w.ClearTable("c"));
    EXPECT_EQ(Must(c.Len()), 0u);
    ASSERT_OK(c.Put("k3", "v3"));
    ASSERT_OK(w.DropTable("b"));
    EXPECT_EQ(w.DropTable("b").code(), Status::Code::kNotFound);
    ASSERT_OK(w.Commit());
  }
  auto r = Must(db_->BeginRead());
  EXPECT_EQ(Must(r.ListTables()), std::vector<std::string>{"c"});
  EXPECT_EQ(Dump(Must(r.OpenTable("c"))), (std::map<std::string, std::string>{{"k3", "v3"}}));
  EXPECT_EQ(r.OpenTable("nope").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(r.OpenTable("c", "nope").status().code(), Status::Code::kNotFound);
  r.Close();
  ExpectClean(*db_);
}

TEST_F(DbTest, AbortAndDestructorDiscardChanges) {
  PutOne("t", "base", "1");
  {
    auto w = Must(db_->BeginWrite());
    ASSERT_OK(Must(w.OpenTable("t")).Put("x", "1"));
    w.Abort();
    EXPECT_EQ(w.Commit().code(), Status::Code::kInvalidState);
  }
  {
    auto w = Must(db_->BeginWrite());
    ASSERT_OK(Must(w.OpenTable("t")).Put("y", "1"));
  }  // destroyed without commit
  EXPECT_TRUE(GetOne("t", "x").status().IsNotFound());
  EXPECT_TRUE(GetOne("t", "y").status().IsNotFound());
  ExpectClean(*db_);
}

TEST_F(DbTest, UseAfterCommitIsInvalidState) {
  auto w = Must(db_->BeginWrite());
  auto t = Must(w.OpenOrCreateTable("t"));
  ASSERT_OK(t.Put("k", "v"));
  ASSERT_OK(w.Commit());
  EXPECT_EQ(t.Put("k2", "v").code(), Status::Code::kInvalidState);
  EXPECT_EQ(t.Get("k").status().code(), Status::Code::kInvalidState);
  EXPECT_EQ(w.Commit().code(), Status::Code::kInvalidState);
  EXPECT_EQ(w.CreateTable("u").status().code(), Status::Code::kInvalidState);
  auto r = Must(db_->BeginRead());
  auto rt = Must(r.OpenTable("t"));
  EXPECT_EQ(rt.Put("a", "b").code(), Status::Code::kInvalidState);  // read-only
  r.Close();
  EXPECT_EQ(rt.Get("k").status().code(), Status::Code::kInvalidState);
}

TEST_F(DbTest, SnapshotIsolationAndPageReuseAfterReadersFinish) {
  PutOne("t", "k", "old");
  auto r = Must(db_->BeginRead());
  auto rt = Must(r.OpenTable("t"));
  for (int i = 0; i < 50; i++) PutOne("t", "k", "new" + std::to_string(i));
  EXPECT_EQ(Must(rt.Get("k")), "old");  // pages of the old snapshot were not reused
  ExpectClean(*db_);
  auto stats_with_reader = Must(db_->Stats());
  EXPECT_GT(stats_with_reader.pending_free_pages, 0u);
  r.Close();
  PutOne("t", "k", "last");
  ASSERT_OK(db_->Checkpoint());  // pages freed by logged commits wait for a checkpoint
  auto stats_after = Must(db_->Stats());
  EXPECT_LT(stats_after.pending_free_pages, stats_with_reader.pending_free_pages);
  EXPECT_EQ(Must(GetOne("t", "k")), "last");
}

TEST_F(DbTest, ReadersRunWhileAWriterIsOpen) {
  PutOne("t", "k", "v");
  auto w = Must(db_->BeginWrite());
  ASSERT_OK(Must(w.OpenTable("t")).Put("k", "uncommitted"));
  std::thread reader([&] { EXPECT_EQ(Must(GetOne("t", "k")), "v"); });
  reader.join();
  ASSERT_OK(w.Commit());
  EXPECT_EQ(Must(GetOne("t", "k")), "uncommitted");
}

TEST_F(DbTest, WritersSerializeAcrossThreads) {
  ASSERT_OK(db_->CreateColumnFamily("a"));
  ASSERT_OK(db_->CreateColumnFamily("b"));
  auto work = [&](const std::string& cf) {
    for (int i = 0; i < 100; i++) {
      auto w = Must(db_->BeginWrite(cf));
      auto t = Must(w.OpenOrCreateTable("t"));
      EXPECT_OK(t.Put(std::to_string(i), cf));
      EXPECT_OK(w.Commit(i % 2 ? Durability::kNone : Durability::kImmediate));
    }
  };
  std::thread ta(work, "a"), tb(work, "b");
  ta.join();
  tb.join();
  auto r = Must(db_->BeginRead());
  EXPECT_EQ(Must(Must(r.OpenTable("t", "a")).Len()), 100u);
  EXPECT_EQ(Must(Must(r.OpenTable("t", "b")).Len()), 100u);
  r.Close();
  ExpectClean(*db_);
}

// Readers on several threads, with a cache far smaller than the data so that
// pages are evicted and re-read while commits free and reuse pages: every
// snapshot must be internally consistent (all keys carry the same round).
TEST_F(DbTest, ConcurrentReadersSeeConsistentSnapshotsWhileWriting) {
  Options o = MemOptions(storage_);
  o.cache_bytes = uint64_t{32} * 4096;
  db_.reset();
  db_ = Must(Database::Open("test.db", o));
  constexpr int kKeys = 400;
  auto write_round = [&](int round) {
    auto w = Must(db_->BeginWrite());
    auto t = Must(w.OpenOrCreateTable("t"));
    for (int k = 0; k < kKeys; k++) {
      EXPECT_OK(t.Put("key" + std::to_string(k), std::to_string(round) + std::string(100, 'x')));
    }
    EXPECT_OK(w.Commit(round % 2 ? Durability::kNone : Durability::kImmediate));
  };
  write_round(0);
  std::atomic<bool> stop{false};
  std::atomic<int> snapshots{0};
  auto reader = [&] {
    while (!stop.load()) {
      auto r = Must(db_->BeginRead());
      auto t = Must(r.OpenTable("t"));
      std::string first;
      int n = 0;
      auto it = t.Scan();
      for (; it.Valid(); it.Next(), n++) {
        std::string v(it.value());
        if (first.empty()) first = v;
        ASSERT_EQ(v, first) << "snapshot " << r.generation() << " mixes rounds";
      }
      ASSERT_OK(it.status());
      ASSERT_EQ(n, kKeys);
      ASSERT_EQ(Must(t.Get("key7")), first);
      snapshots++;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int round = 1; round <= 30; round++) write_round(round);
  stop = true;
  r1.join();
  r2.join();
  EXPECT_GT(snapshots.load(), 0);
  ExpectClean(*db_);
}

TEST_F(DbTest, SavepointsRestoreState) {
  PutOne("t", "a", "1");
  auto w = Must(db_->BeginWrite());
  auto t = Must(w.OpenTable("t"));
  ASSERT_OK(t.Put("b", "2"));
  uint64_t sp1 = Must(w.SetSavepoint());
  ASSERT_OK(t.Put("c", "3"));
  for (int i = 0; i < 500; i++) ASSERT_OK(t.Put("bulk" + std::to_string(i), std::string(100, 'x')));
  ASSERT_TRUE(Must(t.Delete("a")));
  Must(w.CreateTable("u"));
  uint64_t sp2 = Must(w.SetSavepoint());
  ASSERT_OK(t.Put("d", "4"));
  ASSERT_OK(w.RestoreSavepoint(sp2));
  EXPECT_TRUE(t.Get("d").status().IsNotFound());
  EXPECT_EQ(Must(t.Len()), 502u);
  ASSERT_OK(w.RestoreSavepoint(sp1));
  EXPECT_EQ(Must(t.Len()), 2u);
  EXPECT_EQ(Dump(t), (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(w.OpenTable("u").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(w.RestoreSavepoint(sp2).code(), Status::Code::kNotFound);  // forgotten
  ASSERT_OK(w.RestoreSavepoint(sp1));  // can restore the same one twice
  ASSERT_OK(t.Put("e", "5"));
  ASSERT_OK(w.Commit());
  EXPECT_EQ(Must(GetOne("t", "e")), "5");
  EXPECT_EQ(Must(GetOne("t", "b")), "2");
  ExpectClean(*db_);
}

// A commit seals the trees it changed, found from the tables its puts and
// deletes named (TxnState::written), or from every table after a rename or
// more tables than that list holds. A changed tree left unsealed would be
// written with stale checksums: the checkpoint and reopen below would find it.
TEST_F(DbTest, CommitSealsEveryTableItChanged) {
  using Tables = std::map<std::string, std::map<std::string, std::string>>;
  Tables model;
  auto expect_model = [&](const char* when) {
    SCOPED_TRACE(when);
    ExpectClean(*db_);
    ASSERT_OK(db_->Checkpoint());
    Reopen();
    ExpectClean(*db_);
    auto r = Must(db_->BeginRead());
    Tables got;
    for (const std::string& name : Must(r.ListTables())) got[name] = Dump(Must(r.OpenTable(name)));
    EXPECT_EQ(got, model);
  };
  auto put = [&](WriteTransaction& w, const std::string& table, const std::string& k, Tables* m) {
    auto t = Must(w.OpenOrCreateTable(table));
    ASSERT_OK(t.Put(k, table + "/" + k));
    (*m)[table][k] = table + "/" + k;
  };
  {  // more tables than the list holds (70 > kWrittenTablesMax)
    auto w = Must(db_->BeginWrite());
    for (int i = 0; i < 70; i++) {
      put(w, "t" + std::to_string(i), "a", &model);
      put(w, "t" + std::to_string(i), "z", &model);
    }
    ASSERT_OK(w.Commit());
  }
  expect_model("70 tables in one commit");
  {  // a written table renamed, then more writes
    auto w = Must(db_->BeginWrite());
    put(w, "t1", "b", &model);
    put(w, "t2", "b", &model);
    ASSERT_OK(w.RenameTable("t1", "r1"));
    model["r1"] = model["t1"];
    model.erase("t1");
    put(w, "t3", "b", &model);
    ASSERT_OK(w.Commit());
  }
  expect_model("a rename");
  {  // a savepoint restored, a drop, a table re-created under a dropped name, a delete
    auto w = Must(db_->BeginWrite());
    Tables m = model;
    put(w, "t4", "c", &m);
    const uint64_t sp = Must(w.SetSavepoint());
    Tables at_sp = m;
    put(w, "t5", "c", &m);
    put(w, "t6", "c", &m);
    ASSERT_OK(w.RestoreSavepoint(sp));
    m = at_sp;
    put(w, "t6", "d", &m);
    put(w, "t7", "d", &m);
    ASSERT_OK(w.DropTable("t7"));
    m.erase("t7");
    put(w, "t7", "e", &m);
    ASSERT_TRUE(Must(Must(w.OpenTable("t8")).Delete("a")));  // "z" stays: the tree changes
    m["t8"].erase("a");
    ASSERT_OK(w.Commit());
    model = m;
  }
  expect_model("savepoint, drop, re-create, delete");
}

TEST_F(DbTest, DeletingEverythingReturnsPageCountToBaseline) {
  // Each checkpoint copies a few pages and frees their old copies, so measure
  // at the steady state that a few small checkpointed commits reach. (Pages
  // freed by logged commits are reused once a checkpoint covers them.)
  auto settle = [&] {
    for (int i = 0; i < 4; i++) {
      PutOne("t", "seed", "x");
      ASSERT_OK(db_->Checkpoint());
    }
  };
  settle();
  auto base = Must(db_->Stats());
  uint64_t baseline = base.page_count;
  uint64_t baseline_used = base.page_count - base.free_pages - base.pending_free_pages;
  for (int round = 0; round < 3; round++) {
    auto w = Must(db_->BeginWrite());
    auto t = Must(w.OpenTable("t"));
    for (int i = 0; i < 5000; i++) ASSERT_OK(t.Put("key" + std::to_string(i), std::string(200, 'v')));
    ASSERT_OK(t.Put("big", std::string(100000, 'b')));
    ASSERT_OK(w.Commit());
    EXPECT_GT(Must(db_->Stats()).page_count, baseline + 100);
    auto w2 = Must(db_->BeginWrite());
    auto t2 = Must(w2.OpenTable("t"));
    for (int i = 0; i < 5000; i++) ASSERT_TRUE(Must(t2.Delete("key" + std::to_string(i))));
    ASSERT_TRUE(Must(t2.Delete("big")));
    ASSERT_OK(w2.Commit());
    settle();
    auto st = Must(db_->Stats());
    EXPECT_EQ(st.page_count - st.free_pages - st.pending_free_pages, baseline_used) << "round " << round;
    // The file shrinks back: no more pages than before the round (free pages
    // at the end are given back; a few free ones inside may remain).
    EXPECT_LE(st.page_count, baseline) << "round " << round << ": free " << st.free_pages << " pending "
                                       << st.pending_free_pages;
    ExpectClean(*db_);
  }
}

TEST_F(DbTest, DatabaseLargerThanCacheWorks) {
  Options o = MemOptions(storage_);
  o.cache_bytes = uint64_t{64} * 1024;  // 16 pages
  db_.reset();
  db_ = Must(Database::Open("test.db", o));
  std::map<std::string, std::string> model;
  for (int c = 0; c < 4; c++) {
    auto w = Must(db_->BeginWrite());
    auto t = Must(w.OpenOrCreateTable("t"));
    for (int i = 0; i < 5000; i++) {
      std::string k = "k" + std::to_string(c * 5000 + i), v(100, static_cast<char>('a' + c));
      ASSERT_OK(t.Put(k, v));
      model[k] = v;
    }
    ASSERT_OK(w.Commit());
  }
  auto st = Must(db_->Stats());
  EXPECT_GT(st.page_count * st.page_size, 20 * o.cache_bytes);
  // The commits' pages are held in memory (pinned, outside the cache's
  // budget) until a checkpoint writes them; then they are ordinary cached
  // pages, which the reads below must evict and read back.
  EXPECT_GT(st.held_pages * st.page_size, 20 * o.cache_bytes);
  EXPECT_LE(st.cache_bytes_used, o.cache_bytes);
  ASSERT_OK(db_->Checkpoint());
  st = Must(db_->Stats());
  EXPECT_EQ(st.held_pages, 0u);
  EXPECT_LE(st.cache_bytes_used, o.cache_bytes);
  auto r = Must(db_->BeginRead());
  auto t = Must(r.OpenTable("t"));
  for (const auto& [k, v] : model) ASSERT_EQ(Must(t.Get(k)), v);
  EXPECT_EQ(Dump(t), model);
  st = Must(db_->Stats());
  EXPECT_LE(st.cache_bytes_used, o.cache_bytes);
  EXPECT_GT(st.cache_misses, model.size() / 10);  // pages were evicted and re-read (and verified)
  r.Close();
  ExpectClean(*db_);
}

TEST_F(DbTest, LargeValuesUseOverflowPages) {
  std::string v1(1 << 20, 'a'), v2(10 << 20, 'b');
  for (size_t i = 0; i < v2.size(); i += 4096) v2[i] = static_cast<char>(i / 4096);
  PutOne("t", "one", v1);
  PutOne("t", "ten", v2);
  Reopen();
  EXPECT_EQ(Must(GetOne("t", "one")), v1);
  EXPECT_EQ(Must(GetOne("t", "ten")), v2);
  auto r = Must(db_->BeginRead());
  auto it = Must(r.OpenTable("t")).Scan();
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.value().size(), v1.size());
  r.Close();
  ExpectClean(*db_);
  PutOne("t", "ten", "small now");
  EXPECT_EQ(Must(GetOne("t", "ten")), "small now");
  ExpectClean(*db_);
}

TEST_F(DbTest, KeySizeLimitEnforcedAtBoundary) {
  for (uint32_t ps : {512u, 4096u, 65536u}) {
    storage_ = std::make_shared<MemoryStorage>();
    Reopen(ps);
    size_t max = KeyBytesMax(ps);
    auto w = Must(db_->BeginWrite());
    auto t = Must(w.OpenOrCreateTable("t"));
    EXPECT_OK(t.Put(std::string(max, 'k'), "v"));
    EXPECT_OK(t.Put(std::string(max, 'j'), std::string(size_t{5} * ps, 'v')));  // max key with an overflow value
    Status s = t.Put(std::string(max + 1, 'k'), "v");
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << ps;
    EXPECT_NE(s.message().find("exceeds the limit"), std::string::npos);
    ASSERT_OK(w.Commit());  // the rejected put did not poison the transaction
    EXPECT_EQ(Must(GetOne("t", std::string(max, 'k'))), "v");
    ExpectClean(*db_);
  }
}

TEST_F(DbTest, SeveralDatabasesInOneProcess) {
  auto other = Must(Database::Open("other.db", MemOptions(storage_)));
  PutOne("t", "k", "first");
  {
    auto w = Must(other->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", "second"));
    ASSERT_OK(w.Commit());
  }
  EXPECT_EQ(Must(GetOne("t", "k")), "first");
  auto r = Must(other->BeginRead());
  EXPECT_EQ(Must(Must(r.OpenTable("t")).Get("k")), "second");
}

TEST_F(DbTest, CloseThenReopenInSameProcess) {
  PutOne("t", "k", "v", Durability::kNone);
  {
    auto r = Must(db_->BeginRead());
    EXPECT_EQ(db_->Close().code(), Status::Code::kBusy);  // a reader is open
  }
  ASSERT_OK(db_->Close());
  EXPECT_EQ(db_->BeginRead().status().code(), Status::Code::kInvalidState);
  EXPECT_EQ(db_->BeginWrite().status().code(), Status::Code::kInvalidState);
  auto again = Must(Database::Open("test.db", MemOptions(storage_)));
  storage_->SimulatePowerLoss();  // Close() made the non-durable commit durable
  again.reset();
  db_ = Must(Database::Open("test.db", MemOptions(storage_)));
  EXPECT_EQ(Must(GetOne("t", "k")), "v");
}

TEST_F(DbTest, StatsAndCheckReportsAreReadable) {
  PutOne("t", "k", "v");
  auto st = Must(db_->Stats());
  EXPECT_NE(st.ToJson().find("\"page_count\""), std::string::npos);
  EXPECT_NE(st.ToText().find("table 't': 1 entries"), std::string::npos) << st.ToText();
  auto rep = Must(db_->Check());
  EXPECT_TRUE(rep.ok);
  EXPECT_EQ(rep.entries, 1u);
  EXPECT_EQ(rep.tables, 1u);
  EXPECT_NE(rep.ToJson().find("\"ok\": true"), std::string::npos);
}

}  // namespace
}  // namespace manifold
