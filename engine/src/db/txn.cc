// Transactions: copy-on-write page management and the commit protocol
// (docs/durability.md):
//   1. stamp checksums into every dirty page, children before parents;
//   2. write the catalog changes into the catalog tree;
//   3. durable commits only: write a fresh freelist chain;
//   4. write every dirty page (never a page reachable from the durable header);
//   5. durable commits only: sync, write the *other* header slot, sync.
// A failed sync or header write poisons the database: every later write
// returns the error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "db/core.h"

namespace manifold {

void DbCore::AcquireWriter() {
  std::unique_lock<std::mutex> lock(writer_mu);
  writer_cv.wait(lock, [this] { return !writer_active; });
  writer_active = true;
}

void DbCore::ReleaseWriter() {
  {
    std::lock_guard<std::mutex> lock(writer_mu);
    writer_active = false;
  }
  writer_cv.notify_one();
}

TxnState::~TxnState() {
  if (write) {
    Abort();
  } else {
    ReleaseReader();
  }
}

void TxnState::ReleaseReader() {
  if (write || !open) return;
  open = false;
  if (!base) return;  // never registered (BeginRead failed)
  std::lock_guard<std::mutex> lock(core->mu);
  auto it = core->reader_generations.find(base->generation);
  if (it != core->reader_generations.end()) core->reader_generations.erase(it);
}

Status TxnState::CheckUsable() const {
  if (!open) return Status::InvalidState("transaction is already committed, aborted or closed");
  if (!failed.ok()) return Status::Aborted("transaction failed earlier and must be aborted: " + failed.ToString());
  return Status::Ok();
}

Status TxnState::Fail(Status s) {
  if (!s.ok() && s.code() != Status::Code::kInvalidArgument && s.code() != Status::Code::kNotFound &&
      failed.ok()) {
    failed = s;
  }
  return s;
}

Result<PageBuf> TxnState::ReadPage(ChildRef ref) {
  if (write) {
    if (const PageBuf* b = dirty.FindBuf(ref.page)) return *b;
    return core->pager->Read(ref, page_limit);
  }
  return core->pager->Read(ref, base->page_count);
}

Status TxnState::ReadOverflow(uint64_t first_page, uint64_t value_bytes, uint32_t checksum, std::string* out) {
  const uint64_t ps = page_size();
  uint64_t limit = write ? page_limit : base->page_count;
  uint64_t n_pages = (value_bytes + ps - 1) / ps;
  if (first_page < 2 || first_page + n_pages > limit || first_page + n_pages < first_page) {
    return Status::Corruption(core->path + ": overflow value at page " + std::to_string(first_page) + " (" +
                              std::to_string(value_bytes) + " bytes) lies outside the database");
  }
  out->resize(value_bytes);
  MANIFOLD_RETURN_IF_ERROR(core->pager->ReadExtent(first_page, value_bytes, out->data()));
  uint32_t computed = crc32c::Mask(crc32c::Value(*out));
  if (computed != checksum) {
    char m[128];
    std::snprintf(m, sizeof m, ": checksum mismatch: expected 0x%08x, computed 0x%08x", checksum, computed);
    return Status::Corruption(core->path + ": overflow value at page " + std::to_string(first_page) + " (" +
                              std::to_string(value_bytes) + " bytes)" + m);
  }
  return Status::Ok();
}

char* TxnState::NewPage(uint64_t* page_no) {
  uint64_t no;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    no = core->alloc.Allocate();
    page_limit = std::max(page_limit, core->alloc.page_count());
  }
  core->pager->cache().Erase(no);
  allocated.push_back(no);
  owned.insert(no);
  PageBuf buf = core->pager->NewBuffer();
  std::memset(buf.get(), 0, page_size());
  EncodeU64(buf.get() + 8, no);
  char* p = buf.get();
  dirty.Insert(no, std::move(buf));
  *page_no = no;
  return p;
}

Result<char*> TxnState::MakeWritable(ChildRef* ref) {
  if (char* p = dirty.Find(ref->page)) return p;
  MANIFOLD_ASSIGN_OR_RETURN(PageBuf src, ReadPage(*ref));
  uint64_t no;
  char* p = NewPage(&no);
  std::memcpy(p, src.get(), page_size());
  EncodeU64(p + 8, no);
  FreePage(ref->page);
  *ref = ChildRef{no, 0};
  return p;
}

void TxnState::FreePage(uint64_t page_no) {
  dirty.Erase(page_no);
  freed.push_back(page_no);
}

char* TxnState::DirtyBuffer(uint64_t page_no) {
  return dirty.Find(page_no);
}

