#!/usr/bin/env bash
# Install test: installs a finished build into a temporary prefix and checks that a user can
# consume it the three documented ways:
#   1. CMake: examples/consumer, find_package(manifold) + target manifold::manifold;
#   2. pkg-config: a one-file program compiled with `pkg-config --cflags --libs manifold`;
#   3. the CLI: <prefix>/bin/manifold --help.
# Usage: tests/install_test.sh [BUILD_DIR [SOURCE_DIR]]   (defaults: build/release, the repo root)
# Registered with ctest (label `install`) by examples/CMakeLists.txt; also run by ci/test.sh.
set -euo pipefail

SOURCE_DIR=${2:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD_DIR=${1:-$SOURCE_DIR/build/release}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
SOURCE_DIR=$(cd "$SOURCE_DIR" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/manifold-install-test.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
PREFIX=$WORK/prefix

step() { printf '\n-- install test: %s\n' "$*"; }
fail() { echo "install test FAILED: $*" >&2; exit 1; }

# Use the compiler the build used, so the consumer links against a compatible library.
CXX_USED=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" | head -n 1)
CXX_USED=${CXX_USED:-c++}

step "cmake --install $BUILD_DIR --prefix $PREFIX"
cmake --install "$BUILD_DIR" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 || {
  cat "$WORK/install.log"; fail "cmake --install"; }

for f in include/manifold/manifold.h include/manifold/db.h include/manifold/status.h \
         include/manifold/storage.h; do
  [[ -f "$PREFIX/$f" ]] || fail "missing $PREFIX/$f"
done
config=$(find "$PREFIX" -path '*/cmake/manifold/manifoldConfig.cmake' | head -n 1)
[[ -n "$config" ]] || fail "no manifoldConfig.cmake under $PREFIX"
pcfile=$(find "$PREFIX" -name manifold.pc | head -n 1)
[[ -n "$pcfile" ]] || fail "no manifold.pc under $PREFIX"
lib=$(find "$PREFIX" \( -name 'libmanifold.a' -o -name 'libmanifold.so' \) | head -n 1)
[[ -n "$lib" ]] || fail "no libmanifold under $PREFIX"
echo "installed: $(cd "$PREFIX" && find . -type f | sort | tr '\n' ' ')"
if grep -rlE '#include "(util|pager|btree|storage|wal|txn|db)/' "$PREFIX/include"; then
  fail "an installed public header includes an internal header (above)"
fi

step "CMake consumer (examples/consumer, find_package(manifold))"
cmake -S "$SOURCE_DIR/examples/consumer" -B "$WORK/consumer-build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$CXX_USED" \
  -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/consumer-configure.log" 2>&1 || {
  cat "$WORK/consumer-configure.log"; fail "configuring examples/consumer"; }
cmake --build "$WORK/consumer-build" || fail "building examples/consumer"
"$WORK/consumer-build/manifold_consumer" "$WORK/consumer.manifold" || fail "running manifold_consumer"

step "pkg-config consumer"
PKG_CONFIG_PATH=$(dirname "$pcfile")
export PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs manifold) || fail "pkg-config --cflags --libs manifold"
echo "pkg-config --cflags --libs manifold: $flags"
case " $flags " in
  *" -I$PREFIX/"*) ;;
  *) fail "manifold.pc does not point into the install prefix $PREFIX (is its prefix relocatable?): $flags" ;;
esac
cat >"$WORK/pc_consumer.cc" <<'CC'
#include <manifold/manifold.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto db = manifold::Database::Open(argv[1]);
  if (!db.ok()) { std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str()); return 1; }
  auto txn = (*db)->BeginWrite();
  if (!txn.ok()) { std::fprintf(stderr, "begin: %s\n", txn.status().ToString().c_str()); return 1; }
  auto table = txn->OpenOrCreateTable("t");
  if (!table.ok()) { std::fprintf(stderr, "table: %s\n", table.status().ToString().c_str()); return 1; }
  manifold::Status s = table->Put("hello", "world");
  if (s.ok()) s = txn->Commit();
  if (s.ok()) s = (*db)->Close();
  if (!s.ok()) { std::fprintf(stderr, "%s\n", s.ToString().c_str()); return 1; }
  std::printf("pkg-config consumer ok\n");
  return 0;
}
CC
# shellcheck disable=SC2086  # $flags is a list of words on purpose
"$CXX_USED" -std=c++20 -Wall -Wextra -o "$WORK/pc_consumer" "$WORK/pc_consumer.cc" $flags ||
  fail "compiling with pkg-config flags"
"$WORK/pc_consumer" "$WORK/pc.manifold" || fail "running the pkg-config consumer"

step "installed CLI: $PREFIX/bin/manifold --help"
[[ -x "$PREFIX/bin/manifold" ]] || fail "$PREFIX/bin/manifold not installed"
"$PREFIX/bin/manifold" --help >"$WORK/help.txt" 2>&1 || { cat "$WORK/help.txt"; fail "manifold --help exited non-zero"; }
head -n 5 "$WORK/help.txt"

echo
echo "install test: PASS"
