// DirtyPages: the pages a write transaction has modified, by page number.
//
// Looked up on every level of every write (is this page already ours?), so
// it is a two-level radix table rather than a hash map: page numbers that a
// transaction allocates are dense, and a lookup is two array indexings.
// Iteration is in ascending page order, which is the order pages are written.
//
// Thread-safety: none; owned by one write transaction.
#pragma once

#include <cstdint>
#include <array>
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
    if (!slot) count_++;
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
    count_ = 0;
  }
  size_t size() const { return count_; }

  // fn(page_no, const PageBuf&) in ascending page order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (uint64_t c = 0; c < chunks_.size(); c++) {
      if (!chunks_[c]) continue;
      for (uint64_t i = 0; i < kChunkSize; i++) {
        const PageBuf& b = (*chunks_[c])[i];
        if (b) fn((c << kChunkBits) | i, b);
      }
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
  static constexpr uint64_t kChunkBits = 10;
  static constexpr uint64_t kChunkSize = uint64_t{1} << kChunkBits;
  static constexpr uint64_t kChunkMask = kChunkSize - 1;
  using Chunk = std::array<PageBuf, kChunkSize>;

  const PageBuf* Slot(uint64_t page_no) const {
    uint64_t c = page_no >> kChunkBits;
    if (c >= chunks_.size() || !chunks_[c]) return nullptr;
    return &(*chunks_[c])[page_no & kChunkMask];
  }

  std::vector<std::unique_ptr<Chunk>> chunks_;
  size_t count_ = 0;
};

}  // namespace manifold
