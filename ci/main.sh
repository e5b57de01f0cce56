#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine as root: install the dependencies, build the
# `release` preset, then exercise the database and verify what it wrote.
#
# The workload is examples/basic.cc run against a fresh database in a temporary directory,
# followed by `manifold check` (full integrity check) and `manifold stat` on the result; then a
# short crash-and-recovery campaign (until crashsim/ lands: the engine's every-sync-point
# power-loss test over several seeds and faultfs's crash-image tests). Prints a report with one
# section per step and a summary, and exits non-zero if any step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD="$ROOT/build/release"
CLI="$BUILD/tools/manifold/manifold"
EXAMPLE="$BUILD/examples/example_basic"
# Entries the example leaves behind: 5000 samples - 100 deleted + 16 hosts + 1 meta entry.
EXPECTED_ENTRIES=4917

WORK=$(mktemp -d "${TMPDIR:-/tmp}/manifold-main.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/db"
DB="$WORK/db/example.manifold"

results=()
failures=0
SECONDS=0
section() { printf '\n================================================================\n'
            printf '== %s\n' "$*"
            printf '================================================================\n'; }
ok()   { results+=("$(printf '%-36s PASS' "$1")"); }
bad()  { results+=("$(printf '%-36s FAIL  %s' "$1" "${2:-}")"); failures=$((failures + 1)); }
skip() { results+=("$(printf '%-36s SKIP  %s' "$1" "${2:-}")"); }

section "1. Dependencies"
if bash ci/install-deps.sh; then ok "install dependencies"; else bad "install dependencies"; fi

section "2. Build (preset: release)"
built=0
t0=$SECONDS
if cmake --preset release >"$WORK/configure.log" 2>&1; then
  tail -n 3 "$WORK/configure.log"
  if cmake --build --preset release; then
    built=1
    ok "configure + build release"
    echo "built in $((SECONDS - t0))s"
  else
    bad "configure + build release" "build failed"
  fi
else
  cat "$WORK/configure.log"
  bad "configure + build release" "configure failed"
fi

section "3. Workload: examples/basic.cc on a fresh database"
wrote=0
if [[ $built -eq 1 && -x "$EXAMPLE" ]]; then
  echo "database: $DB"
  t0=$SECONDS
  if "$EXAMPLE" "$DB"; then
    wrote=1
    ok "example workload"
    echo "workload finished in $((SECONDS - t0))s"
  else
    bad "example workload" "example_basic exited non-zero"
  fi
else
  bad "example workload" "example_basic was not built"
fi

section "4. Integrity check: manifold check"
if [[ $wrote -eq 1 && -x "$CLI" ]]; then
  if "$CLI" check "$DB"; then ok "manifold check"; else bad "manifold check" "problems found (see above)"; fi
  echo
  echo "-- manifold check --json"
  if "$CLI" check --json "$DB" | tee "$WORK/check.json"; then
    entries=$(grep -oE '"entries"[[:space:]]*:[[:space:]]*[0-9]+' "$WORK/check.json" | head -n 1 |
              grep -oE '[0-9]+$' || true)
    if [[ -z "$entries" ]]; then
      bad "manifold check --json" "no \"entries\" field in the report"
    elif [[ "$entries" -ne $EXPECTED_ENTRIES ]]; then
      bad "manifold check --json" "entries $entries, expected $EXPECTED_ENTRIES"
    else
      ok "manifold check --json (entries=$entries)"
    fi
  else
    bad "manifold check --json" "exited non-zero"
  fi
elif [[ $wrote -eq 1 ]]; then
  bad "manifold check" "CLI not built at ${CLI#"$ROOT"/}"
else
  skip "manifold check" "no database to check"
fi

section "5. Statistics: manifold stat"
if [[ $wrote -eq 1 && -x "$CLI" ]]; then
  if "$CLI" stat "$DB"; then ok "manifold stat"; else bad "manifold stat" "exited non-zero"; fi
  echo
  echo "-- files of the database"
  ls -l "$WORK/db"
else
  skip "manifold stat" "no database or no CLI"
fi

section "6. Crash-and-recovery campaign"
# Until the crash simulator (crashsim/) lands, the campaign is the engine's
# power-loss test run over several seeds: for each seed, a workload of durable
# and non-durable commits, table and column-family changes is stopped before
# every one of its syncs (unsynced writes dropped), in 6 configurations (page
# size 512/4096 x no log / log / log with tiny checkpoint thresholds); each
# crash state is reopened, checked against the oracle of acknowledged commits
# and integrity-checked; plus faultfs's crash-image tests (torn, dropped,
# garbage and zeroed unsynced writes, power cut at every operation).
campaign_ok=1
LOG_DIR="$ROOT/build/ci-logs"
mkdir -p "$LOG_DIR"
crash_points=0
configs=0
t0=$SECONDS
TESTS="$ROOT/build/release/engine/manifold_tests"
if [[ -x "$TESTS" ]]; then
  printf '%-12s %-8s %-14s %s\n' seed configs crash-points result
  for i in 1 2 3 4 5 6 7 8; do
    seed=$(( (RANDOM << 15 | RANDOM) + i ))
    log="$LOG_DIR/campaign-$seed.log"
    if MANIFOLD_TEST_SEED=$seed "$TESTS" --gtest_filter='*PowerLossTest*' >"$log" 2>&1; then r=PASS; else r=FAIL; campaign_ok=0; fi
    n=$(grep -c '^\[crash\]' "$log" || true)
    p=$(grep -o 'crash_points=[0-9]*' "$log" | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
    configs=$((configs + n)); crash_points=$((crash_points + ${p:-0}))
    printf '%-12s %-8s %-14s %s\n' "$seed" "$n" "${p:-0}" "$r"
    if [[ $r == FAIL ]]; then grep -E 'crash before|Failure|seed' "$log" | head -5; echo "rerun: MANIFOLD_TEST_SEED=$seed $TESTS --gtest_filter='*PowerLossTest*'"; fi
  done
  echo
  echo "faultfs crash images (every crash state of an unsynced commit, power cut at every operation, ...):"
  if (cd "$ROOT/build/release" && ctest -R 'faultfs\..*(Crash|PowerCut|EveryCrashState|Unsynced)' --output-on-failure >"$LOG_DIR/campaign-faultfs.log" 2>&1); then
    grep -E 'tests passed' "$LOG_DIR/campaign-faultfs.log"
  else
    campaign_ok=0; tail -20 "$LOG_DIR/campaign-faultfs.log"
  fi
  echo
  echo "campaign: $configs configurations, $crash_points crash states checked, violations: $([[ $campaign_ok == 1 ]] && echo 0 || echo 'SEE ABOVE'), $((SECONDS - t0))s"
else
  echo "no test binary at $TESTS (build failed?)"
  campaign_ok=0
fi
if [[ $campaign_ok == 1 ]]; then ok "crash-and-recovery campaign"; else bad "crash-and-recovery campaign" "see section 6"; fi

section "Summary (${SECONDS}s)"
for r in "${results[@]}"; do echo "$r"; done
echo
if [[ $failures -eq 0 ]]; then
  echo "main job: PASS"
else
  echo "main job: FAIL ($failures step(s) failed)"
  exit 1
fi
