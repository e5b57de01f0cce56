// Fault kinds, operation kinds and the fault log of faultfs.
//
// Every fault faultfs injects -- and every choice a simulated power loss makes
// -- is recorded as one FaultRecord and logged as one line of `key=value`
// tokens separated by single spaces, always in this order:
//
//   op=17 file=db.manifold kind=write offset=8192 len=4096 fault=partial-write sectors=3/8
//   op=40 file=* kind=powerloss fault=power-loss unsynced=5 gseed=123456789
//   op=31 file=db.manifold kind=write offset=0 len=4096 fault=crash-torn sectors=3/8 map=n3o5 crash=40
//
//   op      the operation number (1, 2, ... over the life of the FaultStorage;
//           every Storage and File call takes one)
//   file    the path the operation used ("*" for storage-wide events)
//   kind    open, exists, remove, read, write, sync, size, resize, powerloss
//   offset  byte offset (reads and writes)
//   len     byte count (reads and writes) or new size (resize)
//   fault   the FaultKind name (FaultKindName)
//   ...     fault-specific parameters (see FaultKind), in a fixed order
//
// Values are percent-encoded where needed (' ', '=', '%', control bytes and
// bytes >= 0x80 become %XX), so a path with spaces stays one token. Lines
// starting with '#' and blank lines are ignored by the parser. ParseFaultLog()
// accepts exactly what FormatFaultLog() writes, and a FaultStorage in replay
// mode (FaultStorage::LoadReplay) injects exactly the logged faults again.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifold/status.h"

namespace manifold::faultfs {

// The calls faultfs sees (and the power-loss event).
enum class OpKind : uint8_t {
  kOpen = 0,
  kExists = 1,
  kRemove = 2,
  kRead = 3,
  kWrite = 4,
  kSync = 5,
  kSize = 6,
  kResize = 7,
  kPowerLoss = 8,
};
inline constexpr int kOpKindCount = 9;
const char* OpKindName(OpKind kind);
std::optional<OpKind> OpKindFromName(std::string_view name);
inline constexpr uint32_t OpBit(OpKind k) { return uint32_t{1} << static_cast<unsigned>(k); }

// Every fault faultfs can inject. Names (FaultKindName) are stable: logs and
// tools rely on them. "Parameters" are the extra key=value tokens logged.
enum class FaultKind : uint8_t {
  // ---- errors returned to the caller ----
  kReadError = 0,         // read-error: EIO on read (persistent rules keep failing)
  kWriteError = 1,        // write-error: EIO on write; nothing written
  kSyncError = 2,         // sync-error: EIO on sync; the dirty data stays pending (may still
                          //   reach the medium later or at a crash)
  kSyncDropsDirty = 3,    // sync-drops-dirty: Linux: EIO on fsync and the file's dirty pages are
                          //   discarded -- never written, and reads return the durable bytes.
                          //   Parameters: dropped=N (pending operations discarded)
  kResizeError = 4,       // resize-error: EIO on truncate/grow; size unchanged
  kOpenError = 5,         // open-error: EIO on open (and on the existence check)
  kRemoveError = 6,       // remove-error: EIO on remove; the file stays
  kSizeError = 7,         // size-error: EIO on fstat (Size())
  kNoSpace = 8,           // no-space: ENOSPC -- the byte quota would be exceeded (by=quota), or a
                          //   rule fired. Parameters: [by=quota] quota=Q used=U (bytes)
  kShortRead = 9,         // short-read: the read delivers only the first `got` bytes and reports
                          //   an error (the rest of the buffer is zeroed). Parameters: got=K
  kPartialWrite = 10,     // partial-write: the first K of N sectors of the write are written, then
                          //   EIO. Parameters: sectors=K/N
  // ---- silent damage ----
  kBitFlip = 11,          // bit-flip: one bit of durable data flips (media rot), observed by the
                          //   read that triggered it. Parameters: at=BYTE bit=B (0-7)
  kUnreadableSector = 12, // unreadable-sector: a durable sector becomes a latent sector error:
                          //   every read touching it fails with EIO until a write covering the
                          //   whole sector is synced. Parameters: sector=S (index; byte S*size)
  kMisdirectedWrite = 13, // misdirected-write: the data lands at another offset (in the cache and
                          //   on the medium); the intended bytes are untouched. Parameters: to=OFF
  kLostWrite = 14,        // lost-write: the write is acknowledged and later syncs report success,
                          //   but it never reaches the medium (a lying device): reads see it until
                          //   a power loss, after which the old bytes are back
  kLatency = 15,          // latency: the operation is delayed. Parameters: us=MICROSECONDS
  kPowerCut = 16,         // power-cut: the device loses power at this operation: it and every
                          //   later operation fail with EIO until PowerLoss() builds the crash
                          //   image (nothing after the cut reaches cache or medium)
  // ---- choices of a simulated power loss (one record per unsynced operation not kept) ----
  kCrashDrop = 17,        // crash-drop: the unsynced write/resize/create/remove is lost
  kCrashTorn = 18,        // crash-torn: only some sectors of the write reached the medium.
                          //   Parameters: sectors=K/N (sectors new) map=RLE crash=OP
  kCrashGarbage = 19,     // crash-garbage: some sectors hold garbage. Parameters as crash-torn
  kCrashZeros = 20,       // crash-zeros: some sectors read back as zeros. Parameters as crash-torn
  kPowerLoss = 21,        // power-loss: the event itself. Parameters: unsynced=N gseed=G
};
inline constexpr int kFaultKindCount = 22;
const char* FaultKindName(FaultKind kind);
std::optional<FaultKind> FaultKindFromName(std::string_view name);
// Every FaultKind, in enum order.
std::vector<FaultKind> AllFaultKinds();
// The operations a rule of this kind can fire on (OpBit mask); 0 for the
// crash kinds and power-loss, which only PowerLoss() produces.
uint32_t NaturalOps(FaultKind kind);

struct FaultRecord {
  uint64_t op = 0;
  std::string file;
  OpKind kind = OpKind::kRead;
  std::optional<uint64_t> offset;
  std::optional<uint64_t> len;
  FaultKind fault = FaultKind::kReadError;
  std::vector<std::pair<std::string, std::string>> params;  // in logged order

  // "" when absent.
  std::string Param(std::string_view key) const;
  std::optional<uint64_t> ParamU64(std::string_view key) const;
  bool HasParam(std::string_view key) const;
  // Sets (replacing an existing value in place, else appending) a parameter.
  FaultRecord& Set(std::string_view key, std::string value);
  FaultRecord& Set(std::string_view key, uint64_t value) { return Set(key, std::to_string(value)); }

  std::string ToLine() const;
  static Result<FaultRecord> Parse(std::string_view line);
  bool operator==(const FaultRecord& o) const = default;
};

// One record per line, each ending in '\n'.
std::string FormatFaultLog(const std::vector<FaultRecord>& records);
// Parses a whole log; the first bad line is an InvalidArgument naming its line number.
Result<std::vector<FaultRecord>> ParseFaultLog(std::string_view text);

// Run-length encoding of a crash sector map ("nnnoo" <-> "n3o2").
std::string EncodeSectorMap(std::string_view map);
Result<std::string> DecodeSectorMap(std::string_view rle);

}  // namespace manifold::faultfs
