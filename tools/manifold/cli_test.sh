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
for cmd in create put get del scan stat check checkpoint wal-dump "cf" "table" "cf list" "cf create" "cf drop" "cf rename" \
  "table list" "table create" "table drop" "table rename" "table clear"; do
  # shellcheck disable=SC2086
  expect_rc "$cmd --help exits 0" 0 $cmd --help
  expect_match "$cmd --help prints its usage" out "^usage: manifold $cmd"
done
expect_rc "put -h exits 0" 0 put -h
run put --help
expect_match "put --help documents --create-table" out "--create-table"
expect_match "put --help documents --crash-after as test-only" out "--crash-after +test only"
expect_match "put --help documents --no-wal" out "--no-wal"
expect_match "put --help documents --recovery-mode" out "--recovery-mode MODE"
run wal-dump --help
expect_match "wal-dump --help documents --json" out "--json"
expect_match "wal-dump --help documents --recovery-mode" out "--recovery-mode MODE"
expect_no_match "wal-dump takes no --no-wal" out "--no-wal"
run --help
expect_match "--help lists wal-dump" out "wal-dump DB"
expect_match "--help lists checkpoint" out "checkpoint DB"
expect_match "--help explains recovery modes" out "point-in-time"
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
expect_rc "bad --recovery-mode exits 64" 64 get "$DB" k --recovery-mode bogus
expect_match "bad --recovery-mode lists the modes" err "torn-tail, absolute, point-in-time or skip"
expect_rc "bad global --recovery-mode exits 64" 64 --recovery-mode bogus get "$DB" k
expect_rc "global --recovery-mode without value exits 64" 64 --recovery-mode
expect_rc "global option without command exits 64" 64 --no-wal
expect_rc "wal-dump rejects --no-wal" 64 --no-wal wal-dump "$DB"
expect_rc "bad --repeat exits 64" 64 put "$DB" k v --repeat 0
expect "usage errors create no file" test ! -e "$DB"

echo "== missing database"
MISSING=$TMP/missing.db
expect_rc "get on missing file exits 1" 1 get "$MISSING" k
expect_match "error is reported as manifold: <status>" err "^manifold: "
expect_rc "stat on missing file fails" 1 stat "$MISSING"
expect_rc "wal-dump on missing file exits 1" 1 wal-dump "$MISSING"
expect_match "wal-dump on missing file names the log" err "^manifold: .*missing\.db-wal: no write-ahead log"
expect_rc "checkpoint on missing file exits 1" 1 checkpoint "$MISSING"
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
for field in page_size page_count free_pages file_bytes cache_bytes_used column_families entries \
  wal_bytes last_lsn checkpoint_lsn wal_syncs wal_synced_commits wal_sync_ns wal_sync_waits wal_sync_wait_ns recovery; do
  expect_match "stat --json has $field" out "\"$field\""
done
expect_match "stat --json recovery section" out '"recovery": \{"records": 0, "bytes": 0, "skipped": 0, "torn_tail": false, "last_lsn": [0-9]+, "milliseconds": [0-9.]+\}'
expect "stat --json is valid JSON" json_ok
run stat "$DB"
expect_match "stat shows the log line" out "^write-ahead log: +[0-9]+ bytes, last LSN [0-9]+, checkpoint LSN [0-9]+"
expect_match "stat shows the recovery line" out "^recovery: +0 records, 0 bytes, 0 skipped, torn tail no, last LSN [0-9]+, [0-9.]+ ms$"
expect_rc "stat --no-wal exits 0" 0 stat "$DB" --no-wal
expect_rc "global --no-wal before the command" 0 --no-wal stat "$DB"
expect_rc "global --recovery-mode before the command" 0 --recovery-mode absolute get "$DB" -- -dash

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

echo "== write-ahead log"
# The CLI closes the database after each command, and Close() checkpoints and
# empties the log; `put --crash-after` exits without closing, as a crash would,
# so its records stay in DB-wal for wal-dump and for recovery at the next open.

# flip_byte FILE OFFSET: inverts one byte in place.
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  # shellcheck disable=SC2059
  printf "\\$(printf '%03o' $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}
