// The write-ahead log: record encoding, damage at every byte, truncation at
// every length, stale records of an earlier cycle, each recovery mode; and
// the database's use of it (replay after power loss, idempotent recovery,
// mid-log corruption, large transactions committed by checkpoint).
#include "wal/wal.h"

#include "pager/header.h"

#include <gtest/gtest.h>

#include <random>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>

#include "testing/test_util.h"

namespace manifold {
namespace {

using testing::MemOptions;
using testing::Must;

std::string Payload(int i) {
  WalBatch b;
  b.Add(WalOp::kPut, "default", "t", "key" + std::to_string(i), std::string(10 + i * 7, 'v'));
  if (i % 2) b.Add(WalOp::kDelete, "default", "t", "old" + std::to_string(i));
  return b.Payload();
}

// A log with `n` records (LSN start..start+n-1) and a zeroed tail.
// synced_each: every record was synced before the next one was written.
std::string MakeLog(uint64_t salt, uint64_t start, int n, std::vector<uint64_t>* offsets = nullptr,
                    bool synced_each = true) {
  std::string log = WalHeader{salt, start, 42}.Encode();
  for (int i = 0; i < n; i++) {
    if (offsets) offsets->push_back(log.size());
    log += EncodeWalRecord(start + i, salt, synced_each ? start + i - 1 : 0, Payload(i));
  }
  log.append(4096, '\0');
  return log;
}

TEST(WalTest, BatchPayloadRoundTrip) {
  WalBatch b;
  b.Add(WalOp::kCreateCf, "cf");
  b.Add(WalOp::kCreateTable, "cf", "t");
  b.Add(WalOp::kPut, "cf", "t", "k", std::string("v\0v", 3));
  b.Add(WalOp::kDelete, "cf", "t", "k");
  b.Add(WalOp::kRenameTable, "cf", "t", "u");
  b.Add(WalOp::kRenameCf, "cf", "cg");
  b.Add(WalOp::kClearTable, "cg", "u");
  b.Add(WalOp::kDropTable, "cg", "u");
  b.Add(WalOp::kDropCf, "cg");
  std::vector<WalOperation> ops;
  std::string payload = b.Payload();
  ASSERT_OK(DecodeWalPayload(payload, &ops));
  ASSERT_EQ(ops.size(), 9u);
  EXPECT_EQ(ops[2].op, WalOp::kPut);
  EXPECT_EQ(ops[2].d, std::string_view("v\0v", 3));
  EXPECT_EQ(ops[4].c, "u");
  EXPECT_EQ(ops[8].a, "cg");
  // Every truncation of the payload is rejected, never misread.
  for (size_t n = 0; n < payload.size(); n++) {
    EXPECT_FALSE(DecodeWalPayload(payload.substr(0, n), &ops).ok()) << n;
  }
}

TEST(WalTest, ScanReadsEveryRecord) {
  std::string log = MakeLog(7, 1, 5);
  WalScanResult r;
  ASSERT_OK(ScanWal(log, "x-wal", WalRecoveryMode::kTolerateTornTail, &r));
  ASSERT_EQ(r.records.size(), 5u);
  for (int i = 0; i < 5; i++) {
    EXPECT_EQ(r.records[i].lsn, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(r.records[i].payload, Payload(i));
  }
  EXPECT_FALSE(r.torn_tail);
  EXPECT_EQ(r.next_lsn, 6u);
}

// Truncated at every length (a crash mid-append): a prefix of the records,
// never an error, never a record that was not written whole.
TEST(WalTest, TruncationAtEveryLengthYieldsAPrefix) {
  std::vector<uint64_t> offsets;
  std::string log = MakeLog(7, 1, 5, &offsets);
  size_t end = offsets.back() + EncodeWalRecord(5, 7, 4, Payload(4)).size();
  for (size_t len = kWalHeaderBytes; len <= end; len++) {
    WalScanResult r;
    Status s = ScanWal(std::string_view(log).substr(0, len), "x-wal", WalRecoveryMode::kTolerateTornTail, &r);
    ASSERT_TRUE(s.ok()) << len << ": " << s.ToString();
    size_t whole = 0;
    for (size_t i = 0; i < offsets.size(); i++) {
      // Whole means header and payload; the padding after it is not needed.
      if (offsets[i] + kWalRecordHeaderBytes + Payload(static_cast<int>(i)).size() <= len) whole = i + 1;
    }
    ASSERT_EQ(r.records.size(), whole) << "length " << len;
  }
}

// A flipped byte anywhere in the records: the damaged record is never
// returned; damage in the last record is a torn tail; damage before valid
// records is an error naming the LSN and offset (default mode).
TEST(WalTest, DamageAtEveryByteIsDetected) {
  std::vector<uint64_t> offsets;
  const std::string log = MakeLog(7, 1, 5, &offsets);
  const size_t end = offsets.back() + EncodeWalRecord(5, 7, 4, Payload(4)).size();
  for (size_t pos = kWalHeaderBytes; pos < end; pos++) {
    std::string bad = log;
    bad[pos] ^= 0x40;
    size_t hit = 0;  // index of the damaged record
    while (hit + 1 < offsets.size() && offsets[hit + 1] <= pos) hit++;
    // Padding bytes after a record's payload are not covered by its checksum.
    size_t payload_end = offsets[hit] + kWalRecordHeaderBytes + Payload(static_cast<int>(hit)).size();
    WalScanResult r;
    Status s = ScanWal(bad, "x-wal", WalRecoveryMode::kTolerateTornTail, &r);
    if (pos >= payload_end) {
      ASSERT_OK(s);
      ASSERT_EQ(r.records.size(), 5u) << pos;
      continue;
    }
    if (hit == offsets.size() - 1) {
      ASSERT_TRUE(s.ok()) << pos << ": " << s.ToString();
      EXPECT_EQ(r.records.size(), 4u) << pos;
    } else {
      ASSERT_EQ(s.code(), Status::Code::kCorruption) << "byte " << pos << " records " << r.records.size();
      EXPECT_NE(s.message().find("LSN " + std::to_string(hit + 1)), std::string::npos) << s.ToString();
      EXPECT_NE(s.message().find("offset " + std::to_string(offsets[hit])), std::string::npos) << s.ToString();
    }
  }
}

TEST(WalTest, RecoveryModes) {
  std::vector<uint64_t> offsets;
  std::string log = MakeLog(7, 1, 5, &offsets);
  log[offsets[2] + kWalRecordHeaderBytes + 1] ^= 1;  // damage record LSN 3
  WalScanResult r;
  EXPECT_EQ(ScanWal(log, "x-wal", WalRecoveryMode::kTolerateTornTail, &r).code(), Status::Code::kCorruption);
  EXPECT_EQ(ScanWal(log, "x-wal", WalRecoveryMode::kAbsoluteConsistency, &r).code(), Status::Code::kCorruption);
  ASSERT_OK(ScanWal(log, "x-wal", WalRecoveryMode::kPointInTime, &r));
  EXPECT_EQ(r.records.size(), 2u);
  ASSERT_OK(ScanWal(log, "x-wal", WalRecoveryMode::kSkipCorrupted, &r));
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.records[2].lsn, 4u);
  // A torn tail: tolerated by default, refused by absolute consistency.
  std::string torn = MakeLog(7, 1, 3, &offsets);
  torn[offsets[2] + kWalRecordHeaderBytes] ^= 1;
  ASSERT_OK(ScanWal(torn, "x-wal", WalRecoveryMode::kTolerateTornTail, &r));
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_TRUE(r.torn_tail);
  EXPECT_EQ(ScanWal(torn, "x-wal", WalRecoveryMode::kAbsoluteConsistency, &r).code(), Status::Code::kCorruption);
}

// Unsynced writes may reach the disk in any order: a record missing from a
// group that was never synced is a torn tail even if later records of the
// group survived -- none of them was acknowledged.
TEST(WalTest, UnsyncedGroupWrittenOutOfOrderIsATornTail) {
  std::vector<uint64_t> offsets;
  std::string log = MakeLog(7, 1, 5, &offsets, /*synced_each=*/false);
  std::memset(log.data() + offsets[1], 0, offsets[2] - offsets[1]);  // record 2 never reached the disk
  WalScanResult r;
  ASSERT_OK(ScanWal(log, "x-wal", WalRecoveryMode::kTolerateTornTail, &r));
  EXPECT_EQ(r.records.size(), 1u);
  EXPECT_TRUE(r.torn_tail);
  // The same gap in a log whose later records knew record 2 was synced is
  // damage to acknowledged data: an error.
  std::string synced = MakeLog(7, 1, 5, &offsets, /*synced_each=*/true);
  std::memset(synced.data() + offsets[1], 0, offsets[2] - offsets[1]);
  EXPECT_EQ(ScanWal(synced, "x-wal", WalRecoveryMode::kTolerateTornTail, &r).code(), Status::Code::kCorruption);
}

// The search for valid records behind a gap skips zeros a block at a time:
// records behind a long zero gap, at offsets that are no multiple of the
// block, are still found, exactly where they are.
TEST(WalTest, RecordsBehindALongZeroGapAreFound) {
  for (size_t big : {5000u, 12345u, 40000u}) {
    SCOPED_TRACE(big);
    std::vector<uint64_t> offsets;
    std::string log = WalHeader{7, 1, 42}.Encode();
    for (int i = 0; i < 5; i++) {
      offsets.push_back(log.size());
      WalBatch b;
      b.Add(WalOp::kPut, "default", "t", "k" + std::to_string(i), std::string(i == 1 ? big : 10 + i, 'v'));
      log += EncodeWalRecord(1 + i, 7, i, b.Payload());
    }
    log.append(3 * 4096 + 8, '\0');
    std::memset(log.data() + offsets[1], 0, offsets[2] - offsets[1]);  // record 2 zeroed
    WalScanResult r;
    Status s = ScanWal(log, "x-wal", WalRecoveryMode::kTolerateTornTail, &r);
    ASSERT_EQ(s.code(), Status::Code::kCorruption);
    EXPECT_NE(s.ToString().find("(LSN 3 at offset " + std::to_string(offsets[2]) + ")"), std::string::npos) << s.ToString();
    ASSERT_OK(ScanWal(log, "x-wal", WalRecoveryMode::kSkipCorrupted, &r));
    ASSERT_EQ(r.records.size(), 4u);
    EXPECT_EQ(r.records[1].lsn, 3u);
    EXPECT_EQ(r.records[1].offset, offsets[2]);
    EXPECT_EQ(r.records[3].lsn, 5u);
    EXPECT_EQ(r.skipped, 1u);
  }
}

TEST(WalTest, StaleRecordsOfAnEarlierCycleAreIgnored) {
  std::string old_cycle = MakeLog(7, 1, 6);
  std::string new_cycle = MakeLog(99, 7, 2);
  // The new cycle overwrites the start of the old one; old records remain behind.
  std::string log = old_cycle;
  log.replace(0, new_cycle.size() - 4096, new_cycle.substr(0, new_cycle.size() - 4096));
  WalScanResult r;
  ASSERT_OK(ScanWal(log, "x-wal", WalRecoveryMode::kAbsoluteConsistency, &r));
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].lsn, 7u);
  EXPECT_FALSE(r.torn_tail);
  // A damaged header reads as an empty log (a reset torn by a crash).
  log[3] ^= 1;
  ASSERT_OK(ScanWal(log, "x-wal", WalRecoveryMode::kAbsoluteConsistency, &r));
  EXPECT_TRUE(r.records.empty());
}

