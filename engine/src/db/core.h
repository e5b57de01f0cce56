// Internal state shared by Database, its transactions and their handles.
//
// Locking (docs/durability.md, "Concurrency"), in acquisition order:
//  - WriterGate admits write transactions: one writer per column family, any
//    number of families at once; an exclusive writer (column family create,
//    drop, rename; recovery; Close) waits until no other writer is open.
//    Held from BeginWrite until Commit/Abort.
//  - DbCore::commit_mu serializes the short publishing step of every commit:
//    catalog merge, catalog tree, log append (which fixes the commit order),
//    checkpoint header writes, and the new snapshot. Logged commits queue up
//    (queue_mu, a leaf lock) and a group leader does this step for all queued
//    ones at once, with one log write. Sealing and writing a transaction's own
//    data pages happen before it, in parallel.
//  - DbCore::mu guards `current`, the allocator, reader registry, durable
//    header bookkeeping and `poisoned`. Held only for short bookkeeping.
//  - sync_mu (group commit) is never held together with the others.
// Readers take a Snapshot under mu and then read pages without any lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "btree/btree.h"
#include "manifold/db.h"
#include "pager/dirty_pages.h"
#include "pager/header.h"
#include "pager/pager.h"
#include "util/big_buffer.h"
#include "util/cow_map.h"
#include "util/futex.h"
#include "wal/wal.h"

namespace manifold {

struct TableInfo {
  uint64_t id = 0;
  TreeRoot tree;
  bool operator==(const TableInfo&) const = default;
};

struct CfInfo {
  uint64_t id = 0;
  // Every log record up to this LSN is in this family's checkpointed data:
  // replay applies a record's operations on the family only if it is newer.
  uint64_t checkpoint_lsn = 0;
  CowMap<TableInfo> tables;  // shared between copies like the families (util/cow_map.h)
  bool operator==(const CfInfo&) const = default;
};

// The catalog: column families and their tables. Persisted in the catalog tree
// (docs/format/catalog.md); kept decoded in memory, one immutable copy per commit
// (copies share the families they did not change: util/cow_map.h).
struct Catalog {
  uint64_t next_id = 1;
  // Shared between the catalogs of successive commits, so that a commit
  // copies only the families it changed (util/cow_map.h).
  CowMap<CfInfo> cfs;
  // Equal catalogs encode to the same catalog tree entries (every field is encoded).
  bool operator==(const Catalog&) const = default;
};

// Encodes the catalog as the key/value pairs stored in the catalog tree.
std::map<std::string, std::string> EncodeCatalog(const Catalog& c);
// Decodes one catalog tree entry into `c`; Corruption on malformed input.
Status DecodeCatalogEntry(std::string_view key, std::string_view value, Catalog* c);

struct Snapshot {
  uint64_t generation = 0;
  uint64_t page_count = 0;
  std::shared_ptr<const Catalog> catalog;  // what transactions read
  // The catalog tree is rewritten only by checkpoints (TxnState::Commit): it
  // encodes tree_catalog, the catalog of the newest checkpoint (or of open).
  TreeRoot catalog_tree;
  std::shared_ptr<const Catalog> tree_catalog;
};

// Admission of write transactions. Families are taken all at once (a
// transaction over several waits until every one of them is free), so two
// multi-family transactions can never deadlock.
class WriterGate {
 public:
  // REQUIRES: `cfs` sorted and unique.
  void AcquireFamilies(const std::vector<std::string>& cfs);
  void ReleaseFamilies(const std::vector<std::string>& cfs);
  void AcquireExclusive();
  void ReleaseExclusive();
  // Whether no write transaction is open.
  bool Idle();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string, std::less<>> held_;  // GUARDED_BY(mu_)
  uint64_t open_ = 0;                        // GUARDED_BY(mu_) family writers
  bool exclusive_ = false;                   // GUARDED_BY(mu_)
  uint64_t exclusive_waiting_ = 0;           // GUARDED_BY(mu_)
};

struct TxnState;

// Group commit of log records (TxnState::CommitQueued): a logged commit, past
// phase A, waits in DbCore's queue until a leader writes its record together
// with those queued with it (one write) and publishes them all. Lives on the
// committing thread's stack until that thread sees kDone.
struct CommitRequest {
  enum : uint32_t { kQueued = 0, kLead = 1, kDone = 2 };
  TxnState* txn = nullptr;
  Durability durability = Durability::kImmediate;
  std::vector<std::pair<uint64_t, PageBuf>> pages;  // written in phase A; into the cache when published
  bool counted = false;    // in DbCore::committing until its record is written
  bool published = false;  // visible (its record is written); set by the leader
  uint64_t lsn = 0;
  Status status;           // set by the leader before kDone
  CommitRequest* next = nullptr;  // the queue is intrusive: queueing allocates nothing
  std::atomic<uint32_t> state{kQueued};  // futex word: kLead (lead the next group) or kDone
};
// Bounds of one group: the leader takes at most this many queued commits,
// and stops before the records' operation bytes pass the byte bound (it
// always takes one).
inline constexpr size_t kCommitGroupMax = 64;
inline constexpr uint64_t kCommitGroupBytesMax = uint64_t{1} << 20;

// Per column family counters (since open).
struct CfCounters {
  uint64_t commits = 0;
  uint64_t aborts = 0;
};

struct DbCore {
  std::string path;
  Options options;
  std::shared_ptr<File> file;
  std::unique_ptr<Pager> pager;
  uint64_t database_id = 0;
  uint32_t page_size = 0;
  std::string header_note;  // set at open when one header slot was unusable; cleared by the next durable commit

