// A stateless standard allocator over a byte source: `Source` has static
// `void* Allocate(size_t bytes)` (throws std::bad_alloc) and
// `void Free(void* p, size_t bytes) noexcept`, and decides where memory comes
// from by the size alone. Every instance is interchangeable; rebinding keeps
// the source. Used for page buffers (pager/page_pool.h) and large vectors
// (util/big_buffer.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace manifold {

template <typename T, typename Source>
struct SourceAllocator {
  using value_type = T;
  SourceAllocator() = default;
  template <typename U>
  SourceAllocator(const SourceAllocator<U, Source>&) noexcept {}  // NOLINT(google-explicit-constructor): rebinding
  T* allocate(size_t n) {
    static_assert(alignof(T) <= alignof(std::max_align_t), "sources align to the heap's alignment");
    if (n > SIZE_MAX / 4 / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(Source::Allocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { Source::Free(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const SourceAllocator<U, Source>&) const noexcept {
    return true;
  }
};

}  // namespace manifold