// Forwards to a file and follows a script for its next writes: '.' writes,
// 'L' writes and then reports a failure (a write that landed although the
// call failed), 'F' fails without writing.
class ScriptedFile : public File {
 public:
  explicit ScriptedFile(std::unique_ptr<File> base) : base_(std::move(base)) {}
  Status Read(uint64_t offset, size_t n, char* out) override { return base_->Read(offset, n, out); }
  Status Write(uint64_t offset, std::string_view data) override {
    writes++;
    const char c = script.empty() ? '.' : script.front();
    if (!script.empty()) script.erase(0, 1);
    if (c == 'F') return Status::IOError("scripted write failure");
    MANIFOLD_RETURN_IF_ERROR(base_->Write(offset, data));
    return c == 'L' ? Status::IOError("scripted failure after the write") : Status::Ok();
  }
  Status Sync() override { return base_->Sync(); }
  Result<uint64_t> Size() override { return base_->Size(); }
  Status Resize(uint64_t size) override { return base_->Resize(size); }
  const std::string& path() const override { return base_->path(); }

  std::string script;
  int writes = 0;

 private:
  std::unique_ptr<File> base_;
};

struct GroupLog {
  std::shared_ptr<MemoryStorage> storage = std::make_shared<MemoryStorage>();
  std::shared_ptr<ScriptedFile> file;
  std::unique_ptr<WalWriter> writer;
  WalBatch batches[3];
  const WalBatch* group[3] = {&batches[0], &batches[1], &batches[2]};