  std::mutex mu;
  std::shared_ptr<const Snapshot> current;  // GUARDED_BY(mu)
  uint64_t durable_generation = 0;          // GUARDED_BY(mu) newest commit on stable storage (log or header)
  uint64_t header_generation = 0;           // GUARDED_BY(mu) newest durable header (checkpoint)
  int durable_slot = 0;                     // header slot holding header_generation
  std::vector<uint64_t> freelist_pages;     // chain pages of the durable header
  std::multiset<uint64_t> reader_generations;  // GUARDED_BY(mu)
  PageAllocator alloc;                      // GUARDED_BY(mu)
  Status poisoned;                          // GUARDED_BY(mu)
  bool closed = false;                      // GUARDED_BY(mu)
  std::map<std::string, CfCounters, std::less<>> cf_counters;  // GUARDED_BY(mu)
  uint64_t checkpoints = 0;                 // GUARDED_BY(mu)
  double checkpoint_ms_total = 0;           // GUARDED_BY(mu)
  uint64_t checkpoint_pages_written = 0;    // GUARDED_BY(mu)

  WriterGate gate;
  std::mutex commit_mu;  // see "Locking" above
  // Logged commits waiting for a group leader (CommitRequest). queue_mu is
  // held only to link and unlink requests (after commit_mu when both are held).
  std::mutex queue_mu;
  CommitRequest* queue_head = nullptr;  // GUARDED_BY(queue_mu)
  CommitRequest* queue_tail = nullptr;  // GUARDED_BY(queue_mu)
  bool queue_led = false;               // GUARDED_BY(queue_mu) a leader is at work; the queue is empty if not
  std::atomic<uint64_t> log_writes{0};           // group writes (DatabaseStats::wal_writes)
  std::atomic<uint64_t> log_written_records{0};  // records they wrote
  std::mutex checkpoint_mu;  // one checkpoint at a time (taken before commit_mu)

  // Write-ahead log; null when Options::wal is off. REQUIRES: commit_mu.
  std::shared_ptr<File> wal_file;
  std::unique_ptr<WalWriter> wal;
  uint64_t checkpoint_lsn = 0;         // newest LSN covered by the durable header
  uint64_t checkpoint_wal_salt = 0;    // its wal_salt: the current log cycle's salt (0: unknown)
  uint64_t dirty_bytes = 0;            // GUARDED_BY(mu) data-file bytes written since the last checkpoint
  uint64_t wal_bytes_seen = 0;         // GUARDED_BY(mu) log bytes in this cycle, as of the last commit
  uint64_t last_lsn_seen = 0;          // GUARDED_BY(mu) newest LSN, as of the last commit
  RecoveryStats recovery;
  std::string mutant_last_cf;  // REQUIRES: commit_mu; only Mutant::kLsnGapAcrossFamilies uses it

