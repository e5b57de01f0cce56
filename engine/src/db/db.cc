// Database: open/create, recovery of the newest valid header slot, column
// family operations, and the thin public handles over TxnState.
#include "manifold/db.h"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <thread>

#include "db/core.h"
#include "util/big_buffer.h"
#include "util/crash_point.h"
#include "util/mutant.h"
#include "util/no_memory.h"

namespace manifold {

size_t KeyBytesMax(uint32_t page_size) { return btree::MaxKeyBytes(page_size); }

namespace {

Status NotADatabase(const std::string& path, const std::string& why) {
  return Status::Corruption(path + " is not a Manifold database (" + why +
                            "); check the path, or restore from a backup");
}

// Reads the header slots and returns the newest valid one (*slot_index tells which).
Result<HeaderSlot> ReadHeader(File& f, uint64_t file_bytes, int* slot_index, std::string* note) {
  const std::string& path = f.path();
  char s0[kHeaderSlotBytes];
  MANIFOLD_RETURN_IF_ERROR(f.Read(0, kHeaderSlotBytes, s0));
  Result<HeaderSlot> h0 = HeaderSlot::Decode(s0, path + " header slot 0 (offset 0)");
  // Slot 1 sits at offset page_size; without a valid slot 0, try every page size.
  std::vector<uint64_t> candidates;
  if (h0.ok()) {
    candidates.push_back(h0->page_size);
  } else {
    for (uint64_t ps = kPageSizeMin; ps <= kPageSizeMax; ps *= 2) candidates.push_back(ps);
  }
  Result<HeaderSlot> h1 = Status::Corruption(path + " header slot 1: not found");
  bool magic1 = false;
  for (uint64_t ps : candidates) {
    if (file_bytes < ps + kHeaderSlotBytes) continue;
    char s1[kHeaderSlotBytes];
    MANIFOLD_RETURN_IF_ERROR(f.Read(ps, kHeaderSlotBytes, s1));
    if (std::memcmp(s1, kHeaderMagic, 8) == 0) magic1 = true;
    Result<HeaderSlot> r = HeaderSlot::Decode(s1, path + " header slot 1 (offset " + std::to_string(ps) + ")");
    if (r.ok() && r->page_size == ps) {
      h1 = std::move(r);
      break;
    }
    if (h0.ok() || magic1) h1 = std::move(r);
    if (magic1) break;
  }
  if (h0.ok() && h1.ok()) {
    if (h0->database_id != h1->database_id || h0->page_size != h1->page_size) {
      // A slot from another database (file spliced or overwritten): trust the newer.
    }
    *slot_index = h1->generation > h0->generation ? 1 : 0;
    return *slot_index == 1 ? std::move(h1) : std::move(h0);
  }
  // One slot is unusable: a header write torn by a crash, or damage. The other
  // slot is a complete commit; say so in Check() reports.
  if (h0.ok()) {
    *slot_index = 0;
    *note = "header slot 1 is invalid (" + h1.status().message() + "); opened from slot 0 at generation " +
            std::to_string(h0->generation) + ". Expected after a crash during a header write; the next checkpoint rewrites it";
    return h0;
  }
  if (h1.ok()) {
    *slot_index = 1;
    *note = "header slot 0 is invalid (" + h0.status().message() + "); opened from slot 1 at generation " +
            std::to_string(h1->generation) + ". Expected after a crash during a header write; the next checkpoint rewrites it";
    return h1;
  }
  if (std::memcmp(s0, kHeaderMagic, 8) != 0 && !magic1) return NotADatabase(path, "no header magic");
  // Not-supported versions deserve their own message.
  if (h0.status().code() == Status::Code::kNotSupported) return h0.status();
  return Status::Corruption("both header slots of " + path + " are corrupt: " + h0.status().message() + "; " +
                            h1.status().message() + ". Restore from a backup");
}

// Whether the log may hold a commit: any byte past its header that is not
// zero (a new log is a header and zeros).
Result<bool> LogMayHoldCommits(File* wal_file) {
  if (wal_file == nullptr) return false;
  MANIFOLD_ASSIGN_OR_RETURN(uint64_t bytes, wal_file->Size());
  std::string chunk;
  for (uint64_t at = kWalHeaderBytes; at < bytes; at += chunk.size()) {
    chunk.resize(std::min<uint64_t>(bytes - at, 1u << 20));
    MANIFOLD_RETURN_IF_ERROR(wal_file->Read(at, chunk.size(), chunk.data()));
    if (chunk.find_first_not_of('\0') != std::string::npos) return true;
  }
  return false;
}

// Whether a small file is a database creation cut short by a crash (nothing
// was acknowledged yet), to be created again. Creation resizes the file to two
// pages, writes header slot 0 (generation 0), and syncs; until that sync any
// of it may be lost, kept or torn. Three shapes qualify:
//  - nothing but zeros (the header write was lost);
//  - a valid generation-0 header in a file shorter than the two pages it
//    names (the resize was lost, the header write was not);
//  - no valid header slot, no header magic where slot 1 of any page size
//    would be, zeros from 4 KiB on (slot 1 was never written: no checkpoint
//    ever ran), and a log that holds nothing (every commit that is not a
//    checkpoint is in the log): the first header's sector was torn.
// Anything else is left to the normal checks, which refuse it.
Result<bool> CreationCutShort(File& file, uint64_t file_bytes, const Result<HeaderSlot>& header, File* wal_file) {
  if (header.ok()) {
    if (header->generation != 0 || header->page_count <= file_bytes / header->page_size) return false;
    MANIFOLD_ASSIGN_OR_RETURN(bool log_used, LogMayHoldCommits(wal_file));
    return !log_used;
  }
  if (!header.status().IsCorruption()) return false;
  std::string bytes(file_bytes, '\0');
  MANIFOLD_RETURN_IF_ERROR(file.Read(0, file_bytes, bytes.data()));
  if (bytes.find_first_not_of('\0') == std::string::npos) return true;
  if (bytes.size() > 4096 && bytes.find_first_not_of('\0', 4096) != std::string::npos) return false;
  for (uint64_t ps = kPageSizeMin; ps < 4096 && ps + 8 <= bytes.size(); ps *= 2) {
    if (std::memcmp(bytes.data() + ps, kHeaderMagic, 8) == 0) return false;
  }
  MANIFOLD_ASSIGN_OR_RETURN(bool log_used, LogMayHoldCommits(wal_file));
  return !log_used;
}

}  // namespace

Database::Database(std::shared_ptr<DbCore> core) : core_(std::move(core)) {}
Database::~Database() {
  // Errors of the final sync were reported to no one; Close() first to see them.
  // With transactions still open, the file stays open until they end.
  Status ignored = Close();
  (void)ignored;
  if (core_) StopBackground(*core_);
  if (core_) {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->closed = true;
  }
}
const std::string& Database::path() const { return core_->path; }
uint32_t Database::page_size() const { return core_->page_size; }

namespace {

// Loads catalog and freelist from a header; fills the core.
Status LoadState(DbCore& core, const HeaderSlot& h, int slot) {
  core.durable_slot = slot;
  core.durable_generation = h.generation;
  core.header_generation = h.generation;
  core.checkpoint_lsn = h.checkpoint_lsn;
  core.checkpoint_wal_salt = h.wal_salt;
  core.database_id = h.database_id;
  // Catalog: read every entry of the catalog tree (verifying each page).
  auto snap = std::make_shared<Snapshot>();
  snap->generation = h.generation;
  snap->page_count = h.page_count;
  snap->catalog_tree = h.catalog;
  auto catalog = std::make_shared<Catalog>();
  TxnState reader;
  reader.core = std::shared_ptr<DbCore>(&core, [](DbCore*) {});
  reader.base = snap;
  reader.open = false;  // not registered as a reader
  btree::Cursor cur(&reader, h.catalog);
  MANIFOLD_RETURN_IF_ERROR(cur.SeekFirst());
  uint64_t n = 0;
  while (cur.Valid()) {
    std::string value;
    MANIFOLD_RETURN_IF_ERROR(btree::ReadValue(reader, cur.rest(), &value));
    MANIFOLD_RETURN_IF_ERROR(DecodeCatalogEntry(cur.key(), value, catalog.get()));
    n++;
    MANIFOLD_RETURN_IF_ERROR(cur.Next());
  }
  if (n != h.catalog.entries) {
    return Status::Corruption(core.path + ": catalog has " + std::to_string(n) + " entries, header says " +
                              std::to_string(h.catalog.entries));
  }
  snap->catalog = catalog;
  snap->tree_catalog = catalog;
  // Freelist chain.
  std::vector<uint64_t> free_pages;
  std::vector<uint64_t> chain;
  ChildRef ref = h.freelist_head;
  const uint32_t ps = core.pager->page_size();
  while (ref.page != 0) {
    if (chain.size() > h.page_count) return Status::Corruption(core.path + ": freelist chain has a cycle");
    MANIFOLD_ASSIGN_OR_RETURN(PageBuf pb, core.pager->Read(ref, h.page_count));
    const char* p = pb.get();
    uint32_t count = page::Count(p);
    if (page::Type(p) != PageType::kFreelist || kFreelistFixedBytes + 8ull * count > ps) {
      return Status::Corruption(core.pager->CorruptionContext(ref.page) + ": not a valid freelist page");
    }
    chain.push_back(ref.page);
    for (uint32_t i = 0; i < count; i++) {
      uint64_t fp = DecodeU64(p + kFreelistFixedBytes + size_t{8} * i);
      if (fp < 2 || fp >= h.page_count) {
        return Status::Corruption(core.pager->CorruptionContext(ref.page) + ": free page " + std::to_string(fp) +
                                  " out of range");
      }
      free_pages.push_back(fp);
    }
    ref = DecodeRef(p + kPageHeaderBytes);
  }
  if (free_pages.size() != h.freelist_count) {
    return Status::Corruption(core.path + ": freelist lists " + std::to_string(free_pages.size()) +
                              " pages, header says " + std::to_string(h.freelist_count));
  }
  core.freelist_pages = std::move(chain);
  core.alloc.Reset(h.page_count, std::move(free_pages));
  core.current = std::move(snap);
  return Status::Ok();
}

// Replays the log records newer than the checkpoint, then checkpoints (which
// also starts a new log cycle). A crash at any point leaves the data file and
// the log as they were, so recovery can simply run again.
Status Recover(const std::shared_ptr<DbCore>& core) {
  auto t0 = std::chrono::steady_clock::now();
  File& wf = *core->wal_file;
  MANIFOLD_ASSIGN_OR_RETURN(uint64_t wal_bytes, wf.Size());
  // The whole log, once: mapped where the storage can (File::MapForRead: no
  // copy, and no fresh memory for the kernel to zero -- on virtual machines
  // that cost as much as the replay), else read into a buffer (not
  // zero-filled first: Read fills it or fails).
  std::shared_ptr<const char> mapped;
  if (wal_bytes > 0) mapped = wf.MapForRead(wal_bytes);
  BigBuffer log_bytes(mapped ? 0 : static_cast<size_t>(wal_bytes));
  if (wal_bytes > 0 && !mapped) MANIFOLD_RETURN_IF_ERROR(wf.Read(0, wal_bytes, log_bytes.data()));
  std::string_view data(mapped ? mapped.get() : log_bytes.data(), wal_bytes);
  WalScanResult scan;
  MANIFOLD_RETURN_IF_ERROR(ScanWalInPlace(data, wf.path(), core->options.wal_recovery, &scan));  // into `data`
  if (scan.header_valid && scan.header.database_id != core->database_id && !scan.records.empty()) {
    return Status::Corruption(wf.path() + " belongs to another database (its id does not match " + core->path +
                              "); move it away if the data file was replaced on purpose");
  }
  if (!scan.header_valid && wal_bytes > kWalHeaderBytes) {
    // A damaged log header reads as an empty log -- safe only if no record
    // newer than the checkpoint lies behind it. Records carry their own
    // checksum, so look for one.
    for (uint64_t at = kWalHeaderBytes; at + kWalRecordHeaderBytes <= data.size(); at += 8) {
      const char* r = data.data() + at;
      uint64_t payload = DecodeU32(r), lsn = DecodeU64(r + 8);
      if (lsn <= core->checkpoint_lsn || payload == 0 || at + kWalRecordHeaderBytes + payload > data.size()) continue;
      // A record of another cycle than the one the checkpoint started is
      // stale (never acknowledged: it lay behind a torn tail that an earlier
      // recovery dropped), whatever its LSN.
      if (core->checkpoint_wal_salt != 0 && DecodeU64(r + 16) != core->checkpoint_wal_salt &&
          !MutantIs(Mutant::kIgnoreCheckpointWalSalt)) {
        continue;
      }
      if (!WalRecordChecksumOk(r, payload)) continue;
      if (core->options.wal_recovery == WalRecoveryMode::kTolerateTornTail ||
          core->options.wal_recovery == WalRecoveryMode::kAbsoluteConsistency) {
        return Status::Corruption(wf.path() + ": the log header is damaged, but a record newer than the checkpoint (LSN " +
                                  std::to_string(lsn) + " at offset " + std::to_string(at) +
                                  ") lies behind it. Open with WalRecoveryMode::kPointInTime to accept the loss");
      }
      break;
    }
  }
  if (scan.header_valid && scan.header.start_lsn > core->checkpoint_lsn + 1 &&
      (core->options.wal_recovery == WalRecoveryMode::kTolerateTornTail ||
       core->options.wal_recovery == WalRecoveryMode::kAbsoluteConsistency)) {
    // The log was reset after a checkpoint newer than the one the data file
    // opened from: that checkpoint's header slot is unusable, and every commit
    // between the two is gone. Never roll back silently.
    return Status::Corruption(wf.path() + " starts at LSN " + std::to_string(scan.header.start_lsn) +
                              " but the data file's header covers only up to LSN " +
                              std::to_string(core->checkpoint_lsn) +
                              ": the newest checkpoint's header slot is unusable and later commits would be lost. "
                              "Open with WalRecoveryMode::kPointInTime to accept the older checkpoint");
  }
  if (MutantIs(Mutant::kDropLastRecordOfLog)) {
    if (!scan.records.empty()) scan.records.pop_back();
  }
  RecoveryStats& rs = core->recovery;
  rs.bytes = scan.bytes;
  rs.skipped = scan.skipped;
  rs.torn_tail = scan.torn_tail;
  uint64_t expected = core->checkpoint_lsn + 1;
  uint64_t last = core->checkpoint_lsn;
  // Replay's pages stay in memory until a batch flushes them (not durably):
  // at most checkpoint_dirty_bytes, and at most the larger of 256 MiB and the
  // cache's budget.
  const uint64_t kReplayDirtyBytesMax =
      std::min<uint64_t>(std::max<uint64_t>(256ull << 20, core->options.cache_bytes), core->options.checkpoint_dirty_bytes);
  constexpr size_t kReplayRunOpsMax = size_t{1} << 20;  // 64 MiB of ReplayRun::Op
  if (!scan.records.empty() && scan.records.back().lsn > core->checkpoint_lsn) {
    // Replay ends in a checkpoint, whose data sync would also write back the
    // crashed process's unsynced pages past the header's page count, if the
    // OS still caches them: cut them off first (nothing durable refers to them).
    uint64_t durable_pages;
    {
      std::lock_guard<std::mutex> lock(core->mu);
      durable_pages = core->alloc.page_count();
    }
    MANIFOLD_RETURN_IF_ERROR(core->pager->TruncateTo(durable_pages).WithContext("recovery: trimming the data file"));
  }
  std::shared_ptr<TxnState> replay;
  std::vector<WalOperation> ops;  // reused: one allocation for the whole replay
  // Records are applied in batches, one transaction each (replay is not
  // shared with anyone yet); a batch is flushed to the data file when its
  // dirty pages pass a bound, and the last one ends in the checkpoint. Puts
  // and deletes go through a run that applies them in key order (ReplayRun).
  ReplayRun run;
  {  // most records hold one put; the records the checkpoint covers come first
    const auto first_new = std::partition_point(scan.records.begin(), scan.records.end(),
                                                [&](const WalRecord& r) { return r.lsn <= core->checkpoint_lsn; });
    run.Reserve(std::min(static_cast<size_t>(scan.records.end() - first_new), kReplayRunOpsMax));
  }
  auto begin_batch = [&]() -> Status {
    if (replay) return Status::Ok();
    MANIFOLD_ASSIGN_OR_RETURN(replay, BeginInternalWrite(core));
    replay->replaying = true;
    return Status::Ok();
  };
  auto flush_if_full = [&]() -> Status {
    if (replay->dirty.size() * core->page_size <= kReplayDirtyBytesMax) return Status::Ok();
    MANIFOLD_RETURN_IF_ERROR(replay->Commit(Durability::kNone));
    replay.reset();
    return begin_batch();
  };
  auto apply_run = [&]() -> Status {
    do {  // also when empty: Apply forgets the tables it looked up
      MANIFOLD_RETURN_IF_ERROR(run.Apply(*replay, kReplayDirtyBytesMax, wf.path()));
      MANIFOLD_RETURN_IF_ERROR(flush_if_full());
    } while (!run.empty());
    return Status::Ok();
  };
  for (const WalRecord& rec : scan.records) {
    if (rec.lsn <= core->checkpoint_lsn) continue;  // already in the data file
    if (rec.lsn != expected && core->options.wal_recovery != WalRecoveryMode::kSkipCorrupted) {
      return Status::Corruption(wf.path() + ": the log continues at LSN " + std::to_string(rec.lsn) +
                                " (offset " + std::to_string(rec.offset) + ") but the data file covers only up to LSN " +
                                std::to_string(core->checkpoint_lsn) + ": records are missing");
    }
    ops.clear();
    Status s = DecodeWalPayload(rec.payload, &ops);
    if (!s.ok()) return s.WithContext(wf.path() + " LSN " + std::to_string(rec.lsn) + " offset " + std::to_string(rec.offset));
    MANIFOLD_RETURN_IF_ERROR(begin_batch());
    for (int pass = MutantIs(Mutant::kReplayRecordTwice) ? 2 : 1; pass > 0; pass--) {
      for (const WalOperation& o : ops) {
        if (o.op == WalOp::kPut || o.op == WalOp::kDelete) {
          s = run.Add(*replay, o, rec.lsn);
        } else {
          MANIFOLD_RETURN_IF_ERROR(apply_run());  // a catalog operation is a barrier
          s = replay->ApplyCatalogOp(o, rec.lsn);
        }
        if (!s.ok()) return s.WithContext(wf.path() + " LSN " + std::to_string(rec.lsn));
      }
    }
    if (run.size() >= kReplayRunOpsMax) MANIFOLD_RETURN_IF_ERROR(apply_run());
    MANIFOLD_RETURN_IF_ERROR(flush_if_full());
    rs.records++;
    last = rec.lsn;
    expected = rec.lsn + 1;
  }
  if (replay) MANIFOLD_RETURN_IF_ERROR(apply_run());
  scan.records.clear();
  log_bytes.reset();  // what the records pointed into (one of the two)
  mapped.reset();     // before the log is written again
  rs.last_lsn = last;
  CrashPoint(CrashPointId::kRecoveryReplayed);
  // A log that ended cleanly (its header valid, no torn or skipped record,
  // so no record of this cycle lies behind its end: ScanWalInPlace) goes on
  // in the same cycle: the replayed commits stay in it, as logged commits
  // do, until the next checkpoint. Its records were read back, maybe from
  // the OS cache only, so the log is synced first: later records name them
  // as synced. (Without the log option the log is set aside after the open,
  // so its records must reach a checkpoint.)
  const bool resume = core->options.wal && rs.records > 0 && scan.header_valid && !scan.torn_tail &&
                      scan.skipped == 0;
  if (resume) {
    MANIFOLD_RETURN_IF_ERROR(wf.Sync().WithContext("recovery: sync of the write-ahead log"));
    MANIFOLD_RETURN_IF_ERROR(core->wal->Resume(scan.header, scan.end_offset, last + 1));
    // Not logged (replaying); its publish counts the log's bytes, so the
    // checkpoint triggers see them. Its pages stay in memory, pinned, as a
    // logged commit's do (the synced log holds their records), until the
    // next checkpoint writes them: open writes nothing to the data file.
    replay->hold_pages = true;
    MANIFOLD_RETURN_IF_ERROR(replay->Commit(Durability::kNone));
    replay.reset();
    std::lock_guard<std::mutex> lock(core->sync_mu);
    core->synced_lsn = std::max(core->synced_lsn, last);
    core->appended_lsn = std::max(core->appended_lsn, last);
    core->PublishSyncStateLocked();
  } else if (rs.records > 0 || scan.torn_tail || (!scan.header_valid && wal_bytes > kWalHeaderBytes)) {
    // With records replayed, or stale ones possibly behind a torn tail or a
    // damaged log header, recovery ends in a checkpoint: its header records the
    // new cycle's salt before the log reset writes it (HeaderSlot::wal_salt).
    MANIFOLD_RETURN_IF_ERROR(core->wal->Resume(scan.header, scan.header_valid ? scan.end_offset : kWalHeaderBytes, last + 1));
    if (!replay) {
      MANIFOLD_ASSIGN_OR_RETURN(replay, BeginInternalWrite(core));
    }
    replay->force_checkpoint = true;
    MANIFOLD_RETURN_IF_ERROR(replay->Commit(Durability::kImmediate));
  } else {
    MANIFOLD_RETURN_IF_ERROR(core->wal->Reset(NewSalt(), core->checkpoint_lsn + 1, core->database_id));
  }
  {
    // Everything up to the checkpoint is durable: group commit starts from there.
    std::lock_guard<std::mutex> lock(core->sync_mu);
    core->synced_lsn = std::max(core->synced_lsn, core->checkpoint_lsn);
    core->appended_lsn = std::max(core->appended_lsn, core->checkpoint_lsn);
  }
  rs.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, const Options& options) try {
  if (options.page_size != 0 && !IsValidPageSize(options.page_size)) {
    return Status::InvalidArgument("page size " + std::to_string(options.page_size) +
                                   " is invalid: use a power of two from 512 to 65536");
  }
  std::shared_ptr<Storage> storage = options.storage ? options.storage : NewNativeStorage();
  MANIFOLD_ASSIGN_OR_RETURN(bool exists, storage->Exists(path));
  if (!exists && !options.create_if_missing) {
    return Status::NotFound(path + ": no such database (create_if_missing is off)");
  }
  if (exists && options.error_if_exists) return Status::AlreadyExists(path + ": database already exists");
  OpenFileOptions fo;
  fo.create = options.create_if_missing;
  fo.lock = true;
  MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<File> file_u, storage->Open(path, fo));
  std::shared_ptr<File> file(std::move(file_u));
  MANIFOLD_ASSIGN_OR_RETURN(uint64_t file_bytes, file->Size());

