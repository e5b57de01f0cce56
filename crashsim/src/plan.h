// Workload plans: what a crashsim workload does, fixed in advance.
//
// A WorkloadPlan is a deterministic function of (workload name, seed, number
// of operations): for each column family the ordered list of steps its writer
// performs (create/drop the family, commit a set of puts and deletes with a
// durability mode, Sync(), Checkpoint()), plus the order in which a single
// driver thread interleaves them. Because the plan is known before the run,
// the oracle needs only three counters per family from the running workload
// (steps started, acknowledged, known durable: see Progress in oracle.h) to
// know every state the family may legally be in after a crash; this is what
// lets kill mode keep its oracle in a few words of shared memory.
//
// Plans are prefix-stable: the plan for N operations is the first N steps of
// the plan for N+1 (shrinking relies on it).
//
// Values are self-describing: every value starts with "f<family>.s<step>.k<key>|"
// followed by bytes derived from the plan seed, so that a recovered value
// names the commit that wrote it (how the oracle tells a torn transaction
// from a hole, and a value of another family from corruption).
//
// Thread-safety: a const WorkloadPlan may be shared by any number of threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/db.h"

namespace manifold::crashsim {

inline constexpr size_t kFamiliesMax = 8;
inline constexpr std::string_view kTableName = "t";
inline constexpr std::string_view kSeqKey = "seq";

enum class StepKind : uint8_t { kCreate, kDrop, kCommit, kSync, kCheckpoint };
const char* StepKindName(StepKind k);

struct PlannedWrite {
  uint32_t key = 0;        // key index: KeyName(key)
  bool del = false;        // a delete (else a put)
  uint32_t value_bytes = 0;
};

struct Step {
  StepKind kind = StepKind::kCommit;
  Durability durability = Durability::kImmediate;  // kCommit only
  uint32_t logical = 0;                            // the global step number that issued it
  std::vector<PlannedWrite> writes;                // kCommit only; "seq" is written as well
  // kCommit only: nonzero when this commit is one part of a multi-family
  // transaction: the steps of every family with the same `joint` id run as
  // one BeginMultiWrite transaction (consecutive in the schedule) and must
  // be recovered all or none.
  uint32_t joint = 0;
};

struct FamilyPlan {
  std::string name;
  std::vector<Step> steps;
  // state_hash[i]: hash of the family's state after its first i steps
  // (state_hash[0]: before any; the family does not exist yet).
  std::vector<uint64_t> state_hash;
};

struct WorkloadPlan {
  std::string workload;
  uint64_t seed = 0;
  uint32_t ops = 0;                 // steps over all families
  std::vector<FamilyPlan> families;
  std::vector<uint8_t> schedule;    // family index of each global step, in driver order
  bool threaded = false;            // one writer thread per family
  bool tiny_checkpoints = false;    // checkpoint thresholds small enough to fire mid-workload
  bool nested_recovery_crash = false;  // every crash state also gets a crash during its recovery
  uint32_t page_size = 4096;

  // The engine options of this plan's database (also used for every reopen).
  // `deterministic`: no timer-driven work (eventual-sync thread and
  // interval checkpoints are pushed out), so a run is reproducible from its seed.
  Options EngineOptions(bool deterministic) const;
};

struct WorkloadInfo {
  const char* name;
  const char* description;
  uint32_t default_ops;
};
const std::vector<WorkloadInfo>& Workloads();
const WorkloadInfo* FindWorkload(std::string_view name);

// Builds the plan. `ops` = 0: the workload's default. `families_max` (0: no
// limit) caps the number of column families (used by --exhaustive).
WorkloadPlan MakePlan(std::string_view workload, uint64_t seed, uint32_t ops, uint32_t families_max = 0);

std::string KeyName(uint32_t key);
// The value a step writes to a key: "f<family>.s<step>.k<key>|" + derived bytes, exactly
// `bytes` long (at least the header).
std::string ValueFor(uint64_t seed, uint32_t family, uint32_t step, uint32_t key, uint32_t bytes);
std::string SeqValue(uint32_t family, uint32_t step);

// Fast 64-bit hash of bytes (stable across hosts).
uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0);

// Incremental state of one family: key -> value hash. Hash() is what
// FamilyPlan::state_hash stores and what the oracle computes from a database.
struct FamilyModel {
  bool exists = false;
  bool has_table = false;
  std::map<std::string, uint64_t> entries;  // key -> HashBytes(value)
  uint64_t Hash() const;
  // Applies one step of family `family` (index in the plan).
  void Apply(const WorkloadPlan& plan, uint32_t family, uint32_t step_index);
};
// Streaming form of FamilyModel::Hash over (key, value hash) pairs in key order.
class StateHasher {
 public:
  void Begin(bool exists, bool has_table);
  void Add(std::string_view key, uint64_t value_hash);
  uint64_t Finish() const;

 private:
  uint64_t h_ = 0;
};

// The model of family `family` after its first `n` steps.
FamilyModel ModelAfter(const WorkloadPlan& plan, uint32_t family, uint32_t n);

}  // namespace manifold::crashsim
