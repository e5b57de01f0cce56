// Crash images: what the files can look like after a power loss.
//
// A CrashImage is a snapshot of the page-cache model of a FaultStorage (see
// the fault model at the top of faultfs/src/fault_storage.cc): for every file
// its durable bytes, the durable namespace (which path names which file), and
// the ordered list of operations not yet synced. A CrashPlan says what became
// of each unsynced operation; Build() applies a plan and returns the post-crash
// file set. Plans come from a seeded CrashPolicy (RandomPlan), from exhaustive
// enumeration of every legal plan for small cases (Enumerate), or from a fault
// log (PlanFromLog, for replay).
//
// A plan holds one "sector map" per unsynced operation:
//  - a write: one character per device sector the write touches (sector i of
//    the write is the part of it that falls in the i-th device sector it
//    spans, so a write of 100 bytes at offset 500 with 512-byte sectors has
//    two): 'n' the new bytes reached the medium, 'o' the old bytes stayed,
//    'g' the sector's part holds garbage, 'z' it reads back as zeros;
//  - a resize, a file creation or a removal: "n" (it happened) or "o" (lost).
// Operations are applied in issue order. Because every sector of every write
// is chosen independently, the final bytes of each sector can be those of any
// subset of the writes that touched it -- every order in which a device may
// have written them back at sector granularity.
//
// DeviceTraits narrow the legal maps (Validate):
//  - atomic_sectors: no 'g' anywhere, and 'z' only where the write extended
//    the file (a sector is old or new, never half-written);
//  - safe_append: the part of a write beyond the file's size at the time
//    of the write (the append region) is all 'n' or all 'o', never 'g'/'z'
//    (the size only grows together with the data, as with ext4 data=ordered);
//  - ordered_metadata: the kept creations/removals form a prefix of the
//    unsynced creations/removals (a journaling file system commits them in
//    order).
//
// Thread-safety: a const CrashImage may be used from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/fault_log.h"
#include "manifold/status.h"
#include "manifold/storage.h"

namespace manifold::faultfs {

struct DeviceTraits {
  uint32_t sector_size = 512;     // a power of two >= 512 (512 or 4096 for real devices)
  bool atomic_sectors = true;     // a sector write is all-or-nothing
  bool safe_append = false;       // appended data is durable before the size that covers it
  bool ordered_metadata = true;   // creations/removals survive in issue order (a prefix)
  std::string ToString() const;   // "sector=512 atomic=1 safe_append=0 ordered_metadata=1"
};

enum class UnsyncedKind : uint8_t { kWrite, kResize, kCreate, kRemove };

struct UnsyncedOp {
  uint64_t seq = 0;          // operation number in the fault log
  UnsyncedKind kind = UnsyncedKind::kWrite;
  uint64_t inode = 0;        // which file (a path may name different files over time)
  std::string path;          // the path used
  uint64_t offset = 0;       // write: where the bytes went
  std::string data;          // write: the bytes
  uint64_t size = 0;         // resize: the new size
  uint64_t size_before = 0;  // write/resize: the file's size just before the operation
};

// What became of each unsynced operation; see the header comment.
struct CrashPlan {
  std::vector<std::string> maps;  // one per CrashImage::ops() entry
  uint64_t garbage_seed = 0;      // garbage bytes derive from it, the op number and the sector
  bool operator==(const CrashPlan& o) const = default;
};

enum class Fate : uint8_t { kKeep, kDrop, kTorn, kGarbage, kZeros };
const char* FateName(Fate f);
// keep: all 'n'; drop: all 'o'; garbage: any 'g'; zeros: any 'z' (no 'g'); torn: 'n' and 'o' mixed.
Fate FateOf(std::string_view map);

// Seeded random choice of a plan. Fates of each write are drawn with these
// relative weights among the fates that are legal for it under the traits
// (weights of illegal fates are ignored).
struct CrashPolicy {
  double keep = 4;
  double drop = 3;
  double torn = 2;
  double garbage = 0.5;
  double zeros = 0.5;
  double keep_resize = 0.5;    // probability that an unsynced resize survives
  double keep_metadata = 0.5;  // probability that a creation/removal survives (with ordered
                               // metadata: each one in turn, stopping at the first lost)
  static CrashPolicy DropAll();  // everything unsynced is lost (as MemoryStorage::SimulatePowerLoss)
  static CrashPolicy KeepAll();  // everything issued reaches the medium
  // Only this fate for writes (where legal; keep otherwise); resizes and
  // metadata survive with probability 1/2.
  static CrashPolicy Only(Fate fate);
};

// A set of files: path -> bytes.
struct FileSet {
  std::map<std::string, std::string> files;
  // 64-bit hash of every path and byte (stable across runs and hosts).
  uint64_t Hash() const;
  // A fresh MemoryStorage holding exactly these files (all durable).
  std::shared_ptr<MemoryStorage> ToMemoryStorage() const;
  // Creates or overwrites each file in `storage` and syncs it (other files
  // are left alone).
  Status WriteTo(Storage& storage) const;
  bool operator==(const FileSet& o) const = default;
};

struct EnumerateOptions {
  uint64_t max_states = 100000;  // Count/Enumerate fail with kInvalidArgument beyond this
  // false: per sector only 'o'/'n', plus two whole-write variants (every
  // sector that may hold garbage is 'g', resp. every sector that may be zero
  // is 'z', the rest 'o'). true: every sector independently takes each legal
  // state (4^sectors plans per write on non-atomic devices).
  bool sector_garbage = false;
};

class CrashImage {
 public:
  CrashImage() = default;
  CrashImage(DeviceTraits traits, std::map<uint64_t, std::string> durable,
             std::map<std::string, uint64_t> durable_names, std::vector<UnsyncedOp> ops);