  auto core = std::make_shared<DbCore>();
  core->path = path;
  core->options = options;
  core->file = file;
  // Without the log option, a log left by an earlier session must still be
  // replayed (it may hold acknowledged commits); it is then set aside.
  MANIFOLD_ASSIGN_OR_RETURN(bool wal_exists, storage->Exists(path + "-wal"));
  const bool recover_only = !options.wal && wal_exists;
  if (options.wal || recover_only) {
    // The data file's lock covers the log too.
    OpenFileOptions wo;
    wo.create = options.wal;
    MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<File> wal_u, storage->Open(path + "-wal", wo));
    core->wal_file = std::shared_ptr<File>(std::move(wal_u));
    core->wal = std::make_unique<WalWriter>(core->wal_file, options.wal_preallocate_bytes);
  }

  int slot = 0;
  std::string header_note;
  Result<HeaderSlot> header = Status::NotFound("no header yet");
  if (file_bytes > 0 && file_bytes < kHeaderSlotBytes) {
    return NotADatabase(path, "file is only " + std::to_string(file_bytes) + " bytes");
  }
  if (file_bytes > 0) {
    header = ReadHeader(*file, file_bytes, &slot, &header_note);
    if (options.create_if_missing && file_bytes <= 2ull * kPageSizeMax) {
      MANIFOLD_ASSIGN_OR_RETURN(bool cut_short, CreationCutShort(*file, file_bytes, header, core->wal_file.get()));
      if (cut_short) {
        MANIFOLD_RETURN_IF_ERROR(file->Resize(0));
        file_bytes = 0;
        header_note.clear();
      }
    }
  }
  if (file_bytes == 0) {
    if (!options.create_if_missing) return NotADatabase(path, "empty file");
    // New database: header slot 0 at generation 0, then a first commit that
    // creates the default column family (written to slot 1).
    uint32_t ps = options.page_size != 0 ? options.page_size : kPageSizeDefault;
    core->pager = std::make_unique<Pager>(file, ps, options.cache_bytes);
    core->page_size = ps;
    core->database_id = NewSalt();  // random_device per open costs a system call; NewSalt reads it once
    HeaderSlot h;
    if (core->wal) {
      h.wal_salt = NewSalt();
      MANIFOLD_RETURN_IF_ERROR(core->wal->Reset(h.wal_salt, 1, core->database_id));
    }
    h.page_size = ps;
    h.generation = 0;
    h.page_count = 2;
    h.database_id = core->database_id;
    char first_slot[kHeaderSlotBytes];
    h.EncodeTo(first_slot);
    MANIFOLD_RETURN_IF_ERROR(file->Resize(2ull * ps));
    MANIFOLD_RETURN_IF_ERROR(file->Write(0, std::string_view(first_slot, sizeof first_slot)));
    MANIFOLD_RETURN_IF_ERROR(file->Sync());
    MANIFOLD_RETURN_IF_ERROR(LoadState(*core, h, 0));
    std::unique_ptr<Database> db(new Database(core));
    MANIFOLD_RETURN_IF_ERROR(db->CreateColumnFamily(kDefaultColumnFamily));
    StartBackground(core);
    return db;
  }