  GroupLog() {
    OpenFileOptions o;
    o.create = true;
    file = std::make_shared<ScriptedFile>(Must(storage->Open("g-wal", o)));
    writer = std::make_unique<WalWriter>(file, 64 << 10);
    EXPECT_OK(writer->Reset(7, 1, 42));
    // Three transactions whose records have the same size.
    for (int i = 0; i < 3; i++) batches[i].Add(WalOp::kPut, "default", "t", "key" + std::to_string(i), std::string(300, static_cast<char>('a' + i)));
    // A first record, so that the log's zeros ahead are written before the group's.
    EXPECT_EQ(Must(writer->Append(batches[0], 0)), 1u);
  }
  std::vector<WalRecord> Scan(WalScanResult* r) {
    std::string data(Must(file->Size()), '\0');
    EXPECT_OK(file->Read(0, data.size(), data.data()));
    EXPECT_OK(ScanWal(data, "g-wal", WalRecoveryMode::kAbsoluteConsistency, r));
    return std::vector<WalRecord>(r->records.begin(), r->records.end());
  }
};

TEST(WalTest, AppendWritesAGroupWithOneWrite) {
  GroupLog g;
  const int before = g.file->writes;
  EXPECT_EQ(Must(g.writer->Append(g.group, 3, 1)), 2u);
  EXPECT_EQ(g.file->writes, before + 1) << "a group is one write";
  EXPECT_EQ(g.writer->last_lsn(), 4u);
  WalScanResult r;
  std::vector<WalRecord> records = g.Scan(&r);
  ASSERT_EQ(records.size(), 4u);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(records[i + 1].lsn, 2u + i);
    EXPECT_EQ(records[i + 1].payload, g.batches[i].Payload());
  }
}

TEST(WalTest, FailedGroupWriteLeavesNoRecordBehind) {
  // The group lands whole, but the write reports a failure: its commits fail.
  // The next record takes the place (and LSN) of the group's first one and has
  // its size, so the group's second and third records would sit exactly where
  // the scan expects LSNs 3 and 4: they must have been erased.
  GroupLog g;
  g.file->script = "L";
  EXPECT_FALSE(g.writer->Append(g.group, 3, 1).ok());
  EXPECT_FALSE(g.writer->damaged());
  EXPECT_EQ(g.writer->last_lsn(), 1u) << "a failed append appends nothing";
  EXPECT_EQ(Must(g.writer->Append(g.batches[2], 1)), 2u);
  WalScanResult r;
  std::vector<WalRecord> records = g.Scan(&r);
  ASSERT_EQ(records.size(), 2u) << "records of the failed group came back";
  EXPECT_EQ(records[1].payload, g.batches[2].Payload());
}

TEST(WalTest, FailedEraseOfAFailedGroupDamagesTheLog) {
  GroupLog g;
  g.file->script = "LF";  // the group lands but fails, and so does the erase
  EXPECT_FALSE(g.writer->Append(g.group, 3, 1).ok());
  EXPECT_TRUE(g.writer->damaged());
  Result<uint64_t> again = g.writer->Append(g.batches[0], 1);
  ASSERT_FALSE(again.ok()) << "a damaged log takes no more records";
  EXPECT_NE(again.status().message().find("could not be erased"), std::string::npos) << again.status().ToString();
  // A new cycle (a checkpoint's reset) makes the old records unreadable.
  ASSERT_OK(g.writer->Reset(8, 2, 42));
  EXPECT_FALSE(g.writer->damaged());
  EXPECT_EQ(Must(g.writer->Append(g.batches[0], 1)), 2u);
  WalScanResult r;
  ASSERT_EQ(g.Scan(&r).size(), 1u);
}

// ---- through the database ----

std::map<std::string, std::string> DumpTable(Database& db, const char* table) {
  auto r = Must(db.BeginRead());
  auto t = Must(r.OpenTable(table));
  return testing::Dump(t);
}

TEST(WalDbTest, PowerLossReplaysAcknowledgedCommitsAndRecoveryIsIdempotent) {
  auto storage = std::make_shared<MemoryStorage>();
  std::map<std::string, std::string> model;
  {
    auto db = Must(Database::Open("w.db", MemOptions(storage)));
    for (int c = 0; c < 20; c++) {
      auto w = Must(db->BeginWrite());
      auto t = Must(w.OpenOrCreateTable("t"));
      for (int i = 0; i < 10; i++) {
        std::string k = "k" + std::to_string(c * 10 + i);
        ASSERT_OK(t.Put(k, std::to_string(c)));
        model[k] = std::to_string(c);
      }
      ASSERT_OK(w.Commit());
    }
    storage->SimulatePowerLoss();  // no checkpoint ran: everything is in the log
  }
  auto db = Must(Database::Open("w.db", MemOptions(storage)));
  EXPECT_EQ(db->recovery().records, 21u);  // LSN 1 created the default column family
  EXPECT_EQ(db->recovery().last_lsn, 21u);
  EXPECT_EQ(DumpTable(*db, "t"), model);
  testing::ExpectClean(*db);
  db.reset();
  storage->SimulatePowerLoss();
  db = Must(Database::Open("w.db", MemOptions(storage)));
  EXPECT_EQ(db->recovery().records, 0u);  // closing ended with a checkpoint
  EXPECT_EQ(DumpTable(*db, "t"), model);
}

// A log that ends cleanly is not checkpointed by the open that replays it:
// the cycle goes on, later commits follow the replayed ones in it, and every
// power loss replays the whole cycle again. A torn tail still ends recovery
// in a checkpoint (a new cycle, whose salt rejects the stale records).
TEST(WalDbTest, RecoveryOfACleanLogContinuesItsCycle) {
  auto storage = std::make_shared<MemoryStorage>();
  std::map<std::string, std::string> model;
  auto commit_some = [&](Database& db, int round, int n) {
    for (int c = 0; c < n; c++) {
      auto w = Must(db.BeginWrite());
      std::string k = "r" + std::to_string(round) + "-" + std::to_string(c);
      ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put(k, std::to_string(c)));
      ASSERT_OK(w.Commit());
      model[k] = std::to_string(c);
    }
  };
  auto db = Must(Database::Open("w.db", MemOptions(storage)));
  commit_some(*db, 0, 10);
  uint64_t lsn = 11;  // LSN 1 created the default column family
  for (int round = 1; round <= 3; round++) {
    storage->SimulatePowerLoss();
    db = Must(Database::Open("w.db", MemOptions(storage)));
    EXPECT_EQ(db->recovery().records, lsn) << "round " << round;
    EXPECT_EQ(db->recovery().last_lsn, lsn);
    EXPECT_FALSE(db->recovery().torn_tail);
    EXPECT_EQ(Must(db->Stats()).checkpoints, 0u) << "the open checkpointed a clean log";
    EXPECT_EQ(DumpTable(*db, "t"), model);
    testing::ExpectClean(*db);
    commit_some(*db, round, 5);
    lsn += 5;
  }
  // A torn last record: dropped, and the open ends in a checkpoint.
  storage->SimulatePowerLoss();
  db.reset();
  std::string log = Must(storage->ReadAll("w.db-wal"));
  WalScanResult scan;
  ASSERT_OK(ScanWal(log, "w.db-wal", WalRecoveryMode::kTolerateTornTail, &scan));
  ASSERT_EQ(scan.records.size(), lsn);
  log[scan.records.back().offset + kWalRecordHeaderBytes + 1] ^= 0x20;
  ASSERT_OK(storage->WriteAll("w.db-wal", log));
  model.erase("r3-4");
  db = Must(Database::Open("w.db", MemOptions(storage)));
  EXPECT_TRUE(db->recovery().torn_tail);
  EXPECT_EQ(db->recovery().records, lsn - 1);
  EXPECT_EQ(Must(db->Stats()).checkpoints, 1u);
  EXPECT_EQ(DumpTable(*db, "t"), model);
  testing::ExpectClean(*db);
  storage->SimulatePowerLoss();
  db = Must(Database::Open("w.db", MemOptions(storage)));
  EXPECT_EQ(db->recovery().records, 0u);  // the checkpoint covered everything
  EXPECT_EQ(DumpTable(*db, "t"), model);
  testing::ExpectClean(*db);
}