  const DeviceTraits& traits() const { return traits_; }
  void set_traits(const DeviceTraits& t) { traits_ = t; }
  const std::vector<UnsyncedOp>& ops() const { return ops_; }
  // Number of characters the map of ops()[i] has.
  size_t MapLength(size_t i) const;

  // Every operation kept / every operation lost.
  CrashPlan KeepAllPlan() const;
  CrashPlan DropAllPlan() const;
  Status Validate(const CrashPlan& plan) const;
  CrashPlan RandomPlan(const CrashPolicy& policy, uint64_t seed) const;
  // The post-crash files. Fails only for a plan that does not fit (wrong
  // number or length of maps, unknown characters); legality under the traits
  // is Validate's business.
  Result<FileSet> Build(const CrashPlan& plan) const;
  // What survives without any unsynced operation.
  FileSet Durable() const;
  // The durable bytes of the file `path` names (null if none).
  const std::string* DurableFile(const std::string& path) const;
  // Byte ranges [from, to) of each durable file (by path) that Build(plan)
  // may have changed; bytes outside them are the durable ones (a file may
  // also have grown or shrunk only inside a range). False if the plan keeps a
  // creation or removal, or applies an operation to a file other than the
  // one its path names durably: then no such promise is made.
  bool ChangedRanges(const CrashPlan& plan,
                     std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>>* out) const;

  // Number of distinct legal plans (operations of files that the plan's
  // namespace makes unreachable count once). kInvalidArgument if it exceeds
  // options.max_states.
  Result<uint64_t> Count(const EnumerateOptions& options = {}) const;
  // Calls visit for each legal plan until it returns false; returns the number
  // visited. Fails like Count() before visiting anything.
  Result<uint64_t> Enumerate(const EnumerateOptions& options,
                             const std::function<bool(const CrashPlan&)>& visit) const;

  // Log records for a plan applied at power-loss operation `crash_op`: the
  // power-loss event first, then one record per operation not kept.
  std::vector<FaultRecord> Describe(const CrashPlan& plan, uint64_t crash_op) const;
  // The plan that Describe() logged for crash_op (records of other crashes
  // are ignored). Fails if a record names an operation that is not unsynced.
  Result<CrashPlan> PlanFromLog(const std::vector<FaultRecord>& records, uint64_t crash_op) const;

 private:
  // Legal states of each sector of write ops_[i] ("on", "onz", "ongz", ...).
  std::vector<std::string> SectorAlphabets(size_t i) const;
  // Index of the first sector of write ops_[i] in its append region (the
  // map length if none).
  size_t FirstAppendSector(size_t i) const;
  bool AppendUniform(size_t i) const;  // safe_append and an append region exists
  // Every legal map of write ops_[i] if there are at most `limit`; *count gets their number.
  std::vector<std::string> WriteMaps(size_t i, const EnumerateOptions& o, uint64_t limit, uint64_t* count) const;
  // Which unsynced operations are reachable through the namespace that results
  // from keeping the creations/removals marked in `ns_kept` (indexed like ops_).
  std::vector<bool> Relevant(const std::vector<bool>& ns_kept) const;

  DeviceTraits traits_;
  std::map<uint64_t, std::string> durable_;           // inode -> durable bytes
  std::map<std::string, uint64_t> durable_names_;     // path -> inode
  std::vector<UnsyncedOp> ops_;
};

}  // namespace manifold::faultfs
