// Recovery's error paths through Database::Open: a header whose counts
// disagree with the file, a damaged freelist page that still passes its
// checksums, a log of another database, a log that skips records, and
// checkpoints asked of a closed or poisoned database. Each must be a clear
// error naming what is wrong -- never a silent loss or a crash.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>

#include "pager/header.h"
#include "pager/page_format.h"
#include "testing/test_util.h"
#include "util/coding.h"
#include "wal/wal.h"
#include "db/core.h"

namespace manifold {
namespace {

using testing::MemOptions;
using testing::Must;

constexpr uint32_t kPs = 1024;
const std::string kDb = "r.db";
const std::string kWal = "r.db-wal";

Status PutKeys(Database& db, int from, int to, const std::string& cf = "default",
               Durability d = Durability::kImmediate) {
  MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginWrite(cf));
  MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable("t"));
  for (int i = from; i < to; i++) MANIFOLD_RETURN_IF_ERROR(t.Put("key" + std::to_string(i), std::string(40, 'v')));
  return w.Commit(d);
}

Status DeleteKeys(Database& db, int from, int to) {
  MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginWrite());
  MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenTable("t"));
  for (int i = from; i < to; i++) MANIFOLD_RETURN_IF_ERROR(t.Delete("key" + std::to_string(i)).status());
  return w.Commit();
}

// The newest header slot of the file in `bytes`, and its offset.
HeaderSlot NewestSlot(const std::string& bytes, uint64_t* offset) {
  Result<HeaderSlot> a = HeaderSlot::Decode(bytes.data(), "slot 0");
  Result<HeaderSlot> b = HeaderSlot::Decode(bytes.data() + kPs, "slot 1");
  EXPECT_TRUE(a.ok() && b.ok());
  *offset = b->generation > a->generation ? kPs : 0;
  return *offset == kPs ? *b : *a;
}

void PutSlot(std::string* bytes, uint64_t offset, const HeaderSlot& h) {
  char slot[kHeaderSlotBytes];
  h.EncodeTo(slot);
  bytes->replace(offset, kHeaderSlotBytes, slot, kHeaderSlotBytes);
}

// A closed database (its data file only: the log is empty after Close) with a
// freelist: 200 keys put, 150 deleted, checkpointed.
std::string DatabaseWithFreelist(std::shared_ptr<MemoryStorage>* storage_out = nullptr) {
  auto storage = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
  EXPECT_OK(PutKeys(*db, 0, 200));
  EXPECT_OK(db->Checkpoint());
  EXPECT_OK(DeleteKeys(*db, 0, 150));
  EXPECT_OK(db->Checkpoint());
  EXPECT_OK(db->Checkpoint());  // the pages freed above are free (not pending) in this header
  EXPECT_OK(db->Close());
  if (storage_out != nullptr) *storage_out = storage;
  return Must(storage->ReadAll(kDb));
}

Status OpenBytes(const std::string& db_bytes, const std::string* wal_bytes = nullptr,
                 WalRecoveryMode mode = WalRecoveryMode::kTolerateTornTail) {
  auto storage = std::make_shared<MemoryStorage>();
  MANIFOLD_RETURN_IF_ERROR(storage->WriteAll(kDb, db_bytes));
  if (wal_bytes != nullptr) MANIFOLD_RETURN_IF_ERROR(storage->WriteAll(kWal, *wal_bytes));
  Options o = MemOptions(storage, kPs);
  o.wal_recovery = mode;
  MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(kDb, o));
  return db->Close();
}

void ExpectCorruption(const Status& s, const std::string& words) {
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(words), std::string::npos) << "'" << words << "' not in: " << s.ToString();
}

