#include "pager/page_pool.h"

#include <atomic>
#include <bit>
#include <cassert>
#include <cstdint>
#include <mutex>
#include <new>

#include <pthread.h>

#include "util/big_buffer.h"
#include "util/futex.h"
#include "util/sanitizers.h"

#if MANIFOLD_HEAP_CHECKED || !defined(__linux__)
#define MANIFOLD_PAGE_POOL_OFF 1
#endif

namespace manifold::page_pool {
namespace {

// Sizes served from slabs: (2^kMinClass-1, 2^kMaxClass] bytes, a page of
// 512 B to 64 KiB with its control block. Class k holds sizes in
// (2^(k-1), 2^k]; each page size lands in its own class.
constexpr int kMinClass = 9;
constexpr int kMaxClass = 17;
constexpr size_t kHeaderBytes = 64;  // the slab header, at the slab's start
constexpr size_t kSlotAlign = 64;

struct Class;

struct Slab {
  Class* cls;
  Slab* prev;  // in the class's list of slabs with free slots
  Slab* next;
  void* free_head;  // freed slots, linked through their first word
  uint32_t live;
  uint32_t carved;  // slots handed out at least once (the rest were never touched)
  uint32_t capacity;
  bool listed;
};
static_assert(sizeof(Slab) <= kHeaderBytes);

struct Class {
  SpinYieldLock mu;
  std::atomic<size_t> slot{0};  // slot bytes: set by the first allocation, then fixed
  Slab* partial = nullptr;      // GUARDED_BY(mu): slabs with a free slot
  Slab* spare = nullptr;        // GUARDED_BY(mu): one empty slab kept mapped
};

Class g_classes[kMaxClass + 1];
std::atomic<int> g_mode{0};  // 0: undecided, 1: on, 2: off
std::atomic<uint64_t> g_slabs{0};

#if !defined(MANIFOLD_PAGE_POOL_OFF)
// fork() copies the pool's locks as they are: one that another thread held
// at that moment would stay held in the child for good, and the child's
// first page buffer would wait forever. As malloc does, every class's lock
// is taken across fork (in class order, the only order anyone takes two)
// and released on both sides.
void LockAllForFork() noexcept {
  for (Class& c : g_classes) c.mu.lock();
}
void UnlockAllAfterFork() noexcept {
  for (Class& c : g_classes) c.mu.unlock();
}
#endif

bool DecideEnabled() noexcept {
  int m = g_mode.load(std::memory_order_acquire);
  if (m != 0) return m == 1;
#if defined(MANIFOLD_PAGE_POOL_OFF)
  const int want = 2;
#else
  const int want = kHugePagesMappable ? 1 : 2;
#endif
  if (!g_mode.compare_exchange_strong(m, want, std::memory_order_acq_rel)) return m == 1;
#if !defined(MANIFOLD_PAGE_POOL_OFF)
  if (want == 1) (void)pthread_atfork(LockAllForFork, UnlockAllAfterFork, UnlockAllAfterFork);
#endif
  return want == 1;
}

// The class serving `bytes` and its slot size, or null (operator new).
Class* ClassFor(size_t bytes, size_t* slot) noexcept {
  if (bytes <= (size_t{1} << (kMinClass - 1)) || bytes > (size_t{1} << kMaxClass)) return nullptr;
  if (!DecideEnabled()) return nullptr;
  Class& c = g_classes[std::bit_width(bytes - 1)];
  size_t s = c.slot.load(std::memory_order_acquire);
  if (s == 0) {
    const size_t want = (bytes + kSlotAlign - 1) & ~(kSlotAlign - 1);
    if (c.slot.compare_exchange_strong(s, want, std::memory_order_acq_rel)) s = want;
  }
  if (bytes > s) return nullptr;  // another size of the same class came first: fixed for good
  *slot = s;
  return &c;
}

// A kSlabBytes-aligned anonymous mapping of kSlabBytes, or null.
void* MapSlab() noexcept {
  static_assert(kSlabBytes == kHugePageBytes, "MapHugePages aligns to one huge page");
  void* slab = MapHugePages(kSlabBytes);
  if (slab != nullptr) g_slabs.fetch_add(1, std::memory_order_relaxed);
  return slab;
}

void UnmapSlab(Slab* s) noexcept {
  UnmapHugePages(s, kSlabBytes);
  g_slabs.fetch_sub(1, std::memory_order_relaxed);
}

void Link(Class& c, Slab* s) {  // REQUIRES: c.mu
  s->prev = nullptr;
  s->next = c.partial;
  if (c.partial != nullptr) c.partial->prev = s;
  c.partial = s;
  s->listed = true;
}

void Unlink(Class& c, Slab* s) {  // REQUIRES: c.mu
  if (s->prev != nullptr) s->prev->next = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  if (c.partial == s) c.partial = s->next;
  s->prev = s->next = nullptr;
  s->listed = false;
}

void ResetEmpty(Slab* s) {
  s->free_head = nullptr;
  s->live = 0;
  s->carved = 0;
}

}  // namespace

void* Allocate(size_t bytes) {
  size_t slot = 0;
  Class* c = ClassFor(bytes, &slot);
  if (c == nullptr) return ::operator new(bytes);
  std::unique_lock<SpinYieldLock> lock(c->mu);
  Slab* s = c->partial;
  if (s == nullptr) {
    if (c->spare != nullptr) {
      s = c->spare;
      c->spare = nullptr;
    } else {
      lock.unlock();  // mmap outside the lock
      void* m = MapSlab();
      if (m == nullptr) throw std::bad_alloc();
      s = static_cast<Slab*>(m);
      s->cls = c;
      s->capacity = static_cast<uint32_t>((kSlabBytes - kHeaderBytes) / slot);
      ResetEmpty(s);
      lock.lock();
    }
    Link(*c, s);
  }
  void* p;
  if (s->free_head != nullptr) {
    p = s->free_head;
    s->free_head = *static_cast<void**>(p);
  } else {
    p = reinterpret_cast<char*>(s) + kHeaderBytes + static_cast<size_t>(s->carved) * slot;
    s->carved++;
  }
  s->live++;
  if (s->free_head == nullptr && s->carved == s->capacity) Unlink(*c, s);
  return p;
}

void Free(void* p, size_t bytes) noexcept {
  if (p == nullptr) return;
  size_t slot = 0;
  Class* c = ClassFor(bytes, &slot);
  if (c == nullptr) {
    ::operator delete(p);
    return;
  }
  auto* s = reinterpret_cast<Slab*>(static_cast<char*>(p) - (reinterpret_cast<uintptr_t>(p) & (kSlabBytes - 1)));
  assert(s->cls == c);
  Slab* unmap = nullptr;
  {
    std::lock_guard<SpinYieldLock> lock(c->mu);
    *static_cast<void**>(p) = s->free_head;
    s->free_head = p;
    s->live--;
    if (s->live == 0) {
      if (s->listed) Unlink(*c, s);
      ResetEmpty(s);
      if (c->spare == nullptr) {
        c->spare = s;
      } else {
        unmap = s;
      }
    } else if (!s->listed) {
      Link(*c, s);
    }
  }
  if (unmap != nullptr) UnmapSlab(unmap);
}

bool Disable() noexcept {
  int m = 0;
  return g_mode.compare_exchange_strong(m, 2, std::memory_order_acq_rel) || m == 2;
}

bool Enabled() noexcept { return DecideEnabled(); }

uint64_t SlabsMapped() noexcept { return g_slabs.load(std::memory_order_relaxed); }

}  // namespace manifold::page_pool