// The open that goes on in a clean log keeps the replayed pages in memory,
// pinned, as logged commits' pages are: it writes nothing to the data file.
// They stay readable with a cache far smaller than they are, the next
// checkpoint writes them, and a power loss before it loses nothing.
TEST(WalDbTest, RecoveryOfACleanLogHoldsItsPagesUntilACheckpoint) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.cache_bytes = 16 << 10;  // a few pages; the table takes many more
  std::map<std::string, std::string> model;
  {
    auto db = Must(Database::Open("w.db", o));
    for (int c = 0; c < 40; c++) {
      auto w = Must(db->BeginWrite());
      auto t = Must(w.OpenOrCreateTable("t"));
      for (int i = 0; i < 25; i++) {
        std::string k = "k" + std::to_string(c * 25 + i);
        ASSERT_OK(t.Put(k, std::string(100, static_cast<char>('a' + c % 26))));
        model[k] = std::string(100, static_cast<char>('a' + c % 26));
      }
      ASSERT_OK(w.Commit());
    }
    storage->SimulatePowerLoss();
  }
  const std::string data_before = Must(storage->ReadAll("w.db"));
  for (int round = 0; round < 2; round++) {
    auto db = Must(Database::Open("w.db", o));
    EXPECT_EQ(db->recovery().records, 41u);
    EXPECT_EQ(Must(storage->ReadAll("w.db")), data_before) << "the open wrote to the data file";
    EXPECT_EQ(DumpTable(*db, "t"), model);
    testing::ExpectClean(*db);
    if (round == 0) storage->SimulatePowerLoss();  // before any checkpoint: replayed again
  }
  {
    auto db = Must(Database::Open("w.db", o));
    ASSERT_OK(db->Checkpoint());
    EXPECT_NE(Must(storage->ReadAll("w.db")), data_before);
    storage->SimulatePowerLoss();
  }
  auto db = Must(Database::Open("w.db", o));
  EXPECT_EQ(db->recovery().records, 0u);  // the checkpoint covered everything
  EXPECT_EQ(DumpTable(*db, "t"), model);
  testing::ExpectClean(*db);
}

// A process crash leaves kNone records in the log, written but not synced.
// The open replays them and goes on in the log, so it must sync them first:
// what it shows has to survive a power loss right after it returned.
TEST(WalDbTest, RecoveryAfterAProcessCrashMakesWhatItReplayedDurable) {
  auto storage = std::make_shared<MemoryStorage>();
  std::map<std::string, std::string> model;
  auto db = Must(Database::Open("w.db", MemOptions(storage)));
  for (int c = 0; c < 6; c++) {
    auto w = Must(db->BeginWrite());
    std::string k = "k" + std::to_string(c);
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put(k, "v"));
    ASSERT_OK(w.Commit(c == 0 ? Durability::kImmediate : Durability::kNone));
    model[k] = "v";
  }
  storage->SimulateProcessCrash();  // records 3..7 only in the "OS cache"
  db.reset();                       // its handles are dead: nothing is written
  db = Must(Database::Open("w.db", MemOptions(storage)));
  EXPECT_EQ(db->recovery().records, 7u);  // LSN 1 created the default family
  EXPECT_EQ(Must(db->Stats()).checkpoints, 0u);
  EXPECT_EQ(DumpTable(*db, "t"), model);
  storage->SimulatePowerLoss();
  db = Must(Database::Open("w.db", MemOptions(storage)));
  EXPECT_EQ(db->recovery().records, 7u);
  EXPECT_EQ(DumpTable(*db, "t"), model) << "the open showed commits it had not made durable";
  testing::ExpectClean(*db);
}

TEST(WalDbTest, MidLogCorruptionIsAnErrorNamingLsnAndOffset) {
  auto storage = std::make_shared<MemoryStorage>();
  {
    auto db = Must(Database::Open("w.db", MemOptions(storage)));
    for (int c = 0; c < 5; c++) {
      auto w = Must(db->BeginWrite());
      ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k" + std::to_string(c), "v"));
      ASSERT_OK(w.Commit());
    }
    storage->SimulatePowerLoss();
  }
  std::string log = Must(storage->ReadAll("w.db-wal"));
  WalScanResult scan;
  ASSERT_OK(ScanWal(log, "w.db-wal", WalRecoveryMode::kTolerateTornTail, &scan));
  ASSERT_EQ(scan.records.size(), 6u);
  uint64_t off = scan.records[3].offset;
  log[off + kWalRecordHeaderBytes + 2] ^= 0x10;
  ASSERT_OK(storage->WriteAll("w.db-wal", log));
  Status s = Database::Open("w.db", MemOptions(storage)).status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("offset " + std::to_string(off)), std::string::npos) << s.ToString();
  Options pit = MemOptions(storage);
  pit.wal_recovery = WalRecoveryMode::kPointInTime;
  auto db = Must(Database::Open("w.db", pit));
  EXPECT_EQ(DumpTable(*db, "t").size(), 2u);  // LSN 1 (default cf), 2, 3 replayed; 4 damaged
  EXPECT_TRUE(db->recovery().torn_tail);
}

// Opening without the log option still replays a log left behind (it holds
// acknowledged commits), and later opens agree.
TEST(WalDbTest, OpeningWithoutTheLogStillReplaysIt) {
  auto storage = std::make_shared<MemoryStorage>();
  {
    auto db = Must(Database::Open("w.db", MemOptions(storage)));
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", "old"));
    ASSERT_OK(w.Commit());
    storage->SimulatePowerLoss();
  }
  Options no_wal = MemOptions(storage);
  no_wal.wal = false;
  {
    auto db = Must(Database::Open("w.db", no_wal));
    EXPECT_GT(db->recovery().records, 0u);
    EXPECT_EQ(DumpTable(*db, "t").at("k"), "old");
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenTable("t")).Put("k", "new"));
    ASSERT_OK(w.Commit());
    storage->SimulatePowerLoss();
  }
  for (auto mode : {WalRecoveryMode::kTolerateTornTail, WalRecoveryMode::kSkipCorrupted}) {
    Options o = MemOptions(storage);
    o.wal_recovery = mode;
    auto db = Must(Database::Open("w.db", o));
    EXPECT_EQ(DumpTable(*db, "t").at("k"), "new");
    db.reset();
    storage->SimulatePowerLoss();
  }
}

