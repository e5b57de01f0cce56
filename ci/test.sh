#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root:
#   1. install the build dependencies (ci/install-deps.sh),
#   2. configure, build and test the `release` preset (g++, -Werror); then the harness
#      self-test (ci/mutants: crashsim must catch every deliberately broken engine variant)
#      and clang-tidy over the engine (ci/clang-tidy.sh; any finding fails),
#   3. the `asan-ubsan` preset (clang++, ASan + UBSan): every test,
#   4. the `tsan` preset (clang++, ThreadSanitizer): every test but the 1 GiB value and the
#      single-threaded property tests,
#   5. the `fuzz` preset: the libFuzzer targets' regression inputs, then 20 s per target,
#   6. the coverage report (ci/coverage.sh; CI_COVERAGE=0 skips it),
#   7. the install test (tests/install_test.sh against the release build).
# The last line is always `N passed, N failed` (N = ctest tests of every preset, plus 1 per
# other stage; a stage that cannot run, e.g. a failed build, counts as 1 failed).
# Exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOG_DIR="$ROOT/build/ci-logs"
mkdir -p "$LOG_DIR"

# The property tests run 500 cases per property here (RapidCheck's default is
# 100); an RC_PARAMS from the environment (a seed to replay, ...) wins.
export RC_PARAMS="${RC_PARAMS:-max_success=500}"

passed=0
failed=0
summary=()   # one line per stage for the table at the end
declare -A built=()  # preset -> 1 once it built
SECONDS=0

note() { printf '\n==== %s ====\n' "$*"; }
record() {  # record STAGE RESULT PASSED FAILED SECONDS
  summary+=("$(printf '%-28s %-7s %6s %6s %6ss' "$1" "$2" "$3" "$4" "$5")")
  passed=$((passed + $3))
  failed=$((failed + $4))
}

# run_preset NAME: configure + build + ctest of one preset.
run_preset() {  # run_preset PRESET [extra ctest arguments...]
  local preset=$1 t0 rc log
  shift
  t0=$SECONDS
  note "configure: $preset"
  if ! cmake --preset "$preset" >"$LOG_DIR/$preset-configure.log" 2>&1; then
    cat "$LOG_DIR/$preset-configure.log"
    echo "ci/test.sh: configure of preset $preset FAILED"
    record "$preset: configure" FAIL 0 1 $((SECONDS - t0))
    return 0
  fi
  tail -n 3 "$LOG_DIR/$preset-configure.log"

  note "build: $preset"
  rc=0
  cmake --build --preset "$preset" 2>&1 | tee "$LOG_DIR/$preset-build.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "ci/test.sh: build of preset $preset FAILED (exit $rc)"
    record "$preset: build" FAIL 0 1 $((SECONDS - t0))
    return 0
  fi
  built[$preset]=1

  note "test: $preset"
  log="$LOG_DIR/$preset-test.log"
  rc=0
  # The install test runs once, separately, below.
  ctest --preset "$preset" -j2 --output-on-failure -LE install "$@" 2>&1 | tee "$log" || rc=$?
  local line total nfail
  line=$(grep -E '[0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [[ -z "$line" ]]; then
    echo "ci/test.sh: ctest of preset $preset produced no summary (exit $rc)"
    record "$preset: ctest" FAIL 0 1 $((SECONDS - t0))
    return 0
  fi
  nfail=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  if [[ $rc -ne 0 && $nfail -eq 0 ]]; then
    nfail=1  # ctest failed for another reason (timeout of discovery, crash, ...)
  fi
  local result=PASS
  if [[ $nfail -ne 0 ]]; then result=FAIL; fi
  record "$preset: ctest" "$result" $((total - nfail)) "$nfail" $((SECONDS - t0))
}

note "dependencies"
t0=$SECONDS
if bash ci/install-deps.sh; then
  :
else
  echo "ci/test.sh: installing dependencies FAILED"
  record "install-deps" FAIL 0 1 $((SECONDS - t0))
fi

run_preset release

# The harness self-test: crashsim must catch every broken engine variant.
if [[ -n "${built[release]:-}" ]]; then
  note "harness self-test: ci/mutants"
  t0=$SECONDS
  if bash ci/mutants 2>&1 | tee "$LOG_DIR/mutants.log"; then
    record "mutants (all caught)" PASS 1 0 $((SECONDS - t0))
  else
    record "mutants (all caught)" FAIL 0 1 $((SECONDS - t0))
  fi
fi

# clang-tidy over the engine (ci/clang-tidy.sh, checks in .clang-tidy): any
# finding fails the stage.
if [[ -n "${built[release]:-}" ]]; then
  note "clang-tidy"
  t0=$SECONDS
  if bash ci/clang-tidy.sh "$ROOT/build/release" 2>&1 | tee "$LOG_DIR/clang-tidy.log"; then
    record "clang-tidy" PASS 1 0 $((SECONDS - t0))
  else
    record "clang-tidy" FAIL 0 1 $((SECONDS - t0))
  fi
fi

run_preset asan-ubsan
# ThreadSanitizer: every test but the 1 GiB value (pure I/O, minutes under TSan)
# and the single-threaded property tests (run in the other two builds). The allocation-failure
# loops are not built there (TSan's runtime owns operator new).
run_preset tsan -E 'OneGiBValue|^prop\.'

# Fuzzing: build the libFuzzer targets, replay their regression inputs (only
# the `fuzz`-labelled ctest tests: the rest already ran under ASan above),
# then run each target for a bounded time on its corpus.
run_preset fuzz -L fuzz
if [[ -n "${built[fuzz]:-}" ]]; then
  note "fuzz smoke run (20 s per target)"
  t0=$SECONDS
  if bash fuzz/run_smoke.sh "$ROOT/build/fuzz" 20 2>&1 | tee "$LOG_DIR/fuzz-smoke.log"; then
    record "fuzz: smoke run" PASS 1 0 $((SECONDS - t0))
  else
    record "fuzz: smoke run" FAIL 0 1 $((SECONDS - t0))
  fi
fi

# Coverage (ci/coverage.sh): its own instrumented build and a second run of
# every test, then the tables per engine/ folder and for the log, checkpoint
# and recovery code (docs/coverage.md). CI_COVERAGE=0 leaves it out. Counted
# as one test: passes when the build and every test pass; the percentages are
# reported, not enforced.
if [[ "${CI_COVERAGE:-1}" != 0 ]]; then
  note "coverage"
  t0=$SECONDS
  if bash ci/coverage.sh 2>&1 | tee "$LOG_DIR/coverage.log"; then
    record "coverage" PASS 1 0 $((SECONDS - t0))
  else
    record "coverage" FAIL 0 1 $((SECONDS - t0))
  fi
fi

note "install test (release build)"
t0=$SECONDS
if [[ -z "${built[release]:-}" ]]; then
  echo "skipped: the release build failed"
  record "install test" FAIL 0 1 0
elif bash tests/install_test.sh "$ROOT/build/release" "$ROOT" 2>&1 | tee "$LOG_DIR/install-test.log"; then
  record "install test" PASS 1 0 $((SECONDS - t0))
else
  record "install test" FAIL 0 1 $((SECONDS - t0))
fi

note "summary (logs in build/ci-logs/, total ${SECONDS}s)"
printf '%-28s %-7s %6s %6s %7s\n' stage result passed failed time
for s in "${summary[@]}"; do echo "$s"; done
echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
