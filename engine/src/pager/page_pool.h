// Memory for page buffers (PageBuf), carved from 2 MiB slabs that are
// advised as transparent huge pages.
//
// Why: a page buffer is the engine's most frequent large allocation, and
// filling a cache (recovery, a scan of a cold table) allocates hundreds of
// megabytes of them. From malloc each new 4 KiB of memory costs a page fault
// on first touch -- on virtual machines several microseconds each, which made
// up a quarter of log replay. A slab takes one fault per 2 MiB where the
// kernel grants huge pages (THP mode "madvise", the default), and never more
// faults than malloc where it does not.
//
// Shape: one size class per buffer size (one per page size in use), each a
// list of slabs with free slots under a short lock; a slab's header sits at
// its 2 MiB-aligned start, so freeing a slot finds its slab by masking the
// address. A slab whose slots are all free is unmapped, except one kept per
// class so that a class alternating around a slab boundary does not map and
// unmap every time. Freed slots are reused before new ones are carved, so a
// steady workload's footprint stays flat; after a peak, memory goes back to
// the system only as whole slabs empty.
//
// The pool is off (plain operator new) in builds where it would hide bugs or
// skip test hooks: under AddressSanitizer (which must see each buffer's
// bounds and lifetime), in test binaries that count or fail allocations
// (testing/fail_alloc.cc turns it off before main), and off Linux (the WASM
// build). Whether it is on is decided by the first allocation and never
// changes afterwards, so every buffer is freed the way it was allocated.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "util/source_allocator.h"

namespace manifold {

namespace page_pool {

// At least `bytes` (a page buffer with its control block), 16-byte aligned.
// Throws std::bad_alloc when out of memory.
void* Allocate(size_t bytes);
// Frees what Allocate(bytes) returned.
void Free(void* p, size_t bytes) noexcept;
// Turns the pool off for the life of the process (operator new instead).
// Only before the first Allocate; returns false (and changes nothing) after.
bool Disable() noexcept;
// Whether allocations come from slabs (decided at the first Allocate).
bool Enabled() noexcept;
// Slabs mapped now, over all size classes (for tests).
uint64_t SlabsMapped() noexcept;
// The bytes of one slab.
inline constexpr size_t kSlabBytes = size_t{2} << 20;

}  // namespace page_pool

// The allocator of page buffers' shared blocks: std::allocate_shared uses it
// for the control block and the bytes together.
struct PagePoolSource {
  static void* Allocate(size_t bytes) { return page_pool::Allocate(bytes); }
  static void Free(void* p, size_t bytes) noexcept { page_pool::Free(p, bytes); }
};
template <typename T>
using PageBufAllocator = SourceAllocator<T, PagePoolSource>;

}  // namespace manifold
