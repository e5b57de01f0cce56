// Named crash points: steps of the commit, checkpoint and recovery protocols
// where a crash is most interesting (docs/durability.md, "Crash points").
//
// The engine calls CrashPoint(id) at each. Normally that is one relaxed
// atomic load; a test process (crashsim's kill mode) installs a hook with
// SetCrashPointHook, e.g. to SIGKILL itself at the K-th time a point is
// reached. The names are stable: reproducers refer to them.
//
// Thread-safety: CrashPoint may be called from any thread; the hook must be
// installed before the database is opened.
#pragma once

#include <atomic>
#include <cstddef>
#include <string_view>

namespace manifold {

enum class CrashPointId : uint8_t {
  kLogAppended,          // a logged commit's record is written (not synced), before it is published
  kCommitPublished,      // a logged commit is visible, before it waits for the log sync
  kLogSynced,            // group commit: the leader's log sync returned, before waiters learn of it
  kCheckpointFreeListed,    // a checkpoint listed the free pages, before it writes the freelist
  kCheckpointPagesSynced,   // a checkpoint's data pages are synced, before the header write
  kCheckpointHeaderWritten, // the new header slot is written, not yet synced
  kCheckpointHeaderSynced,  // the header is durable, before the log reset
  kCheckpointLogReset,      // the log was reset to a new cycle
  kRecoveryReplayed,        // recovery replayed the log, before its final checkpoint
  kCheckpointHeldCollected, // a checkpoint took the images of the held pages it writes first
                            // (without commit_mu), before writing them
  kCommitReleased,          // a logged commit released its column families, before it waits for the log sync
  kCount,
};

inline constexpr const char* kCrashPointNames[] = {
    "log-appended",           "commit-published",        "log-synced",          "checkpoint-free-listed",
    "checkpoint-pages-synced",
    "checkpoint-header-written", "checkpoint-header-synced", "checkpoint-log-reset", "recovery-replayed",
    "checkpoint-held-collected", "commit-released",
};
static_assert(std::size(kCrashPointNames) == static_cast<size_t>(CrashPointId::kCount));

// The id named `name`, or kCount.
inline CrashPointId CrashPointByName(std::string_view name) {
  for (size_t i = 0; i < std::size(kCrashPointNames); i++) {
    if (name == kCrashPointNames[i]) return static_cast<CrashPointId>(i);
  }
  return CrashPointId::kCount;
}

using CrashPointHook = void (*)(CrashPointId id);

inline std::atomic<CrashPointHook>& CrashPointHookSlot() {
  static std::atomic<CrashPointHook> hook{nullptr};
  return hook;
}
inline void SetCrashPointHook(CrashPointHook hook) { CrashPointHookSlot().store(hook, std::memory_order_release); }

inline void CrashPoint(CrashPointId id) {
  if (CrashPointHook h = CrashPointHookSlot().load(std::memory_order_acquire)) h(id);
}

}  // namespace manifold
