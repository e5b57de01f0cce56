#!/usr/bin/env bash
# Line and branch coverage of the engine by the whole ctest suite.
#
#   ci/coverage.sh            configure + build the `coverage` preset (clang++,
#                             -fprofile-instr-generate -fcoverage-mapping), run
#                             every ctest test, print the tables
#   ci/coverage.sh --report   only print the tables from the last run's profiles
#
# Prints one row per engine/ folder (lines %, branches %; test files and
# engine/src/testing/ excluded), then the write-ahead log, checkpoint and
# recovery code: engine/src/wal/ as a folder, db.cc and txn.cc as files, and
# the checkpoint/recovery/replay functions of engine/src/db/ one by one.
# Writes build/coverage/coverage-summary.json (llvm-cov export -summary-only)
# and build/coverage/html/ (llvm-cov show). Exits non-zero if the build fails
# or a test fails (the tables are printed either way); the goals are reported,
# not enforced.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B="$ROOT/build/coverage"
PROFDATA=$(command -v llvm-profdata-14 || command -v llvm-profdata) || { echo "coverage.sh: llvm-profdata-14 missing" >&2; exit 2; }
COV=$(command -v llvm-cov-14 || command -v llvm-cov) || { echo "coverage.sh: llvm-cov-14 missing" >&2; exit 2; }
rc=0
SECONDS=0

if [[ "${1:-}" != "--report" ]]; then
  cmake --preset coverage >"$ROOT/build/coverage-configure.log" 2>&1 || { cat "$ROOT/build/coverage-configure.log"; exit 1; }
  cmake --build --preset coverage -j "${COVERAGE_JOBS:-2}" || exit 1
  rm -rf "$B/profiles"
  mkdir -p "$B/profiles"
  echo "coverage.sh: build done after ${SECONDS}s; running ctest"
  LLVM_PROFILE_FILE="$B/profiles/%p-%m.profraw" ctest --preset coverage -j2 --output-on-failure \
    2>&1 | tee "$B/ctest.log" | grep -E 'tests passed|tests failed out of|\*\*\*(Failed|Timeout|Exception)' || true
  grep -qE '100% tests passed' "$B/ctest.log" || rc=1
  echo "coverage.sh: tests done after ${SECONDS}s"
fi

