// Allocation failure at the public API (docs/durability.md, "Out of memory").
//
// The engine uses the standard containers, which report an allocation failure
// by throwing std::bad_alloc. No exception may cross the public API, so every
// public entry point catches it (a function-try-block) and returns kNoMemory:
//  - reads (Get, scans, Check, Stats, BeginRead): nothing shared changed;
//  - write-transaction operations: the transaction may be half-modified, so
//    it is marked failed (only Abort is left; the database is fine);
//  - commits, checkpoints, column family changes, Sync and Close: shared
//    state may be half-updated, so the database is poisoned like after a
//    failed sync: writes are refused, reads go on, and reopening recovers
//    every acknowledged commit (the failed one is then there in whole or not
//    at all).
// engine/src/db/alloc_failure_test.cc fails every allocation of each such
// operation in turn.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "manifold/status.h"

namespace manifold {

// kNoMemory "<what>: out of memory". Never throws: if even the message cannot
// be built, it is "out of memory" alone (short enough to need no allocation).
inline Status NoMemoryStatus(std::string_view what) noexcept {
  try {
    std::string m(what);
    m += ": out of memory";
    return Status::NoMemory(std::move(m));
  } catch (...) {
    return Status::NoMemory("out of memory");
  }
}

}  // namespace manifold
