#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine as root: install the dependencies, build the
# `release` preset, then exercise the database and verify what it wrote.
#
# The workload is examples/basic.cc run against a fresh database in a temporary directory,
# followed by `manifold check` (full integrity check) and `manifold stat` on the result; then a
# crash-and-recovery campaign of about a minute with crashsim (inproc, powerloss and kill mode,
# ~20 s each; CRASHSIM_SECONDS changes that). Prints a report with one section per step and a
# summary, and exits non-zero if any step failed.
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

section "6. Crash-and-recovery campaign: crashsim"
# About a minute of crashsim (crashsim/README.md): ~20 s per mode, every workload in turn, a
# fresh seed each run (printed; `--seed S` reruns it). inproc and powerloss take crash images at
# every storage sync (torn, dropped, garbage and zeroed unsynced writes) over memory and over
# real files; kill SIGKILLs a child writing real files. Every crash state is reopened,
# integrity-checked, compared with the oracle of acknowledged commits and reopened again.
campaign_ok=1
LOG_DIR="$ROOT/build/ci-logs"
mkdir -p "$LOG_DIR"
CRASHSIM="$BUILD/crashsim/crashsim"
CAMPAIGN_SECONDS=${CRASHSIM_SECONDS:-20}
t0=$SECONDS
if [[ -x "$CRASHSIM" ]]; then
  seed=$(( (RANDOM << 30) | (RANDOM << 15) | RANDOM ))
  for mode in inproc powerloss kill; do
    json="$LOG_DIR/crashsim-$mode.json"
    echo "-- crashsim --mode $mode --seconds $CAMPAIGN_SECONDS --seed $seed --workload all"
    # The progress lines go to the log; the summary table is printed here.
    if "$CRASHSIM" --mode "$mode" --seconds "$CAMPAIGN_SECONDS" --seed "$seed" --workload all \
         --json "$json" --save-dir "$LOG_DIR/crashsim-regressions" 2>"$LOG_DIR/crashsim-$mode.log"; then
      r=PASS
    else
      r=FAIL; campaign_ok=0
      grep -E 'VIOLATION|shrunk' "$LOG_DIR/crashsim-$mode.log" | head -10 || true
    fi
    echo "   $mode: $r (report: ${json#"$ROOT"/})"
  done
  echo
  echo "campaign: $((SECONDS - t0))s, seed $seed, violations: $([[ $campaign_ok == 1 ]] && echo 0 || echo 'SEE ABOVE')"
  if [[ $campaign_ok == 0 ]]; then
    echo "shrunk reproducers (rerun with crashsim --replay FILE): $LOG_DIR/crashsim-regressions/"
  fi
else
  echo "no crashsim binary at $CRASHSIM (build failed?)"
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
