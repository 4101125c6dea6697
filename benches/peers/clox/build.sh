#!/usr/bin/env bash
# build.sh: builds clox, the peer of marrow-lox, from the book's C sources.
#
# Usage: benches/peers/clox/build.sh [OUT_DIR]    (default /tmp/marrow-peers)
#
# Produces OUT_DIR/clox, built as the book builds its release binary:
#   cc -O3 -o clox c/*.c
# with the sources' own settings: common.h defines NAN_BOXING (on, as in the
# book's final version) and #undefs every DEBUG_* flag. Also produces
# OUT_DIR/clox-dis, the same sources with DEBUG_PRINT_CODE left on (it
# prints each function's bytecode when compiled, then runs the script), used
# by examples/lox/tests/bless-disasm-with-clox.sh.
#
# Sources: benches/peers/clox/src/c/*.{c,h} as fetch.sh downloads them, or a
# single-file copy src/clox.c (all of c/ in one translation unit, DEBUG code
# under #ifdef). Neither is committed to Marrow.
# Environment: CC (default cc).
set -euo pipefail
OUT=${1:-/tmp/marrow-peers}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CC=${CC:-cc}
die() { echo "build.sh: error: $*" >&2; exit 1; }
command -v "$CC" >/dev/null 2>&1 || die "'$CC' not found; install a C compiler (Debian/Ubuntu: apt-get install gcc)"
mkdir -p "$OUT" || die "cannot create '$OUT'"
run() { echo "+ $*"; "$@" || die "command failed: $*"; }

if [ -d "$HERE/src/c" ]; then
    run "$CC" -O3 -o "$OUT/clox" "$HERE"/src/c/*.c
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp "$HERE"/src/c/*.c "$HERE"/src/c/*.h "$tmp/"
    # common.h defines DEBUG_PRINT_CODE, then #undefs it in its "omit" block.
    sed -i '/^#undef DEBUG_PRINT_CODE/d' "$tmp/common.h"
    run "$CC" -O2 -o "$OUT/clox-dis" "$tmp"/*.c
elif [ -f "$HERE/src/clox.c" ]; then
    run "$CC" -O3 -o "$OUT/clox" "$HERE/src/clox.c"
    run "$CC" -O2 -DDEBUG_PRINT_CODE -o "$OUT/clox-dis" "$HERE/src/clox.c"
else
    die "no clox sources in $HERE/src; run benches/peers/clox/fetch.sh first"
fi
printf 'print 1 + 2;\n' >"$OUT/.clox-smoke.lox"
[ "$("$OUT/clox" "$OUT/.clox-smoke.lox")" = 3 ] || die "the built clox does not run"
rm -f "$OUT/.clox-smoke.lox"
echo "built $OUT/clox and $OUT/clox-dis"
