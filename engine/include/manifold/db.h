// Manifold: an embeddable, single-file, crash-safe key-value database.
//
// A Database is one file holding any number of column families (independent
// keyspaces), each holding named tables (ordered byte-string maps). Keys
// compare as unsigned bytes.
//
// Transactions:
//  - ReadTransaction: a consistent snapshot of every column family as of the
//    moment it began. Never blocks and is never blocked; pages it can reach
//    are not reused until it is closed or destroyed.
//  - WriteTransaction: bound to one column family (BeginWrite) or to several
//    (BeginMultiWrite). Commit(kImmediate) returns only after the change is on
//    stable storage; Commit(kNone) makes the change visible at once and
//    durable with the next durable commit or Sync(). A commit over several
//    families is one log record: recovered all or nothing. Destroying an
//    uncommitted transaction aborts it.
//
// Concurrency: one write transaction per column family at a time; write
// transactions on different families run and commit in parallel (BeginWrite
// waits only for a writer of the same family). Column family create, drop and
// rename wait until no write transaction is open, and hold new ones back.
// Checkpoints run beside open transactions.
//
// Ownership: Table and Iterator handles keep their transaction's state alive;
// using a handle after its transaction committed or aborted returns
// kInvalidState. Iterators of a WriteTransaction's table become invalid (their
// status() turns kInvalidState) when that table is modified.
//
// Out of memory: every call returns kNoMemory instead of throwing. A failed
// write marks its transaction failed; a failed commit, checkpoint, Sync or
// Close poisons the database like a failed sync (docs/durability.md, "Out of
// memory").
//
// Thread-safety: Database is thread-safe. A transaction and its handles must
// be used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/status.h"
#include "manifold/storage.h"

namespace manifold {

inline constexpr uint32_t kPageSizeDefault = 4096;
inline constexpr uint32_t kPageSizeMin = 512;
inline constexpr uint32_t kPageSizeMax = 65536;
inline constexpr size_t kNameBytesMax = 255;                 // column family and table names
inline constexpr uint64_t kValueBytesMax = uint64_t{1} << 32;  // 4 GiB
inline constexpr std::string_view kDefaultColumnFamily = "default";
inline constexpr size_t kMultiWriteFamiliesMax = 1024;  // column families in one BeginMultiWrite

// Largest key accepted for a database with the given page size (a quarter of
// a page minus bookkeeping): 89 bytes with 512-byte pages, 985 with 4 KiB,
// 16,345 with 64 KiB. Larger keys get kInvalidArgument.
size_t KeyBytesMax(uint32_t page_size);

enum class Durability : uint8_t {
  kImmediate = 0,  // on stable storage before Commit returns
  kNone = 1,       // visible now; durable after the next durable commit, Sync() or checkpoint
  kEventual = 2,   // visible now; with the log, a background thread makes it durable within
                   // Options::wal_sync_interval_ms (plus one sync); without the log, like kNone
};

// What recovery does with a damaged write-ahead-log record (docs/durability.md).
enum class WalRecoveryMode : uint8_t {
  kTolerateTornTail = 0,     // default: a damaged last record (a crash mid-write) is dropped;
                             // damage followed by valid records is an error naming LSN and offset
  kAbsoluteConsistency = 1,  // any damaged record, even a torn tail, is an error
  kPointInTime = 2,          // stop at the first damaged record, whatever follows
  kSkipCorrupted = 3,        // skip damaged records and replay the valid ones after them
};

// What the last open replayed from the write-ahead log.
struct RecoveryStats {
  uint64_t records = 0;       // transactions replayed
  uint64_t bytes = 0;         // record bytes read
  uint64_t skipped = 0;       // damaged records skipped (kSkipCorrupted)
  bool torn_tail = false;     // a damaged tail was dropped
  uint64_t last_lsn = 0;      // newest LSN now in the database
  double milliseconds = 0;    // scan, replay and the final checkpoint
};

struct Options {
  std::shared_ptr<Storage> storage;     // null: native files
  // Page size of a new file (0: kPageSizeDefault). For an existing file, 0
  // accepts its page size and any other value must match it.
  uint32_t page_size = 0;
  uint64_t cache_bytes = 64ull << 20;     // one budget for every column family
  bool create_if_missing = true;
  bool error_if_exists = false;