TEST(RecoveryErrors, HeaderCountsThatDisagreeWithTheFileAreCorruption) {
  const std::string good = DatabaseWithFreelist();
  ASSERT_OK(OpenBytes(good));
  uint64_t at;
  const HeaderSlot h = NewestSlot(good, &at);
  ASSERT_GT(h.freelist_count, 0u) << "the sample needs a freelist";
  {
    std::string bad = good;
    HeaderSlot x = h;
    x.catalog.entries++;
    PutSlot(&bad, at, x);
    ExpectCorruption(OpenBytes(bad), "entries, header says");
  }
  {
    std::string bad = good;
    HeaderSlot x = h;
    x.freelist_count++;
    PutSlot(&bad, at, x);
    ExpectCorruption(OpenBytes(bad), "freelist lists");
  }
}

TEST(RecoveryErrors, DamagedFreelistPageWithValidChecksumsIsCorruption) {
  const std::string good = DatabaseWithFreelist();
  uint64_t at;
  const HeaderSlot h = NewestSlot(good, &at);
  ASSERT_NE(h.freelist_head.page, 0u);
  const uint64_t fp = h.freelist_head.page;
  // Rewrites the head freelist page with `edit` applied, sealed again, and the
  // header's reference to it updated: only the content is wrong.
  auto damaged = [&](const std::function<void(char*)>& edit) {
    std::string bad = good;
    char* p = bad.data() + fp * kPs;
    edit(p);
    HeaderSlot x = h;
    x.freelist_head.checksum = page::Seal(p, kPs, fp, page::Generation(p));
    PutSlot(&bad, at, x);
    return bad;
  };
  ASSERT_GT(page::Count(good.data() + fp * kPs), 0);
  ExpectCorruption(OpenBytes(damaged([&](char* p) { EncodeU64(p + kFreelistFixedBytes, h.page_count + 7); })),
                   "out of range");
  ExpectCorruption(OpenBytes(damaged([](char* p) { EncodeU64(p + kFreelistFixedBytes, 1); })), "out of range");
  ExpectCorruption(OpenBytes(damaged([](char* p) { page::SetCount(p, 0xffff); })), "not a valid freelist page");
  // A well-formed empty leaf where the freelist page should be.
  ExpectCorruption(OpenBytes(damaged([fp](char* p) { page::Init(p, kPs, PageType::kLeaf, fp); })),
                   "not a valid freelist page");
}

// A crash image (durable bytes) of a database whose log holds records.
struct CrashImage {
  std::string db, wal;
};

CrashImage WithLoggedRecords(int from, int to) {
  auto storage = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
  EXPECT_OK(db->Checkpoint());
  for (int i = from; i < to; i++) EXPECT_OK(PutKeys(*db, i, i + 1));
  storage->SimulatePowerLoss();
  CrashImage im{Must(storage->ReadAll(kDb)), Must(storage->ReadAll(kWal))};
  return im;
}

TEST(RecoveryErrors, LogOfAnotherDatabaseIsRefused) {
  CrashImage a = WithLoggedRecords(0, 5);
  CrashImage b = WithLoggedRecords(100, 105);
  ASSERT_OK(OpenBytes(a.db, &a.wal));
  ExpectCorruption(OpenBytes(a.db, &b.wal), "belongs to another database");
}

TEST(RecoveryErrors, LogThatSkipsRecordsIsRefused) {
  // The data file as of checkpoint 1, beside the log of a later cycle
  // (after checkpoint 2): the records between the two are gone.
  auto storage = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
  ASSERT_OK(PutKeys(*db, 0, 10));
  ASSERT_OK(db->Checkpoint());
  const std::string old_db = Must(storage->ReadAll(kDb));
  for (int i = 10; i < 15; i++) ASSERT_OK(PutKeys(*db, i, i + 1));
  ASSERT_OK(db->Checkpoint());
  for (int i = 15; i < 20; i++) ASSERT_OK(PutKeys(*db, i, i + 1));
  storage->SimulatePowerLoss();
  const std::string new_wal = Must(storage->ReadAll(kWal));
  db.reset();
  // The default and strictest modes refuse it by the log header's start LSN...
  ExpectCorruption(OpenBytes(old_db, &new_wal), "later commits would be lost");
  ExpectCorruption(OpenBytes(old_db, &new_wal, WalRecoveryMode::kAbsoluteConsistency), "later commits would be lost");
  // ...and point-in-time recovery, which accepts an unusable newest header,
  // still refuses a gap between the checkpoint and the first record.
  ExpectCorruption(OpenBytes(old_db, &new_wal, WalRecoveryMode::kPointInTime), "records are missing");
}

