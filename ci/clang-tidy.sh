#!/usr/bin/env bash
# clang-tidy 14 over the engine's sources (engine/src/**/*.cc, tests included,
# and the engine headers they include), with the checks chosen in .clang-tidy.
#
#   ci/clang-tidy.sh [BUILD_DIR]        BUILD_DIR defaults to build/release
#
# Needs BUILD_DIR/compile_commands.json (every preset exports one: run
# `cmake --preset release` first). Runs two files at a time (CLANG_TIDY_JOBS to
# change). Prints each finding once (file:line:col check message) and a count
# per check. Exits 1 on any finding, 2 if it cannot run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build/release}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "clang-tidy.sh: no build directory ${1:-build/release}" >&2; exit 2; }
DB="$BUILD/compile_commands.json"
[[ -f "$DB" ]] || { echo "clang-tidy.sh: $DB missing (configure a preset first)" >&2; exit 2; }
TIDY=$(command -v clang-tidy-14 || command -v clang-tidy) || { echo "clang-tidy.sh: clang-tidy 14 not installed" >&2; exit 2; }
JOBS=${CLANG_TIDY_JOBS:-2}


mapfile -t files < <(git ls-files 'engine/src/*.cc' | sort)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/manifold-tidy.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
echo "clang-tidy.sh: $("$TIDY" --version | grep -m1 -o 'version [0-9.]*'), ${#files[@]} files, $JOBS at a time"
t0=$SECONDS
printf '%s\n' "${files[@]}" | xargs -P "$JOBS" -I{} sh -c \
  '"$1" -p "$2" --quiet --extra-arg=-Wno-unknown-warning-option "$3" >"$4/$(echo "$3" | tr / _).log" 2>&1; echo $? >"$4/$(echo "$3" | tr / _).rc"' \
  _ "$TIDY" "$BUILD" {} "$OUT"

# One line per finding: path:line:col: check: message (paths relative to the root).
cat "$OUT"/*.log | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): .*\[[a-z0-9.,-]+\]$' |
  sed -E "s#^$ROOT/##; s#^([^:]+:[0-9]+:[0-9]+): (warning|error): (.*) \[([a-z0-9.,-]+)\]\$#\1: \4: \3#" |
  sort -u >"$OUT/findings.txt"
errors=$(grep -l 'error:' "$OUT"/*.log 2>/dev/null | wc -l)
n=$(wc -l <"$OUT/findings.txt")

echo "== findings ($n, $((SECONDS - t0))s)"
cat "$OUT/findings.txt"
echo "== per check"
awk -F': ' '{print $2}' "$OUT/findings.txt" | sort | uniq -c | sort -rn
echo "clang-tidy.sh: $n finding(s)"
if [[ $errors -ne 0 ]]; then
  echo "clang-tidy.sh: clang-tidy reported compile errors in $errors file(s):"
  grep -h -B1 -A3 'error:' "$OUT"/*.log | head -40
  exit 1
fi
[[ $n -eq 0 ]]