  // Write-ahead log ("PATH-wal"). With it, a durable commit appends one
  // logical record and syncs the log; checkpoints write the data file. Without
  // it, every durable commit is a checkpoint (data sync + header + sync).
  bool wal = true;
  WalRecoveryMode wal_recovery = WalRecoveryMode::kTolerateTornTail;
  uint64_t wal_preallocate_bytes = 4ull << 20;      // log space reserved ahead of need
  uint64_t checkpoint_wal_bytes = 64ull << 20;      // checkpoint when the log holds this much
  uint64_t checkpoint_dirty_bytes = 256ull << 20;   // ...or this much is held in memory or was written to the data file
  uint64_t checkpoint_interval_ms = 60000;          // ...or this long passed with records in the log (0: never)
  uint64_t wal_txn_bytes_max = 16ull << 20;         // larger transactions commit by checkpoint, not log record
  uint64_t wal_sync_interval_ms = 100;              // bound for kEventual commits
};

// One end of a key range.
class Bound {
 public:
  static Bound Unbounded() { return Bound(Kind::kUnbounded, {}); }
  static Bound Included(std::string_view key) { return Bound(Kind::kIncluded, key); }
  static Bound Excluded(std::string_view key) { return Bound(Kind::kExcluded, key); }
  enum class Kind : uint8_t { kUnbounded, kIncluded, kExcluded };
  Kind kind() const { return kind_; }
  const std::string& key() const { return key_; }

 private:
  Bound(Kind kind, std::string_view key) : kind_(kind), key_(key) {}
  Kind kind_;
  std::string key_;
};

// Walks the entries of a range in key order (or reverse order). Usage:
//   for (auto it = table.Range(...); it.Valid(); it.Next()) use(it.key(), it.value());
//   if (!it.status().ok()) ...
// key()/value() stay valid until the next Next()/Seek().
class Iterator {
 public:
  struct Impl;
  explicit Iterator(std::unique_ptr<Impl> impl);
  Iterator(Iterator&&) noexcept;
  Iterator& operator=(Iterator&&) noexcept;
  ~Iterator();

  bool Valid() const;
  void Next();
  // Forward: first entry >= key; reverse: last entry <= key (within the bounds).
  void Seek(std::string_view key);
  std::string_view key() const;
  std::string_view value() const;
  Status status() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// A table inside a transaction. Cheap to copy.
class Table {
 public:
  struct Impl;
  explicit Table(std::shared_ptr<Impl> impl);
  ~Table();
  Table(const Table&);
  Table& operator=(const Table&);

  const std::string& name() const;
  Result<std::string> Get(std::string_view key) const;  // kNotFound if absent
  // Same, into *value (its capacity is reused: no allocation per lookup).
  Status Get(std::string_view key, std::string* value) const;
  Result<bool> Contains(std::string_view key) const;
  Result<uint64_t> Len() const;                          // O(1)
  Iterator Range(const Bound& lower, const Bound& upper, bool reverse = false) const;
  Iterator Prefix(std::string_view prefix, bool reverse = false) const;
  Iterator Scan(bool reverse = false) const;

  // Write transactions only (kInvalidState otherwise).
  Status Put(std::string_view key, std::string_view value);
  Result<bool> Delete(std::string_view key);  // true if the key existed

 private:
  std::shared_ptr<Impl> impl_;
};

class Database;
struct TxnState;

class ReadTransaction {
 public:
  explicit ReadTransaction(std::shared_ptr<TxnState> state);
  ReadTransaction(ReadTransaction&&) noexcept;
  ReadTransaction& operator=(ReadTransaction&&) noexcept;
  ~ReadTransaction();

