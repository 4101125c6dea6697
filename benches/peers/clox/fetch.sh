#!/usr/bin/env bash
# fetch.sh: downloads clox (the C bytecode VM of Robert Nystrom's "Crafting
# Interpreters", MIT licence) and the book's benchmark programs from the
# book's repository. Nothing fetched here is committed to Marrow (see
# .gitignore): clox goes to benches/peers/clox/src/ (c/*.c, c/*.h and the
# repository's LICENSE), the benchmarks to examples/lox/bench/book/.
#
# Usage: benches/peers/clox/fetch.sh [REF]     (default REF=master)
# Needs curl and network access to raw.githubusercontent.com.
set -euo pipefail
REF=${1:-master}
BASE="https://raw.githubusercontent.com/munificent/craftinginterpreters/$REF"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SRC=$HERE/src
BENCH=$ROOT/examples/lox/bench/book

die() { echo "fetch.sh: error: $*" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || die "'curl' not found (Debian/Ubuntu: apt-get install curl)"

get() { # URL DEST
    curl -fsSL --retry 2 -o "$2" "$1" || die "cannot download $1"
}

mkdir -p "$SRC/c" "$BENCH"
for f in chunk common compiler debug memory object scanner table value vm; do
    get "$BASE/c/$f.h" "$SRC/c/$f.h"
done
for f in chunk compiler debug main memory object scanner table value vm; do
    get "$BASE/c/$f.c" "$SRC/c/$f.c"
done
get "$BASE/LICENSE" "$SRC/LICENSE"
for b in binary_trees trees fib method_call properties instantiation equality invocation string_equality zoo; do
    get "$BASE/test/benchmark/$b.lox" "$BENCH/$b.lox"
done
echo "fetched clox into $SRC/c and the benchmarks into $BENCH"
