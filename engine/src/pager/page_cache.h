// PageCache: verified, immutable page images shared by all transactions, kept
// under one byte budget.
//
// Pages are never modified in place once committed (copy-on-write), so a cached
// image stays valid until its page number is reallocated; the pager erases a
// page from the cache when it allocates it and inserts the new image when the
// commit that wrote it completes.
//
// The cache is direct-mapped by page number (a four-level table of 256-way
// nodes: a small fixed root inside the object, then two levels of pointer
// nodes and the chunks of entries, allocated on first use), so a lookup is
// four array indexes and one reference count increment -- no hashing, no
// list surgery. Nothing is allocated before the first Insert, and a small
// database touches one node of each level (~10 KiB, and ~6 KiB inline):
// opening and closing a database costs no more than its cache actually holds
// (with three levels of 2,048 the first page cost ~56 KiB, zeroed and freed:
// ~6% of an `api_ops` fuzz input's profile; a fixed corpus ran 2-3% faster
// with four levels). Entries are guarded by
// striped locks that spin briefly and then yield (util/futex.h; plain spin
// locks left 16 writers spinning through the time slices of a preempted
// holder, and std::mutex cost cached point reads ~9%), and no page is freed
// while one is held. Eviction is CLOCK (second chance): a hit only sets a
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

#include "pager/page_pool.h"
#include "util/futex.h"

namespace manifold {

using PageBuf = std::shared_ptr<char[]>;

// A page-sized buffer; contents uninitialized. One allocation for the
// control block and the bytes, so a cache hit touches one fewer cache line;
// from the page pool (pager/page_pool.h).
inline PageBuf NewPageBuf(uint32_t page_size) {
  return std::allocate_shared_for_overwrite<char[]>(PageBufAllocator<char>(), page_size);
}

class PageCache {
 public:
  PageCache(uint64_t budget_bytes, uint32_t page_size);
  ~PageCache();
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  PageBuf Lookup(uint64_t page_no);
  // `pinned`: the image exists nowhere else (a page of a logged commit that
  // no checkpoint has written yet): it is never evicted, only erased (the page
  // number is reallocated) or unpinned (a checkpoint wrote it).
  void Insert(uint64_t page_no, PageBuf page, bool pinned = false);
  void Erase(uint64_t page_no);
  // The page's image if it is pinned (no hit or miss is counted).
  PageBuf LookupPinned(uint64_t page_no);
  // Unpins the page if its image is still `image` (it is now in the file).
  void Unpin(uint64_t page_no, const char* image);
  // Whether a page number can be cached (and so pinned) at all.
  static bool Cacheable(uint64_t page_no) { return page_no < (uint64_t{1} << 32); }
  // Bytes of unpinned pages (what the budget bounds).
  uint64_t used_bytes() const {
    const uint64_t all = count_.load(std::memory_order_relaxed), pinned = pinned_.load(std::memory_order_relaxed);
    return all > pinned ? (all - pinned) * page_size_ : 0;
  }
  uint64_t budget_bytes() const { return budget_bytes_; }
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  // page_no = [root index][upper node index][lower node index][chunk index], 8 bits each
  static constexpr uint64_t kLevelBits = 8;
  static constexpr uint64_t kFanout = uint64_t{1} << kLevelBits;  // chunk: 256 entries, 6 KiB
  static constexpr uint64_t kChunkSpan = kFanout;                  // pages under one chunk
  static constexpr uint64_t kLowerSpan = kChunkSpan * kFanout;     // ... one lower node
  static constexpr uint64_t kUpperSpan = kLowerSpan * kFanout;     // ... one upper node
  static_assert(kUpperSpan * kFanout == uint64_t{1} << 32, "pages numbered below 2^32 are cached");
  static constexpr int kStripes = 64;
  struct Entry {
    PageBuf page;
    bool referenced = false;
    bool pinned = false;
  };
  struct Chunk {
    Entry e[kFanout];
  };
  struct Lower {
    std::atomic<Chunk*> chunk[kFanout] = {};
  };
  struct Upper {
    std::atomic<Lower*> lower[kFanout] = {};
  };
  static uint64_t Index(uint64_t page_no, uint64_t span) { return (page_no / span) % kFanout; }
  // The chunk holding page_no's entry (created if `create`), or null; when
  // null and `skip_to` is given, it is set to the first page number past the
  // missing node (what the CLOCK hand steps over).
  Chunk* ChunkFor(uint64_t page_no, bool create, uint64_t* skip_to = nullptr);
  struct alignas(64) Stripe {
    mutable SpinYieldLock lock;
    uint64_t hits = 0;    // GUARDED_BY(lock); counted per stripe to keep
    uint64_t misses = 0;  // a shared atomic off the lookup path
  };
  Stripe& StripeFor(uint64_t page_no) { return stripes_[page_no % kStripes]; }
  void EvictIfOver();

  const uint64_t budget_bytes_;
  const uint32_t page_size_;
  const size_t max_pages_;
  std::atomic<Upper*> root_[kFanout] = {};  // written under chunk_mu_, read lock-free
  Stripe stripes_[kStripes];
  std::mutex chunk_mu_;  // node and chunk allocation
  std::mutex evict_mu_;  // the CLOCK hand
  uint64_t hand_ = 0;    // GUARDED_BY(evict_mu_)
  std::atomic<uint64_t> pages_seen_{0};  // one past the highest page number inserted
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> pinned_{0};  // pinned entries (part of count_)
};

}  // namespace manifold
