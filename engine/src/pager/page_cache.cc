#include "pager/page_cache.h"

#include <algorithm>

namespace manifold {

PageCache::PageCache(uint64_t budget_bytes, uint32_t page_size)
    : budget_bytes_(budget_bytes),
      page_size_(page_size),
      pages_per_shard_(std::max<size_t>(4, budget_bytes / page_size / kShards)) {}

PageBuf PageCache::Lookup(uint64_t page_no) {
  Shard& s = ShardFor(page_no);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(page_no);
  if (it == s.map.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->second;
}

void PageCache::Insert(uint64_t page_no, PageBuf page) {
  Shard& s = ShardFor(page_no);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(page_no);
  if (it != s.map.end()) {
    it->second->second = std::move(page);
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return;
  }
  s.lru.emplace_front(page_no, std::move(page));
  s.map.emplace(page_no, s.lru.begin());
  while (s.map.size() > pages_per_shard_) {
    s.map.erase(s.lru.back().first);
    s.lru.pop_back();
  }
}

void PageCache::Erase(uint64_t page_no) {
  Shard& s = ShardFor(page_no);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(page_no);
  if (it == s.map.end()) return;
  s.lru.erase(it->second);
  s.map.erase(it);
}

uint64_t PageCache::used_bytes() const {
  uint64_t pages = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    pages += s.map.size();
  }
  return pages * page_size_;
}

}  // namespace manifold
