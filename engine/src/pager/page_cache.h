// PageCache: verified, immutable page images shared by all transactions, kept
// under one byte budget (LRU, sharded to keep lock hold times short).
//
// Pages are never modified in place once committed (copy-on-write), so a cached
// image stays valid until its page number is reallocated; the pager erases a
// page from the cache when it allocates it and inserts the new image when the
// commit that wrote it completes.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace manifold {

using PageBuf = std::shared_ptr<char[]>;

class PageCache {
 public:
  PageCache(uint64_t budget_bytes, uint32_t page_size);
  PageBuf Lookup(uint64_t page_no);
  void Insert(uint64_t page_no, PageBuf page);
  void Erase(uint64_t page_no);
  uint64_t used_bytes() const;
  uint64_t budget_bytes() const { return budget_bytes_; }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::list<std::pair<uint64_t, PageBuf>> lru;  // front = most recent
    std::unordered_map<uint64_t, std::list<std::pair<uint64_t, PageBuf>>::iterator> map;
  };
  Shard& ShardFor(uint64_t page_no) { return shards_[page_no % kShards]; }

  const uint64_t budget_bytes_;
  const uint32_t page_size_;
  const size_t pages_per_shard_;
  Shard shards_[kShards];
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace manifold