  MANIFOLD_ASSIGN_OR_RETURN(HeaderSlot h, std::move(header));
  core->header_note = header_note;
  if (options.page_size != 0 && options.page_size != h.page_size) {
    return Status::InvalidArgument(path + " was created with page size " + std::to_string(h.page_size) +
                                   ", but the options ask for " + std::to_string(options.page_size) +
                                   " (leave page_size 0 to accept the file's)");
  }
  if (h.page_count > file_bytes / h.page_size) {
    return Status::Corruption(path + " is truncated: the header (generation " + std::to_string(h.generation) +
                              ") needs " + std::to_string(h.page_count * h.page_size) + " bytes, the file has " +
                              std::to_string(file_bytes));
  }
  core->pager = std::make_unique<Pager>(file, h.page_size, options.cache_bytes);
  core->page_size = h.page_size;
  MANIFOLD_RETURN_IF_ERROR(LoadState(*core, h, slot));
  if (core->wal) MANIFOLD_RETURN_IF_ERROR(Recover(core));
  if (recover_only) {
    // Replayed and checkpointed: from here on every durable commit is a checkpoint.
    core->wal.reset();
    core->wal_file.reset();
  }
  std::unique_ptr<Database> db(new Database(core));
  // Creation is two durable steps (header, then the default column family); a
  // crash between them leaves a valid database without the default column family.
  if (!core->current->catalog->cfs.Contains(kDefaultColumnFamily)) {
    MANIFOLD_RETURN_IF_ERROR(db->CreateColumnFamily(kDefaultColumnFamily));
  }
  StartBackground(core);
  return db;
} catch (const std::bad_alloc&) {
  // Everything built so far is released on the way out; what was written to
  // the files is a crash-consistent state, which the next open recovers.
  return NoMemoryStatus("open");
}

