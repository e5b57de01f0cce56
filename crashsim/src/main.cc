// crashsim: the crash simulator command (see crashsim/README.md).
#include <malloc.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "campaign.h"
#include "plan.h"

namespace {

using manifold::crashsim::CampaignOptions;

const char kUsage[] =
    "usage: crashsim --mode kill|powerloss|inproc --seconds N --seed S --workload NAME|all --json FILE\n"
    "       crashsim --mode inproc --exhaustive [--workload NAME|all] [--seed S] [--json FILE]\n"
    "       crashsim --list-workloads\n"
    "       crashsim --replay FILE\n"
    "       crashsim --help\n"
    "\n"
    "Runs crash-and-recovery campaigns against Manifold and checks every crash state\n"
    "against an oracle of acknowledged commits (see crashsim/README.md).\n"
    "\n"
    "  --mode M          kill: fork a child on real files, SIGKILL it at a random moment\n"
    "                    or just before/after a storage sync;\n"
    "                    powerloss: faultfs over real files, crash images from unsynced writes;\n"
    "                    inproc (default): faultfs over memory, crash states at every sync\n"
    "  --seconds N       campaign length (default 10; a case in progress is finished)\n"
    "  --seed S          campaign seed (default: random, printed); in inproc and powerloss\n"
    "                    mode it reruns the same operations and crash choices exactly\n"
    "  --workload NAME   one workload, or all (default: rotate through them)\n"
    "  --json FILE       write the report as JSON\n"
    "  --ops N           operations per workload run (default: each workload's own)\n"
    "  --cases N         stop after N workload runs (case i > 0 has seed MixSeed(S, i))\n"
    "  --exhaustive      inproc: every crash point of every workload of 1..3 operations over\n"
    "                    up to 2 column families, every legal crash state (up to 4096 per\n"
    "                    crash point); prints the share of the state space covered\n"
    "  --no-creation-crashes  inproc/powerloss: no crash points while Open() creates the\n"
    "                    database (they are on by default; --creation-crashes is accepted)\n"
    "  --inject-sync-errors P  inproc/powerloss: each sync fails with probability P the\n"
    "                    Linux way (EIO, dirty data dropped); the engine must acknowledge\n"
    "                    nothing it did not make durable\n"
    "  --inject-lost-writes P  self-test of the harness (inproc/powerloss): each workload\n"
    "                    write is lost with probability P (a lying device); must be caught\n"
    "  --no-shrink       do not shrink failing cases\n"
    "  --save-dir DIR    where shrunk reproducers go (default: crashsim/regressions/open\n"
    "                    of the source tree, or $CRASHSIM_SAVE_DIR)\n"
    "  --replay FILE     rerun a saved reproducer; exit 0 if it verifies clean\n"
    "  --list-workloads  print the workloads with one-line descriptions\n"
    "\n"
    "Exit status: 0 no violation, 1 violations found, 2 bad usage.\n";

int Bad(const std::string& msg) {
  std::fprintf(stderr, "crashsim: %s\n(see crashsim --help)\n", msg.c_str());
  return 2;
}

bool ParseU64(const char* s, uint64_t* out) {
  if (s == nullptr || *s == '\0' || *s == '-') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool ParseSeconds(const char* s, double* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (errno != 0 || *end != '\0' || !(v >= 0) || v > 86400 * 7) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // Crash states are megabyte-sized strings made and freed thousands of times a
  // second: keep them on the heap instead of mmap/munmap (and page faults) each time.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  CampaignOptions o;
  std::string replay;
  bool list = false;
  bool mode_given = false;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&](const char** v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--list-workloads") {
      list = true;
    } else if (a == "--mode") {
      if (!value(&v)) return Bad("--mode needs a value: kill, powerloss or inproc");
      o.mode = v;
      if (o.mode != "kill" && o.mode != "powerloss" && o.mode != "inproc") {
        return Bad("unknown mode '" + o.mode + "' (kill, powerloss or inproc)");
      }
      mode_given = true;
    } else if (a == "--seconds") {
      if (!value(&v) || !ParseSeconds(v, &o.seconds)) return Bad("--seconds needs a number of seconds >= 0");
    } else if (a == "--seed") {
      if (!value(&v) || !ParseU64(v, &o.seed)) return Bad("--seed needs an unsigned 64-bit number");
      o.seed_given = true;
    } else if (a == "--workload") {
      if (!value(&v)) return Bad("--workload needs a name (see --list-workloads) or all");
      o.workload = v;
      if (o.workload != "all" && manifold::crashsim::FindWorkload(o.workload) == nullptr) {
        return Bad("unknown workload '" + o.workload + "' (see --list-workloads)");
      }
    } else if (a == "--json") {
      if (!value(&v) || *v == '\0') return Bad("--json needs a file name");
      o.json_path = v;
    } else if (a == "--ops") {
      uint64_t n = 0;
      if (!value(&v) || !ParseU64(v, &n) || n == 0 || n > 100000) return Bad("--ops needs a number in 1..100000");
      o.ops = static_cast<uint32_t>(n);
    } else if (a == "--cases") {
      if (!value(&v) || !ParseU64(v, &o.cases)) return Bad("--cases needs a number");
    } else if (a == "--exhaustive") {
      o.exhaustive = true;
    } else if (a == "--creation-crashes") {
      o.creation_crashes = true;
    } else if (a == "--no-creation-crashes") {
      o.creation_crashes = false;
    } else if (a == "--inject-lost-writes") {
      if (!value(&v) || !ParseSeconds(v, &o.lost_write_p) || o.lost_write_p > 1) {
        return Bad("--inject-lost-writes needs a probability in [0, 1]");
      }
    } else if (a == "--inject-sync-errors") {
      if (!value(&v) || !ParseSeconds(v, &o.sync_error_p) || o.sync_error_p > 1) {
        return Bad("--inject-sync-errors needs a probability in [0, 1]");
      }
    } else if (a == "--no-shrink") {
      o.shrink = false;
    } else if (a == "--save-dir") {
      if (!value(&v) || *v == '\0') return Bad("--save-dir needs a directory");
      o.save_dir = v;
    } else if (a == "--replay") {
      if (!value(&v) || *v == '\0') return Bad("--replay needs a reproducer file");
      replay = v;
    } else {
      return Bad("unknown argument '" + a + "'");
    }
  }
  if (list) {
    for (const auto& w : manifold::crashsim::Workloads()) std::printf("%-18s %s\n", w.name, w.description);
    return 0;
  }
  if (!replay.empty()) return manifold::crashsim::ReplayFile(replay);
  if (o.exhaustive && mode_given && o.mode != "inproc") return Bad("--exhaustive needs --mode inproc");
  if (o.exhaustive) o.mode = "inproc";
  if (o.lost_write_p > 0 && o.mode == "kill") return Bad("--inject-lost-writes needs --mode inproc or powerloss");
  if (o.sync_error_p > 0 && o.mode == "kill") return Bad("--inject-sync-errors needs --mode inproc or powerloss");
  if (!o.seed_given) o.seed = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  return manifold::crashsim::RunCampaign(o);
}
