#!/usr/bin/env bash
# End-to-end test of the `manifold` command-line tool.
# Usage: cli_test.sh PATH_TO_MANIFOLD_BINARY
# Prints one PASS/FAIL line per check and "N passed, N failed"; exits 1 on any failure.
set -u

BIN=${1:?usage: cli_test.sh PATH_TO_MANIFOLD_BINARY}
[[ -x $BIN ]] || { echo "not an executable: $BIN" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/manifold_cli_test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
DB=$TMP/test.db

passed=0
failed=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL: $1"
  shift
  local line
  for line in "$@"; do echo "      $line"; done
  failed=$((failed + 1))
}

# run ARGS...: runs the binary; sets $rc, $out and $err (trailing newlines stripped).
run() {
  "$BIN" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  rc=$?
  out=$(<"$TMP/stdout")
  err=$(<"$TMP/stderr")
}

# expect_rc NAME WANT_RC ARGS...
expect_rc() {
  local name=$1 want=$2
  shift 2
  run "$@"
  if [[ $rc == "$want" ]]; then pass "$name"; else fail "$name" "exit $rc, want $want" "stdout: $out" "stderr: $err"; fi
}

# expect_out NAME WANT_STDOUT ARGS...: exit 0 and exactly this output.
expect_out() {
  local name=$1 want=$2
  shift 2
  run "$@"
  if [[ $rc == 0 && $out == "$want" ]]; then
    pass "$name"
  else
    fail "$name" "exit $rc, want 0" "got:  $(printf %q "$out")" "want: $(printf %q "$want")" "stderr: $err"
  fi
}

# expect_match NAME WHAT EXTENDED_REGEX: checks the last run's $out or $err.
expect_match() {
  local name=$1 text
  [[ $2 == out ]] && text=$out || text=$err
  if grep -Eq -- "$3" <<<"$text"; then pass "$name"; else fail "$name" "$2 does not match /$3/:" "$text"; fi
}

expect_no_match() {
  local name=$1 text
  [[ $2 == out ]] && text=$out || text=$err
  if grep -Eq -- "$3" <<<"$text"; then fail "$name" "$2 matches /$3/:" "$text"; else pass "$name"; fi
}

# expect NAME CMD...: passes if CMD succeeds.
expect() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name" "last run: exit ${rc:-}" "stdout: ${out:-}" "stderr: ${err:-}"; fi
}

# json_ok: the last run's stdout is valid JSON (skipped without python3).
json_ok() { ! command -v python3 >/dev/null || python3 -m json.tool "$TMP/stdout" >/dev/null; }

nl=$'\n'

echo "== help and usage errors"
expect_rc "--help exits 0" 0 --help
expect_match "--help lists subcommands" out "scan DB"
expect_match "--help lists cf group" out "cf <command>"
expect_rc "-h exits 0" 0 -h
expect_rc "--version exits 0" 0 --version
for cmd in create put get del scan stat check "cf" "table" "cf list" "cf create" "cf drop" "cf rename" \
  "table list" "table create" "table drop" "table rename" "table clear"; do
  # shellcheck disable=SC2086
  expect_rc "$cmd --help exits 0" 0 $cmd --help
  expect_match "$cmd --help prints its usage" out "^usage: manifold $cmd"
done
expect_rc "put -h exits 0" 0 put -h
run put --help
expect_match "put --help documents --create-table" out "--create-table"
expect_rc "help wins over missing args" 0 get --help
expect_rc "no arguments exits 64" 64
expect_match "no arguments prints usage on stderr" err "^usage: manifold"
expect_rc "bad subcommand exits 64" 64 frobnicate "$DB"
expect_match "bad subcommand prints usage on stderr" err "usage: manifold"
expect_rc "bad top-level option exits 64" 64 --bogus
expect_rc "bad cf subcommand exits 64" 64 cf frob "$DB"
expect_rc "cf without subcommand exits 64" 64 cf
expect_rc "bad table subcommand exits 64" 64 table frob "$DB"
expect_rc "unknown option exits 64" 64 get "$DB" k --bogus
expect_match "unknown option is named" err "--bogus"
expect_rc "missing argument exits 64" 64 put "$DB" k
expect_rc "extra argument exits 64" 64 get "$DB" k extra
expect_rc "option without value exits 64" 64 get "$DB" k --table
expect_rc "flag with value exits 64" 64 scan "$DB" --reverse=yes
expect_rc "bad --limit exits 64" 64 scan "$DB" --limit abc
expect_rc "--from-exclusive without --from exits 64" 64 scan "$DB" --from-exclusive
expect_rc "bad --page-size exits 64" 64 create "$DB" --page-size 4k
expect "usage errors create no file" test ! -e "$DB"