  Result<Table> OpenTable(std::string_view table,
                          std::string_view column_family = kDefaultColumnFamily) const;
  Result<std::vector<std::string>> ListTables(std::string_view column_family = kDefaultColumnFamily) const;
  Result<std::vector<std::string>> ListColumnFamilies() const;
  uint64_t generation() const;  // the commit this snapshot shows
  void Close();                 // releases the snapshot (also done by the destructor)

 private:
  std::shared_ptr<TxnState> state_;
};

class WriteTransaction {
 public:
  explicit WriteTransaction(std::shared_ptr<TxnState> state);
  WriteTransaction(WriteTransaction&&) noexcept;
  WriteTransaction& operator=(WriteTransaction&&) noexcept;
  ~WriteTransaction();  // aborts if not committed

  // The first (in name order) of the transaction's column families.
  const std::string& column_family() const;
  const std::vector<std::string>& column_families() const;  // sorted
  // `column_family` empty: column_family(). Naming a family the transaction is
  // not bound to gives kInvalidArgument.
  Result<Table> OpenTable(std::string_view table, std::string_view column_family = {});    // kNotFound if absent
  Result<Table> CreateTable(std::string_view table, std::string_view column_family = {});  // kAlreadyExists if present
  Result<Table> OpenOrCreateTable(std::string_view table, std::string_view column_family = {});
  Status DropTable(std::string_view table, std::string_view column_family = {});
  Status RenameTable(std::string_view from, std::string_view to, std::string_view column_family = {});
  Status ClearTable(std::string_view table, std::string_view column_family = {});
  Result<std::vector<std::string>> ListTables(std::string_view column_family = {}) const;

  // Ephemeral savepoints: RestoreSavepoint(id) undoes everything done after
  // SetSavepoint() returned id, and forgets savepoints taken after it.
  Result<uint64_t> SetSavepoint();
  Status RestoreSavepoint(uint64_t id);

  Status Commit(Durability durability = Durability::kImmediate);
  void Abort();

