#!/usr/bin/env bash
# crashsim's command line: bad flags exit 2 with a message, --list-workloads and --help work,
# --seed reruns an inproc case exactly (same JSON counts, also with 4 writer threads).
set -uo pipefail
bin=$1
fail=0
expect() {  # expect STATUS ARGS...
  local want=$1; shift
  "$bin" "$@" >/tmp/crashsim-cli.$$ 2>&1; local got=$?
  if [[ $got -ne $want ]]; then echo "FAIL: crashsim $* exited $got, want $want"; cat /tmp/crashsim-cli.$$; fail=1; fi
}
expect 2 --bogus
expect 2 --mode nope
expect 2 --seconds abc
expect 2 --seed -1
expect 2 --workload nope
expect 2 --json
expect 2 --mode kill --exhaustive
expect 2 --replay /nonexistent/file.repro
expect 0 --help
expect 0 --list-workloads
grep -q multi_cf_txn /tmp/crashsim-cli.$$ || { echo "FAIL: multi_cf_txn not listed"; fail=1; }
[[ $("$bin" --list-workloads | wc -l) -ge 7 ]] || { echo "FAIL: fewer than 7 workloads"; fail=1; }
msg=$("$bin" --bogus 2>&1 || true)
grep -q "unknown argument '--bogus'" <<<"$msg" || { echo "FAIL: no clear error for a bad flag: $msg"; fail=1; }
# Determinism: the same case twice gives the same counts and distinct image hashes.
d=$(mktemp -d)
for w in single_cf concurrent_cf; do
  for i in 1 2; do
    "$bin" --mode inproc --workload $w --seed 77 --cases 1 --ops 16 --json "$d/r$i.json" >/dev/null 2>&1 ||
      { echo "FAIL: inproc case exited non-zero"; fail=1; }
    grep -E '"(crashes|states_checked|distinct_states|faults|acknowledged_commits_verified)"' "$d/r$i.json" >"$d/c$i"
  done
  cmp -s "$d/c1" "$d/c2" || { echo "FAIL: --seed did not rerun the $w case identically"; diff "$d/c1" "$d/c2"; fail=1; }
done
rm -rf "$d" /tmp/crashsim-cli.$$
[[ $fail -eq 0 ]] && echo PASS
exit $fail
