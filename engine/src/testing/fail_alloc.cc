// Counting replacements of the global operator new/delete (see fail_alloc.h).
#include "testing/fail_alloc.h"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "pager/page_pool.h"

namespace manifold::testing {
namespace {

std::atomic<int64_t> g_live{0};
thread_local uint64_t t_fail_at = 0;  // 0: disarmed
thread_local uint64_t t_count = 0;
thread_local bool t_failed = false;
thread_local int t_paused = 0;  // ScopedNoFailures depth

void* Allocate(std::size_t n, std::size_t align) {
  if (t_fail_at != 0 && t_paused == 0 && ++t_count == t_fail_at) {
    t_fail_at = 0;
    t_failed = true;
    return nullptr;
  }
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else {
    p = std::aligned_alloc(align, (n + align - 1) / align * align);
  }
  if (p != nullptr) g_live.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void Free(void* p) noexcept {
  if (p == nullptr) return;
  g_live.fetch_sub(1, std::memory_order_relaxed);
  std::free(p);
}

void* AllocateOrThrow(std::size_t n, std::size_t align) {
  void* p = Allocate(n, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Page buffers come from operator new here, so that they are counted and
// can fail like every other allocation (pager/page_pool.h). Before main: no
// page buffer exists yet.
[[maybe_unused]] const bool kPagePoolOff = page_pool::Disable();

}  // namespace

void FailNthAllocation(uint64_t n) {
  t_fail_at = n;
  t_count = 0;
  if (n != 0) t_failed = false;
}
bool AllocationFailed() { return t_failed; }
uint64_t AllocationsSinceArmed() { return t_count; }
int64_t LiveAllocations() { return g_live.load(std::memory_order_relaxed); }
ScopedNoFailures::ScopedNoFailures() { t_paused++; }
ScopedNoFailures::~ScopedNoFailures() { t_paused--; }

}  // namespace manifold::testing

using manifold::testing::AllocateOrThrow;
using manifold::testing::Free;
constexpr std::size_t kDefaultAlign = alignof(std::max_align_t);

// NOLINTBEGIN(misc-new-delete-overloads)
void* operator new(std::size_t n) { return AllocateOrThrow(n, kDefaultAlign); }
void* operator new[](std::size_t n) { return AllocateOrThrow(n, kDefaultAlign); }
void* operator new(std::size_t n, std::align_val_t a) { return AllocateOrThrow(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return AllocateOrThrow(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return manifold::testing::Allocate(n, kDefaultAlign);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return manifold::testing::Allocate(n, kDefaultAlign);
}
void operator delete(void* p) noexcept { Free(p); }
void operator delete[](void* p) noexcept { Free(p); }
void operator delete(void* p, std::size_t) noexcept { Free(p); }
void operator delete[](void* p, std::size_t) noexcept { Free(p); }
void operator delete(void* p, std::align_val_t) noexcept { Free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { Free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { Free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { Free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Free(p); }
// NOLINTEND(misc-new-delete-overloads)