// A damaged log header must not silently drop the records behind it.
TEST(WalDbTest, DamagedLogHeaderWithRecordsBehindIsAnError) {
  auto storage = std::make_shared<MemoryStorage>();
  {
    auto db = Must(Database::Open("w.db", MemOptions(storage)));
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", "v"));
    ASSERT_OK(w.Commit());
    storage->SimulatePowerLoss();
  }
  std::string log = Must(storage->ReadAll("w.db-wal"));
  log[20] ^= 0x01;  // inside the salt: the header checksum no longer matches
  ASSERT_OK(storage->WriteAll("w.db-wal", log));
  Status s = Database::Open("w.db", MemOptions(storage)).status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("log header is damaged"), std::string::npos) << s.ToString();
  Options pit = MemOptions(storage);
  pit.wal_recovery = WalRecoveryMode::kPointInTime;
  EXPECT_TRUE(Database::Open("w.db", pit).ok());
}

// If the newest checkpoint's header slot is unusable, open would fall back to
// the older checkpoint -- but the log was reset after the newer one, so the
// commits in between would vanish. That must be an error, not a rollback.
TEST(WalDbTest, UnusableNewestHeaderIsAnErrorNotASilentRollback) {
  auto storage = std::make_shared<MemoryStorage>();
  {
    auto db = Must(Database::Open("w.db", MemOptions(storage)));
    for (const char* v : {"first", "second"}) {
      auto w = Must(db->BeginWrite());
      ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", v));
      ASSERT_OK(w.Commit());
      ASSERT_OK(db->Checkpoint());
    }
    storage->SimulatePowerLoss();  // no closing checkpoint: the slots hold "first" and "second"
  }
  std::string image = Must(storage->ReadAll("w.db"));
  auto h0 = Must(HeaderSlot::Decode(image.data(), "slot0"));
  auto h1 = Must(HeaderSlot::Decode(image.data() + 4096, "slot1"));
  size_t newest = h1.generation > h0.generation ? 4096 : 0;
  image[newest + 30] ^= 0x01;
  ASSERT_OK(storage->WriteAll("w.db", image));
  Status s = Database::Open("w.db", MemOptions(storage)).status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("header slot is unusable"), std::string::npos) << s.ToString();
  Options pit = MemOptions(storage);
  pit.wal_recovery = WalRecoveryMode::kPointInTime;
  auto db = Must(Database::Open("w.db", pit));  // the user accepts the older checkpoint
  EXPECT_EQ(DumpTable(*db, "t").at("k"), "first");
}

// A creation cut short before its header reached the disk leaves a file of
// zeros: opening it creates the database instead of calling it "not a database".
TEST(WalDbTest, ZeroFileFromInterruptedCreationIsCreatedAgain) {
  auto storage = std::make_shared<MemoryStorage>();
  ASSERT_OK(storage->WriteAll("z.db", std::string(8192, '\0')));
  auto db = Must(Database::Open("z.db", MemOptions(storage)));
  EXPECT_EQ(Must(db->ListColumnFamilies()), std::vector<std::string>{"default"});
  Options no_create = MemOptions(storage);
  no_create.create_if_missing = false;
  db.reset();
  ASSERT_OK(storage->WriteAll("y.db", std::string(8192, '\0')));
  EXPECT_EQ(Database::Open("y.db", no_create).status().code(), Status::Code::kCorruption);
}

// Creation is resize to two pages, write header slot 0 (generation 0), sync.
// A crash before the sync can keep any part of it; found by crashsim (its
// reproducers were regressions/open/single_cf-11-open-failed.repro and
// large_values-3888145598841073658-open-failed.repro).
TEST(WalDbTest, CreationCutShortByACrashIsCreatedAgain) {
  auto storage = std::make_shared<MemoryStorage>();
  HeaderSlot h;
  h.page_size = 4096;
  h.generation = 0;
  h.page_count = 2;
  h.database_id = 77;
  char slot[kHeaderSlotBytes];
  h.EncodeTo(slot);
  Options no_create = MemOptions(storage);
  no_create.create_if_missing = false;
  // The header write landed, the resize did not: a file of just the header.
  ASSERT_OK(storage->WriteAll("short.db", std::string(slot, sizeof slot)));
  EXPECT_EQ(Database::Open("short.db", no_create).status().code(), Status::Code::kCorruption);
  {
    auto db = Must(Database::Open("short.db", MemOptions(storage)));
    EXPECT_EQ(Must(db->ListColumnFamilies()), std::vector<std::string>{"default"});
    testing::ExpectClean(*db);
  }
  // The resize landed, the header's sector is garbage.
  std::string torn(8192, '\0');
  std::mt19937_64 rng(5);
  for (int i = 0; i < 512; i++) torn[i] = static_cast<char>(rng());
  ASSERT_OK(storage->WriteAll("torn.db", torn));
  EXPECT_EQ(Database::Open("torn.db", no_create).status().code(), Status::Code::kCorruption);
  {
    auto db = Must(Database::Open("torn.db", MemOptions(storage)));
    EXPECT_EQ(Must(db->ListColumnFamilies()), std::vector<std::string>{"default"});
  }
  // The same damage with a log that holds records is not a creation: refused.
  ASSERT_OK(storage->WriteAll("used.db", torn));
  std::string log(3 * kWalHeaderBytes, '\0');
  log[kWalHeaderBytes + 8] = 1;
  ASSERT_OK(storage->WriteAll("used.db-wal", log));
  Result<std::unique_ptr<Database>> refused = Database::Open("used.db", MemOptions(storage));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kCorruption) << refused.status().ToString();
  // And a short file whose header is newer than creation is truncated damage, not a creation.
  h.generation = 5;
  h.EncodeTo(slot);
  ASSERT_OK(storage->WriteAll("late.db", std::string(slot, sizeof slot)));
  Result<std::unique_ptr<Database>> late = Database::Open("late.db", MemOptions(storage));
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("truncated"), std::string::npos) << late.status().ToString();
}