// ---- transactions ----

Result<ReadTransaction> Database::BeginRead() try {
  auto t = std::make_shared<TxnState>();
  t->core = core_;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->closed) return Status::InvalidState(core_->path + ": database is closed");
    core_->reader_generations.insert(core_->current->generation);
    t->base = core_->current;  // after the insert: a failed one must not be unregistered
  }
  return ReadTransaction(std::move(t));
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("begin read transaction");
}

namespace {

enum class Admission { kFamilies, kExclusive, kCheckpoint };

// Starts a write transaction. kFamilies: over `cfs` (sorted, unique), beside
// writers of other families; kExclusive: alone; kCheckpoint: no admission at
// all (it changes no family; commit_mu orders it with commits).
Result<std::shared_ptr<TxnState>> BeginTxn(const std::shared_ptr<DbCore>& core, std::vector<std::string> cfs,
                                           Admission admission) {
  // Built before admission, so that an allocation failure cannot leave the gate held.
  auto t = std::make_shared<TxnState>();
  t->core = core;
  t->exclusive = admission == Admission::kExclusive;
  t->bound_cfs = std::move(cfs);
  t->bound_cf = t->bound_cfs.empty() ? std::string() : t->bound_cfs.front();
  if (admission == Admission::kFamilies) {
    core->gate.AcquireFamilies(t->bound_cfs);
  } else if (admission == Admission::kExclusive) {
    core->gate.AcquireExclusive();
  }
  // From here on, destroying `t` (also on std::bad_alloc) aborts it and
  // releases its admission.
  t->write = true;
  t->holds_gate = admission != Admission::kCheckpoint;
  Status err;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    if (core->closed) {
      err = Status::InvalidState(core->path + ": database is closed");
    } else if (!core->poisoned.ok()) {
      err = Status::Poisoned("an earlier sync or header write failed, so writes are refused until the database is reopened: " +
                             core->poisoned.ToString());
    } else {
      t->base = core->current;
      core->alloc.Reclaim(core->header_generation, core->OldestReaderLocked());
      t->page_limit = core->alloc.page_count();
    }
  }
  if (err.ok()) {
    for (const std::string& cf : t->bound_cfs) {
      if (!t->base->catalog->cfs.Contains(cf)) {
        err = Status::NotFound("column family '" + cf + "' does not exist");
        break;
      }
    }
  }
  if (!err.ok()) {
    t->open = false;
    t->ReleaseGate();
    return err;
  }
  // A family writer sees (and may change) only its own families; the commit
  // merges them into the newest catalog. A checkpoint needs none.
  if (admission == Admission::kExclusive) {
    t->catalog = *t->base->catalog;
  } else {
    t->catalog.next_id = t->base->catalog->next_id;
    // Copies of their own: a writer changes its families' table roots.
    for (const std::string& cf : t->bound_cfs) {
      t->catalog.cfs.Put(cf, std::make_shared<CfInfo>(*t->base->catalog->cfs.Find(cf)));
    }
  }
  t->catalog_tree = t->base->catalog_tree;
  return t;
}

}  // namespace