echo "== missing database"
MISSING=$TMP/missing.db
expect_rc "get on missing file exits 1" 1 get "$MISSING" k
expect_match "error is reported as manifold: <status>" err "^manifold: "
expect_rc "stat on missing file fails" 1 stat "$MISSING"
expect_rc "put on missing file fails" 1 put "$MISSING" k v
run check "$MISSING"
expect "check on missing file fails" test "$rc" != 0
expect "missing file was not created" test ! -e "$MISSING"

echo "== create"
expect_rc "create exits 0" 0 create "$DB"
expect "create made a file" test -s "$DB"
expect_rc "create on existing file exits 1" 1 create "$DB"
expect_match "create on existing file explains" err "^manifold: "
expect_rc "create --page-size 8192" 0 create "$TMP/big.db" --page-size 8192
run stat "$TMP/big.db" --json
expect_match "page size is 8192" out '"page_size": *8192'
expect_rc "create --page-size 1000 is an engine error" 1 create "$TMP/odd.db" --page-size 1000
expect_out "new database has table default" "default" table list "$DB"

echo "== put / get / del"
expect_rc "put exits 0" 0 put "$DB" k1 v1
expect_out "get returns value" "v1" get "$DB" k1
expect_rc "put overwrites" 0 put "$DB" k1 v2 --no-sync
expect_out "get returns new value" "v2" get "$DB" k1
expect_rc "put key with space, value with tab" 0 put "$DB" "sp key" $'a\tb\\c'
expect_out "get escapes tab and backslash" 'a\x09b\x5cc' get "$DB" "sp key"
expect_rc "get --raw exits 0" 0 get "$DB" "sp key" --raw
expect "get --raw prints bytes unchanged" cmp -s "$TMP/stdout" <(printf 'a\tb\\c')
expect_rc "put with -- before dash key" 0 put "$DB" -- -dash -value
expect_out "get with -- before dash key" "-value" get "$DB" -- -dash
expect_rc "put empty value" 0 put "$DB" empty ""
expect_out "get empty value" "" get "$DB" empty
expect_rc "get missing key exits 1" 1 get "$DB" nope
expect_match "get missing key says so on stderr" err "^manifold: .*[Nn]ot ?[Ff]ound"
expect "get missing key prints nothing on stdout" test -z "$out"
expect_rc "del exits 0" 0 del "$DB" k1
expect_rc "get after del exits 1" 1 get "$DB" k1
expect_rc "del missing key exits 1" 1 del "$DB" k1
expect_rc "put into missing table exits 1" 1 put "$DB" k v --table t2
expect_match "put into missing table hints --create-table" err "--create-table"
expect_rc "put --create-table" 0 put "$DB" k v --table t2 --create-table
expect_out "get from other table" "v" get "$DB" k --table t2
expect_rc "key of other table is not in default" 1 get "$DB" k
expect_rc "get from missing table exits 1" 1 get "$DB" k --table nosuch

echo "== scan"
for k in d b e a c ac ab; do
  "$BIN" put "$DB" "$k" "v$k" --table s --create-table || fail "put $k for scan"
done
expect_out "scan all in key order" "a	va${nl}ab	vab${nl}ac	vac${nl}b	vb${nl}c	vc${nl}d	vd${nl}e	ve" scan "$DB" --table s
expect_out "scan --keys-only" "a${nl}ab${nl}ac${nl}b${nl}c${nl}d${nl}e" scan "$DB" --table s --keys-only
expect_out "scan --from" "b${nl}c${nl}d${nl}e" scan "$DB" --table s --keys-only --from b
expect_out "scan --from --to (to exclusive)" "b${nl}c" scan "$DB" --table s --keys-only --from b --to d
expect_out "scan --from-exclusive --to-inclusive" "c${nl}d" scan "$DB" --table s --keys-only \
  --from b --from-exclusive --to d --to-inclusive
expect_out "scan --from=K --to=K syntax" "ab${nl}ac" scan "$DB" --table=s --keys-only --from=ab --to=b
expect_out "scan --prefix" "a${nl}ab${nl}ac" scan "$DB" --table s --keys-only --prefix a
expect_out "scan --prefix --reverse" "ac${nl}ab${nl}a" scan "$DB" --table s --keys-only --prefix a --reverse
expect_out "scan --prefix with --to" "a${nl}ab" scan "$DB" --table s --keys-only --prefix a --to ac
expect_out "scan --prefix with --from-exclusive" "ab${nl}ac" scan "$DB" --table s --keys-only --prefix a --from a --from-exclusive
expect_out "scan --prefix with no match" "" scan "$DB" --table s --keys-only --prefix z
expect_out "scan empty range" "" scan "$DB" --table s --keys-only --from d --to b
expect_out "scan --reverse --limit" "e${nl}d" scan "$DB" --table s --keys-only --reverse --limit 2
expect_out "scan --reverse with bounds" "d${nl}c${nl}b" scan "$DB" --table s --keys-only --reverse --from b --to d --to-inclusive
expect_out "scan --limit 3" "a${nl}ab${nl}ac" scan "$DB" --table s --keys-only --limit 3
expect_out "scan --limit 0" "" scan "$DB" --table s --limit 0
expect_rc "put binary key" 0 put "$DB" $'\x01\xff' $'x\ny' --table s
expect_out "scan escapes non-printable bytes" '\x01\xff	x\x0ay' scan "$DB" --table s --prefix $'\x01'
expect_rc "scan missing table exits 1" 1 scan "$DB" --table nosuch