Result<uint64_t> TxnState::WriteOverflow(std::string_view value) {
  const uint64_t ps = page_size();
  uint64_t n = (value.size() + ps - 1) / ps;
  uint64_t first;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    first = core->alloc.AllocateExtent(n);
    page_limit = std::max(page_limit, core->alloc.page_count());
  }
  for (uint64_t i = 0; i < n; i++) {
    allocated.push_back(first + i);
    owned.insert(first + i);
    core->pager->cache().Erase(first + i);
  }
  MANIFOLD_RETURN_IF_ERROR(core->pager->EnsureCapacity(first + n));
  MANIFOLD_RETURN_IF_ERROR(core->pager->WriteExtent(first, value));
  return first;
}

void TxnState::FreeExtent(uint64_t first_page, uint64_t n_pages) {
  for (uint64_t i = 0; i < n_pages; i++) freed.push_back(first_page + i);
}

void TxnState::Abort() {
  if (!write || !open) return;
  open = false;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    for (uint64_t p : allocated) core->alloc.Release(p);
    core->alloc.TrimTail();
  }
  dirty.Clear();
  savepoints.clear();
  if (holds_writer) {
    holds_writer = false;
    core->ReleaseWriter();
  }
}

uint64_t NewSalt() {
  std::random_device rd;
  uint64_t x = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
               static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
  return x != 0 ? x : 1;
}

namespace {

// Writes the freelist chain for `free_pages` into newly allocated pages.
// Returns the head reference; *chain receives the chain's page numbers.
Status BuildFreelist(TxnState& t, std::vector<uint64_t> free_pages, uint64_t generation, ChildRef* head,
                     uint64_t* count, std::vector<uint64_t>* chain) {
  const uint32_t ps = t.page_size();
  const size_t per_page = (ps - kFreelistFixedBytes) / 8;
  chain->clear();
  std::vector<char*> bufs;
  // Allocating a chain page may take it out of the list itself; repeat until it fits.
  while (chain->size() * per_page < free_pages.size()) {
    uint64_t no;
    bufs.push_back(t.NewPage(&no));
    chain->push_back(no);
    auto it = std::lower_bound(free_pages.begin(), free_pages.end(), no);
    if (it != free_pages.end() && *it == no) free_pages.erase(it);
  }
  // Pages allocated beyond the need (the list shrank) stay in the chain, empty.
  *count = free_pages.size();
  ChildRef next{0, 0};
  for (size_t c = chain->size(); c-- > 0;) {
    uint64_t no = (*chain)[c];
    char* p = bufs[c];
    page::Init(p, ps, PageType::kFreelist, no);
    size_t begin = std::min(free_pages.size(), c * per_page);
    size_t end = std::min(free_pages.size(), begin + per_page);
    page::SetCount(p, static_cast<uint16_t>(end - begin));  // at most 8186, even for 64 KiB pages
    EncodeRef(p + kPageHeaderBytes, next);
    for (size_t i = begin; i < end; i++) EncodeU64(p + kFreelistFixedBytes + 8 * (i - begin), free_pages[i]);
    next = ChildRef{no, page::Seal(p, ps, no, generation)};
  }
  *head = next;
  return Status::Ok();
}

}  // namespace