# record_field N FIELD: field of the Nth record line (1-based) of the last wal-dump text output;
# FIELD is lsn, offset or bytes.
record_field() {
  awk -v n="$1" -v f="$2" '$1 == "LSN" && ++i == n { print (f == "lsn" ? $2 : f == "offset" ? $4 : $6) }' <<<"$out"
}
# record_lines: number of record lines in the last wal-dump text output.
record_lines() { grep -c '^LSN ' <<<"$out"; }

W=$TMP/wal.db
expect_rc "create for log tests" 0 create "$W"
expect "create made the log file" test -s "$W-wal"
expect_rc "wal-dump on a fresh db exits 0" 0 wal-dump "$W"
expect_match "wal-dump shows the header" out "^header: salt 0x[0-9a-f]{16}, start LSN [0-9]+, database id 0x[0-9a-f]{16}$"
expect_match "wal-dump shows the log file" out "^log: .*wal\.db-wal \([0-9]+ bytes, recovery mode torn-tail\)$"
expect_match "fresh log has no records" out "^summary: 0 records, 0 bytes, torn tail no, skipped 0, "
expect "fresh log prints no record lines" test "$(record_lines)" = 0
expect_rc "wal-dump --json on a fresh db exits 0" 0 wal-dump "$W" --json
expect "wal-dump --json is valid JSON" json_ok
expect_match "wal-dump --json has the header" out '"header": \{"salt": "0x[0-9a-f]{16}", "start_lsn": [0-9]+, "database_id": "0x[0-9a-f]{16}"\}'
expect_match "wal-dump --json: no records, ok" out '"records": \[\].*"ok": true'
run wal-dump "$W"
start=$(sed -n 's/^header: .*start LSN \([0-9]*\),.*/\1/p' <<<"$out")
expect "start LSN is a number" test -n "$start"

expect_rc "put --no-sync --repeat 3 --crash-after exits 0" 0 put "$W" w wv --no-sync --repeat 3 --crash-after
expect_rc "wal-dump after the crash exits 0" 0 wal-dump "$W"
expect "wal-dump shows 3 records" test "$(record_lines)" = 3
expect_match "first record: LSN, offset, bytes, checksum, counts, tables" out \
  "^LSN $start  offset 4096  bytes [0-9]+  checksum ok  ops put=1  cf default  tables default/default$"
expect_match "third record has the third LSN" out "^LSN $((start + 2))  offset [0-9]+  bytes [0-9]+  checksum ok  ops put=1 "
expect "records are contiguous" test "$(record_field 2 offset)" = $(($(record_field 1 offset) + $(record_field 1 bytes)))
expect_match "summary counts the records" out "^summary: 3 records, [0-9]+ bytes, torn tail no, skipped 0, next LSN $((start + 3)), "
expect_rc "wal-dump --json after the crash exits 0" 0 wal-dump "$W" --json
expect "wal-dump --json after the crash is valid JSON" json_ok
expect_match "wal-dump --json record fields" out \
  "\{\"lsn\": $((start + 1)), \"offset\": [0-9]+, \"bytes\": [0-9]+, \"payload_bytes\": [0-9]+, \"checksum\": \"ok\", \"operations\": 1, \"counts\": \{\"put\": 1\}, \"column_families\": \[\"default\"\], \"tables\": \[\{\"cf\": \"default\", \"table\": \"default\"\}\]\}"
expect_match "wal-dump --json summary" out '"summary": \{"records": 3, "bytes": [0-9]+, "torn_tail": false, "skipped": 0, '
expect_rc "wal-dump leaves the log alone" 0 wal-dump "$W"
expect "still 3 records after dumping twice" test "$(record_lines)" = 3

expect_rc "stat after the crash exits 0 (recovers)" 0 stat "$W" --json
expect "stat --json after recovery is valid JSON" json_ok
expect_match "stat's recovery section shows the replayed records" out \
  "\"recovery\": \{\"records\": 3, \"bytes\": [0-9]+, \"skipped\": 0, \"torn_tail\": false, \"last_lsn\": $((start + 2)), "
