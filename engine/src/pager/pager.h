// Pager: page-granular I/O on the data file, with verification on every read.
//
// Every page read from storage is checked against three things before anyone
// sees it: its own stored checksum (torn or rotted page), the checksum its
// parent recorded for it (stale, lost or misdirected write), and the page
// number stamped in it. Verified pages go to the shared PageCache.
//
// Thread-safety: all methods are thread-safe. Concurrent writers write
// disjoint pages; EnsureCapacity and MaybeShrink serialize on grow_mu_.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "manifold/storage.h"
#include "pager/page_cache.h"
#include "pager/page_format.h"

namespace manifold {

class Pager {
 public:
  Pager(std::shared_ptr<File> file, uint32_t page_size, uint64_t cache_bytes);

  uint32_t page_size() const { return page_size_; }
  PageCache& cache() { return cache_; }
  File& file() { return *file_; }
  const std::string& path() const { return file_->path(); }

  // Reads a committed page and verifies it; `page_count` bounds the page number.
  Result<PageBuf> Read(ChildRef ref, uint64_t page_count);
  // Reads `n_pages` consecutive pages without verification (overflow extents,
  // whose checksum covers the value; the caller verifies it).
  Status ReadExtent(uint64_t first_page, uint64_t n_bytes, char* out);

  // Writes pages (sorted by page number), coalescing neighbours into one write.
  Status WritePages(const std::vector<std::pair<uint64_t, PageBuf>>& pages);
  Status WritePages(const std::pair<uint64_t, PageBuf>* pages, size_t n);
  Status WriteExtent(uint64_t first_page, std::string_view data);
  // Makes the file at least `pages` pages long, growing in steps (1/8 of the
  // file, at least 16 pages, at most 64 MiB) so that growth is rare.
  Status EnsureCapacity(uint64_t pages);
  // Shrinks the file if it is much larger than `pages_in_use()` pages. The
  // callback runs under the growth lock, so no EnsureCapacity for a page
  // allocated before it returns can be undone by the shrink.
  Status MaybeShrink(const std::function<uint64_t()>& pages_in_use);
  // Cuts the file to exactly `pages` pages if it is longer (recovery, before
  // replay: what lies past the durable header's page count was written by
  // the process that crashed and is reachable from nothing durable; left in
  // the OS page cache, it would be written back by the next sync).
  Status TruncateTo(uint64_t pages);
  Status Sync();
  // Whether the file grew since the last Sync() (Mutant::kForgetSyncAfterGrow).
  bool grew_since_sync() const { return grew_since_sync_; }

  PageBuf NewBuffer() const { return NewPageBuf(page_size_); }
  std::string CorruptionContext(uint64_t page_no) const;

 private:
  std::shared_ptr<File> file_;
  const uint32_t page_size_;
  PageCache cache_;
  std::mutex grow_mu_;
  std::atomic<bool> grew_since_sync_{false};
  uint64_t file_pages_ = 0;  // GUARDED_BY(grow_mu_)
  bool file_pages_known_ = false;  // GUARDED_BY(grow_mu_)
};

// A set of page numbers as a bitmap: O(1) insert, test and erase (a std::set
// of the pages written since the last checkpoint cost a tree walk with cache
// misses on every commit). Clear() costs the words up to the highest page set
// since the last Clear().
class PageBitmap {
 public:
  bool Contains(uint64_t page) const {
    const uint64_t w = page >> 6;
    return w < words_.size() && ((words_[w] >> (page & 63)) & 1) != 0;
  }
  // May throw std::bad_alloc (growing), leaving the set unchanged.
  void Insert(uint64_t page) {
    const uint64_t w = page >> 6;
    if (w >= words_.size()) words_.resize(std::max<uint64_t>(w + 1, words_.size() * 2), 0);
    const uint64_t bit = uint64_t{1} << (page & 63);
    if ((words_[w] & bit) == 0) count_++;
    words_[w] |= bit;
    high_word_ = std::max(high_word_, w + 1);
  }
  // True if the page was in the set.
  bool Erase(uint64_t page) {
    if (!Contains(page)) return false;
    words_[page >> 6] &= ~(uint64_t{1} << (page & 63));
    count_--;
    return true;
  }
  void Clear() {
    std::fill(words_.begin(), words_.begin() + static_cast<std::ptrdiff_t>(high_word_), 0);
    high_word_ = 0;
    count_ = 0;
  }
  uint64_t size() const { return count_; }
  // Calls f(page) for every page in the set, in ascending order.
  template <typename F>
  void ForEach(F&& f) const {
    for (uint64_t w = 0; w < high_word_; w++) {
      for (uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) f(w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits)));
    }
  }

 private:
  std::vector<uint64_t> words_;
  uint64_t high_word_ = 0;  // words_[high_word_..] are all zero
  uint64_t count_ = 0;
};

