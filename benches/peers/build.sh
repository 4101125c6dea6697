#!/usr/bin/env bash
# build.sh: builds Marrow's compiled peer benchmarks (Go, C on Boehm GC,
# C on malloc/free) into one directory, and the parallel Go binary-trees
# (binary_trees_par_go) used by benches/compare-threads.sh.
# Usage: benches/peers/build.sh [OUT_DIR]      (default /tmp/marrow-peers)
# Needs: go, gcc, and the Boehm GC headers/library (Debian: golang-go, gcc,
# libgc-dev). Fails with a clear message if one is missing.
# Environment: CC (default gcc), CFLAGS (default -O2).
set -euo pipefail

OUT=${1:-/tmp/marrow-peers}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--O2}

die() {
    echo "build.sh: error: $*" >&2
    exit 1
}

command -v go >/dev/null 2>&1 ||
    die "'go' not found in PATH; install Go (Debian/Ubuntu: apt-get install golang-go)"
command -v "$CC" >/dev/null 2>&1 ||
    die "'$CC' not found in PATH; install a C compiler (Debian/Ubuntu: apt-get install gcc)"

mkdir -p "$OUT" || die "cannot create output directory '$OUT'"
OUT=$(cd "$OUT" && pwd)

# Boehm GC: header and library must both be usable.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '#include <gc.h>\nint main(void){GC_INIT();return GC_MALLOC(8)==0;}\n' >"$probe_dir/probe.c"
if ! "$CC" -E "$probe_dir/probe.c" -o /dev/null 2>/dev/null; then
    die "gc.h (Boehm-Demers-Weiser GC header) not found; install it (Debian/Ubuntu: apt-get install libgc-dev)"
fi
if ! "$CC" "$probe_dir/probe.c" -o "$probe_dir/probe" -lgc 2>/dev/null; then
    die "cannot link with -lgc (Boehm GC library); install it (Debian/Ubuntu: apt-get install libgc-dev)"
fi

# Go: build single files from the standard library only; never fetch a
# toolchain, never pick up a go.work from a parent directory.
export GOTOOLCHAIN=local GOWORK=off
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
    export GOCACHE="$OUT/.gocache"
fi

run() {
    echo "+ $*"
    "$@" || die "command failed: $*"
}

cd "$HERE/binary-trees"
run go build -o "$OUT/binary_trees_go" binary_trees.go
run go build -o "$OUT/binary_trees_par_go" binary_trees_par.go
# shellcheck disable=SC2086
run "$CC" $CFLAGS -o "$OUT/binary_trees_boehm" binary_trees_boehm.c -lgc
# shellcheck disable=SC2086
run "$CC" $CFLAGS -o "$OUT/binary_trees_malloc" binary_trees_malloc.c

cd "$HERE/gcbench"
run go build -o "$OUT/gcbench_go" gcbench.go
# shellcheck disable=SC2086
run "$CC" $CFLAGS -o "$OUT/gcbench_boehm" gcbench_boehm.c -lgc
# shellcheck disable=SC2086
run "$CC" $CFLAGS -o "$OUT/gcbench_malloc" gcbench_malloc.c

echo "build.sh: built 7 programs in $OUT"