// A record with intact checksums that writes to a table neither the
// checkpoint nor an earlier record created: corruption, in every mode that
// replays it -- never a write into some other table, never a crash.
TEST(RecoveryErrors, LogRecordIntoAMissingTableIsCorruption) {
  auto storage = std::make_shared<MemoryStorage>();
  std::string db_bytes, wal_bytes;
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
    ASSERT_OK(db->Checkpoint());
    ASSERT_OK(PutKeys(*db, 0, 1));  // creates "t" and puts key0: one record
    ASSERT_OK(PutKeys(*db, 1, 2));  // puts key1 into "t"
    storage->SimulatePowerLoss();
    db_bytes = Must(storage->ReadAll(kDb));
    wal_bytes = Must(storage->ReadAll(kWal));
  }
  ASSERT_OK(OpenBytes(db_bytes, &wal_bytes));
  WalScanResult scan;
  ASSERT_OK(ScanWal(wal_bytes, kWal, WalRecoveryMode::kTolerateTornTail, &scan));
  ASSERT_EQ(scan.records.size(), 2u);
  // The same log, rewritten with the first record's table creation left out.
  WalBatch put_only;
  put_only.Add(WalOp::kPut, "default", "t", "key0", std::string(40, 'v'));
  std::string rewritten = wal_bytes.substr(0, kWalHeaderBytes);
  for (size_t i = 0; i < scan.records.size(); i++) {
    const WalRecord& r = scan.records[i];
    const uint64_t synced_lsn = DecodeU64(wal_bytes.data() + r.offset + 24);
    rewritten += EncodeWalRecord(r.lsn, scan.header.salt, synced_lsn, i == 0 ? put_only.Payload() : std::string(r.payload));
  }
  for (WalRecoveryMode mode : {WalRecoveryMode::kTolerateTornTail, WalRecoveryMode::kAbsoluteConsistency,
                               WalRecoveryMode::kPointInTime, WalRecoveryMode::kSkipCorrupted}) {
    ExpectCorruption(OpenBytes(db_bytes, &rewritten, mode), "refers to a missing table");
  }
}

