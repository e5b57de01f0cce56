// The crashsim oracle: what a database may look like after a crash.
//
// Two-phase record of the running workload, per column family (Progress):
//   started  -- steps whose execution has begun (recorded BEFORE the call: the intent)
//   acked    -- steps whose call returned OK (recorded AFTER: the acknowledgement)
//   durable  -- steps known to be on stable storage: a kImmediate commit, a
//               create/drop (always durable), or every step acknowledged before a
//               Sync()/Checkpoint() that then returned OK (any family's)
// The counters are lock-free atomics, so they work in process-shared memory
// (kill mode keeps them in a MAP_SHARED page the parent reads after SIGKILL).
//
// A crash taken while the workload runs gets a Window per family: `floor` =
// durable before the crash image was taken, `ceiling` = started after it. The
// recovered state of the family must then equal the plan's state after i of
// its steps for some i in [floor, ceiling] -- a prefix of its commit order
// containing every durable acknowledged commit, with no holes and no torn
// commit. Prefixes are per family: commits of different families are only
// partially ordered (concurrent writers), so no cross-family order is assumed.
//
// When no prefix state matches, Classify() says why, from the self-describing
// values (plan.h): a lost acknowledged commit (the state of an older prefix), a
// torn transaction (some keys of the newest visible commit present, others
// not), a hole (a newer commit visible while an older one is missing), a value
// of another family (isolation), or a damaged value.
//
// Thread-safety: Progress is thread-safe; the rest are plain functions.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "manifold/db.h"
#include "plan.h"

namespace manifold::crashsim {

struct FamilyProgress {
  std::atomic<uint32_t> started{0};
  std::atomic<uint32_t> acked{0};
  std::atomic<uint32_t> durable{0};
};
static_assert(std::atomic<uint32_t>::is_always_lock_free, "Progress lives in process-shared memory");

struct Progress {
  std::array<FamilyProgress, kFamiliesMax> families;
  std::atomic<uint64_t> syncs{0};           // storage syncs so far (kill mode's named crash points)
  // Times each of the engine's named crash points (util/crash_point.h, by id) was reached.
  static constexpr size_t kEnginePointsMax = 16;
  std::array<std::atomic<uint64_t>, kEnginePointsMax> point_hits{};
  std::atomic<uint32_t> workload_error{0};  // a step failed unexpectedly (nonzero: see error_text)
  char error_text[256] = {};
  void Reset();
  // Raises durable[f] to at least n.
  void MarkDurable(size_t f, uint32_t n);
};

struct Window {
  uint32_t floor = 0;    // steps that must be present
  uint32_t ceiling = 0;  // steps that may be present
};
// floors read before the crash image was taken, ceilings after.
std::vector<uint32_t> Floors(const Progress& p, size_t families);
std::vector<uint32_t> Ceilings(const Progress& p, size_t families);

enum class ViolationKind : uint8_t {
  kOpenFailed,      // reopening the crash state failed
  kCheckFailed,     // Database::Check() reported problems (or failed)
  kReadFailed,      // reading the state back failed
  kLostAck,         // an acknowledged durable commit is missing
  kTornTxn,         // a commit is partly present
  kHole,            // not the state of any prefix of the commit order
  kIsolation,       // data of another family, or an unexpected family
  kPhantom,         // the state of a step that had not started
  kNotIdempotent,   // reopening again gave another state
  kWorkloadError,   // a workload step failed without any fault injected
};
const char* ViolationKindName(ViolationKind k);

struct Violation {
  ViolationKind kind = ViolationKind::kHole;
  std::string detail;  // one line
};

// What a family holds in a recovered database.
struct FamilyContents {
  bool exists = false;
  bool has_table = false;
  std::vector<std::string> other_tables;     // tables other than kTableName
  std::map<std::string, std::string> entries;  // of kTableName
  uint64_t Hash() const;
};

// The recovered family must be in a state_hash[i] with floor <= i <= ceiling.
// Returns the matching i, or the violation (with Classify's explanation).
struct FamilyVerdict {
  std::optional<uint32_t> step;  // the prefix length matched
  std::optional<Violation> violation;
};
FamilyVerdict VerifyFamily(const WorkloadPlan& plan, uint32_t family, const Window& w, const FamilyContents& got);
// Why `got` (which matches no state in the window) is wrong.
Violation Classify(const WorkloadPlan& plan, uint32_t family, const Window& w, const FamilyContents& got);

// Reads every family of the plan from `db` (and reports unexpected families).
struct DatabaseContents {
  std::vector<FamilyContents> families;   // indexed like plan.families
  std::vector<std::string> unexpected;    // families not in the plan (other than "default")
};
Result<DatabaseContents> ReadContents(const WorkloadPlan& plan, Database& db);

// The same, digested: per family the hash FamilyContents::Hash() would give,
// computed while scanning (no copy of the values). The fast path of a check;
// ReadContents is only needed to explain a mismatch.
struct DatabaseDigest {
  std::vector<uint64_t> family_hash;     // indexed like plan.families
  std::vector<std::string> unexpected;
};
Result<DatabaseDigest> ReadDigest(const WorkloadPlan& plan, Database& db);
// True if there is nothing unexpected and every family's hash is a state in
// its window; `matched` receives the prefix lengths.
bool MatchDigest(const WorkloadPlan& plan, const std::vector<Window>& windows, const DatabaseDigest& got,
                 std::vector<uint32_t>* matched);

// Verifies a whole recovered database against the windows. `matched` (if not
// null) receives the prefix length matched per family. The first violation
// found is returned.
std::optional<Violation> VerifyDatabase(const WorkloadPlan& plan, const std::vector<Window>& windows,
                                        const DatabaseContents& got, std::vector<uint32_t>* matched);

// Number of acknowledged durable commits (kCommit steps) below the floors:
// what a verified state proves present.
uint64_t DurableCommitsBelow(const WorkloadPlan& plan, const std::vector<Window>& windows);

}  // namespace manifold::crashsim
