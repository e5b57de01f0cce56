// crashsim campaigns: modes, crash states, verification, report, shrinking
// and reproducers (see crashsim/README.md for the user's view).
//
// A *case* is one run of one workload plan (workload, case seed, op count).
//  - inproc: the plan runs over faultfs on the memory backend. Before every
//    storage sync (every crash point), and after the run, the page-cache model
//    is captured (CrashImage); each capture yields crash states: every legal
//    plan when there are few, else keep-all, drop-all and seeded random ones
//    (torn, dropped, garbage, zeroed unsynced writes). Each state is reopened
//    and verified (VerifyState).
//  - powerloss: the same over faultfs on real files in a temporary directory;
//    each crash state is written to a fresh directory and reopened with the
//    native backend.
//  - kill: a forked child runs the plan on real files; the parent SIGKILLs it
//    at a random moment, then reopens and verifies with the child's Progress
//    (kept in MAP_SHARED memory).
// Case i of a campaign with seed S has seed S for i = 0, else MixSeed(S, i):
// `--seed CASESEED --cases 1` reruns one case (bit for bit in inproc and
// powerloss mode).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "faultfs/crash_image.h"
#include "oracle.h"
#include "plan.h"

namespace manifold::crashsim {

struct CampaignOptions {
  std::string mode = "inproc";     // kill | powerloss | inproc
  double seconds = 10;
  uint64_t seed = 0;
  bool seed_given = false;
  std::string workload = "all";
  std::string json_path;
  uint32_t ops = 0;                // 0: each workload's default
  uint64_t cases = 0;              // 0: until the time is up
  bool exhaustive = false;
  bool creation_crashes = true;    // also crash while Open() creates the database (--no-creation-crashes: off)
  bool shrink = true;
  double lost_write_p = 0;         // self-test: faultfs lost-write rule on the workload's storage
  double sync_error_p = 0;         // faultfs sync errors that drop dirty data (Linux fsync) on the workload's storage
  std::string save_dir;            // where reproducers of failures go
};

// A saved reproducer (the text format is in crashsim/README.md).
struct Reproducer {
  std::string mode = "inproc";
  std::string workload;
  uint64_t seed = 0;
  uint32_t ops = 0;
  std::optional<uint64_t> capture;           // inproc/powerloss: crash point (capture index)
  std::string plan = "any";                  // "any", "keep-all", "drop-all" or RLE maps joined by ','
  std::optional<uint64_t> nested_cut;        // crash during recovery at this operation of the reopen
  uint64_t nested_seed = 0;                  // ... with this crash-image seed
  uint64_t kill_delay_us = 0;                // kill mode: SIGKILL this long after fork()...
  std::string kill_point;                    // ... or at this named crash point (before-sync:K, after-sync:K)
  bool creation_crashes = false;             // crash points numbered from the database's creation
  double lost_write_p = 0;                   // self-test: lost writes injected into the workload
  double sync_error_p = 0;                   // failed syncs (dirty data dropped) injected into the workload
  std::string note;
  std::string ToText() const;
  static Result<Reproducer> Parse(const std::string& text);
};

struct ViolationRecord {
  std::string mode;
  std::string workload;
  uint64_t seed = 0;   // case seed
  uint32_t ops = 0;
  Violation violation;
  std::string where;      // crash point and state
  std::string reproduce;  // one command line
  std::string saved;      // path of the shrunk reproducer ("" if none)
};

struct CampaignStats {
  uint64_t cases = 0;
  uint64_t crashes = 0;          // crash points used (captures, kills, nested crashes)
  uint64_t states = 0;           // crash states reopened and verified
  std::map<uint64_t, uint32_t> distinct;  // image hash -> count (bounded)
  uint64_t distinct_total = 0;
  uint64_t image_bytes_sum = 0;  // bytes of the data file (+ log) of the images checked
  uint64_t image_count = 0;
  std::map<std::string, uint64_t> faults;
  uint64_t acked_verified = 0;   // acknowledged durable commits proven present, summed over states
  std::vector<ViolationRecord> violations;
  std::vector<double> recovery_ms;
  double elapsed_s = 0;
  double cpu_s = 0;              // CPU time of crashsim and its children (the machine may be shared)
  // --exhaustive: states covered / legal states of the crash points visited.
  uint64_t exhaustive_checked = 0;
  uint64_t exhaustive_total = 0;
  bool exhaustive_total_exact = true;
  uint64_t exhaustive_points = 0;       // crash points visited
  uint64_t exhaustive_points_full = 0;  // ... whose every legal state was checked
  void NoteImage(uint64_t hash);
};

// Runs a campaign and prints the summary (and the JSON report if asked).
// Returns the exit status: 0 without violations, 1 with.
int RunCampaign(const CampaignOptions& options);
// Replays a saved reproducer: 0 if it verifies clean, 1 on a violation, 2 on a bad file.
int ReplayFile(const std::string& path);

}  // namespace manifold::crashsim