// Free-space bookkeeping. A page is in exactly one of: reachable from the
// latest commit, uncommitted (allocated by a write transaction that has not
// committed or aborted yet), free (reusable now), or pending (freed by commit G, reusable
// once a durable header at generation >= G exists and no reader snapshot older
// than G is open). A "young" page -- written since the last checkpoint, so no
// durable header reaches it -- needs only the reader condition.
//
// Allocate, AllocateExtent and Release change nothing when they throw
// std::bad_alloc.
//
// Thread-safety: none; the owner serializes access.
class PageAllocator {
 public:
  void Reset(uint64_t page_count, std::vector<uint64_t> free_pages);
  uint64_t page_count() const { return page_count_; }
  uint64_t free_count() const { return free_.size(); }
  uint64_t pending_count() const;
  bool IsFree(uint64_t page) const { return free_.count(page) != 0; }

  uint64_t Allocate();                         // lowest free page, or a new one at the end
  uint64_t AllocateExtent(uint64_t n_pages);   // n consecutive pages
  // An allocated page that was never published goes back to the free set
  // (no-op for a page no longer uncommitted: a commit published it). If the
  // insert fails (std::bad_alloc) the page stays uncommitted, and lost to no one.
  void Release(uint64_t page) {
    if (uncommitted_.count(page) == 0) return;
    free_.insert(page);
    uncommitted_.erase(page);
  }
  // Allocated pages that a commit just published.
  void Committed(const std::vector<uint64_t>& pages) {
    for (uint64_t p : pages) uncommitted_.erase(p);
  }
  // Pages allocated by transactions still open (a checkpoint lists them as
  // free: its header does not reach them).
  const std::set<uint64_t>& uncommitted() const { return uncommitted_; }
  // Pages freed by commit `generation`; young ones (see above) go to the
  // reader-only list.
  void AddPending(uint64_t generation, const std::vector<uint64_t>& pages);
  // Pages a commit that was not a checkpoint wrote: not in any durable header.
  void MarkYoung(const std::vector<uint64_t>& pages) {
    for (uint64_t p : pages) young_.Insert(p);
  }
  // A checkpoint made every page durable: none is young any more.
  void ClearYoung() { young_.Clear(); }
  // "Held" pages: published by logged commits and not yet written to the
  // data file; their only image is pinned in the page cache. Held until a
  // checkpoint writes them (Unhold) or the page is allocated again (its
  // image is then dropped). May throw std::bad_alloc, leaving the set unchanged.
  void MarkHeld(uint64_t page) { held_.Insert(page); }
  void Unhold(uint64_t page) { held_.Erase(page); }
  uint64_t held_count() const { return held_.size(); }
  // Held pages that are young (reachable from the latest commit): what a
  // checkpoint must write. Held pages that are not young were freed, and only
  // old snapshots may still read them.
  std::vector<uint64_t> YoungHeld() const;
  // Every held page.
  std::vector<uint64_t> Held() const;
  // While a checkpoint writes held pages without commit_mu, young pages freed
  // meanwhile must not be reused (the write could land on their next
  // contents): Reclaim leaves them pending. Nests.
  void DeferYoungReclaim() { defer_young_reclaim_++; }
  void EndDeferYoungReclaim() { defer_young_reclaim_--; }
  // Moves pending pages whose generation <= min(durable, oldest reader) to free.
  void Reclaim(uint64_t durable_generation, uint64_t oldest_reader_generation);
  // Drops free pages at the end of the file.
  void TrimTail();
  // Every free and pending page (what a durable header records as free).
  std::vector<uint64_t> FreeAndPending() const;
  const std::set<uint64_t>& free_set() const { return free_; }
  // Every pending page (both lists).
  std::vector<uint64_t> PendingPages() const;

 private:
  // Moves pages [first, first + n_pages) from free (where they are) to uncommitted.
  void TakeExtent(uint64_t first, uint64_t n_pages);

  uint64_t page_count_ = 2;
  std::set<uint64_t> free_;
  std::map<uint64_t, std::vector<uint64_t>> pending_;
  std::map<uint64_t, std::vector<uint64_t>> pending_young_;
  PageBitmap young_;
  PageBitmap held_;
  uint64_t defer_young_reclaim_ = 0;
  std::set<uint64_t> uncommitted_;
};

}  // namespace manifold