// Logged commits copy pages; the old copies, if written since the last
// checkpoint, are reused at once (no durable header reaches them), so the file
// does not grow with the number of commits between checkpoints.
TEST(WalDbTest, PagesOfLoggedCommitsAreReusedBeforeACheckpoint) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.checkpoint_interval_ms = 0;
  auto db = Must(Database::Open("w.db", o));
  for (int c = 0; c < 500; c++) {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k" + std::to_string(c % 20), std::string(100, 'z')));
    ASSERT_OK(w.Commit());
  }
  auto st = Must(db->Stats());
  EXPECT_EQ(st.checkpoint_lsn, 0u);  // no checkpoint ran
  EXPECT_LT(st.page_count, 40u) << "the file grew with every commit";
  testing::ExpectClean(*db);
  storage->SimulatePowerLoss();
  db.reset();
  db = Must(Database::Open("w.db", o));
  EXPECT_EQ(DumpTable(*db, "t").size(), 20u);
}

// Only checkpoints rewrite the catalog tree; logged commits change just the
// in-memory catalog. Every catalog change between two checkpoints (families
// and tables created, renamed, dropped; table roots moved by puts) must reach
// the next checkpoint's tree, and Check() must hold before and after it.
TEST(WalDbTest, CatalogChangesBetweenCheckpointsReachTheNextCheckpoint) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.checkpoint_interval_ms = 0;
  auto db = Must(Database::Open("w.db", o));
  auto put = [&](const char* cf, const char* table, int n) {
    auto w = Must(db->BeginWrite(cf));
    auto t = Must(w.OpenOrCreateTable(table));
    for (int i = 0; i < n; i++) ASSERT_OK(t.Put(std::string(table) + std::to_string(i), std::string(60, 'v')));
    ASSERT_OK(w.Commit());
  };
  ASSERT_OK(db->CreateColumnFamily("a"));
  put("a", "t1", 50);
  put("default", "d", 5);
  ASSERT_OK(db->Checkpoint());
  // Between checkpoints: a new family and tables, a rename, a drop, puts.
  ASSERT_OK(db->CreateColumnFamily("b"));
  put("b", "t2", 300);  // several leaves: the root moves
  put("a", "t1", 80);
  put("a", "t3", 3);
  {
    auto w = Must(db->BeginWrite("a"));
    ASSERT_OK(w.RenameTable("t3", "t4"));
    ASSERT_OK(w.Commit());
  }
  {
    auto w = Must(db->BeginWrite("default"));
    ASSERT_OK(w.DropTable("d"));
    ASSERT_OK(w.Commit());
  }
  ASSERT_OK(db->RenameColumnFamily("b", "c"));
  EXPECT_EQ(Must(db->Stats()).checkpoints, 1u);
  testing::ExpectClean(*db);  // the tree still holds the first checkpoint's catalog
  ASSERT_OK(db->Checkpoint());
  testing::ExpectClean(*db);
  put("c", "t2", 10);  // logged after the second checkpoint
  storage->SimulatePowerLoss();
  db.reset();
  db = Must(Database::Open("w.db", o));
  EXPECT_EQ(db->recovery().records, 1u);
  testing::ExpectClean(*db);
  auto r = Must(db->BeginRead());
  EXPECT_EQ(Must(r.ListColumnFamilies()), (std::vector<std::string>{"a", "c", "default"}));
  EXPECT_EQ(Must(r.ListTables("a")), (std::vector<std::string>{"t1", "t4"}));
  EXPECT_EQ(Must(r.ListTables("default")), std::vector<std::string>{});
  EXPECT_EQ(Must(Must(r.OpenTable("t1", "a")).Len()), 80u);
  EXPECT_EQ(Must(Must(r.OpenTable("t4", "a")).Len()), 3u);
  EXPECT_EQ(Must(Must(r.OpenTable("t2", "c")).Len()), 300u);
  r.Close();
  // The same after a reopen that replays nothing.
  ASSERT_OK(db->Close());
  db = Must(Database::Open("w.db", o));
  EXPECT_EQ(db->recovery().records, 0u);
  testing::ExpectClean(*db);
}

// Regression (found by proptests): right after reopening, a durable commit
// with nothing to log waited for a log record nobody had written -- forever.
TEST(WalDbTest, EmptyDurableCommitAfterReopenReturns) {
  auto storage = std::make_shared<MemoryStorage>();
  {
    auto db = Must(Database::Open("w.db", MemOptions(storage)));
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", "v"));
    ASSERT_OK(w.Commit());
  }
  auto db = Must(Database::Open("w.db", MemOptions(storage)));
  auto w = Must(db->BeginWrite());
  ASSERT_OK(w.Commit(Durability::kImmediate));
  ASSERT_OK(db->Sync());
}

TEST(WalDbTest, LargeTransactionCommitsByCheckpoint) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.checkpoint_wal_bytes = uint64_t{64} * 1024;
  auto db = Must(Database::Open("w.db", o));
  {
    auto w = Must(db->BeginWrite());
    auto t = Must(w.OpenOrCreateTable("t"));
    for (int i = 0; i < 2000; i++) ASSERT_OK(t.Put("k" + std::to_string(i), std::string(100, 'x')));
    ASSERT_OK(w.Commit(Durability::kNone));  // too large for the log: checkpointed even so
  }
  WalScanResult scan;
  ASSERT_OK(ScanWal(Must(storage->ReadAll("w.db-wal")), "w.db-wal", WalRecoveryMode::kTolerateTornTail, &scan));
  uint64_t log_bytes = scan.bytes;
  storage->SimulatePowerLoss();
  db.reset();
  db = Must(Database::Open("w.db", o));
  EXPECT_EQ(DumpTable(*db, "t").size(), 2000u);
  EXPECT_LT(log_bytes, 2000u * 100);  // the 200 KB transaction never went to the log
}

TEST(WalDbTest, CheckpointTriggeredByLogSize) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.checkpoint_wal_bytes = uint64_t{16} * 1024;
  auto db = Must(Database::Open("w.db", o));
  uint64_t before = Must(db->Stats()).durable_generation;
  for (int c = 0; c < 100; c++) {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k" + std::to_string(c), std::string(200, 'y')));
    ASSERT_OK(w.Commit());
  }
  auto st = Must(db->Stats());
  EXPECT_GT(st.durable_generation, before);
  EXPECT_GT(st.checkpoint_lsn, 10u);           // checkpoints ran on their own
  EXPECT_LT(st.wal_bytes, 16u * 1024 + 1024);  // and kept the log short
}

// A database over storage whose syncs take 500 µs (a slow device makes
// committers queue up behind the leader's sync), with column families "cf0",
// "cf1", ... for RunFamilyWriters, and its stats once they exist.
struct SlowSyncDb {
  std::shared_ptr<MemoryStorage> storage = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db;
  DatabaseStats before;

