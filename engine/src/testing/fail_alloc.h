// Allocation-failure injection for tests (SQLite's out-of-memory loop).
//
// A test binary that links fail_alloc.cc replaces the global operator new and
// delete with counting versions. Armed with FailNthAllocation(n), the n-th
// allocation made afterwards *by the arming thread* throws std::bad_alloc;
// the failure is one-shot (later allocations succeed again, as when memory
// is freed elsewhere), and allocations of other threads (the engine's
// background thread) are never failed. LiveAllocations() counts every
// allocation not yet freed, in all threads, so a test can assert that a
// failed operation leaked nothing.
//
// Only for test binaries of their own: linking fail_alloc.cc into a program
// replaces its allocator.
#pragma once

#include <cstdint>

namespace manifold::testing {

// Fails the n-th (n >= 1) allocation of this thread from now on; 0 disarms
// (keeping AllocationFailed()).
void FailNthAllocation(uint64_t n);
// Whether the armed failure happened (reset by arming again).
bool AllocationFailed();
// Allocations this thread made since FailNthAllocation.
uint64_t AllocationsSinceArmed();
// Allocations made and not yet freed, in all threads.
int64_t LiveAllocations();

// While one is alive, this thread's allocations are neither counted nor
// failed: for the test's own work (building expected values, collecting
// results) inside an armed window, so that only the engine's allocations count.
class ScopedNoFailures {
 public:
  ScopedNoFailures();
  ~ScopedNoFailures();
  ScopedNoFailures(const ScopedNoFailures&) = delete;
  ScopedNoFailures& operator=(const ScopedNoFailures&) = delete;
};

}  // namespace manifold::testing