  // Group commit. Committers append their record under commit_mu, then
  // release it and wait here: one of them (the leader) syncs the log for all
  // records appended so far while the others wait, then wakes them.
  // Followers do not sleep on sync_mu: they wait on sync_epoch (a futex),
  // which PublishSyncStateLocked bumps whenever synced_lsn, sync_error or
  // sync_in_progress changes, and read synced_lsn_pub without a lock. So a
  // finished sync wakes all its followers with one futex call, and they
  // return without queueing on sync_mu one after another.
  std::mutex sync_mu;
  std::atomic<uint32_t> sync_epoch{0};      // see PublishSyncStateLocked
  std::atomic<uint32_t> sync_waiters{0};    // followers asleep (or about to sleep) on sync_epoch
  std::atomic<uint64_t> synced_lsn_pub{0};  // synced_lsn, readable without sync_mu
  std::atomic<bool> sync_failed{false};     // sync_error is set
  uint64_t appended_lsn = 0;     // GUARDED_BY(sync_mu) newest record fully written
  uint64_t eventual_lsn = 0;     // GUARDED_BY(sync_mu) newest kEventual record (the background thread syncs it)
  uint64_t synced_lsn = 0;       // GUARDED_BY(sync_mu) newest record on stable storage
  bool sync_in_progress = false; // GUARDED_BY(sync_mu)
  // Durable logged commits past their start but not yet appended: a leader
  // about to sync waits a little for them (at most half its previous sync's
  // duration), so that they share its sync instead of needing the next one.
  std::atomic<uint32_t> committing{0};
  // Durable logged commits acknowledged since the latest sync started, minus
  // those started since: about how many writers are expected back (writers
  // that commit in a loop are back within a few tens of microseconds). A
  // leader about to sync waits while it is positive, as for `committing` and
  // within the same bound. Reset to zero when a sync starts, so writers that
  // do not come back delay at most one sync. An estimate without thread
  // identity (a writer acknowledged before the reset and back after it makes
  // it one too low): it only changes how long a leader waits.
  std::atomic<int32_t> returning{0};
  std::atomic<uint64_t> sync_waits{0};       // leaders that waited for them (Stats().wal_sync_waits)
  std::atomic<uint64_t> sync_wait_ns{0};     // ... and for how long
  // Commits that have not returned (WriteTransaction::Commit and every
  // CommitOrPoison: column family operations, checkpoints). A commit releases
  // its column families before it waits for the log sync (and may run a
  // checkpoint after that), so Close() waits for this count to reach zero
  // before it releases the files; close_waiting tells a committer that
  // takes it to zero to wake Close() (FutexWakeAll).
  std::atomic<uint32_t> commits_in_flight{0};
  std::atomic<uint32_t> close_waiting{0};
  uint64_t last_sync_ns = 0;     // GUARDED_BY(sync_mu) duration of the newest log sync
  Status sync_error;             // GUARDED_BY(sync_mu) sticky: the log could not be synced
  uint64_t syncs = 0;            // GUARDED_BY(sync_mu) log syncs by group commit
  uint64_t sync_ns_total = 0;    // GUARDED_BY(sync_mu) their duration
  std::atomic<uint64_t> synced_commits{0};  // commits that waited for one (atomic: no sync_mu per commit)
  // GUARDED_BY(sync_mu) histogram, see kSyncHistogramBounds; sized up front so
  // that the group-commit leader never allocates while others wait for it.
  std::vector<uint64_t> records_per_sync = std::vector<uint64_t>(std::size(kSyncHistogramBounds));

  // Background work (with the log): syncs for kEventual commits and
  // time-based checkpoints. Holds only a weak reference to the core. Started
  // on open when time-based checkpoints are on; otherwise by the first
  // kEventual commit (a database that never needs it never pays for a thread).
  std::thread background;  // GUARDED_BY(bg_mu) until bg_stop is set
  std::mutex bg_mu;
  std::condition_variable bg_cv;
  bool bg_stop = false;                         // GUARDED_BY(bg_mu)
  std::atomic<bool> background_started{false};  // written under bg_mu