shopt -s nullglob
profiles=("$B"/profiles/*.profraw)
if [[ ${#profiles[@]} -eq 0 ]]; then
  echo "coverage.sh: no profiles in $B/profiles" >&2
  exit 1
fi
printf '%s\n' "${profiles[@]}" >"$B/profiles.list"
"$PROFDATA" merge -sparse -f "$B/profiles.list" -o "$B/coverage.profdata" || exit 1

# Every instrumented executable that the tests ran.
objects=()
while IFS= read -r exe; do
  [[ -x "$exe" ]] && objects+=(-object "$exe")
done < <(ctest --test-dir "$B" --show-only=json-v1 2>/dev/null |
         python3 -c 'import json,sys; print("\n".join(sorted({t["command"][0] for t in json.load(sys.stdin)["tests"] if t.get("command")})))')
IGNORE='(_test\.cc$|/engine/src/testing/|^/usr/)'
"$COV" export -summary-only -instr-profile="$B/coverage.profdata" "${objects[@]:1}" \
  -ignore-filename-regex="$IGNORE" >"$B/coverage-summary.json" || exit 1
"$COV" show -format=html -output-dir="$B/html" -instr-profile="$B/coverage.profdata" "${objects[@]:1}" \
  -ignore-filename-regex="$IGNORE" "$ROOT/engine" >/dev/null 2>&1 || true
# Per-function rows for the checkpoint and recovery code of engine/src/db/.
"$COV" report -show-functions -Xdemangler=c++filt -instr-profile="$B/coverage.profdata" "${objects[@]:1}" \
  "$ROOT/engine/src/db/db.cc" "$ROOT/engine/src/db/txn.cc" >"$B/db-functions.txt" 2>/dev/null || true

python3 - "$B/coverage-summary.json" "$ROOT" "$B/db-functions.txt" <<'PY'
import json, re, sys
summary, root, funcs_path = sys.argv[1], sys.argv[2].rstrip("/") + "/", sys.argv[3]
files = json.load(open(summary))["data"][0]["files"]
rows = {}
def add(key, s):
    r = rows.setdefault(key, [0, 0, 0, 0])
    r[0] += s["lines"]["covered"]; r[1] += s["lines"]["count"]
    r[2] += s["branches"]["covered"]; r[3] += s["branches"]["count"]
def pct(c, n): return f"{100.0 * c / n:6.1f}%" if n else "     - "
def line(name, r): return f"{name:<34} {pct(r[0], r[1])} {r[0]:>6}/{r[1]:<6} {pct(r[2], r[3])} {r[2]:>6}/{r[3]:<6}"
total = [0, 0, 0, 0]
wal_ckpt = {}
for f in files:
    name = f["filename"]
    if not name.startswith(root + "engine/"): continue
    rel = name[len(root):]
    parts = rel.split("/")
    folder = "/".join(parts[:3]) + "/" if parts[1] == "src" else "/".join(parts[:2]) + "/"
    add(folder, f["summary"])
    add("engine/ (all)", f["summary"])
    if rel.startswith("engine/src/wal/"): add("wal: engine/src/wal/", f["summary"])
    if rel in ("engine/src/db/db.cc", "engine/src/db/txn.cc"): add("wal: " + rel, f["summary"])
    if rel.startswith("engine/src/wal/") or rel in ("engine/src/db/db.cc", "engine/src/db/txn.cc"):
        add("wal/ + db.cc + txn.cc", f["summary"])
hdr = f"{'folder':<34} {'lines':>7} {'':>13} {'branches':>8}"
print("== coverage per engine/ folder (tests and engine/src/testing/ excluded)")
print(hdr)
for k in sorted(k for k in rows if k.startswith("engine/") and k != "engine/ (all)"):
    print(line(k, rows[k]))
print(line("engine/ (all)", rows.get("engine/ (all)", [0, 0, 0, 0])))
print()
print("== write-ahead log, checkpoint and recovery (goal: >= 90% lines, >= 85% branches)")
print(hdr)
for k in ("wal: engine/src/wal/", "wal: engine/src/db/db.cc", "wal: engine/src/db/txn.cc", "wal/ + db.cc + txn.cc"):
    if k in rows: print(line(k.replace("wal: ", ""), rows[k]))
# The checkpoint and recovery functions of db.cc/txn.cc, by name: reading the header
# slots, loading the state, log replay, checkpoints (explicit, by size or time, and the
# commit-by-checkpoint path of Commit), waiting for durability.
CKPT_RECOVERY = {"ReadHeader", "LoadState", "Recover", "RunCheckpoint", "MaybeCheckpoint",
                 "Database::Checkpoint", "TxnState::Commit", "WaitDurable"}
try:
    text = open(funcs_path).read()
except OSError:
    text = ""
fr = [0, 0, 0, 0]
picked = []
for l in text.splitlines():
    m = re.match(r"^(\S.*?)\s+(\d+)\s+(\d+)\s+\S+%?\s+(\d+)\s+(\d+)\s+\S+%?\s+(\d+)\s+(\d+)\s+\S+%?\s*$", l)
    if not m: continue
    fname = re.sub(r"^[^:]*\.cc:", "", m.group(1)).replace("(anonymous namespace)::", "")
    fname = re.sub(r"^manifold::", "", fname.split("(")[0])
    if fname not in CKPT_RECOVERY: continue
    lines_n, lines_miss, br_n, br_miss = int(m.group(4)), int(m.group(5)), int(m.group(6)), int(m.group(7))
    fr[0] += lines_n - lines_miss; fr[1] += lines_n; fr[2] += br_n - br_miss; fr[3] += br_n
    picked.append(f"{fname} {pct(lines_n - lines_miss, lines_n).strip()}/{pct(br_n - br_miss, br_n).strip()}")
if picked:
    print(line(f"ckpt+recovery functions ({len(picked)})", fr))
    print("   lines/branches: " + ", ".join(sorted(picked)))
PY
echo "coverage.sh: done in ${SECONDS}s (html: $B/html/index.html)"
exit $rc
