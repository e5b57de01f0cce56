// Options for the test harness (fuzz targets, the corpus generator, property
// tests): no GoogleTest dependency, so the fuzz binaries can use it too.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "manifold/db.h"

namespace manifold::testing {

// Options for a harness run over `storage`: the given page size (0: the
// file's, or the default for a new file), write-ahead log on or off, a small
// cache, no log preallocation (MemoryStorage copies a whole file on every
// sync) and no automatic or background checkpoints, so that durability
// follows only the harness's own Commit/Sync/Checkpoint calls and runs are
// fast and deterministic.
inline Options HarnessOptions(std::shared_ptr<Storage> storage, uint32_t page_size, bool wal, uint64_t cache_bytes) {
  Options o;
  o.storage = std::move(storage);
  o.page_size = page_size;
  o.cache_bytes = cache_bytes;
  o.wal = wal;
  o.wal_preallocate_bytes = 0;
  o.checkpoint_wal_bytes = UINT64_MAX;
  o.checkpoint_dirty_bytes = UINT64_MAX;
  o.checkpoint_interval_ms = 0;
  return o;
}

}  // namespace manifold::testing