Result<std::shared_ptr<TxnState>> BeginInternalWrite(const std::shared_ptr<DbCore>& core) {
  return BeginTxn(core, {}, Admission::kExclusive);
}

Result<std::shared_ptr<TxnState>> BeginFamilyWrite(const std::shared_ptr<DbCore>& core, std::vector<std::string> cfs) {
  return BeginTxn(core, std::move(cfs), Admission::kFamilies);
}

Status RunCheckpoint(const std::shared_ptr<DbCore>& core) {
  std::lock_guard<std::mutex> one_at_a_time(core->checkpoint_mu);
  MANIFOLD_ASSIGN_OR_RETURN(auto t, BeginTxn(core, {}, Admission::kCheckpoint));
  t->force_checkpoint = true;
  return CommitOrPoison(*t, Durability::kImmediate);
}

Status MaybeCheckpoint(const std::shared_ptr<DbCore>& core) {
  if (!core->wal) return Status::Ok();
  // Racy reads of two counters are fine: at worst a checkpoint comes one commit late.
  uint64_t wal_bytes, dirty;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    if (core->closed || !core->poisoned.ok()) return Status::Ok();
    // Data-file bytes written since the last checkpoint, and the pages that
    // logged commits left in memory for the next checkpoint to write.
    dirty = core->dirty_bytes + core->alloc.held_count() * uint64_t{core->page_size};
    wal_bytes = core->wal_bytes_seen;
  }
  if (wal_bytes < core->options.checkpoint_wal_bytes && dirty < core->options.checkpoint_dirty_bytes) {
    return Status::Ok();
  }
  // One committer runs it; the others go on (the next commit looks again).
  std::unique_lock<std::mutex> running(core->checkpoint_mu, std::try_to_lock);
  if (!running.owns_lock()) return Status::Ok();
  running.unlock();
  return RunCheckpoint(core);
}

