// DirtyPages: the pages a write transaction has modified, by page number.
//
// Looked up on every level of every write (is this page already ours?), so
// it is a two-level radix table rather than a hash map: page numbers that a
// transaction allocates are dense, and a lookup is two array indexings.
// Iteration is in ascending page order, which is the order pages are written;
// it visits only the pages inserted (a sorted list of them), so a small
// transaction does not scan whole chunks.
//
// Thread-safety: none; owned by one write transaction.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "pager/page_cache.h"

namespace manifold {

class DirtyPages {
 public:
  char* Find(uint64_t page_no) const {
    const PageBuf* b = Slot(page_no);
    return b != nullptr && *b ? b->get() : nullptr;
  }
  const PageBuf* FindBuf(uint64_t page_no) const {
    const PageBuf* b = Slot(page_no);
    return b != nullptr && *b ? b : nullptr;
  }
  void Insert(uint64_t page_no, PageBuf buf) {
    uint64_t c = page_no >> kChunkBits;
    if (c >= chunks_.size()) chunks_.resize(c + 1);
    if (!chunks_[c]) chunks_[c] = std::make_unique<Chunk>();
    PageBuf& slot = (*chunks_[c])[page_no & kChunkMask];
    if (!slot) {
      count_++;
      order_.push_back(page_no);
      sorted_ = false;
    }
    slot = std::move(buf);
  }
  void Erase(uint64_t page_no) {
    uint64_t c = page_no >> kChunkBits;
    if (c >= chunks_.size() || !chunks_[c]) return;
    PageBuf& slot = (*chunks_[c])[page_no & kChunkMask];
    if (slot) count_--;
    slot.reset();
  }
  void Clear() {
    chunks_.clear();
    order_.clear();
    sorted_ = true;
    count_ = 0;
  }
  size_t size() const { return count_; }

  // fn(page_no, const PageBuf&) in ascending page order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (!sorted_) {  // erased and re-inserted pages appear twice: keep one
      std::sort(order_.begin(), order_.end());
      order_.erase(std::unique(order_.begin(), order_.end()), order_.end());
      sorted_ = true;
    }
    for (uint64_t no : order_) {
      const PageBuf* b = Slot(no);
      if (b != nullptr && *b) fn(no, *b);
    }
  }

  // A copy with copies of every page (savepoints).
  DirtyPages DeepCopy(uint32_t page_size) const {
    DirtyPages d;
    ForEach([&](uint64_t no, const PageBuf& b) {
      PageBuf copy = NewPageBuf(page_size);
      std::memcpy(copy.get(), b.get(), page_size);
      d.Insert(no, std::move(copy));
    });
    return d;
  }

 private:
  static constexpr uint64_t kChunkBits = 8;
  static constexpr uint64_t kChunkSize = uint64_t{1} << kChunkBits;
  static constexpr uint64_t kChunkMask = kChunkSize - 1;
  using Chunk = std::array<PageBuf, kChunkSize>;

  const PageBuf* Slot(uint64_t page_no) const {
    uint64_t c = page_no >> kChunkBits;
    if (c >= chunks_.size() || !chunks_[c]) return nullptr;
    return &(*chunks_[c])[page_no & kChunkMask];
  }

  std::vector<std::unique_ptr<Chunk>> chunks_;
  mutable std::vector<uint64_t> order_;  // every page inserted (erased ones too), sorted lazily
  mutable bool sorted_ = true;
  size_t count_ = 0;
};

}  // namespace manifold