expect_out "recovered first put" "wv" get "$W" w
expect_out "recovered second put" "wv" get "$W" w.2
expect_out "recovered third put" "wv" get "$W" w.3
run stat "$W"
expect_match "a clean reopen recovers nothing" out "^recovery: +0 records"
expect_rc "wal-dump after recovery exits 0" 0 wal-dump "$W"
expect "the log is empty after recovery and close" test "$(record_lines)" = 0

expect_rc "crash after put --create-table into a new table" 0 put "$W" x xv --table wt --create-table --no-sync --crash-after
expect_rc "wal-dump of a two-operation record" 0 wal-dump "$W"
expect_match "record counts both operation types" out "^LSN [0-9]+  .*ops put=1 create_table=1  cf default  tables default/wt$"
lsn=$(record_field 1 lsn)
expect_out "checkpoint prints the checkpoint LSN" "checkpoint LSN $lsn" checkpoint "$W"
expect_out "recovered put into the new table" "xv" get "$W" x --table wt
expect_rc "checkpoint --json exits 0" 0 checkpoint "$W" --json
expect_match "checkpoint --json has checkpoint_lsn" out "\"checkpoint_lsn\": $lsn"
expect "checkpoint --json is valid JSON" json_ok

NOWAL=$TMP/nowal.db
expect_rc "create --no-wal" 0 create "$NOWAL" --no-wal
expect "create --no-wal makes no log" test ! -e "$NOWAL-wal"
expect_rc "put --no-wal" 0 put "$NOWAL" k v --no-wal
expect_out "get --no-wal" "v" get "$NOWAL" k --no-wal
expect "commands with --no-wal make no log" test ! -e "$NOWAL-wal"
expect_rc "wal-dump without a log exits 1" 1 wal-dump "$NOWAL"
expect_match "wal-dump without a log says so" err "nowal\.db-wal: no write-ahead log"

echo "== damaged write-ahead log"
C=$TMP/corrupt.db
expect_rc "create for corruption tests" 0 create "$C"
# Durable puts: each record is synced before the next is written, so the log
# knows that damage to the second one destroys acknowledged data.
expect_rc "crash leaving 3 records" 0 put "$C" k cv --repeat 3 --crash-after
cp "$C" "$TMP/corrupt2.db" && cp "$C-wal" "$TMP/corrupt2.db-wal"
run wal-dump "$C"
lsn2=$(record_field 2 lsn)
off2=$(record_field 2 offset)
expect "second record found" test -n "$lsn2" -a -n "$off2"
# A byte of the second record's payload (after its 32-byte header): damage with valid records after it.
flip_byte "$C-wal" $((off2 + 34))
expect_rc "wal-dump of a damaged log exits 2" 2 wal-dump "$C"
expect_match "wal-dump names the damaged record's LSN and offset" err "LSN $lsn2 at offset $off2 is damaged"
expect_match "wal-dump suggests a recovery mode" err "--recovery-mode point-in-time"
expect_match "wal-dump still shows the record before the damage" out "^LSN $((lsn2 - 1))  offset 4096 "
expect "wal-dump shows no record after the damage" test "$(record_lines)" = 1
expect_rc "wal-dump --json of a damaged log exits 2" 2 wal-dump "$C" --json
expect "damaged wal-dump --json is valid JSON" json_ok
expect_match "wal-dump --json says not ok, with the error" out "\"ok\": false, \"error\": \"Corruption: .*LSN $lsn2 at offset $off2"
expect_rc "wal-dump --recovery-mode point-in-time exits 0" 0 wal-dump "$C" --recovery-mode point-in-time
expect_match "point-in-time stops at the damage" out "^summary: 1 records, [0-9]+ bytes, torn tail yes, skipped 0"
expect_rc "wal-dump --recovery-mode skip exits 0" 0 wal-dump "$C" --recovery-mode skip
expect_match "skip skips the damaged record" out "^summary: 2 records, [0-9]+ bytes, torn tail no, skipped 1"
expect_rc "get on a damaged log exits 1" 1 get "$C" k
expect_match "get names LSN and offset of the damage" err "LSN $lsn2 at offset $off2"
expect_match "get suggests --recovery-mode" err "--recovery-mode point-in-time"
expect_rc "check on a damaged log exits 2" 2 check "$C"
expect_rc "the failed opens left the log alone" 2 wal-dump "$C"
expect_out "--recovery-mode point-in-time opens it" "cv" get "$C" k --recovery-mode point-in-time
expect_rc "point-in-time dropped the records from the damage on" 1 get "$C" k.3
expect_rc "the database opens normally afterwards" 1 get "$C" k.2
expect_match "...and reports only the missing key" err "not found"
C2=$TMP/corrupt2.db
flip_byte "$C2-wal" $((off2 + 34))
expect_out "global --recovery-mode skip opens it" "cv" --recovery-mode skip get "$C2" k.3
expect_rc "skip dropped only the damaged record" 1 get "$C2" k.2
expect_out "...and kept the one before it" "cv" get "$C2" k