  explicit SlowSyncDb(int families) {
    storage->SetSyncHook([](uint64_t, const std::string&) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      return Status::Ok();
    });
    db = Must(Database::Open("g.db", MemOptions(storage)));
    for (int t = 0; t < families; t++) EXPECT_OK(db->CreateColumnFamily("cf" + std::to_string(t)));
    before = Must(db->Stats());
  }
  // Cuts the power (fast syncs again) and reopens: what survives is what was durable.
  void PowerCycle() {
    storage->SetSyncHook(nullptr);
    storage->SimulatePowerLoss();
    db.reset();
    db = Must(Database::Open("g.db", MemOptions(storage)));
  }
};

// `threads` writers, writer t on column family "cf<t>" (SlowSyncDb) or,
// with `shared`, all on "cf0", each making `commits` single-put commits
// (keys "<t>/<i>") with durability(t, i), joined before it returns. If they
// have not all returned after two minutes (a commit left asleep), the test
// fails and the process aborts: its threads are stuck.
void RunFamilyWriters(Database& db, int threads, int commits, const std::function<Durability(int, int)>& durability,
                      bool shared = false) {
  std::atomic<int> returned{0};
  std::vector<std::thread> writers;
  writers.reserve(threads);
  for (int t = 0; t < threads; t++) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < commits; i++) {
        auto w = Must(db.BeginWrite("cf" + std::to_string(shared ? 0 : t)));
        EXPECT_OK(Must(w.OpenOrCreateTable("t")).Put(std::to_string(t) + "/" + std::to_string(i), "v"));
        EXPECT_OK(w.Commit(durability(t, i)));
        returned.fetch_add(1);
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (returned.load() < threads * commits && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (returned.load() < threads * commits) {
    std::fprintf(stderr, "%d of %d commits returned within 2 minutes: commits left asleep\n", returned.load(),
                 threads * commits);
    std::abort();
  }
  for (auto& th : writers) th.join();
}

// After a power loss, every family written by RunFamilyWriters has all its commits.
void ExpectFamiliesWhole(Database& db, int threads, int commits) {
  auto r = Must(db.BeginRead());
  for (int t = 0; t < threads; t++) {
    EXPECT_EQ(Must(Must(r.OpenTable("t", "cf" + std::to_string(t))).Len()), static_cast<uint64_t>(commits));
  }
}

// Concurrent durable commits share log syncs (group commit), and every one
// of them is durable when Commit returns.
TEST(WalDbTest, GroupCommitSharesSyncs) {
  constexpr int kThreads = 8, kCommits = 40;
  SlowSyncDb g(kThreads);
  const DatabaseStats& before = g.before;
  RunFamilyWriters(*g.db, kThreads, kCommits, [](int, int) { return Durability::kImmediate; });
  auto st = Must(g.db->Stats());
  uint64_t commits = st.wal_synced_commits - before.wal_synced_commits;
  uint64_t syncs = st.wal_syncs - before.wal_syncs;
  EXPECT_EQ(commits, static_cast<uint64_t>(kThreads * kCommits));
  EXPECT_LT(syncs, commits) << "no commit shared a sync";
  EXPECT_GE(st.wal_sync_ns - before.wal_sync_ns, syncs * 500'000) << "each sync took at least 500 µs";
  EXPECT_LT(st.wal_sync_ns - before.wal_sync_ns, syncs * 500'000'000) << "implausible sync time: not in nanoseconds?";
  const uint64_t writes = st.wal_writes - before.wal_writes;
  EXPECT_EQ(st.wal_written_records - before.wal_written_records, commits);
  EXPECT_LT(writes, commits) << "no commit shared a log write";
  const uint64_t waits = st.wal_sync_waits - before.wal_sync_waits;
  EXPECT_GT(waits, 0u) << "no leader waited for the commits on their way";
  EXPECT_GT(st.wal_sync_wait_ns - before.wal_sync_wait_ns, 0u);
  std::printf("group commit: %llu commits in %llu syncs (%llu waits for commits on their way) and %llu log writes\n",
              static_cast<unsigned long long>(commits), static_cast<unsigned long long>(syncs),
              static_cast<unsigned long long>(waits), static_cast<unsigned long long>(writes));
  g.PowerCycle();  // acknowledged = durable: nothing may be missing
  ExpectFamiliesWhole(*g.db, kThreads, kCommits);
}

// Writers that share one column family share syncs too: while a sync runs,
// the next writers of the family commit one after another and are published
// (the leader passed the lead on before its sync), so the next sync covers
// several of them. A leader that kept the lead through its sync would leave
// one commit per sync (checked: 160 commits in 160 syncs).
TEST(WalDbTest, WritersOfOneFamilyShareSyncs) {
  constexpr int kThreads = 8, kCommits = 20;
  SlowSyncDb g(1);
  RunFamilyWriters(*g.db, kThreads, kCommits, [](int, int) { return Durability::kImmediate; }, /*shared=*/true);
  auto st = Must(g.db->Stats());
  const uint64_t commits = st.wal_synced_commits - g.before.wal_synced_commits;
  const uint64_t syncs = st.wal_syncs - g.before.wal_syncs;
  EXPECT_EQ(commits, static_cast<uint64_t>(kThreads * kCommits));
  EXPECT_GE(2 * commits, 3 * syncs) << commits << " commits in " << syncs << " syncs (one per sync without sharing)";
  std::printf("one family: %llu commits in %llu syncs\n", static_cast<unsigned long long>(commits),
              static_cast<unsigned long long>(syncs));
  g.PowerCycle();
  auto r = Must(g.db->BeginRead());
  EXPECT_EQ(Must(Must(r.OpenTable("t", "cf0")).Len()), static_cast<uint64_t>(kThreads * kCommits));
}

// A leader about to sync waits (briefly) for durable commits on their way,
// counting commits acknowledged since the latest sync started that have not
// been followed by new ones: writers that commit in a loop come back at once.
// Writers that do not come back delay at most the next sync (the count is
// reset when a sync starts: idle writers acknowledged after the reset leave
// a surplus, which the first loop below usually meets once); a lone writer,
// also one that alternates between two databases, never waits. (Checked:
// without counting a started commit as one back, all 20 syncs of each loop
// waited.)
TEST(WalDbTest, WritersThatDoNotComeBackDelayAtMostOneSync) {
  SlowSyncDb g(2);
  auto commit = [](Database& db, const std::string& cf, const std::string& key) {
    auto w = Must(db.BeginWrite(cf));
    EXPECT_OK(Must(w.OpenOrCreateTable("t")).Put(key, "v"));
    EXPECT_OK(w.Commit(Durability::kImmediate));
  };
  auto waits = [](Database& db) { return Must(db.Stats()).wal_sync_waits; };
  // Four writers commit at once (sharing syncs), then stay idle.
  constexpr int kIdle = 4;
  std::atomic<int> ready{0}, committed{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> idle;
  idle.reserve(kIdle);
  for (int t = 0; t < kIdle; t++) {
    idle.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kIdle) std::this_thread::yield();
      commit(*g.db, "cf0", "idle" + std::to_string(t));
      committed.fetch_add(1);
      while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  while (committed.load() < kIdle) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  uint64_t before = waits(*g.db);
  for (int i = 0; i < 20; i++) commit(*g.db, "cf1", "a" + std::to_string(i));
  const uint64_t idle_waits = waits(*g.db) - before;
  EXPECT_LE(idle_waits, 1u) << "idle writers delayed more than one sync";
  std::printf("after %d writers went idle: %llu of 20 syncs waited\n", kIdle, static_cast<unsigned long long>(idle_waits));
  done.store(true);
  for (std::thread& t : idle) t.join();
  // One thread alternating between two databases.
  SlowSyncDb other(1);
  before = waits(*g.db);
  const uint64_t other_before = waits(*other.db);
  for (int i = 0; i < 20; i++) {
    commit(*g.db, "cf0", "b" + std::to_string(i));
    commit(*other.db, "cf0", "b" + std::to_string(i));
  }
  // One thread alone: at each lead its own acknowledgement was cancelled by
  // its next commit, on whichever database, so no wait at all.
  EXPECT_EQ(waits(*g.db) - before, 0u);
  EXPECT_EQ(waits(*other.db) - other_before, 0u);
}

// Large groups with durable and non-durable commits mixed: the leader wakes
// the non-durable ones at once and the durable ones after the sync. Every
// commit must return (none left asleep) and survive a power loss.
TEST(WalDbTest, LargeMixedGroupsWakeEveryCommit) {
  constexpr int kThreads = 16, kCommits = 30;
  SlowSyncDb g(kThreads);
  const DatabaseStats& before = g.before;
  // Every fifth commit of every third thread is not durable: groups mix both.
  RunFamilyWriters(*g.db, kThreads, kCommits,
                   [](int t, int i) { return t % 3 != 0 || i % 5 != 0 ? Durability::kImmediate : Durability::kNone; });
  auto st = Must(g.db->Stats());
  // Some sync made 5 or more records durable: the groups were large.
  uint64_t large = 0;
  for (size_t b = 3; b < st.wal_records_per_sync.size(); b++) large += st.wal_records_per_sync[b];
  for (size_t b = 3; b < before.wal_records_per_sync.size(); b++) large -= before.wal_records_per_sync[b];
  EXPECT_GT(large, 0u) << "no group was large enough for this test";
  ASSERT_OK(g.db->Sync());  // the kNone commits too, so that every table is whole
  g.PowerCycle();
  ExpectFamiliesWhole(*g.db, kThreads, kCommits);
}

// kEventual: visible at once, durable within wal_sync_interval_ms without
// any further call -- the background thread syncs the log.
TEST(WalDbTest, EventualCommitsBecomeDurableOnTheirOwn) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.wal_sync_interval_ms = 20;
  auto db = Must(Database::Open("e.db", o));
  {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", "eventual"));
    ASSERT_OK(w.Commit(Durability::kEventual));
  }
  // No further call: the background thread must sync within ~20 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  storage->SimulatePowerLoss();
  db.reset();
  db = Must(Database::Open("e.db", o));
  auto r = Must(db->BeginRead());
  EXPECT_EQ(Must(Must(r.OpenTable("t")).Get("k")), "eventual");
}

// With time-based checkpoints off, the background thread is not started on
// open; the first kEventual commit starts it, and it must still sync that
// commit (and later ones) within the bound, and stop on close.
TEST(WalDbTest, EventualCommitsStartTheBackgroundThreadWhenCheckpointsAreNotTimed) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.checkpoint_interval_ms = 0;
  o.wal_sync_interval_ms = 20;
  auto db = Must(Database::Open("lazy.db", o));
  {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("before", "durable"));
    ASSERT_OK(w.Commit());  // kImmediate: needs no thread
  }
  const uint64_t syncs_before = Must(db->Stats()).wal_syncs;
  for (int i = 0; i < 3; i++) {
    {
      auto w = Must(db->BeginWrite());
      ASSERT_OK(Must(w.OpenTable("t")).Put("e" + std::to_string(i), "eventual"));
      ASSERT_OK(w.Commit(Durability::kEventual));
    }
    // No further call: only the background thread can sync it.
    auto st = Must(db->Stats());
    for (int tries = 0; tries < 300 && st.wal_syncs == syncs_before + static_cast<uint64_t>(i); tries++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      st = Must(db->Stats());
    }
    EXPECT_GT(st.wal_syncs, syncs_before + static_cast<uint64_t>(i)) << "kEventual commit " << i << " not synced within 3 s";
  }
  storage->SimulatePowerLoss();
  db.reset();
  db = Must(Database::Open("lazy.db", o));
  {
    auto r = Must(db->BeginRead());
    auto t = Must(r.OpenTable("t"));
    EXPECT_EQ(Must(t.Get("before")), "durable");
    for (int i = 0; i < 3; i++) EXPECT_EQ(Must(t.Get("e" + std::to_string(i))), "eventual") << i;
  }
  ASSERT_OK(db->Close());  // a database whose thread never started closes too
}

