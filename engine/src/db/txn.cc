// Transactions: copy-on-write page management and the commit protocol
// (docs/durability.md):
//   1. stamp checksums into every dirty page, children before parents;
//   2. checkpoints only: write the catalog changes into the catalog tree;
//   3. durable commits only: write a fresh freelist chain;
//   4. write every dirty page (never a page reachable from the durable header);
//   5. durable commits only: sync, write the *other* header slot, sync.
// A failed sync or header write poisons the database: every later write
// returns the error.
#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <unistd.h>

#include "db/core.h"
#include "util/crash_point.h"
#include "util/futex.h"
#include "util/mutant.h"
#include "util/no_memory.h"

namespace manifold {

void WriterGate::AcquireFamilies(const std::vector<std::string>& cfs) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] {
    if (exclusive_ || exclusive_waiting_ > 0) return false;
    for (const std::string& cf : cfs) {
      if (held_.count(cf) != 0) return false;
    }
    return true;
  });
  try {
    held_.insert(cfs.begin(), cfs.end());
  } catch (...) {  // std::bad_alloc: take none of them
    for (const std::string& cf : cfs) held_.erase(cf);
    throw;
  }
  open_++;
}

void WriterGate::ReleaseFamilies(const std::vector<std::string>& cfs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& cf : cfs) held_.erase(cf);
    open_--;
  }
  cv_.notify_all();
}

void WriterGate::AcquireExclusive() {
  std::unique_lock<std::mutex> lock(mu_);
  exclusive_waiting_++;
  cv_.wait(lock, [&] { return !exclusive_ && open_ == 0; });
  exclusive_waiting_--;
  exclusive_ = true;
}

void WriterGate::ReleaseExclusive() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exclusive_ = false;
  }
  cv_.notify_all();
}

bool WriterGate::Idle() {
  std::lock_guard<std::mutex> lock(mu_);
  return !exclusive_ && open_ == 0;
}

void TxnState::ReleaseGate() {
  if (!holds_gate) return;
  holds_gate = false;
  if (exclusive) {
    core->gate.ReleaseExclusive();
  } else {
    core->gate.ReleaseFamilies(bound_cfs);
  }
}