void StartBackground(const std::shared_ptr<DbCore>& core) {
  if (!core->wal || core->options.checkpoint_interval_ms == 0) return;  // kEventual commits start it
  (void)EnsureBackground(core);  // if it fails, kEventual commits try again (and sync themselves)
}

bool EnsureBackground(const std::shared_ptr<DbCore>& core) {
  if (!core->wal) return true;
  if (core->background_started.load(std::memory_order_acquire)) return true;
  std::lock_guard<std::mutex> start(core->bg_mu);
  if (core->bg_stop || core->background_started.load(std::memory_order_relaxed)) return true;
  uint64_t tick_ms = std::max<uint64_t>(1, std::min(core->options.wal_sync_interval_ms ? core->options.wal_sync_interval_ms : 1000,
                                                    core->options.checkpoint_interval_ms ? core->options.checkpoint_interval_ms : 1000));
  std::weak_ptr<DbCore> weak = core;
  try {
    core->background = std::thread([weak, tick_ms] {
      auto last_checkpoint = std::chrono::steady_clock::now();
      while (true) {
        std::shared_ptr<DbCore> c = weak.lock();
        if (!c) return;
        {
          std::unique_lock<std::mutex> lk(c->bg_mu);
          c->bg_cv.wait_for(lk, std::chrono::milliseconds(tick_ms), [&] { return c->bg_stop; });
          if (c->bg_stop) return;
        }
        try {
          // kEventual commits: sync the log through the newest of them.
          uint64_t eventual, synced;
          {
            std::lock_guard<std::mutex> lk(c->sync_mu);
            eventual = c->eventual_lsn;
            synced = c->synced_lsn;
          }
          if (eventual > synced) {
            Status ignored = WaitDurable(*c, eventual);  // a failure poisons; commits report it
            (void)ignored;
          }
          // Time-based checkpoint, if the log holds anything.
          const uint64_t interval = c->options.checkpoint_interval_ms;
          if (interval > 0 && std::chrono::steady_clock::now() - last_checkpoint >= std::chrono::milliseconds(interval)) {
            uint64_t wal_bytes;
            {
              std::lock_guard<std::mutex> lk(c->mu);
              wal_bytes = c->wal_bytes_seen;
            }
            if (wal_bytes > 0) {
              Status ignored = RunCheckpoint(c);  // a failure poisons; commits report it
              (void)ignored;
            }
            last_checkpoint = std::chrono::steady_clock::now();
          }
        } catch (const std::bad_alloc&) {
          Status ignored = PoisonNoMemory(*c, "background sync or checkpoint");
          (void)ignored;
        }
      }
    });
  } catch (const std::system_error&) {
    return false;  // no thread (resource limits): nothing changed
  } catch (const std::bad_alloc&) {
    return false;
  }
  core->background_started.store(true, std::memory_order_release);
  return true;
}

