// Large scratch memory: a buffer for reading a whole file at once (the log,
// at recovery, where the storage cannot map it), and an allocator for large
// vectors (recovery's record and operation lists).
//
// On Linux an allocation of kMapMinBytes or more is anonymous memory aligned
// to 2 MiB and advised as transparent huge pages (MADV_HUGEPAGE, which the
// default THP mode "madvise" honours): filling it then takes a few hundred
// page faults instead of one per 4 KiB (on virtual machines each costs
// microseconds), and reads scattered over it (replay in key order) miss the
// TLB far less. The advice is only that: without huge pages it is ordinary
// memory. Elsewhere (the WASM build), under AddressSanitizer or
// MemorySanitizer (so that they see each buffer's bounds; util/sanitizers.h),
// for small sizes, or if mmap fails: the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "util/sanitizers.h"
#include "util/source_allocator.h"

namespace manifold {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !MANIFOLD_HEAP_CHECKED
inline constexpr bool kHugePagesMappable = true;
#else
inline constexpr bool kHugePagesMappable = false;
#endif

// `bytes` rounded up to whole huge pages, mapped 2 MiB-aligned and advised
// as huge pages; null if that is not possible here (the caller uses the heap).
inline void* MapHugePages(size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !MANIFOLD_HEAP_CHECKED
  if (bytes == 0 || bytes > SIZE_MAX / 4) return nullptr;
  const size_t rounded = (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const size_t len = rounded + kHugePageBytes;  // room to align the start
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  char* const start = static_cast<char*>(m);
  const size_t misalign = reinterpret_cast<uintptr_t>(start) & (kHugePageBytes - 1);
  const size_t head = misalign == 0 ? 0 : kHugePageBytes - misalign;
  char* const at = start + head;
  if (head > 0) (void)munmap(start, head);
  if (len - head - rounded > 0) (void)munmap(at + rounded, len - head - rounded);
  (void)madvise(at, rounded, MADV_HUGEPAGE);  // advice: ignored where THP is off
  return at;
#else
  (void)bytes;
  return nullptr;
#endif
}

// Unmaps what MapHugePages(bytes) returned.
inline void UnmapHugePages(void* p, size_t bytes) noexcept {
#if defined(__linux__)
  if (p != nullptr) (void)munmap(p, (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1));
#else
  (void)p;
  (void)bytes;
#endif
}

class BigBuffer {
 public:
  static constexpr size_t kHugePageBytes = manifold::kHugePageBytes;
  static constexpr size_t kMapMinBytes = size_t{4} << 20;

  // Not zero-filled. Throws std::bad_alloc if there is no memory for it.
  explicit BigBuffer(size_t bytes) {
    if (bytes >= kMapMinBytes) {
      data_ = static_cast<char*>(MapHugePages(bytes));
      if (data_ != nullptr) {
        map_bytes_ = bytes;
        return;
      }
    }
    heap_ = std::make_unique_for_overwrite<char[]>(bytes == 0 ? 1 : bytes);
    data_ = heap_.get();
  }
  ~BigBuffer() { reset(); }
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;

  char* data() const { return data_; }

  // Frees the memory now; data() is null afterwards.
  void reset() {
    if (map_bytes_ != 0) UnmapHugePages(data_, map_bytes_);
    map_bytes_ = 0;
    heap_.reset();
    data_ = nullptr;
  }

 private:
  char* data_ = nullptr;
  size_t map_bytes_ = 0;  // data_ is a MapHugePages mapping of this many bytes, or 0
  std::unique_ptr<char[]> heap_;
};

// For std::vector: allocations of BigBuffer::kMapMinBytes or more are huge
// pages (MapHugePages; where there are none, the heap), smaller ones the
// heap. Which one is decided by the size alone, so Free finds its way back.
struct HugePageSource {
  static bool Mapped(size_t bytes) { return kHugePagesMappable && bytes >= BigBuffer::kMapMinBytes; }
  static void* Allocate(size_t bytes) {
    if (!Mapped(bytes)) return ::operator new(bytes);
    if (void* m = MapHugePages(bytes)) return m;
    throw std::bad_alloc();
  }
  static void Free(void* p, size_t bytes) noexcept {
    if (Mapped(bytes)) {
      UnmapHugePages(p, bytes);
    } else {
      ::operator delete(p);
    }
  }
};
template <typename T>
using HugePageAllocator = SourceAllocator<T, HugePageSource>;

}  // namespace manifold
