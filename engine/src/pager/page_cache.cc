#include "pager/page_cache.h"

#include <algorithm>

namespace manifold {

PageCache::PageCache(uint64_t budget_bytes, uint32_t page_size)
    : budget_bytes_(budget_bytes),
      page_size_(page_size),
      max_pages_(std::max<size_t>(8, budget_bytes / page_size)),
      dir_(new std::atomic<Chunk*>[kDirSize]) {
  for (uint64_t i = 0; i < kDirSize; i++) dir_[i].store(nullptr, std::memory_order_relaxed);
}

PageCache::~PageCache() {
  for (uint64_t i = 0; i < kDirSize; i++) delete dir_[i].load(std::memory_order_relaxed);
}

PageCache::Chunk* PageCache::ChunkFor(uint64_t page_no, bool create) {
  uint64_t d = page_no >> kChunkBits;
  if (d >= kDirSize) return nullptr;
  Chunk* c = dir_[d].load(std::memory_order_acquire);
  if (c != nullptr || !create) return c;
  std::lock_guard<std::mutex> lock(chunk_mu_);
  c = dir_[d].load(std::memory_order_acquire);
  if (c == nullptr) {
    c = new Chunk();
    dir_[d].store(c, std::memory_order_release);
  }
  return c;
}

PageBuf PageCache::Lookup(uint64_t page_no) {
  Chunk* c = ChunkFor(page_no, false);
  Stripe& st = StripeFor(page_no);
  std::lock_guard<SpinLock> lock(st.lock);
  if (c != nullptr) {
    Entry& e = c->e[page_no & (kChunkSize - 1)];
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
    std::lock_guard<SpinLock> lock(s.lock);
    n += s.hits;
  }
  return n;
}

uint64_t PageCache::misses() const {
  uint64_t n = 0;
  for (const Stripe& s : stripes_) {
    std::lock_guard<SpinLock> lock(s.lock);
    n += s.misses;
  }
  return n;
}

void PageCache::Insert(uint64_t page_no, PageBuf page) {
  Chunk* c = ChunkFor(page_no, true);
  if (c == nullptr) return;  // beyond the directory: not cached
  {
    std::lock_guard<SpinLock> lock(StripeFor(page_no).lock);
    Entry& e = c->e[page_no & (kChunkSize - 1)];
    if (!e.page) count_.fetch_add(1, std::memory_order_relaxed);
    e.page = std::move(page);
    e.referenced = false;
  }
  uint64_t seen = pages_seen_.load(std::memory_order_relaxed);
  while (page_no + 1 > seen && !pages_seen_.compare_exchange_weak(seen, page_no + 1)) {
  }
  EvictIfOver();
}

void PageCache::EvictIfOver() {
  if (count_.load(std::memory_order_relaxed) <= max_pages_) return;
  std::lock_guard<std::mutex> hand_lock(evict_mu_);
  uint64_t limit = pages_seen_.load(std::memory_order_relaxed);
  // Two full sweeps always suffice: the first clears every reference bit.
  for (uint64_t steps = 0; count_.load(std::memory_order_relaxed) > max_pages_ && steps < 2 * limit + 2; steps++) {
    if (hand_ >= limit) hand_ = 0;
    uint64_t no = hand_++;
    Chunk* c = ChunkFor(no, false);
    if (c == nullptr) {
      hand_ = ((no >> kChunkBits) + 1) << kChunkBits;  // skip the missing chunk
      continue;
    }
    std::lock_guard<SpinLock> lock(StripeFor(no).lock);
    Entry& e = c->e[no & (kChunkSize - 1)];
    if (!e.page) continue;
    if (e.referenced) {
      e.referenced = false;
    } else {
      e.page.reset();
      count_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

void PageCache::Erase(uint64_t page_no) {
  Chunk* c = ChunkFor(page_no, false);
  if (c == nullptr) return;
  std::lock_guard<SpinLock> lock(StripeFor(page_no).lock);
  Entry& e = c->e[page_no & (kChunkSize - 1)];
  if (e.page) {
    e.page.reset();
    count_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace manifold