Status TxnState::CheckBound(std::string_view cf) const {
  if (exclusive || std::binary_search(bound_cfs.begin(), bound_cfs.end(), cf)) return Status::Ok();
  std::string names;
  for (const std::string& b : bound_cfs) names += (names.empty() ? "'" : ", '") + b + "'";
  return Status::InvalidArgument("column family '" + std::string(cf) + "' is not one of this transaction's (" + names +
                                 "); name it in BeginMultiWrite");
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

Status TxnState::FailNoMemory(std::string_view what) noexcept {
  Status s = NoMemoryStatus(what);
  if (failed.ok()) {
    try {
      failed = s;
    } catch (...) {
      failed = Status::NoMemory("out of memory");
    }
  }
  return s;
}

Status PoisonNoMemory(DbCore& core, std::string_view what) noexcept {
  Status s = NoMemoryStatus(what);
  std::lock_guard<std::mutex> lock(core.mu);
  if (core.poisoned.ok()) {
    try {
      core.poisoned = s;
    } catch (...) {
      core.poisoned = Status::NoMemory("out of memory");
    }
  }
  return s;
}

Status CommitOrPoison(TxnState& t, Durability d) {
  const InFlightCommit in_flight(*t.core);
  return CommitOrPoison(t, d, in_flight);
}

Status CommitOrPoison(TxnState& t, Durability d, const InFlightCommit& /*counted_by_caller*/) {
  try {
    return t.Commit(d);
  } catch (const std::bad_alloc&) {
    // Wherever it stopped, the shared state may be half-updated: refuse
    // writes until reopen, which recovers the durable state.
    t.Abort();
    return PoisonNoMemory(*t.core, "commit (the database refuses writes until it is reopened)");
  }
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

char* TxnState::NewPage(uint64_t* page_no) { return AllocatePage(page_no, /*zero=*/true); }

char* TxnState::AllocatePage(uint64_t* page_no, bool zero) {
  allocated.push_back(0);  // first, so that an allocation failure loses no page (Abort releases `allocated`)
  uint64_t no;
  try {
    std::lock_guard<std::mutex> lock(core->mu);
    no = core->alloc.Allocate();
    page_limit = std::max(page_limit, core->alloc.page_count());
  } catch (...) {
    allocated.pop_back();
    throw;
  }
  allocated.back() = no;
  core->pager->cache().Erase(no);
  owned.insert(no);
  PageBuf buf = core->pager->NewBuffer();
  if (zero) std::memset(buf.get(), 0, page_size());
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
  char* p = AllocatePage(&no, /*zero=*/false);  // overwritten whole
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
  // Room first, so that an allocation failure loses no page (Abort releases `allocated`).
  if (allocated.capacity() - allocated.size() < n) allocated.reserve(std::max(2 * allocated.capacity(), allocated.size() + n));
  {
    std::lock_guard<std::mutex> lock(core->mu);
    first = core->alloc.AllocateExtent(n);
    page_limit = std::max(page_limit, core->alloc.page_count());
  }
  for (uint64_t i = 0; i < n; i++) allocated.push_back(first + i);
  for (uint64_t i = 0; i < n; i++) {
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
    // No TrimTail here: only commits (under commit_mu) shrink the page count,
    // so a checkpoint's freelist never lists a page past its header's count.
    for (uint64_t p : allocated) {
      try {
        core->alloc.Release(p);
      } catch (const std::bad_alloc&) {
        // Stays "uncommitted": every checkpoint lists it free, and reopening reuses it.
      }
    }
    try {
      for (const std::string& cf : bound_cfs) core->cf_counters[cf].aborts++;
    } catch (const std::bad_alloc&) {
      // Only a statistic.
    }
  }
  dirty.Clear();
  savepoints.clear();
  ReleaseGate();
}

uint64_t NewSalt() {
  // std::random_device is slow (a system call, or a trapped instruction in
  // some VMs), and every checkpoint needs a salt: read it once per process,
  // then mix in a counter, the time and the process id, so that processes
  // forked from one parent (which inherit the seed and the counter) still
  // draw different salts. A salt only has to differ from the log's earlier cycles.
  static const uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<uint64_t> counter{0};
  uint64_t x = seed + counter.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed);
  x ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  x ^= static_cast<uint64_t>(::getpid()) << 40;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;  // splitmix64 finalizer
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x != 0 ? x : 1;
}

namespace {

// Writes the freelist chain for `free_pages` (sorted) into newly allocated
// pages. Once the chain has room for every page listed so far, more(&add)
// may name further free pages (it returns false when there are none); they
// are added and the chain grows until it settles. Returns the head
// reference; *chain receives the chain's page numbers.
template <typename More>
Status BuildFreelist(TxnState& t, std::vector<uint64_t> free_pages, More&& more, uint64_t generation, ChildRef* head,
                     uint64_t* count, std::vector<uint64_t>* chain) {
  const uint32_t ps = t.page_size();
  const size_t per_page = (ps - kFreelistFixedBytes) / 8;
  chain->clear();
  std::vector<char*> bufs;
  for (;;) {
    // Allocating a chain page may take it out of the list itself; repeat until it fits.
    while (chain->size() * per_page < free_pages.size()) {
      uint64_t no;
      bufs.push_back(t.NewPage(&no));
      chain->push_back(no);
      auto it = std::lower_bound(free_pages.begin(), free_pages.end(), no);
      if (it != free_pages.end() && *it == no) free_pages.erase(it);
    }
    std::vector<uint64_t> add;
    if (!more(&add)) break;
    free_pages.insert(free_pages.end(), add.begin(), add.end());
    std::sort(free_pages.begin(), free_pages.end());
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

Status TxnState::MergeInto(Catalog* merged) {
  // Exclusive transactions saw every change since they began (only
  // checkpoints, which change no catalog content, ran beside them). Others
  // replace just their own families in the newest catalog.
  if (exclusive) {
    *merged = std::move(catalog);
    return Status::Ok();
  }
  for (const std::string& cf : bound_cfs) {
    if (!catalog.cfs.Contains(cf) || !merged->cfs.Contains(cf)) {
      return Status::InvalidState("column family '" + cf + "' vanished during the transaction");
    }
  }
  for (const std::string& cf : bound_cfs) {
    const uint64_t covered = merged->cfs.Find(cf)->checkpoint_lsn;  // a checkpoint may have run since this transaction began
    std::shared_ptr<CfInfo> mine = catalog.cfs.Share(cf);
    if (mine->checkpoint_lsn != covered) {
      catalog.cfs.Mutable(cf)->checkpoint_lsn = covered;  // a copy of its own if it was still shared
      mine = catalog.cfs.Share(cf);
    }
    merged->cfs.Put(cf, std::move(mine));
  }
  merged->next_id = std::max(merged->next_id, catalog.next_id);
  return Status::Ok();
}

void TxnState::PublishPagesLocked(uint64_t gen, const std::vector<uint64_t>& old_chain, bool checkpoint) {
  std::vector<uint64_t> pending;
  for (uint64_t p : freed) {
    if (owned.count(p) != 0) {
      core->alloc.Release(p);  // never visible to anyone
    } else {
      pending.push_back(p);
    }
  }
  pending.insert(pending.end(), old_chain.begin(), old_chain.end());
  core->alloc.Committed(allocated);
  core->alloc.AddPending(gen, pending);
  if (checkpoint) {
    core->alloc.ClearYoung();
  } else {
    core->alloc.MarkYoung(allocated);  // pages freed again in this transaction are free already
  }
  for (const std::string& cf : bound_cfs) core->cf_counters[cf].commits++;
}

void TxnState::FinishPublished() {
  allocated.clear();
  freed.clear();
  savepoints.clear();
  open = false;
  ReleaseGate();
}

namespace {

// Sets a queued commit's result (noexcept: the copy of a status message may
// fail to allocate; then the code survives with a short message).
void SetResult(CommitRequest* r, const Status& s) noexcept {
  try {
    r->status = s;
  } catch (const std::bad_alloc&) {
    r->status = s.code() == Status::Code::kPoisoned ? Status::Poisoned("poisoned") : Status::NoMemory("out of memory");
  }
}

// Hands the request its result: its thread returns from Commit (and may
// destroy it) as soon as it sees kDone.
void Finish(CommitRequest* r, const CommitRequest* self) {
  r->state.store(CommitRequest::kDone, std::memory_order_release);
  if (r != self) FutexWakeAll(&r->state);
}

// Group commit, first half (docs/durability.md, "Group commit"): the leader
// writes the records of every commit in `group` with one write and publishes
// them as one new snapshot. REQUIRES: commit_mu. Sets each request's status
// (and `published`) unless it returns false: an allocation failed half-way
// and the caller poisons the database. Returns the group's generation in *gen.
bool PublishGroupLocked(DbCore& core, CommitRequest* const* group, size_t n, uint64_t* gen) noexcept try {
  Status poisoned;
  std::shared_ptr<const Snapshot> cur;
  {
    std::lock_guard<std::mutex> lock(core.mu);
    if (!core.poisoned.ok()) {
      poisoned = Status::Poisoned("an earlier sync or header write failed, so writes are refused until the database is reopened: " +
                                  core.poisoned.ToString());
    }
    cur = core.current;
  }
  Catalog merged = *cur->catalog;
  CommitRequest* ok[kCommitGroupMax];
  const WalBatch* records[kCommitGroupMax];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    Status s = poisoned.ok() ? group[i]->txn->MergeInto(&merged) : poisoned;
    if (!s.ok()) {
      SetResult(group[i], s);
      continue;
    }
    ok[k] = group[i];
    records[k++] = &group[i]->txn->wal_batch;
  }
  if (k == 0) return true;
  // Newest LSN known to be on stable storage (the records carry it; see
  // wal.h): the last group sync's, or the checkpoint's after a reopen.
  const uint64_t synced = std::max(core.synced_lsn_pub.load(std::memory_order_acquire), core.checkpoint_lsn);
  size_t written = 0;
  Status failed;
  if (MutantIs(Mutant::kLsnGapAcrossFamilies)) {
    // One record at a time, skipping an LSN whenever the family changes.
    for (; written < k; written++) {
      if (ok[written]->txn->bound_cf != core.mutant_last_cf) core.wal->SkipLsn();
      core.mutant_last_cf = ok[written]->txn->bound_cf;
      Result<uint64_t> r = core.wal->Append(*records[written], synced);
      if (!r.ok()) {
        failed = r.status();
        break;
      }
      ok[written]->lsn = *r;
    }
  } else {
    Result<uint64_t> r = core.wal->Append(records, k, synced);
    if (r.ok()) {
      for (; written < k; written++) ok[written]->lsn = *r + written;
    } else {
      failed = r.status();
    }
  }
  for (size_t i = 0; i < k; i++) {
    if (ok[i]->counted) core.committing.fetch_sub(1, std::memory_order_seq_cst);
    ok[i]->counted = false;
  }
  if (!failed.ok()) {
    Status s = failed.WithContext("commit: log append");
    for (size_t i = written; i < k; i++) SetResult(ok[i], s);
    if (core.wal->damaged()) {
      std::lock_guard<std::mutex> lock(core.mu);
      if (core.poisoned.ok()) core.poisoned = s;
    }
  }
  if (written == 0) return true;
  core.log_writes.fetch_add(MutantIs(Mutant::kLsnGapAcrossFamilies) ? written : 1, std::memory_order_relaxed);
  core.log_written_records.fetch_add(written, std::memory_order_relaxed);
  CrashPoint(CrashPointId::kLogAppended);
  {
    std::lock_guard<std::mutex> lock(core.sync_mu);
    core.appended_lsn = ok[written - 1]->lsn;
    for (size_t i = 0; i < written; i++) {
      if (ok[i]->durability == Durability::kEventual) core.eventual_lsn = ok[i]->lsn;
    }
  }
  // Into the cache, pinned (their only image until a checkpoint writes them),
  // before the snapshot that reaches them is published.
  for (size_t i = 0; i < written; i++) {
    for (auto& [no, buf] : ok[i]->pages) core.pager->cache().Insert(no, std::move(buf), PageCache::Cacheable(no));
  }
  {
    std::lock_guard<std::mutex> lock(core.mu);
    *gen = cur->generation + 1;
    for (size_t i = 0; i < written; i++) {
      ok[i]->txn->PublishPagesLocked(*gen, {}, /*checkpoint=*/false);
      for (const auto& pg : ok[i]->pages) {
        if (PageCache::Cacheable(pg.first)) core.alloc.MarkHeld(pg.first);
      }
    }
    core.wal_bytes_seen = core.wal->bytes();
    core.last_lsn_seen = core.wal->last_lsn();
    auto snap = std::make_shared<Snapshot>();
    snap->generation = *gen;
    snap->page_count = core.alloc.page_count();
    snap->catalog = std::make_shared<const Catalog>(std::move(merged));
    snap->catalog_tree = cur->catalog_tree;
    snap->tree_catalog = cur->tree_catalog;
    core.current = std::move(snap);
    core.alloc.Reclaim(core.header_generation, core.OldestReaderLocked());
    core.alloc.TrimTail();
  }
  for (size_t i = 0; i < written; i++) ok[i]->published = true;
  return true;
} catch (const std::bad_alloc&) {
  return false;
}

// Leads one group of queued commits: takes the queue (up to a bound), writes
// and publishes it under commit_mu, passes the lead to the next queued
// commit, then syncs the log for the group's durable commits and hands each
// its result. `self` is the leader's own request, at the head of the queue.
void LeadCommitGroup(DbCore& core, CommitRequest* self) noexcept {
  CommitRequest* group[kCommitGroupMax];
  size_t n = 0;
  uint64_t gen = 0;
  bool published_all = true;
  {
    std::lock_guard<std::mutex> commit_lock(core.commit_mu);
    {
      std::lock_guard<std::mutex> lock(core.queue_mu);
      uint64_t bytes = 0;
      while (core.queue_head != nullptr && n < kCommitGroupMax &&
             (n == 0 || bytes + core.queue_head->txn->wal_batch.bytes() <= kCommitGroupBytesMax)) {
        CommitRequest* r = core.queue_head;
        core.queue_head = r->next;
        if (core.queue_head == nullptr) core.queue_tail = nullptr;
        bytes += r->txn->wal_batch.bytes();
        group[n++] = r;
      }
    }
    published_all = PublishGroupLocked(core, group, n, &gen);
  }
  bool any_published = false;
  for (size_t i = 0; i < n; i++) any_published = any_published || group[i]->published;
  if (any_published) CrashPoint(CrashPointId::kCommitPublished);
  if (!published_all) {
    // An allocation failed half-way: the shared state may be half-updated.
    // Refuse writes until reopen (like CommitOrPoison); the commits not
    // published yet abort.
    Status s = PoisonNoMemory(core, "commit (the database refuses writes until it is reopened)");
    for (size_t i = 0; i < n; i++) {
      if (!group[i]->published) SetResult(group[i], s);
      if (group[i]->counted) core.committing.fetch_sub(1, std::memory_order_seq_cst);
      group[i]->counted = false;
    }
  }
  {
    std::lock_guard<std::mutex> lock(core.queue_mu);
    if (core.queue_head != nullptr) {
      core.queue_head->state.store(CommitRequest::kLead, std::memory_order_release);
      FutexWakeAll(&core.queue_head->state);
    } else {
      core.queue_led = false;
    }
  }
  // Outside commit_mu, and after the lead has passed on: releasing a family
  // wakes its waiting writers, who should find commit_mu free and a leader
  // (or the lead) when they commit.
  for (size_t i = 0; i < n; i++) {
    if (group[i]->published) group[i]->txn->FinishPublished();
  }
  if (any_published) CrashPoint(CrashPointId::kCommitReleased);
  // Which requests wait for the log, decided before any is finished: a
  // finished request's thread may return and reuse its memory at once.
  bool needs_sync[kCommitGroupMax];
  uint64_t upto = 0;
  size_t durable = 0;
  for (size_t i = 0; i < n; i++) {
    const CommitRequest* r = group[i];
    needs_sync[i] = r->published && r->status.ok() && r->durability == Durability::kImmediate &&
                    !MutantIs(Mutant::kAckBeforeSync);
    if (needs_sync[i]) {
      upto = std::max(upto, r->lsn);
      durable++;
    }
  }
  if (durable > 0) core.synced_commits.fetch_add(durable, std::memory_order_relaxed);
  for (size_t i = 0; i < n; i++) {
    if (!needs_sync[i]) Finish(group[i], self);
  }
  if (durable == 0) return;
  Status s;
  try {
    s = WaitDurable(core, upto);
  } catch (const std::bad_alloc&) {
    s = PoisonNoMemory(core, "commit: sync of the write-ahead log");
  }
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(core.mu);
    core.durable_generation = std::max(core.durable_generation, gen);
  }
  for (size_t i = 0; i < n; i++) {
    if (!needs_sync[i]) continue;
    SetResult(group[i], s);
    Finish(group[i], self);
  }
}

}  // namespace

Status TxnState::CommitQueued(Durability durability, std::vector<std::pair<uint64_t, PageBuf>> pages, bool counted) {
  CommitRequest req;
  req.txn = this;
  req.durability = durability;
  req.pages = std::move(pages);
  req.counted = counted;
  bool lead;
  {
    std::lock_guard<std::mutex> lock(core->queue_mu);
    if (core->queue_tail == nullptr) {
      core->queue_head = &req;
    } else {
      core->queue_tail->next = &req;
    }
    core->queue_tail = &req;
    lead = !core->queue_led;
    core->queue_led = true;
  }
  uint32_t state = CommitRequest::kQueued;
  if (!lead) {
    while ((state = req.state.load(std::memory_order_acquire)) == CommitRequest::kQueued) {
      FutexWait(&req.state, CommitRequest::kQueued);
    }
  }
  if (lead || state == CommitRequest::kLead) {
    LeadCommitGroup(*core, &req);  // our request heads the queue, so it is in the group
  }
  while ((state = req.state.load(std::memory_order_acquire)) != CommitRequest::kDone) FutexWait(&req.state, state);
  if (!req.published) Abort();  // not written to the log, not visible: as if it never committed
  // Acknowledged: a writer that commits in a loop is about to come back.
  if (counted && req.status.ok()) core->returning.fetch_add(1, std::memory_order_seq_cst);
  return std::move(req.status);
}

Status TxnState::Commit(Durability durability) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  if (!write) return Status::InvalidState("read transactions cannot commit");
  auto poisoned_status = [this]() -> Status {
    std::lock_guard<std::mutex> lock(core->mu);
    if (core->poisoned.ok()) return Status::Ok();
    return Status::Poisoned("an earlier sync or header write failed, so writes are refused until the database is reopened: " +
                            core->poisoned.ToString());
  };
  if (Status p = poisoned_status(); !p.ok()) {
    Abort();
    return p;
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
  const auto t0 = std::chrono::steady_clock::now();
  const bool durable = durability == Durability::kImmediate;  // kEventual: synced by the background thread
  const uint32_t ps = page_size();
  // Counted in core->committing until its record is appended (or it fails).
  struct Committing {
    std::atomic<uint32_t>* count = nullptr;
    void Done() {
      if (count != nullptr) count->fetch_sub(1, std::memory_order_seq_cst);
      count = nullptr;
    }
    ~Committing() { Done(); }
  } committing;
  // A checkpoint commit makes the data file itself durable: with no log, every
  // durable commit; with the log, Checkpoint(), recovery, and transactions too
  // large for one log record -- durable or not, since a later logged commit
  // must never become durable without them.
  const bool wal = core->wal != nullptr;
  const bool checkpoint = force_checkpoint || (durable && !wal) || (wal && log_overflow);
  const bool logged = wal && !checkpoint && !replaying && !wal_batch.empty();
  // Pages kept in memory, pinned, instead of written (their only image until
  // a checkpoint writes them): a logged commit's, and a held replay batch's.
  const bool hold = logged || (wal && !checkpoint && hold_pages);
  if (logged && durable) {
    committing.count = &core->committing;
    committing.count->fetch_add(1, std::memory_order_seq_cst);
    core->returning.fetch_sub(1, std::memory_order_seq_cst);  // back (if it was expected)
  }

  // Writes pages (ascending; none of them is reachable from the durable
  // header or any snapshot), growing the file first if needed.
  auto write_pages = [&](const std::pair<uint64_t, PageBuf>* p, size_t n) -> Status {
    if (n == 0) return Status::Ok();
    MANIFOLD_RETURN_IF_ERROR(core->pager->EnsureCapacity(p[n - 1].first + 1));
    return core->pager->WritePages(p, n);
  };
  // Takes every dirty page out of the transaction into `pages` (for the
  // cache) and writes it -- except, for a logged or held commit, the pages
  // the cache can hold: they stay in memory, pinned, until a checkpoint
  // writes them.
  std::vector<std::pair<uint64_t, PageBuf>> pages;
  auto write_dirty = [&]() -> Status {
    size_t first = pages.size();
    dirty.ForEach([&](uint64_t no, const PageBuf& b) { pages.emplace_back(no, b); });
    dirty.Clear();
    if (!hold) return write_pages(pages.data() + first, pages.size() - first);
    std::vector<std::pair<uint64_t, PageBuf>> uncacheable;
    for (size_t i = first; i < pages.size(); i++) {
      if (!PageCache::Cacheable(pages[i].first)) uncacheable.push_back(pages[i]);
    }
    return write_pages(uncacheable.data(), uncacheable.size());
  };
  // A checkpoint's header reaches every page of the latest commit, so it
  // writes the held pages that are young (still reachable), first without
  // commit_mu while commits go on, then under it those published since.
  // `held` keeps what it wrote (ascending); write_held skips a page whose
  // pinned image it already wrote. Young pages freed meanwhile are not reused
  // until the checkpoint ends (DeferYoungReclaim), so no write of this
  // checkpoint can land on a page's next contents.
  std::vector<std::pair<uint64_t, PageBuf>> held;
  struct DeferGuard {  // ends the deferral if the commit fails before publishing does
    DbCore* core = nullptr;
    ~DeferGuard() {
      if (core == nullptr) return;
      std::lock_guard<std::mutex> lock(core->mu);
      core->alloc.EndDeferYoungReclaim();
    }
  } defer;
  auto write_held = [&](bool under_commit_mu) -> Status {
    std::vector<uint64_t> young;
    {
      std::lock_guard<std::mutex> lock(core->mu);
      if (defer.core == nullptr) {
        core->alloc.DeferYoungReclaim();
        defer.core = core.get();
      }
      young = core->alloc.YoungHeld();
    }
    std::vector<std::pair<uint64_t, PageBuf>> batch;
    auto at = held.begin();
    for (uint64_t p : young) {
      PageBuf b = core->pager->cache().LookupPinned(p);
      if (!b) continue;
      while (at != held.end() && at->first < p) ++at;
      if (at != held.end() && at->first == p && at->second == b) continue;
      batch.emplace_back(p, std::move(b));
    }
    if (!under_commit_mu) CrashPoint(CrashPointId::kCheckpointHeldCollected);
    MANIFOLD_RETURN_IF_ERROR(write_pages(batch.data(), batch.size()));
    std::vector<std::pair<uint64_t, PageBuf>> merged;  // batch wins over an older image of the same page
    merged.reserve(held.size() + batch.size());
    size_t i = 0, j = 0;
    while (i < held.size() || j < batch.size()) {
      if (j == batch.size() || (i < held.size() && held[i].first < batch[j].first)) {
        merged.push_back(std::move(held[i++]));
      } else {
        if (i < held.size() && held[i].first == batch[j].first) i++;
        merged.push_back(std::move(batch[j++]));
      }
    }
    held = std::move(merged);
    return Status::Ok();
  };

  // Phase A, beside other families' commits: seal this transaction's trees
  // and write their pages. Pages carry a provisional generation (the base
  // snapshot's + 1; docs/format/pages.md); the commit's own is fixed below.
  // (A family writer's catalog holds only its own families; a checkpoint's none.)
  // Families and tables whose trees it did not change stay shared with the
  // snapshot's catalog (Seal changes only a tree whose root page is dirty).
  auto root_dirty = [this](const TableInfo& t) { return t.tree.depth != 0 && DirtyBuffer(t.tree.root.page) != nullptr; };
  auto every_changed = [&] {  // (family, table) of every tree with a dirty root
    std::vector<std::pair<std::string, std::string>> all;
    for (const auto& [cf_name, cf_info] : catalog.cfs) {
      for (const auto& [t_name, t] : cf_info.tables) {
        if (root_dirty(t)) all.emplace_back(cf_name, t_name);
      }
    }
    return all;
  };
  std::vector<std::pair<std::string, std::string>> changed;  // (family, table)
  if (written_all) {
    changed = every_changed();
  } else {
    for (const auto& [cf_name, t_name] : written) {  // each at most once
      const CfInfo* c = catalog.cfs.Find(cf_name);
      const TableInfo* t = c != nullptr ? c->tables.Find(t_name) : nullptr;
      if (t != nullptr && root_dirty(*t)) changed.emplace_back(cf_name, t_name);
    }
    // Debug builds (the sanitizer runs of the whole suite) check the list
    // against every table: a changed tree left unsealed is a corrupt commit.
    // (`changed` holds distinct dirty roots, so equal counts mean equal sets.)
    assert(every_changed().size() == changed.size());
  }
  for (const auto& [cf_name, t_name] : changed) {
    Status s = btree::Seal(*this, &catalog.cfs.Mutable(cf_name)->tables.Mutable(t_name)->tree, base->generation + 1);
    if (!s.ok()) return abort_with(s);
  }
  if (Status s = write_dirty(); !s.ok()) return abort_with(s.WithContext("commit"));
  const size_t data_pages = pages.size();
  if (checkpoint && wal) {
    if (Status s = write_held(/*under_commit_mu=*/false); !s.ok()) return abort_with(s.WithContext("checkpoint: write of held pages"));
  }
  if (force_checkpoint && !MutantIs(Mutant::kHeaderBeforePageSync) &&
      !(MutantIs(Mutant::kForgetSyncAfterGrow) && core->pager->grew_since_sync())) {
    // Most of a checkpoint's data-file sync happens here, while commits go on;
    // the sync under commit_mu below then has little left to do.
    if (Status s = core->pager->Sync(); !s.ok()) return poison_with(s.WithContext("checkpoint: sync of data pages"));
  }

  // Phase B. A logged commit queues up: the group's leader appends the
  // records of every queued commit with one write (which fixes the commit
  // order) and publishes them together (CommitQueued). Others go one at a
  // time: merge into the newest snapshot, update the catalog tree, write the
  // header if this is a checkpoint, publish.
  if (logged) {
    const bool counted = committing.count != nullptr;
    committing.count = nullptr;  // the group's leader counts it down once the record is written
    return CommitQueued(durability, std::move(pages), counted);
  }
  std::unique_lock<std::mutex> commit_lock(core->commit_mu);
  if (Status p = poisoned_status(); !p.ok()) return abort_with(p);
  std::shared_ptr<const Snapshot> cur;
  {
    std::lock_guard<std::mutex> lock(core->mu);
    cur = core->current;
    page_limit = std::max(page_limit, core->alloc.page_count());  // the newest catalog tree may lie beyond
  }
  const uint64_t gen = cur->generation + 1;
  Catalog merged;
  if (!exclusive) merged = *cur->catalog;
  if (Status s = MergeInto(&merged); !s.ok()) return abort_with(s);
  if (checkpoint && wal) {
    // Every record so far is published (appends happen under commit_mu), so
    // this checkpoint covers each family through the newest LSN.
    const uint64_t lsn = core->wal->last_lsn();
    std::vector<std::string> behind;
    for (const auto& [name, cf] : merged.cfs) {
      if (cf.checkpoint_lsn != lsn) behind.push_back(name);
    }
    for (const std::string& name : behind) merged.cfs.Mutable(name)->checkpoint_lsn = lsn;
  }
  // The catalog tree matters only to a header, so only checkpoints update it:
  // from the catalog it last encoded (cur->tree_catalog) to the merged one.
  // Other commits leave it as it is; their snapshots' in-memory catalogs are
  // what transactions read.
  catalog_tree = cur->catalog_tree;
  if (checkpoint) {
    std::map<std::string, std::string> before = EncodeCatalog(*cur->tree_catalog);
    std::map<std::string, std::string> after = EncodeCatalog(merged);
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

  // Checkpoints record every page that is free once this header is the
  // newest: free and pending pages, pages of transactions still open (this
  // header does not reach them), everything this transaction freed, and the
  // previous freelist chain. Only commits (under commit_mu) shrink the file's
  // page count, so every listed page stays below the header's page count.
  //
  // Transactions beside this one (in phase A) may allocate new pages at the
  // end of the file while the list is built: every page below the header's
  // page count that this header does not reach must be in the list, so the
  // page count is taken only when the list has caught up with it.
  HeaderSlot h;
  std::vector<uint64_t> chain;
  std::vector<uint64_t> old_chain;
  uint64_t page_count;
  if (checkpoint) {
    old_chain = core->freelist_pages;
    std::vector<uint64_t> list;
    {
      std::lock_guard<std::mutex> lock(core->mu);
      core->alloc.TrimTail();  // free pages at the end: left out of the header
      list = core->alloc.FreeAndPending();
      for (uint64_t p : core->alloc.uncommitted()) {
        if (owned.count(p) == 0) list.push_back(p);
      }
      page_count = core->alloc.page_count();
    }
    list.insert(list.end(), freed.begin(), freed.end());
    list.insert(list.end(), old_chain.begin(), old_chain.end());
    std::sort(list.begin(), list.end());
    CrashPoint(CrashPointId::kCheckpointFreeListed);
    // Pages added at the end since the list was taken, except this
    // transaction's own (its chain pages): other transactions' allocations,
    // which no header reaches.
    auto more = [&](std::vector<uint64_t>* add) {
      std::lock_guard<std::mutex> lock(core->mu);
      const uint64_t end = core->alloc.page_count();  // never below page_count: only commits shrink it
      for (uint64_t p = page_count; p < end; p++) {
        if (owned.count(p) == 0) add->push_back(p);
      }
      page_count = std::max(page_count, end);
      return !add->empty();
    };
    Status s = BuildFreelist(*this, std::move(list), more, gen, &h.freelist_head, &h.freelist_count, &chain);
    if (!s.ok()) return abort_with(s);
  } else {
    std::lock_guard<std::mutex> lock(core->mu);
    page_count = core->alloc.page_count();
  }
  Status s = write_dirty();
  if (s.ok() && checkpoint && wal) s = write_held(/*under_commit_mu=*/true);
  if (s.ok() && checkpoint) s = core->pager->EnsureCapacity(page_count);
  if (!s.ok()) return abort_with(s.WithContext("commit"));

  // Not logged (see CommitQueued for the logged ones): a durable commit with
  // nothing to log waits for the records before it.
  const uint64_t lsn = wal ? core->wal->last_lsn() : 0;
  committing.Done();
  const bool wait_for_log = wal && !checkpoint && durable;

  // Checkpoint: sync pages, then the other header slot, then sync again;
  // then start a new log cycle (its records so far are all in this
  // checkpoint: every record is appended under commit_mu).
  int target_slot = MutantIs(Mutant::kOverwriteNewestHeaderSlot) ? core->durable_slot : 1 - core->durable_slot;
  uint64_t checkpoint_lsn = core->checkpoint_lsn;
  if (checkpoint) {
    const bool skip_data_sync = MutantIs(Mutant::kHeaderBeforePageSync) ||
                                (MutantIs(Mutant::kForgetSyncAfterGrow) && core->pager->grew_since_sync());
    s = skip_data_sync ? Status::Ok() : core->pager->Sync();
    if (!s.ok()) return poison_with(s.WithContext("commit: sync of data pages"));
    CrashPoint(CrashPointId::kCheckpointPagesSynced);
    checkpoint_lsn = wal ? core->wal->last_lsn() : core->checkpoint_lsn;
    // The salt of the log cycle this checkpoint starts, recorded before the
    // reset that writes it: if that reset is torn, recovery still knows which
    // records behind the damaged log header belong to the new cycle.
    const uint64_t next_salt = wal ? NewSalt() : 0;
    h.wal_salt = next_salt;
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
    CrashPoint(CrashPointId::kCheckpointHeaderWritten);
    s = MutantIs(Mutant::kSkipHeaderSync) ? Status::Ok() : core->pager->Sync();
    if (!s.ok()) return poison_with(s.WithContext("commit: sync of header"));
    CrashPoint(CrashPointId::kCheckpointHeaderSynced);
    if (wal) {
      {
        std::lock_guard<std::mutex> lock(core->sync_mu);  // every record so far is in this checkpoint
        core->synced_lsn = std::max(core->synced_lsn, checkpoint_lsn);
        core->appended_lsn = std::max(core->appended_lsn, checkpoint_lsn);
        core->PublishSyncStateLocked();  // wakes waiters whose records the checkpoint covers
      }
      // The commit is durable now, whatever happens to the log: recovery skips
      // records the header covers, and reads a torn log header as empty.
      // So a failed reset poisons the database but does not fail the commit.
      s = core->wal->Reset(next_salt, checkpoint_lsn + 1, core->database_id);
      if (s.ok()) CrashPoint(CrashPointId::kCheckpointLogReset);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(core->mu);
        if (core->poisoned.ok()) core->poisoned = s.WithContext("checkpoint: reset of the write-ahead log");
      }
    }
  }

  // Held pages exist nowhere else: into the cache, pinned, before the
  // snapshot that reaches them is published (a miss would read the file).
  if (hold) {
    for (auto& [no, buf] : pages) {
      if (PageCache::Cacheable(no)) core->pager->cache().Insert(no, std::move(buf), /*pinned=*/true);
    }
  }

  // Publish.
  {
    std::lock_guard<std::mutex> lock(core->mu);
    PublishPagesLocked(gen, old_chain, checkpoint);
    if (hold) {
      for (const auto& pg : pages) {
        if (PageCache::Cacheable(pg.first)) core->alloc.MarkHeld(pg.first);
      }
    }
    if (checkpoint) {
      core->header_generation = gen;
      core->durable_slot = target_slot;
      core->freelist_pages = chain;
      core->header_note.clear();
      core->checkpoint_lsn = checkpoint_lsn;
      core->checkpoint_wal_salt = h.wal_salt;
      core->dirty_bytes = 0;
      core->checkpoints++;
      core->checkpoint_pages_written += pages.size() - data_pages + held.size();
      // What this checkpoint wrote is in the file now; held pages that are
      // free (or cut off the end) have no reader left: drop their images.
      for (const auto& [no, b] : held) {
        core->pager->cache().Unpin(no, b.get());
        core->alloc.Unhold(no);
      }
      for (uint64_t no : core->alloc.Held()) {
        if (no >= core->alloc.page_count() || core->alloc.IsFree(no)) {
          core->pager->cache().Erase(no);
          core->alloc.Unhold(no);
        }
      }
      core->checkpoint_ms_total += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
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
    snap->catalog = std::make_shared<const Catalog>(std::move(merged));
    snap->catalog_tree = catalog_tree;
    snap->tree_catalog = checkpoint ? snap->catalog : cur->tree_catalog;
    core->current = std::move(snap);
    if (defer.core != nullptr) {
      core->alloc.EndDeferYoungReclaim();
      defer.core = nullptr;
    }
    core->alloc.Reclaim(core->header_generation, core->OldestReaderLocked());
    core->alloc.TrimTail();
  }
  // Into the cache before anyone (the next writer of these families, or the
  // next catalog change) can free and reuse these pages.
  for (auto& [no, buf] : pages) {
    if (buf) core->pager->cache().Insert(no, std::move(buf));  // (held ones are in already)
  }
  if (checkpoint) {
    // Giving space back is an optimisation; a failure only leaves the file
    // larger. Never below what the header just written or any open
    // transaction's allocation covers.
    Status ignored = core->pager->MaybeShrink([this, page_count] {
      std::lock_guard<std::mutex> lock(core->mu);
      return std::max(page_count, core->alloc.page_count());
    });
    (void)ignored;
  }
  commit_lock.unlock();
  FinishPublished();
  if (wait_for_log) CrashPoint(CrashPointId::kCommitReleased);
  if (wait_for_log && !MutantIs(Mutant::kAckBeforeSync)) {
    core->synced_commits.fetch_add(1, std::memory_order_relaxed);
    MANIFOLD_RETURN_IF_ERROR(WaitDurable(*core, lsn));
    std::lock_guard<std::mutex> lock(core->mu);
    core->durable_generation = std::max(core->durable_generation, gen);
  }
  return Status::Ok();
}

void DbCore::PublishSyncStateLocked() {
  synced_lsn_pub.store(synced_lsn, std::memory_order_seq_cst);
  if (!sync_error.ok()) sync_failed.store(true, std::memory_order_seq_cst);
  sync_epoch.fetch_add(1, std::memory_order_seq_cst);
  // A follower increments sync_waiters before it sleeps and the kernel
  // rechecks the epoch, so seeing no waiter here means nobody can sleep
  // through this change (all seq_cst).
  if (sync_waiters.load(std::memory_order_seq_cst) != 0) FutexWakeAll(&sync_epoch);
}

Status WaitDurable(DbCore& core, uint64_t lsn) {
  bool waited_for_committers = false;
  while (true) {
    // Read the epoch before looking at the state: any change after this read
    // bumps it, so the wait below cannot miss a wake-up.
    const uint32_t epoch = core.sync_epoch.load(std::memory_order_seq_cst);
    if (core.synced_lsn_pub.load(std::memory_order_seq_cst) >= lsn &&
        !core.sync_failed.load(std::memory_order_seq_cst)) {
      return Status::Ok();  // a leader synced it: no lock taken
    }
    std::unique_lock<std::mutex> lk(core.sync_mu);
    if (!core.sync_error.ok()) return core.sync_error;
    if (core.synced_lsn >= lsn) return Status::Ok();
    if (core.sync_in_progress) {
      // A follower: sleep until the running sync ends (one futex wake for all).
      lk.unlock();
      core.sync_waiters.fetch_add(1, std::memory_order_seq_cst);
      FutexWait(&core.sync_epoch, epoch);
      core.sync_waiters.fetch_sub(1, std::memory_order_seq_cst);
      continue;
    }
    if (core.appended_lsn < lsn) {
      // Nobody appended `lsn`: a bookkeeping bug. Fail loudly instead of spinning.
      return Status::InvalidState("log sync requested through LSN " + std::to_string(lsn) +
                                  " but only LSN " + std::to_string(core.appended_lsn) + " was written");
    }
    // Durable commits on their way to the log: started and not appended, or
    // acknowledged by the latest sync and not started again yet.
    auto expected = [&core] {
      return core.committing.load(std::memory_order_seq_cst) != 0 || core.returning.load(std::memory_order_seq_cst) > 0;
    };
    if (!waited_for_committers && expected()) {
      // About to lead while other durable commits are on their way to the
      // log: give them a moment (yielding the CPU they need), bounded by half
      // the previous sync, so that one sync serves them too. Then look again:
      // someone else may have started a sync meanwhile.
      waited_for_committers = true;
      const auto cap = std::chrono::nanoseconds(core.last_sync_ns / 2);
      lk.unlock();
      const auto start = std::chrono::steady_clock::now();
      while (expected() && std::chrono::steady_clock::now() - start < cap) {
        std::this_thread::yield();
      }
      core.sync_waits.fetch_add(1, std::memory_order_relaxed);
      core.sync_wait_ns.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now() - start)
                                      .count()),
                                  std::memory_order_relaxed);
      continue;
    }
    // Lead: sync everything appended so far, for everyone waiting.
    core.sync_in_progress = true;
    core.returning.store(0, std::memory_order_seq_cst);
    const uint64_t upto = core.appended_lsn;
    lk.unlock();
    const auto sync_start = std::chrono::steady_clock::now();
    Status s = MutantIs(Mutant::kSkipWalSync) ? Status::Ok() : core.wal_file->Sync();
    if (MutantIs(Mutant::kIgnoreFailedSync)) s = Status::Ok();
    const auto sync_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - sync_start);
    lk.lock();
    core.last_sync_ns = static_cast<uint64_t>(sync_ns.count());
    core.sync_in_progress = false;
    core.syncs++;
    core.sync_ns_total += core.last_sync_ns;
    if (s.ok()) {
      CrashPoint(CrashPointId::kLogSynced);
      if (upto > core.synced_lsn) {
        const uint64_t n = upto - core.synced_lsn;
        size_t bucket = 0;
        while (n > kSyncHistogramBounds[bucket]) bucket++;
        if (core.records_per_sync.size() <= bucket) core.records_per_sync.resize(bucket + 1);
        core.records_per_sync[bucket]++;
      }
      core.synced_lsn = std::max(core.synced_lsn, upto);
    } else {
      // No allocation failure may escape here: the others wait for PublishSyncStateLocked below.
      try {
        s = s.WithContext("commit: sync of the write-ahead log");
      } catch (const std::bad_alloc&) {
        // Keep the plain error.
      }
      core.sync_error = std::move(s);
      lk.unlock();
      {
        std::lock_guard<std::mutex> lock(core.mu);
        if (core.poisoned.ok()) {
          try {
            core.poisoned = core.sync_error;
          } catch (const std::bad_alloc&) {
            core.poisoned = Status::IOError("sync failed");
          }
        }
      }
      lk.lock();
    }
    core.PublishSyncStateLocked();
  }
}

}  // namespace manifold