// crashsim finding (crashsim/regressions/recovery_crash-*-open-failed.repro):
// a stale record behind a torn tail, then a crash that tears the log header
// recovery writes. The next open must not take the stale record for a lost
// commit: the checkpoint that ends recovery records the new log cycle's salt
// (HeaderSlot::wal_salt) before the reset writes it.
TEST(RecoveryErrors, StaleRecordBehindATornTailDoesNotBlockOpenAfterATornLogHeader) {
  auto storage = std::make_shared<MemoryStorage>();
  std::string crashed_db, crashed_wal;
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
    ASSERT_OK(PutKeys(*db, 0, 3));  // acknowledged: LSN 2 (LSN 1 created "default")
    // Two unsynced records (LSN 3 and 4); the crash zeroes the first one.
    ASSERT_OK(PutKeys(*db, 3, 4, "default", Durability::kNone));
    ASSERT_OK(PutKeys(*db, 4, 5, "default", Durability::kNone));
    crashed_db = Must(storage->ReadAll(kDb));
    crashed_wal = Must(storage->ReadAll(kWal));
    storage->SimulatePowerLoss();
  }
  WalScanResult scan;
  ASSERT_OK(ScanWal(crashed_wal, kWal, WalRecoveryMode::kTolerateTornTail, &scan));
  ASSERT_EQ(scan.records.size(), 4u);
  const uint64_t from = scan.records[2].offset, to = scan.records[3].offset;
  std::fill(crashed_wal.begin() + static_cast<std::ptrdiff_t>(from), crashed_wal.begin() + static_cast<std::ptrdiff_t>(to), '\0');

  // First open: replays LSN 1-2, drops the torn tail (LSN 3), leaves LSN 4 behind it.
  auto s1 = std::make_shared<MemoryStorage>();
  ASSERT_OK(s1->WriteAll(kDb, crashed_db));
  ASSERT_OK(s1->WriteAll(kWal, crashed_wal));
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(s1, kPs)));
    EXPECT_TRUE(db->recovery().torn_tail);
    ReadTransaction r = Must(db->BeginRead());
    EXPECT_EQ(Must(Must(r.OpenTable("t")).Len()), 3u);
  }
  // A crash during that recovery, after its checkpoint header, tore the new
  // log header: the data file as recovery left it, the log as it was with a
  // damaged header.
  std::string after_db = Must(s1->ReadAll(kDb));
  std::string torn_wal = crashed_wal;
  std::fill(torn_wal.begin(), torn_wal.begin() + 512, '\0');
  auto s2 = std::make_shared<MemoryStorage>();
  ASSERT_OK(s2->WriteAll(kDb, after_db));
  ASSERT_OK(s2->WriteAll(kWal, torn_wal));
  Result<std::unique_ptr<Database>> db = Database::Open(kDb, MemOptions(s2, kPs));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  testing::ExpectClean(**db);
  ReadTransaction r = Must((*db)->BeginRead());
  EXPECT_EQ(Must(Must(r.OpenTable("t")).Len()), 3u) << "the acknowledged commit, and nothing of the torn group";
}

// Log salts come from one seed per process plus a counter, the time and the
// pid: a child forked after the parent drew salts (it inherits seed and
// counter) must not draw the parent's next salt, or a log it resets could
// accept the parent's stale records as its own.
TEST(RecoveryErrors, ForkedProcessesDrawDifferentSalts) {
  (void)NewSalt();  // the seed and counter exist before the fork
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const uint64_t child = NewSalt();
    (void)!::write(fds[1], &child, sizeof child);
    ::_exit(0);
  }
  const uint64_t parent = NewSalt();
  uint64_t child = 0;
  ASSERT_EQ(::read(fds[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_NE(child, parent);
  EXPECT_NE(NewSalt(), parent);
}

TEST(RecoveryErrors, CheckpointOfAClosedOrPoisonedDatabase) {
  auto storage = std::make_shared<MemoryStorage>();
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
    ASSERT_OK(PutKeys(*db, 0, 3));
    ASSERT_OK(db->Close());
    EXPECT_EQ(db->Checkpoint().code(), Status::Code::kInvalidState);
    EXPECT_EQ(db->Sync().code(), Status::Code::kInvalidState);
  }
  {
    std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
    storage->SetSyncHook([](uint64_t, const std::string&) { return Status::IOError("injected sync failure"); });
    EXPECT_EQ(PutKeys(*db, 3, 4).code(), Status::Code::kIOError);
    storage->SetSyncHook(nullptr);
    Status c = db->Checkpoint();
    EXPECT_EQ(c.code(), Status::Code::kPoisoned) << c.ToString();
    EXPECT_NE(c.message().find("injected sync failure"), std::string::npos) << c.ToString();
    EXPECT_EQ(db->Sync().code(), Status::Code::kPoisoned);
    EXPECT_EQ(db->Close().code(), Status::Code::kPoisoned);
  }
  std::unique_ptr<Database> db = Must(Database::Open(kDb, MemOptions(storage, kPs)));
  testing::ExpectClean(*db);
  ReadTransaction r = Must(db->BeginRead());
  // The acknowledged commits, and the failed one whole or not at all (its
  // record reached the log file, whose sync failed).
  const uint64_t n = Must(Must(r.OpenTable("t")).Len());
  EXPECT_TRUE(n == 3 || n == 4) << n;
}

}  // namespace
}  // namespace manifold