Status TxnState::Commit(Durability durability) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  if (!write) return Status::InvalidState("read transactions cannot commit");
  Status poisoned;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    poisoned = core->poisoned;
  }
  if (!poisoned.ok()) {
    Abort();
    return Status::Poisoned("an earlier sync or header write failed, so writes are refused until the database is reopened: " +
                            poisoned.ToString());
  }
  // Any failure before the header write leaves the durable state untouched:
  // abort and report. A failed sync or header write poisons.
  auto abort_with = [this](Status s) {
    Abort();
    return s;
  };
  auto poison_with = [this](Status s) {
    {
      std::lock_guard<std::mutex> lock(core->mu);
      if (core->poisoned.ok()) core->poisoned = s;
    }
    Abort();
    return s;
  };
  const bool durable = durability == Durability::kImmediate;  // kEventual: synced by the background thread
  const uint64_t gen = base->generation + 1;
  const uint32_t ps = page_size();

  // 1-2. Seal the data trees, then record their roots in the catalog tree.
  for (auto& [cf_name, cf_info] : catalog.cfs) {
    for (auto& [t_name, t] : cf_info.tables) {
      Status s = btree::Seal(*this, &t.tree, gen);
      if (!s.ok()) return abort_with(s);
    }
  }
  {
    std::map<std::string, std::string> before = EncodeCatalog(*base->catalog);
    std::map<std::string, std::string> after = EncodeCatalog(catalog);
    for (const auto& [k, v] : after) {
      auto it = before.find(k);
      if (it != before.end() && it->second == v) continue;
      bool existed;
      Status s = btree::Put(*this, &catalog_tree, k, v, &existed);
      if (!s.ok()) return abort_with(s);
    }
    for (const auto& [k, v] : before) {
      if (after.count(k) != 0) continue;
      bool existed;
      Status s = btree::Delete(*this, &catalog_tree, k, &existed);
      if (!s.ok()) return abort_with(s);
    }
    Status s = btree::Seal(*this, &catalog_tree, gen);
    if (!s.ok()) return abort_with(s);
  }

  // A checkpoint commit makes the data file itself durable: with no log, every
  // durable commit; with the log, Checkpoint(), recovery, and transactions too
  // large for one log record -- durable or not, since a later logged commit
  // must never become durable without them.
  const bool wal = core->wal != nullptr;
  const bool checkpoint = force_checkpoint || (durable && !wal) || (wal && log_overflow);
  const bool logged = wal && !checkpoint && !replaying && !wal_batch.empty();

  // 3. Checkpoints record every page that is free once this header is the
  // newest: free and pending pages, everything this transaction freed, and the
  // previous freelist chain.
  HeaderSlot h;
  std::vector<uint64_t> chain;
  std::vector<uint64_t> old_chain;
  if (checkpoint) {
    old_chain = core->freelist_pages;
    std::vector<uint64_t> list;
    {
      std::lock_guard<std::mutex> lock(core->mu);
      list = core->alloc.FreeAndPending();
    }
    list.insert(list.end(), freed.begin(), freed.end());
    list.insert(list.end(), old_chain.begin(), old_chain.end());
    std::sort(list.begin(), list.end());
    Status s = BuildFreelist(*this, std::move(list), gen, &h.freelist_head, &h.freelist_count, &chain);
    if (!s.ok()) return abort_with(s);
  }

  // 4. Write the pages. None of them is reachable from the durable header.
  std::vector<std::pair<uint64_t, PageBuf>> pages;  // ascending page order
  pages.reserve(dirty.size());
  dirty.ForEach([&](uint64_t no, const PageBuf& b) { pages.emplace_back(no, b); });
  uint64_t page_count;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    page_count = core->alloc.page_count();
  }
  Status s = core->pager->EnsureCapacity(page_count);
  if (s.ok()) s = core->pager->WritePages(pages);
  if (!s.ok()) return abort_with(s.WithContext("commit"));

  // 5a. Logged commit: one record with the transaction's logical effect; a
  // durable commit syncs the log (and with it every earlier record).
  // The sync itself happens after the writer lock is released (group commit).
  uint64_t lsn = 0;
  if (logged) {
    uint64_t synced;
    {
      std::lock_guard<std::mutex> lock(core->sync_mu);
      synced = core->synced_lsn;
    }
    Result<uint64_t> r = core->wal->Append(wal_batch.Payload(), synced);
    if (!r.ok()) return abort_with(r.status().WithContext("commit: log append"));
    lsn = *r;
    std::lock_guard<std::mutex> lock(core->sync_mu);
    core->appended_lsn = lsn;
    if (durability == Durability::kEventual) core->eventual_lsn = lsn;
  } else if (wal) {
    lsn = core->wal->last_lsn();  // a durable commit with nothing to log waits for what came before
  }
  const bool wait_for_log = wal && !checkpoint && durable;

  // 5b. Checkpoint: sync pages, then the other header slot, then sync again;
  // then start a new log cycle (its records so far are all in this checkpoint).
  int target_slot = 1 - core->durable_slot;
  uint64_t checkpoint_lsn = core->checkpoint_lsn;
  if (checkpoint) {
    s = core->pager->Sync();
    if (!s.ok()) return poison_with(s.WithContext("commit: sync of data pages"));
    checkpoint_lsn = wal ? core->wal->last_lsn() : core->checkpoint_lsn;
    h.page_size = ps;
    h.generation = gen;
    h.page_count = page_count;
    h.catalog = catalog_tree;
    h.database_id = core->database_id;
    h.checkpoint_lsn = checkpoint_lsn;
    char slot[kHeaderSlotBytes];
    h.EncodeTo(slot);
    s = core->file->Write(static_cast<uint64_t>(target_slot) * ps, std::string_view(slot, sizeof slot));
    if (!s.ok()) return poison_with(s.WithContext("commit: header write"));
    s = core->pager->Sync();
    if (!s.ok()) return poison_with(s.WithContext("commit: sync of header"));
    if (wal) {
      {
        std::lock_guard<std::mutex> lock(core->sync_mu);  // every record so far is in this checkpoint
        core->synced_lsn = std::max(core->synced_lsn, checkpoint_lsn);
        core->appended_lsn = std::max(core->appended_lsn, checkpoint_lsn);
      }
      // The commit is durable now, whatever happens to the log: recovery skips
      // records the header covers, and reads a torn log header as empty.
      // So a failed reset poisons the database but does not fail the commit.
      s = core->wal->Reset(NewSalt(), checkpoint_lsn + 1, core->database_id);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(core->mu);
        if (core->poisoned.ok()) core->poisoned = s.WithContext("checkpoint: reset of the write-ahead log");
      }
    }
  }

  // 6. Publish.
  {
    std::lock_guard<std::mutex> lock(core->mu);
    std::vector<uint64_t> pending;
    for (uint64_t p : freed) {
      if (owned.count(p) != 0) {
        core->alloc.Release(p);  // never visible to anyone
      } else {
        pending.push_back(p);
      }
    }
    pending.insert(pending.end(), old_chain.begin(), old_chain.end());
    core->alloc.AddPending(gen, pending);
    if (checkpoint) {
      core->alloc.ClearYoung();
    } else {
      core->alloc.MarkYoung(allocated);  // pages freed again in this transaction are free already
    }
    if (checkpoint) {
      core->header_generation = gen;
      core->durable_slot = target_slot;
      core->freelist_pages = chain;
      core->header_note.clear();
      core->checkpoint_lsn = checkpoint_lsn;
      core->dirty_bytes = 0;
    } else {
      core->dirty_bytes += pages.size() * static_cast<uint64_t>(ps);
    }
    if (checkpoint || (durable && !wal)) core->durable_generation = gen;
    if (wal) {
      core->wal_bytes_seen = core->wal->bytes();
      core->last_lsn_seen = core->wal->last_lsn();
    }
    auto snap = std::make_shared<Snapshot>();
    snap->generation = gen;
    snap->page_count = page_count;
    snap->catalog = std::make_shared<const Catalog>(std::move(catalog));
    snap->catalog_tree = catalog_tree;
    core->current = std::move(snap);
    core->alloc.Reclaim(core->header_generation, core->OldestReaderLocked());
    core->alloc.TrimTail();
  }
  for (auto& [no, buf] : pages) core->pager->cache().Insert(no, std::move(buf));
  if (checkpoint) {
    // Giving space back is an optimisation; a failure only leaves the file
    // larger. Never below what the header just written covers.
    Status ignored = core->pager->MaybeShrink(page_count);
    (void)ignored;
  }
  dirty.Clear();
  allocated.clear();
  freed.clear();
  savepoints.clear();
  open = false;
  if (holds_writer) {
    holds_writer = false;
    core->ReleaseWriter();
  }
  if (wait_for_log) {
    {
      std::lock_guard<std::mutex> lock(core->sync_mu);
      core->synced_commits++;
    }
    MANIFOLD_RETURN_IF_ERROR(WaitDurable(*core, lsn));
    std::lock_guard<std::mutex> lock(core->mu);
    core->durable_generation = std::max(core->durable_generation, gen);
  }
  return Status::Ok();
}

