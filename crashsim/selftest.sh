#!/usr/bin/env bash
# Self-test of the harness: with a lying device (faultfs lost writes: acknowledged by sync,
# never durable) crashsim must report violations, exit 1, save a shrunk reproducer, and the
# reproducer must fail again on replay. Usage: selftest.sh CRASHSIM
set -uo pipefail
bin=$1
out=$(mktemp -d "${TMPDIR:-/tmp}/crashsim-selftest.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$bin" --mode inproc --workload single_cf --seed 1 --cases 1 --inject-lost-writes 0.05 \
  --json "$out/report.json" --save-dir "$out/regressions" >"$out/stdout" 2>"$out/stderr"
rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL: crashsim exited $rc with lost writes injected, want 1"; cat "$out/stdout"; exit 1; }
v=$(grep -oE '"violations": [0-9]+' "$out/report.json" | grep -oE '[0-9]+$')
[[ ${v:-0} -ge 1 ]] || { echo "FAIL: no violation reported"; exit 1; }
grep -q '"reproduce": "crashsim --mode inproc --workload single_cf --seed 1 ' "$out/report.json" ||
  { echo "FAIL: no reproduce command in the report"; exit 1; }
repro=$(ls "$out"/regressions/*.repro 2>/dev/null | head -n 1)
[[ -n "$repro" ]] || { echo "FAIL: no shrunk reproducer saved"; cat "$out/stderr"; exit 1; }
echo "caught: $(grep -m1 VIOLATION "$out/stdout")"
echo "reproducer: $(grep -vE '^#' "$repro" | tr '\n' ' ')"
"$bin" --replay "$repro" >"$out/replay" 2>&1
rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL: replay of the shrunk reproducer exited $rc, want 1"; cat "$out/replay"; exit 1; }
grep -q "replay: VIOLATION" "$out/replay" || { echo "FAIL: replay did not report the violation"; exit 1; }
echo PASS