void DbCore::StopBackgroundThread() {
  {
    std::lock_guard<std::mutex> lk(bg_mu);
    bg_stop = true;
  }
  bg_cv.notify_all();
  if (!background.joinable()) return;
  if (background.get_id() == std::this_thread::get_id()) {
    background.detach();  // the thread itself dropped the last reference; it exits next
  } else {
    background.join();
  }
}

Status Database::Checkpoint() try {
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->closed) return Status::InvalidState(core_->path + ": database is closed");
  }
  return RunCheckpoint(core_);
} catch (const std::bad_alloc&) {
  return PoisonNoMemory(*core_, "checkpoint (the database refuses writes until it is reopened)");
}

RecoveryStats Database::recovery() const { return core_->recovery; }

Result<WriteTransaction> Database::BeginWrite(std::string_view column_family) try {
  MANIFOLD_RETURN_IF_ERROR(ValidateName("column family", column_family));
  MANIFOLD_ASSIGN_OR_RETURN(auto t, BeginFamilyWrite(core_, {std::string(column_family)}));
  return WriteTransaction(std::move(t));
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("begin write transaction");
}

Result<WriteTransaction> Database::BeginMultiWrite(const std::vector<std::string>& column_families) try {
  if (column_families.empty()) return Status::InvalidArgument("BeginMultiWrite needs at least one column family");
  std::vector<std::string> cfs = column_families;
  std::sort(cfs.begin(), cfs.end());
  cfs.erase(std::unique(cfs.begin(), cfs.end()), cfs.end());
  if (cfs.size() > kMultiWriteFamiliesMax) {
    return Status::InvalidArgument("BeginMultiWrite over " + std::to_string(cfs.size()) +
                                   " column families exceeds the limit of " + std::to_string(kMultiWriteFamiliesMax));
  }
  for (const std::string& cf : cfs) MANIFOLD_RETURN_IF_ERROR(ValidateName("column family", cf));
  MANIFOLD_ASSIGN_OR_RETURN(auto t, BeginFamilyWrite(core_, std::move(cfs)));
  return WriteTransaction(std::move(t));
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("begin multi-family write transaction");
}

// Column family changes: an allocation failure before the commit aborts the
// transaction (nothing shared changed); one inside it poisons (CommitOrPoison).
Status Database::CreateColumnFamily(std::string_view name) try {
  MANIFOLD_RETURN_IF_ERROR(ValidateName("column family", name));
  MANIFOLD_ASSIGN_OR_RETURN(auto t, BeginInternalWrite(core_));
  MANIFOLD_RETURN_IF_ERROR(t->CreateCfOp(name));
  return CommitOrPoison(*t, Durability::kImmediate);
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("create column family");
}

Status Database::DropColumnFamily(std::string_view name) try {
  MANIFOLD_ASSIGN_OR_RETURN(auto t, BeginInternalWrite(core_));
  MANIFOLD_RETURN_IF_ERROR(t->DropCfOp(name));
  return CommitOrPoison(*t, Durability::kImmediate);
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("drop column family");
}