Status WaitDurable(DbCore& core, uint64_t lsn) {
  std::unique_lock<std::mutex> lk(core.sync_mu);
  while (true) {
    if (!core.sync_error.ok()) return core.sync_error;
    if (core.synced_lsn >= lsn) return Status::Ok();
    if (core.sync_in_progress) {
      core.sync_cv.wait(lk);
      continue;
    }
    if (core.appended_lsn < lsn) {
      // Nobody appended `lsn`: a bookkeeping bug. Fail loudly instead of spinning.
      return Status::InvalidState("log sync requested through LSN " + std::to_string(lsn) +
                                  " but only LSN " + std::to_string(core.appended_lsn) + " was written");
    }
    // Lead: sync everything appended so far, for everyone waiting.
    core.sync_in_progress = true;
    const uint64_t upto = core.appended_lsn;
    lk.unlock();
    Status s = core.wal_file->Sync();
    lk.lock();
    core.sync_in_progress = false;
    core.syncs++;
    if (s.ok()) {
      core.synced_lsn = std::max(core.synced_lsn, upto);
    } else {
      core.sync_error = s.WithContext("commit: sync of the write-ahead log");
      lk.unlock();
      {
        std::lock_guard<std::mutex> lock(core.mu);
        if (core.poisoned.ok()) core.poisoned = core.sync_error;
      }
      lk.lock();
    }
    core.sync_cv.notify_all();
  }
}

}  // namespace manifold