  DbCore() = default;
  DbCore(const DbCore&) = delete;
  DbCore& operator=(const DbCore&) = delete;
  ~DbCore() { StopBackgroundThread(); }
  void StopBackgroundThread();

  // REQUIRES: sync_mu. Publishes synced_lsn / sync_error / the end of a sync
  // and wakes every follower in WaitDurable (txn.cc).
  void PublishSyncStateLocked();

  uint64_t OldestReaderLocked() const {
    return reader_generations.empty() ? UINT64_MAX : *reader_generations.begin();
  }
};

Status ValidateName(std::string_view what, std::string_view name);
// A fresh, never-zero salt for a new log cycle.
uint64_t NewSalt();
// Starts an exclusive write transaction (catalog changes, replay): waits
// until no other write transaction is open.
// Recovery: the puts and deletes of consecutive log records, applied in key
// order -- by table, then key, then log order -- instead of log order. The
// result is the same (operations on different keys commute; those on one key
// keep their order), but each leaf is visited once per run of keys instead of
// once per record, which is what replay of random keys spends its time on.
// Catalog operations are barriers: the caller applies the run before one.
// Keys, values and names are views into the log's payloads, which must
// outlive the run.
class ReplayRun {
 public:
  // Adds a put or delete of record `lsn` (Corruption if its table does not
  // exist); skips it if the family's checkpoint already covers `lsn`.
  Status Add(TxnState& t, const WalOperation& o, uint64_t lsn);
  // Applies the added operations in key order until all are applied (the run
  // is then empty, and forgets the tables it looked up: call it before every
  // catalog operation, even when empty) or the transaction's dirty pages pass
  // `dirty_bytes_max` (the caller flushes them and calls again, with a new
  // transaction). Errors name `log_path` and the operation's LSN.
  Status Apply(TxnState& t, uint64_t dirty_bytes_max, std::string_view log_path);
  size_t size() const { return ops_.size() - next_; }
  // Room for `n` operations, so that a run of a large log grows once.
  void Reserve(size_t n) { ops_.reserve(n); }
  bool empty() const { return next_ == ops_.size(); }

 private:
  struct Op {
    uint64_t prefix;  // the key's first 8 bytes, big-endian: most comparisons end here
    uint32_t table;   // index into tables_
    uint32_t seq;     // log order among the run's operations
    std::string_view key, value;
    uint64_t lsn;
    bool put;
  };
  struct Table {
    std::string_view cf, name;
  };
  // Sorts ops_[next_..] into the order Apply applies them.
  void Sort();
  std::vector<Table> tables_;
  std::vector<Op, HugePageAllocator<Op>> ops_;  // up to 64 MiB: huge pages (util/big_buffer.h)
  size_t next_ = 0;
  bool sorted_ = false;
  // Add: the table of the previous operation, the LSN its family's
  // checkpoint covers, and whether the table was found in the catalog.
  int last_table_ = -1;
  uint64_t covered_lsn_ = 0;
  bool table_checked_ = false;
};

Result<std::shared_ptr<TxnState>> BeginInternalWrite(const std::shared_ptr<DbCore>& core);
// Starts a write transaction over `cfs` (sorted, unique, non-empty).
Result<std::shared_ptr<TxnState>> BeginFamilyWrite(const std::shared_ptr<DbCore>& core, std::vector<std::string> cfs);
// Writes everything committed into the data file, durably, and resets the log.
Status RunCheckpoint(const std::shared_ptr<DbCore>& core);
// Waits until the log is on stable storage through `lsn`, syncing it as the
// group's leader if no sync is running. A failed sync poisons the database.
Status WaitDurable(DbCore& core, uint64_t lsn);
// On open: starts the background thread if time-based checkpoints are on
// (no-op without the log, or with checkpoint_interval_ms == 0).
void StartBackground(const std::shared_ptr<DbCore>& core);
// Starts the background thread unless it runs or the database is closing.
// False if the thread could not be created (the caller syncs instead).
bool EnsureBackground(const std::shared_ptr<DbCore>& core);
inline void StopBackground(DbCore& core) { core.StopBackgroundThread(); }
// Checkpoints if the log or the unsynced data-file bytes passed their limits.
Status MaybeCheckpoint(const std::shared_ptr<DbCore>& core);
// Out of memory in a step that may have half-updated shared state (a commit,
// checkpoint, Sync, Close): poisons the database like a failed sync and
// returns kNoMemory naming `what` (util/no_memory.h). Never throws.
Status PoisonNoMemory(DbCore& core, std::string_view what) noexcept;
// Counts a commit in DbCore::commits_in_flight while it lives; the last one
// out wakes a waiting Close().
class InFlightCommit {
 public:
  explicit InFlightCommit(DbCore& core) : core_(core) { core_.commits_in_flight.fetch_add(1, std::memory_order_seq_cst); }
  ~InFlightCommit() {
    if (core_.commits_in_flight.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        core_.close_waiting.load(std::memory_order_seq_cst) != 0) {
      FutexWakeAll(&core_.commits_in_flight);
    }
  }
  InFlightCommit(const InFlightCommit&) = delete;
  InFlightCommit& operator=(const InFlightCommit&) = delete;

