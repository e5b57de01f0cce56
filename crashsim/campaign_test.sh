#!/usr/bin/env bash
# A short crashsim campaign with a fixed seed: must exit 0, report 0 violations and have
# checked some crash states. Usage: campaign_test.sh CRASHSIM MODE SECONDS SEED
set -euo pipefail
bin=$1 mode=$2 seconds=$3 seed=$4
out=$(mktemp -d "${TMPDIR:-/tmp}/crashsim-test.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$bin" --mode "$mode" --seconds "$seconds" --seed "$seed" --workload all --json "$out/report.json" \
  --save-dir "$out/regressions"
json=$(cat "$out/report.json")
num() { grep -oE "\"$1\": [0-9.]+" <<<"$json" | head -n 1 | grep -oE '[0-9.]+$'; }
v=$(num violations); s=$(num states_checked); c=$(num crashes)
echo "violations=$v states_checked=$s crashes=$c"
[[ $v == 0 ]] || { echo "FAIL: $v violations"; exit 1; }
[[ $s -gt 0 && $c -gt 0 ]] || { echo "FAIL: no crash state checked"; exit 1; }
for k in recovery_ms_p50 recovery_ms_p99 states_per_minute violation_list; do
  grep -q "\"$k\"" <<<"$json" || { echo "FAIL: no $k in the report"; exit 1; }
done
echo PASS
