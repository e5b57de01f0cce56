#include "pager/page_cache.h"

#include <algorithm>

namespace manifold {

PageCache::PageCache(uint64_t budget_bytes, uint32_t page_size)
    : budget_bytes_(budget_bytes), page_size_(page_size), max_pages_(std::max<size_t>(8, budget_bytes / page_size)) {}

PageCache::~PageCache() {
  for (std::atomic<Upper*>& r : root_) {
    Upper* u = r.load(std::memory_order_relaxed);
    if (u == nullptr) continue;
    for (std::atomic<Lower*>& l : u->lower) {
      Lower* lo = l.load(std::memory_order_relaxed);
      if (lo == nullptr) continue;
      for (std::atomic<Chunk*>& c : lo->chunk) delete c.load(std::memory_order_relaxed);
      delete lo;
    }
    delete u;
  }
}

PageCache::Chunk* PageCache::ChunkFor(uint64_t page_no, bool create, uint64_t* skip_to) {
  if (!Cacheable(page_no)) return nullptr;
  std::atomic<Upper*>& r = root_[Index(page_no, kUpperSpan)];
  Upper* u = r.load(std::memory_order_acquire);
  Lower* lo = u != nullptr ? u->lower[Index(page_no, kLowerSpan)].load(std::memory_order_acquire) : nullptr;
  Chunk* c = lo != nullptr ? lo->chunk[Index(page_no, kChunkSpan)].load(std::memory_order_acquire) : nullptr;
  if (c != nullptr) return c;
  if (!create) {
    if (skip_to != nullptr) {
      const uint64_t span = u == nullptr ? kUpperSpan : lo == nullptr ? kLowerSpan : kChunkSpan;
      *skip_to = (page_no / span + 1) * span;
    }
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(chunk_mu_);
  u = r.load(std::memory_order_acquire);
  if (u == nullptr) {
    u = new Upper();
    r.store(u, std::memory_order_release);
  }
  std::atomic<Lower*>& l = u->lower[Index(page_no, kLowerSpan)];
  lo = l.load(std::memory_order_acquire);
  if (lo == nullptr) {
    lo = new Lower();
    l.store(lo, std::memory_order_release);
  }
  std::atomic<Chunk*>& slot = lo->chunk[Index(page_no, kChunkSpan)];
  c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = new Chunk();
    slot.store(c, std::memory_order_release);
  }
  return c;
}

PageBuf PageCache::Lookup(uint64_t page_no) {
  Chunk* c = ChunkFor(page_no, false);
  Stripe& st = StripeFor(page_no);
  std::lock_guard<SpinYieldLock> lock(st.lock);
  if (c != nullptr) {
    Entry& e = c->e[page_no % kFanout];
    if (e.page) {
      e.referenced = true;
      st.hits++;
      return e.page;
    }
  }
  st.misses++;
  return nullptr;
}

uint64_t PageCache::hits() const {
  uint64_t n = 0;
  for (const Stripe& s : stripes_) {
    std::lock_guard<SpinYieldLock> lock(s.lock);
    n += s.hits;
  }
  return n;
}

uint64_t PageCache::misses() const {
  uint64_t n = 0;
  for (const Stripe& s : stripes_) {
    std::lock_guard<SpinYieldLock> lock(s.lock);
    n += s.misses;
  }
  return n;
}

void PageCache::Insert(uint64_t page_no, PageBuf page, bool pinned) {
  Chunk* c = ChunkFor(page_no, true);
  if (c == nullptr) return;  // 2^32 or above: not cached (callers never pin such pages)
  {
    std::lock_guard<SpinYieldLock> lock(StripeFor(page_no).lock);
    Entry& e = c->e[page_no % kFanout];
    if (!e.page) count_.fetch_add(1, std::memory_order_relaxed);
    e.page.swap(page);  // the old image (if any) is freed below, outside the lock
    e.referenced = false;
    if (e.pinned && !pinned) pinned_.fetch_sub(1, std::memory_order_relaxed);
    if (!e.pinned && pinned) pinned_.fetch_add(1, std::memory_order_relaxed);
    e.pinned = pinned;
  }
  page.reset();
  uint64_t seen = pages_seen_.load(std::memory_order_relaxed);
  while (page_no + 1 > seen && !pages_seen_.compare_exchange_weak(seen, page_no + 1)) {
  }
  EvictIfOver();
}

void PageCache::EvictIfOver() {
  // The budget is for unpinned pages.
  auto target = [this] { return max_pages_ + pinned_.load(std::memory_order_relaxed); };
  if (count_.load(std::memory_order_relaxed) <= target()) return;
  std::lock_guard<std::mutex> hand_lock(evict_mu_);
  uint64_t limit = pages_seen_.load(std::memory_order_relaxed);
  // Two full sweeps always suffice: the first clears every reference bit.
  for (uint64_t steps = 0; count_.load(std::memory_order_relaxed) > target() && steps < 2 * limit + 2; steps++) {
    if (hand_ >= limit) hand_ = 0;
    uint64_t no = hand_++;
    Chunk* c = ChunkFor(no, false, &hand_);  // if missing, the hand skips the missing node
    if (c == nullptr) continue;
    PageBuf evicted;  // freed outside the stripe's lock
    std::lock_guard<SpinYieldLock> lock(StripeFor(no).lock);
    Entry& e = c->e[no % kFanout];
    if (!e.page || e.pinned) continue;
    if (e.referenced) {
      e.referenced = false;
    } else {
      evicted.swap(e.page);
      count_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

void PageCache::Erase(uint64_t page_no) {
  Chunk* c = ChunkFor(page_no, false);
  if (c == nullptr) return;
  PageBuf erased;  // freed outside the lock
  std::lock_guard<SpinYieldLock> lock(StripeFor(page_no).lock);
  Entry& e = c->e[page_no % kFanout];
  if (e.page) {
    erased.swap(e.page);
    count_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (e.pinned) pinned_.fetch_sub(1, std::memory_order_relaxed);
  e.pinned = false;
}

PageBuf PageCache::LookupPinned(uint64_t page_no) {
  Chunk* c = ChunkFor(page_no, false);
  if (c == nullptr) return nullptr;
  std::lock_guard<SpinYieldLock> lock(StripeFor(page_no).lock);
  Entry& e = c->e[page_no % kFanout];
  return e.pinned ? e.page : nullptr;
}

void PageCache::Unpin(uint64_t page_no, const char* image) {
  Chunk* c = ChunkFor(page_no, false);
  if (c == nullptr) return;
  {
    std::lock_guard<SpinYieldLock> lock(StripeFor(page_no).lock);
    Entry& e = c->e[page_no % kFanout];
    if (!e.pinned || e.page.get() != image) return;
    e.pinned = false;
    e.referenced = false;
    pinned_.fetch_sub(1, std::memory_order_relaxed);
  }
  EvictIfOver();
}

}  // namespace manifold