 private:
  DbCore& core_;
};
// t.Commit(d); if an allocation fails inside, aborts `t` (releasing its
// admission) and poisons the database. Counted in commits_in_flight until it
// returns; the second form is for a caller whose own count covers it
// (WriteTransaction::Commit), so that a commit is counted once.
Status CommitOrPoison(TxnState& t, Durability d);
Status CommitOrPoison(TxnState& t, Durability d, const InFlightCommit& counted_by_caller);
// Catalog keys are "cf" and "cf\0table"; both must respect the page size's key limit.
Status CheckCatalogKeyFits(uint32_t page_size, std::string_view cf, std::string_view table);

// A transaction: the TreeReader for snapshot reads, and for write
// transactions the TreeWriter that owns dirty pages.
struct TxnState : TreeWriter {
  std::shared_ptr<DbCore> core;
  bool write = false;
  bool open = true;
  bool holds_gate = false;         // admitted by core->gate (released by Commit/Abort)
  bool exclusive = false;          // catalog changes, replay: no other writer is open
  std::shared_ptr<const Snapshot> base;
  std::string bound_cf;            // the first of bound_cfs ("" for internal transactions)
  std::vector<std::string> bound_cfs;  // write transactions: the families it may change (sorted)

  // Write transactions only.
  Catalog catalog;                 // exclusive: the whole catalog; family writers: only their families
  TreeRoot catalog_tree;
  DirtyPages dirty;
  std::unordered_set<uint64_t> owned;  // allocated by this transaction
  std::vector<uint64_t> allocated;
  std::vector<uint64_t> freed;
  uint64_t page_limit = 0;         // pages that may be referenced (for bounds checks)
  WalBatch wal_batch;              // the logical operations, for the write-ahead log
  bool log_overflow = false;       // too large for one log record: commit by checkpoint
  bool force_checkpoint = false;   // Database::Checkpoint, Close, recovery
  bool replaying = false;          // applying log records: do not log them again
  // Recovery's last batch, when the log goes on: its pages stay in memory,
  // pinned, like a logged commit's (the log, synced, holds their records)
  // until a checkpoint writes them. Only for commits that are not logged.
  bool hold_pages = false;
  uint64_t modifications = 0;      // bumped by every change; invalidates iterators
  // The tables puts and deletes went to, (family, table), so that Commit
  // looks only at their roots to find the trees it must seal -- not at every
  // table of the families written. Only grows (a savepoint's restore or a drop
  // leaves names Commit no longer finds). written_all: look at every table
  // instead (after a rename moved a changed tree to another name, or after
  // more than kWrittenTablesMax tables).
  std::vector<std::pair<std::string, std::string>> written;
  bool written_all = false;
  static constexpr size_t kWrittenTablesMax = 64;
  void NoteWritten(std::string_view cf, std::string_view table);
  Status failed;                   // set when a write failed half-way
  struct SavepointData {
    uint64_t id;
    Catalog catalog;
    TreeRoot catalog_tree;
    DirtyPages dirty;
    size_t allocated_mark, freed_mark;
    std::pair<size_t, uint64_t> wal_mark;
    bool log_overflow;
  };
  std::vector<SavepointData> savepoints;
  uint64_t next_savepoint_id = 1;