echo "== column families"
run cf list "$DB"
expect_match "cf list shows default" out "^default$"
expect_rc "cf create" 0 cf create "$DB" users
expect_rc "cf create existing exits 1" 1 cf create "$DB" users
run cf list "$DB"
expect_match "cf list shows new cf" out "^users$"
expect_rc "table create in cf" 0 table create "$DB" people --cf users
expect_out "table list in cf" "people" table list "$DB" --cf users
expect_rc "put in cf" 0 put "$DB" alice 42 --cf users --table people
expect_out "get in cf" "42" get "$DB" alice --cf users --table people
expect_rc "cf keyspaces are separate" 1 get "$DB" alice --table people
expect_rc "put into missing cf exits 1" 1 put "$DB" k v --cf nosuch --create-table
expect_rc "cf rename" 0 cf rename "$DB" users members
run cf list "$DB"
expect_match "cf list shows renamed cf" out "^members$"
expect_no_match "cf list drops old name" out "^users$"
expect_out "data survives cf rename" "42" get "$DB" alice --cf members --table people
expect_rc "cf drop" 0 cf drop "$DB" members
run cf list "$DB"
expect_no_match "cf list after drop" out "^members$"
expect_rc "cf drop missing exits 1" 1 cf drop "$DB" members
expect_rc "table list in dropped cf exits 1" 1 table list "$DB" --cf members

echo "== tables"
expect_rc "table create" 0 table create "$DB" t3
expect_rc "table create existing exits 1" 1 table create "$DB" t3
run table list "$DB"
expect_match "table list shows new table" out "^t3$"
expect_rc "table rename" 0 table rename "$DB" t3 t4
run table list "$DB"
expect_match "table list shows renamed table" out "^t4$"
expect_no_match "table list drops old name" out "^t3$"
"$BIN" put "$DB" x 1 --table t4 && "$BIN" put "$DB" y 2 --table t4
expect_out "table has entries before clear" "x${nl}y" scan "$DB" --table t4 --keys-only
expect_rc "table clear" 0 table clear "$DB" t4
expect_out "table is empty after clear" "" scan "$DB" --table t4
expect_rc "table drop" 0 table drop "$DB" t4
run table list "$DB"
expect_no_match "table list after drop" out "^t4$"
expect_rc "table drop missing exits 1" 1 table drop "$DB" t4

echo "== stat"
expect_rc "stat exits 0" 0 stat "$DB"
expect "stat prints something" test -n "$out"
expect_rc "stat --json exits 0" 0 stat "$DB" --json
for field in page_size page_count free_pages file_bytes cache_bytes_used column_families entries; do
  expect_match "stat --json has $field" out "\"$field\""
done
expect "stat --json is valid JSON" json_ok

echo "== check"
expect_rc "check good db exits 0" 0 check "$DB"
expect_rc "check --json good db exits 0" 0 check "$DB" --json
expect_match "check --json says ok" out '"ok": *true'
expect "check --json is valid JSON" json_ok

# A database big enough that the middle of the file is a live page.
BAD=$TMP/bad.db
"$BIN" create "$BAD"
big=$(printf 'x%.0s' {1..3000})
for i in $(seq -w 1 120); do
  "$BIN" put "$BAD" "key$i" "$i$big" --no-sync || fail "fill bad.db key$i"
done
expect_rc "check before corruption exits 0" 0 check "$BAD"
size=$(wc -c <"$BAD")
off=$((size / 2 + 100))
byte=$(od -An -tu1 -j "$off" -N1 "$BAD" | tr -d ' ')
# shellcheck disable=SC2059
printf "\\$(printf '%03o' $((byte ^ 0xff)))" | dd of="$BAD" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
expect "flipped byte at offset $off of $size" test "$(od -An -tu1 -j "$off" -N1 "$BAD" | tr -d ' ')" = $((byte ^ 0xff))
expect_rc "check corrupted db exits 2" 2 check "$BAD"
expect "check prints a report" test -n "$out"
expect_rc "check --json corrupted db exits 2" 2 check "$BAD" --json
expect_match "check --json says not ok" out '"ok": *false'
expect "corrupt check --json is valid JSON" json_ok

GARBAGE=$TMP/garbage.db
head -c 65536 /dev/urandom >"$GARBAGE"
run check "$GARBAGE"
expect "check on a non-database file fails" test "$rc" != 0
run get "$GARBAGE" k
expect "get on a non-database file fails" test "$rc" != 0

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