 private:
  std::shared_ptr<TxnState> state_;
};

struct CheckReport {
  bool ok = true;
  std::vector<std::string> problems;  // one line each, with page numbers; any problem makes ok false
  std::vector<std::string> warnings;  // damage the database recovered from by design: e.g. an
                                      // unusable header slot (torn by a crash, or damaged), for
                                      // which open used the other slot -- the previous checkpoint
  uint64_t generation = 0;
  uint64_t page_count = 0;
  uint64_t pages_checked = 0;    // B+tree pages read from storage and verified (overflow
                                 // values are verified by their own checksums)
  uint64_t pages_reachable = 0;
  uint64_t pages_free = 0;
  uint64_t pages_pending_free = 0;
  uint64_t column_families = 0;
  uint64_t tables = 0;
  uint64_t entries = 0;
  std::string ToText() const;
  std::string ToJson() const;
};

struct TableStats {
  std::string name;
  uint64_t entries = 0;
  uint32_t depth = 0;
};

struct ColumnFamilyStats {
  std::string name;
  std::vector<TableStats> tables;
  uint64_t entries = 0;  // all tables together
  uint64_t checkpoint_lsn = 0;  // every log record up to it is in this family's checkpointed data
  uint64_t commits = 0;  // since open
  uint64_t aborts = 0;   // since open
};

// Upper bounds of the buckets of DatabaseStats::wal_records_per_sync.
inline constexpr uint64_t kSyncHistogramBounds[] = {1, 2, 4, 8, 16, 32, 64, UINT64_MAX};

struct DatabaseStats {
  uint32_t page_size = 0;
  uint64_t page_count = 0;         // pages in use by the file format (incl. free ones)
  uint64_t free_pages = 0;         // reusable now
  uint64_t pending_free_pages = 0; // freed, waiting for readers or a durable header
  uint64_t file_bytes = 0;
  uint64_t generation = 0;         // latest commit
  uint64_t durable_generation = 0; // latest commit on stable storage
  uint64_t cache_bytes_used = 0;   // clean pages (bounded by Options::cache_bytes)
  uint64_t cache_bytes_budget = 0;
  // Pages of logged commits kept in memory until the next checkpoint writes
  // them (bounded with the data-file writes by Options::checkpoint_dirty_bytes).
  uint64_t held_pages = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t wal_bytes = 0;          // record bytes in the current log cycle
  uint64_t last_lsn = 0;           // newest log record written
  uint64_t checkpoint_lsn = 0;     // newest log record covered by the durable header
  uint64_t wal_syncs = 0;          // log syncs made by group commit
  uint64_t wal_synced_commits = 0; // durable commits that waited for one (commits per sync = ratio)
  uint64_t wal_sync_ns = 0;        // time those syncs took (average sync = wal_sync_ns / wal_syncs)
  uint64_t wal_sync_waits = 0;     // times a thread about to lead a sync first waited for durable commits on their way
  uint64_t wal_sync_wait_ns = 0;   // time those waits took (bounded by half the previous sync each)
  uint64_t wal_file_bytes = 0;     // size of the log file (preallocated space included)
  uint64_t wal_writes = 0;         // log writes by group commit: each writes the records of its whole group
  uint64_t wal_written_records = 0;  // records they wrote (records per write = ratio)
  // Log records made durable by each group-commit sync: wal_records_per_sync[i]
  // counts the syncs that covered n records, kSyncHistogramBounds[i-1] < n <= kSyncHistogramBounds[i].
  std::vector<uint64_t> wal_records_per_sync;
  uint64_t checkpoints = 0;               // since open (recovery's included)
  double checkpoint_ms_total = 0;         // time spent in them
  uint64_t checkpoint_pages_written = 0;  // pages they wrote: held data pages, catalog, freelist
  std::vector<ColumnFamilyStats> column_families;
  std::string ToText() const;
  std::string ToJson() const;
};

struct DbCore;

class Database {
 public:
  // Opens (or creates, per options) the database file at `path`.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, const Options& options = {});
  ~Database();  // same as Close(), error ignored
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Result<ReadTransaction> BeginRead();
  // Waits while another write transaction on the same family is open (or a
  // column family create/drop/rename is pending).
  Result<WriteTransaction> BeginWrite(std::string_view column_family = kDefaultColumnFamily);
  // One transaction over several column families (duplicates ignored; at most
  // kMultiWriteFamiliesMax), committed atomically as one log record. Waits
  // until every one of them is free; families are taken all at once, so
  // concurrent multi-family transactions never deadlock.
  Result<WriteTransaction> BeginMultiWrite(const std::vector<std::string>& column_families);

  Status CreateColumnFamily(std::string_view name);
  Status DropColumnFamily(std::string_view name);
  Status RenameColumnFamily(std::string_view from, std::string_view to);
  Result<std::vector<std::string>> ListColumnFamilies();

  // Makes every commit so far durable.
  Status Sync();
  // Writes everything committed into the data file and makes it durable (the
  // write-ahead log is then reset). Also done automatically; see Options.
  Status Checkpoint();
  // What opening the database replayed from the write-ahead log.
  RecoveryStats recovery() const;
  // Verifies everything reachable from the latest commit; see CheckReport.
  Result<CheckReport> Check();
  Result<DatabaseStats> Stats();
  // Makes pending commits durable (with the log: a checkpoint) and releases the
  // files. A second Close() returns OK; other calls afterwards return kInvalidState.
  Status Close();

  const std::string& path() const;
  uint32_t page_size() const;

 private:
  explicit Database(std::shared_ptr<DbCore> core);
  std::shared_ptr<DbCore> core_;
};

}  // namespace manifold