T=$TMP/torn.db
expect_rc "create for torn-tail tests" 0 create "$T"
expect_rc "crash leaving 2 records" 0 put "$T" k tv --no-sync --repeat 2 --crash-after
run wal-dump "$T"
lsn2=$(record_field 2 lsn)
off2=$(record_field 2 offset)
flip_byte "$T-wal" $((off2 + 34))
expect_rc "wal-dump of a torn tail exits 0" 0 wal-dump "$T"
expect_match "a damaged last record is a torn tail" out "^summary: 1 records, [0-9]+ bytes, torn tail yes, skipped 0"
expect_rc "wal-dump --recovery-mode absolute refuses a torn tail" 2 wal-dump "$T" --recovery-mode absolute
expect_match "absolute names LSN and offset" err "LSN $lsn2 at offset $off2 .*torn tail"
expect_rc "get --recovery-mode absolute refuses it too" 1 get "$T" k --recovery-mode absolute
expect_rc "the default mode recovers from a torn tail" 0 stat "$T"
expect_match "stat's recovery reports the torn tail" out "^recovery: +1 records, [0-9]+ bytes, 0 skipped, torn tail yes, last LSN $((lsn2 - 1)), "
expect_out "the record before the torn tail survived" "tv" get "$T" k
expect_rc "the torn record's put is gone" 1 get "$T" k.2

# A record with a valid checksum whose payload does not decode (needs python3 to fix the checksum).
if command -v python3 >/dev/null; then
  D=$TMP/undecodable.db
  expect_rc "create for the undecodable-record test" 0 create "$D"
  expect_rc "crash leaving 2 records" 0 put "$D" k dv --no-sync --repeat 2 --crash-after
  run wal-dump "$D"
  lsn2=$(record_field 2 lsn)
  off2=$(record_field 2 offset)
  # Record: u32 payload bytes, u32 masked CRC32C of [8, 32 + payload), u64 LSN, u64 salt,
  # u64 synced LSN, payload. Payload: varint operation count, then operations; byte 33 is
  # the first operation's type.
  python3 - "$D-wal" "$off2" <<'PY'
import struct, sys
path, off = sys.argv[1], int(sys.argv[2])
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff
with open(path, 'r+b') as f:
    f.seek(off)
    rec = bytearray(f.read(32))
    n = struct.unpack_from('<I', rec, 0)[0]
    f.seek(off)
    rec = bytearray(f.read(32 + n))
    rec[33] = 0x7f  # an operation type that does not exist
    c = crc32c(bytes(rec[8:]))
    masked = (((c >> 15) | (c << 17)) + 0xa282ead8) & 0xffffffff
    struct.pack_into('<I', rec, 4, masked)
    f.seek(off)
    f.write(rec)
PY
  expect_rc "wal-dump of an undecodable record exits 2" 2 wal-dump "$D"
  expect_match "wal-dump names its LSN and offset" err "LSN $lsn2 at offset $off2 has a valid checksum but does not decode: .*unknown operation"
  expect_rc "get on an undecodable record exits 1" 1 get "$D" k
  expect_match "get names its LSN and offset" err "LSN $lsn2 offset $off2"
fi

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
