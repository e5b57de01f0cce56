#!/usr/bin/env bash
# Runs every fuzz_* binary of a fuzz build for a bounded time on its seed
# corpus and fails on any finding (crash, sanitizer report, leak, timeout,
# model mismatch). Builds nothing.
#
#   fuzz/run_smoke.sh BUILD_DIR SECONDS      e.g. fuzz/run_smoke.sh build/fuzz 60
#
# BUILD_DIR is a build tree configured with the `fuzz` preset (the binaries
# are in BUILD_DIR/fuzz/). Seeds come from BUILD_DIR/fuzz/corpus/<target>
# (written by the build; regenerated here with make_corpus if missing). New
# inputs found during the run go to a scratch directory, so the seed corpus
# stays as generated. Environment: FUZZ_TARGETS="api_ops wal_replay" to run
# only some targets; FUZZ_KEEP=1 to keep the scratch directory; FUZZ_ARGS="..."
# extra libFuzzer flags for every target (e.g. FUZZ_ARGS=-entropic=0, see
# README.md "Measured rates"); ASAN_OPTIONS/UBSAN_OPTIONS replace the defaults.
#
# On a finding the script prints the log tail and the path of the input.
# Copy that input to fuzz/regressions/<target>/ (ctest then replays it in the
# fuzz build) and fix the bug.
set -uo pipefail

if [[ $# -ne 2 || ! "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd) || exit 2
SECS=$2
SRC=$(cd "$(dirname "$0")" && pwd)
BIN="$BUILD/fuzz"
[[ -x "$BIN/fuzz_api_ops" ]] || BIN="$BUILD"
if ! ls "$BIN"/fuzz_* >/dev/null 2>&1; then
  echo "run_smoke: no fuzz_* binaries in $BUILD (configure with: cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi
CORPUS="$BIN/corpus"
if [[ ! -d "$CORPUS" ]]; then
  if [[ -x "$BIN/make_corpus" ]]; then
    "$BIN/make_corpus" "$CORPUS" || exit 2
  else
    echo "run_smoke: no seed corpus in $CORPUS and no make_corpus to write one" >&2
    exit 2
  fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/manifold-fuzz-smoke.XXXXXX")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

targets=()
if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  for b in "$BIN"/fuzz_*; do
    [[ -x "$b" && -f "$b" ]] && targets+=("${b##*/fuzz_}")
  done
fi

failures=0
summary=()
for t in "${targets[@]}"; do
  bin="$BIN/fuzz_$t"
  if [[ ! -x "$bin" ]]; then
    summary+=("$(printf '%-14s MISSING  %s' "$t" "$bin")")
    failures=$((failures + 1))
    continue
  fi
  mkdir -p "$WORK/$t/corpus" "$WORK/$t/findings"
  args=(-max_total_time="$SECS" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
        -artifact_prefix="$WORK/$t/findings/")
  [[ -f "$SRC/dicts/$t.dict" ]] && args+=(-dict="$SRC/dicts/$t.dict")
  if [[ -n "${FUZZ_ARGS:-}" ]]; then
    read -r -a extra <<<"$FUZZ_ARGS"
    args+=("${extra[@]}")
  fi
  echo "== fuzz_$t for ${SECS}s (seeds: $(ls "$CORPUS/$t" 2>/dev/null | wc -l))"
  "$bin" "${args[@]}" "$WORK/$t/corpus" "$CORPUS/$t" >"$WORK/$t/log" 2>&1
  rc=$?
  execs=$(grep -m1 'stat::number_of_executed_units' "$WORK/$t/log" | awk '{print $2}')
  rate=$(grep -m1 'stat::average_exec_per_sec' "$WORK/$t/log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$WORK/$t/log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
  found=$(ls "$WORK/$t/findings" 2>/dev/null | head -1)
  if [[ $rc -ne 0 || -n "$found" ]]; then
    failures=$((failures + 1))
    summary+=("$(printf '%-14s FAIL     %8s execs %6s exec/s  finding: %s' "$t" "${execs:-?}" "${rate:-?}" "${found:+$WORK/$t/findings/$found}")")
    echo "-- fuzz_$t: FINDING (exit $rc). Log tail:"
    grep -E 'ERROR|SUMMARY|FUZZ FINDING|==[0-9]+==|^    #[0-9]+ ' "$WORK/$t/log" | head -40
    echo "-- input: ${found:+$WORK/$t/findings/$found}"
    echo "-- replay: $bin ${found:+$WORK/$t/findings/$found}"
    echo "-- keep it: cp <input> $SRC/regressions/$t/<short-description>"
  else
    summary+=("$(printf '%-14s ok       %8s execs %6s exec/s  cov %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}")")
  fi
done

echo
echo "== fuzz smoke summary (${SECS}s per target, logs in $WORK)"
printf '%s\n' "${summary[@]}"
if [[ $failures -eq 0 && -z "${FUZZ_KEEP:-}" ]]; then
  rm -rf "$WORK"
fi
if [[ $failures -ne 0 ]]; then
  echo "run_smoke: $failures target(s) failed"
  exit 1
fi
echo "run_smoke: all targets clean"
