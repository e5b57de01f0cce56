// PageCache: verified, immutable page images shared by all transactions, kept
// under one byte budget.
//
// Pages are never modified in place once committed (copy-on-write), so a cached
// image stays valid until its page number is reallocated; the pager erases a
// page from the cache when it allocates it and inserts the new image when the
// commit that wrote it completes.
//
// The cache is direct-mapped by page number (a two-level table, chunks
// allocated on first use), so a lookup is an array index and one reference
// count increment -- no hashing, no list surgery. Entries are guarded by
// striped spin locks. Eviction is CLOCK (second chance): a hit only sets a
// reference bit. Pages numbered 2^32 and above are not cached.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace manifold {

using PageBuf = std::shared_ptr<char[]>;

// A page-sized buffer; contents uninitialized. One allocation for the
// control block and the bytes, so a cache hit touches one fewer cache line.
inline PageBuf NewPageBuf(uint32_t page_size) { return std::make_shared_for_overwrite<char[]>(page_size); }

// A tiny test-and-test-and-set lock for the cache's very short critical
// sections (unlock is a plain release store, not a read-modify-write).
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class PageCache {
 public:
  PageCache(uint64_t budget_bytes, uint32_t page_size);
  ~PageCache();
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  PageBuf Lookup(uint64_t page_no);
  void Insert(uint64_t page_no, PageBuf page);
  void Erase(uint64_t page_no);
  uint64_t used_bytes() const { return count_.load(std::memory_order_relaxed) * page_size_; }
  uint64_t budget_bytes() const { return budget_bytes_; }
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  static constexpr uint64_t kChunkBits = 16;
  static constexpr uint64_t kChunkSize = uint64_t{1} << kChunkBits;
  static constexpr uint64_t kDirSize = uint64_t{1} << 16;  // 2^32 pages
  static constexpr int kStripes = 64;
  struct Entry {
    PageBuf page;
    bool referenced = false;
  };
  struct Chunk {
    Entry e[kChunkSize];
  };
  Chunk* ChunkFor(uint64_t page_no, bool create);
  struct alignas(64) Stripe {
    mutable SpinLock lock;
    uint64_t hits = 0;    // GUARDED_BY(lock); counted per stripe to keep
    uint64_t misses = 0;  // a shared atomic off the lookup path
  };
  Stripe& StripeFor(uint64_t page_no) { return stripes_[page_no % kStripes]; }
  void EvictIfOver();

  const uint64_t budget_bytes_;
  const uint32_t page_size_;
  const size_t max_pages_;
  std::unique_ptr<std::atomic<Chunk*>[]> dir_;
  Stripe stripes_[kStripes];
  std::mutex chunk_mu_;  // chunk allocation
  std::mutex evict_mu_;  // the CLOCK hand
  uint64_t hand_ = 0;    // GUARDED_BY(evict_mu_)
  std::atomic<uint64_t> pages_seen_{0};  // one past the highest page number inserted
  std::atomic<uint64_t> count_{0};
};

}  // namespace manifold