  ~TxnState() override;

  // TreeReader / TreeWriter.
  uint32_t page_size() const override { return core->pager->page_size(); }
  Result<PageBuf> ReadPage(ChildRef ref) override;
  Status ReadOverflow(uint64_t first_page, uint64_t value_bytes, uint32_t checksum, std::string* out) override;
  Result<char*> MakeWritable(ChildRef* ref) override;
  char* NewPage(uint64_t* page_no) override;
  char* AllocatePage(uint64_t* page_no, bool zero);  // NewPage, optionally without zeroing
  void FreePage(uint64_t page_no) override;
  char* DirtyBuffer(uint64_t page_no) override;
  Result<uint64_t> WriteOverflow(std::string_view value) override;
  void FreeExtent(uint64_t first_page, uint64_t n_pages) override;

  // Logical operations shared by the public API and log replay: validate,
  // change the transaction's catalog and trees, and record the operation.
  Result<TableInfo*> FindTable(std::string_view cf, std::string_view table);  // to change (copy-on-write)
  Status TableExists(std::string_view cf, std::string_view table) const;    // copies nothing
  Result<TableInfo*> CreateTableOp(std::string_view cf, std::string_view table);
  Status DropTableOp(std::string_view cf, std::string_view table);
  Status ClearTableOp(std::string_view cf, std::string_view table);
  Status RenameTableOp(std::string_view cf, std::string_view from, std::string_view to);
  Status CreateCfOp(std::string_view name);
  Status DropCfOp(std::string_view name);
  Status RenameCfOp(std::string_view from, std::string_view to);
  // `more`: puts that may follow this one into its leaf (btree::Put); each
  // one taken counts as a modification. Replay only: they are not logged.
  Status PutOp(std::string_view cf, std::string_view table, TreeRoot* root, std::string_view key,
               std::string_view value, btree::PutFollowers* more = nullptr);
  Result<bool> DeleteOp(std::string_view cf, std::string_view table, TreeRoot* root, std::string_view key);
  void Log(WalOp op, std::string_view a, std::string_view b = {}, std::string_view c = {}, std::string_view d = {});
  // Applies a catalog operation of log record `lsn` (recovery; puts and
  // deletes go through a ReplayRun), unless the checkpoint of the column
  // family it names already covers `lsn`.
  Status ApplyCatalogOp(const WalOperation& o, uint64_t lsn);

  // Commit, phase B: merges this transaction's families (or, exclusive, its
  // whole catalog) into `merged` (the newest catalog).
  Status MergeInto(Catalog* merged);
  // REQUIRES: core->mu. The page and counter bookkeeping of publishing this
  // commit at generation `gen` (`old_chain`: the freelist chain a checkpoint replaces).
  void PublishPagesLocked(uint64_t gen, const std::vector<uint64_t>& old_chain, bool checkpoint);
  // After publication: the transaction is closed and its families free.
  void FinishPublished();
  // Phase B of a logged commit: queue up for the group's leader (maybe this
  // thread), which writes the record and publishes; a durable commit returns
  // once the log is synced through it.
  Status CommitQueued(Durability durability, std::vector<std::pair<uint64_t, PageBuf>> pages, bool counted);

  Status CheckUsable() const;  // open, not failed, database not closed/poisoned for writes
  // Whether this transaction may change `cf` (kInvalidArgument naming the bound families if not).
  Status CheckBound(std::string_view cf) const;
  void ReleaseGate();
  Status Commit(Durability durability);
  void Abort();
  void ReleaseReader();
  // Records a failure that left the transaction half-modified.
  Status Fail(Status s);
  // The same for an allocation failure in `what` (kNoMemory). Never throws.
  Status FailNoMemory(std::string_view what) noexcept;
};

}  // namespace manifold