// Without Eventual's background sync, a kNone commit is lost on power loss:
// the contrast shows the test above measures the background thread.
TEST(WalDbTest, NoneCommitsWaitForASync) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.wal_sync_interval_ms = 20;
  auto db = Must(Database::Open("n.db", o));
  {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", "none"));
    ASSERT_OK(w.Commit());  // the table exists durably
  }
  // A kNone record is synced only on demand (a durable commit, Sync(), a
  // checkpoint); the background thread syncs kEventual records only.
  {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenTable("t")).Put("k2", "none"));
    ASSERT_OK(w.Commit(Durability::kNone));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // five background ticks
  storage->SimulatePowerLoss();
  db.reset();
  db = Must(Database::Open("n.db", o));
  auto r = Must(db->BeginRead());
  auto t = Must(r.OpenTable("t"));
  EXPECT_EQ(Must(t.Get("k")), "none");
  EXPECT_TRUE(t.Get("k2").status().IsNotFound());
}

TEST(WalDbTest, TimeBasedCheckpoint) {
  auto storage = std::make_shared<MemoryStorage>();
  Options o = MemOptions(storage);
  o.checkpoint_interval_ms = 30;
  auto db = Must(Database::Open("c.db", o));
  {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("k", "v"));
    ASSERT_OK(w.Commit());
  }
  auto st = Must(db->Stats());
  uint64_t lsn = st.last_lsn;
  for (int i = 0; i < 300 && st.checkpoint_lsn < lsn; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    st = Must(db->Stats());
  }
  EXPECT_GE(st.checkpoint_lsn, lsn) << "no checkpoint within 3 s of a 30 ms interval";
}

}  // namespace
}  // namespace manifold