Status Database::RenameColumnFamily(std::string_view from, std::string_view to) try {
  MANIFOLD_ASSIGN_OR_RETURN(auto t, BeginInternalWrite(core_));
  MANIFOLD_RETURN_IF_ERROR(t->RenameCfOp(from, to));
  return CommitOrPoison(*t, Durability::kImmediate);
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("rename column family");
}

Result<std::vector<std::string>> Database::ListColumnFamilies() try {
  MANIFOLD_ASSIGN_OR_RETURN(ReadTransaction r, BeginRead());
  return r.ListColumnFamilies();
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("list column families");
}

Status Database::Sync() try {
  uint64_t gen, lsn;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->closed) return Status::InvalidState(core_->path + ": database is closed");
    if (!core_->poisoned.ok()) {
      return Status::Poisoned("an earlier sync or header write failed, so writes are refused until the database is reopened: " +
                              core_->poisoned.ToString());
    }
    gen = core_->current->generation;
    lsn = core_->last_lsn_seen;  // published with `current`
    if (core_->durable_generation >= gen) return Status::Ok();
  }
  if (!core_->wal) return RunCheckpoint(core_);
  // Every commit is in the log already: syncing it makes them durable.
  MANIFOLD_RETURN_IF_ERROR(WaitDurable(*core_, lsn));
  std::lock_guard<std::mutex> lock(core_->mu);
  core_->durable_generation = std::max(core_->durable_generation, gen);
  return Status::Ok();
} catch (const std::bad_alloc&) {
  return PoisonNoMemory(*core_, "sync (the database refuses writes until it is reopened)");
}

Status Database::Close() try {
  if (!core_) return Status::Ok();
  auto busy = [this]() -> Status {
    if (!core_->gate.Idle()) return Status::Busy(core_->path + ": cannot close while a write transaction is open");
    std::lock_guard<std::mutex> lock(core_->mu);
    if (!core_->reader_generations.empty()) {
      return Status::Busy(core_->path + ": cannot close while " + std::to_string(core_->reader_generations.size()) +
                          " read transaction(s) are open");
    }
    return Status::Ok();
  };
  Status poison;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->closed) return Status::Ok();
    poison = core_->poisoned;
  }
  MANIFOLD_RETURN_IF_ERROR(busy());
  StopBackground(*core_);
  // A poisoned database cannot make anything durable any more: say so.
  // With a log, close with a checkpoint so that the next open replays nothing.
  bool checkpointed;  // the newest commit is the durable header's (e.g. recovery's): nothing to write
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    // (A header slot found unusable at open is rewritten by a checkpoint all the same.)
    checkpointed = core_->header_generation == core_->current->generation && core_->header_note.empty();
  }
  Status s;
  try {
    s = !poison.ok() ? Status::Poisoned(core_->path + ": closed without making later commits durable: " +
                                        poison.ToString())
        : checkpointed ? Status::Ok()
        : core_->wal   ? RunCheckpoint(core_)
                       : Sync();
  } catch (const std::bad_alloc&) {
    // Closed all the same; the next open recovers from what is durable.
    s = PoisonNoMemory(*core_, "close: final checkpoint");
  }
  core_->gate.AcquireExclusive();
  // No write transaction can start now, but commits that released their
  // column families may still wait for the log sync or run a checkpoint:
  // wait until every one has returned.
  core_->close_waiting.store(1, std::memory_order_seq_cst);
  for (uint32_t n; (n = core_->commits_in_flight.load(std::memory_order_seq_cst)) != 0;) {
    FutexWait(&core_->commits_in_flight, n);
  }
  core_->close_waiting.store(0, std::memory_order_seq_cst);
  Status b;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (!core_->reader_generations.empty()) {
      b = Status::Busy(core_->path + ": cannot close while read transactions are open");
    } else {
      core_->closed = true;
    }
  }
  core_->gate.ReleaseExclusive();
  if (!b.ok()) return b;
  // Nobody can reach the files any more: release them (and the lock) now.
  core_->wal.reset();
  core_->wal_file.reset();
  core_->pager.reset();
  core_->file.reset();
  return s;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("close");  // still open; Close() may be called again
}

// ---- ReadTransaction ----

ReadTransaction::ReadTransaction(std::shared_ptr<TxnState> state) : state_(std::move(state)) {}
ReadTransaction::ReadTransaction(ReadTransaction&&) noexcept = default;
ReadTransaction& ReadTransaction::operator=(ReadTransaction&&) noexcept = default;
ReadTransaction::~ReadTransaction() = default;

uint64_t ReadTransaction::generation() const { return state_->base->generation; }
void ReadTransaction::Close() {
  if (state_) state_->ReleaseReader();
}

Result<std::vector<std::string>> ReadTransaction::ListColumnFamilies() const try {
  MANIFOLD_RETURN_IF_ERROR(state_->CheckUsable());
  std::vector<std::string> v;
  for (const auto& [name, cf] : state_->base->catalog->cfs) v.push_back(name);
  return v;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("list column families");
}

Result<std::vector<std::string>> ReadTransaction::ListTables(std::string_view column_family) const try {
  MANIFOLD_RETURN_IF_ERROR(state_->CheckUsable());
  const CfInfo* c = state_->base->catalog->cfs.Find(column_family);
  if (c == nullptr) {
    return Status::NotFound("column family '" + std::string(column_family) + "' does not exist");
  }
  std::vector<std::string> v;
  for (const auto& [name, t] : c->tables) v.push_back(name);
  return v;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("list tables");
}

}  // namespace manifold
