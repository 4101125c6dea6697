#!/usr/bin/env bash
# check.sh: verifies that every peer benchmark of Marrow prints the expected
# output: binary-trees (Go, C/Boehm, C/malloc, Lua, Python, Scheme on Guile
# and Chez) against the output computed here with awk, gcbench (Go, C/Boehm,
# C/malloc, Scheme) against expected/gcbench.txt, and the scheme/ programs
# under Guile and Chez against expected/NAME.txt. Interpreters that are not
# installed are reported as SKIP. Builds first with build.sh unless NO_BUILD=1.
# Usage: benches/peers/check.sh [BIN_DIR] [DEPTH]   (defaults /tmp/marrow-peers, 10)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:-/tmp/marrow-peers}
DEPTH=${2:-10}

if [ "${NO_BUILD:-0}" != 1 ]; then
    "$HERE/build.sh" "$BIN" >/dev/null || exit 1
fi

# Chez is installed as `chezscheme` on Debian, `scheme` or `chez` elsewhere.
CHEZ=""
for c in chezscheme chez scheme; do
    if command -v "$c" >/dev/null 2>&1; then CHEZ=$c; break; fi
done
LUA=""
for c in lua5.4 lua; do
    if command -v "$c" >/dev/null 2>&1; then LUA=$c; break; fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
skip=0

# check NAME EXPECTED_FILE TOOL CMD...: runs CMD, compares stdout byte for byte.
check() {
    local name=$1 expected=$2 tool=$3
    shift 3
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP $name ($tool not installed)"
        skip=$((skip + 1))
        return
    fi
    if "$@" >"$tmp/out" 2>"$tmp/err" && cmp -s "$tmp/out" "$expected"; then
        echo "ok   $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name: $*"
        diff "$expected" "$tmp/out" | head -10
        head -5 "$tmp/err"
        fail=$((fail + 1))
    fi
}

# Expected binary-trees output, from the closed form.
"$HERE/binary-trees-expected.sh" "$DEPTH" >"$tmp/bt.expected"

bt=$HERE/binary-trees
check "binary-trees $DEPTH go" "$tmp/bt.expected" env env GOMAXPROCS=1 "$BIN/binary_trees_go" "$DEPTH"
check "binary-trees $DEPTH boehm" "$tmp/bt.expected" "$BIN/binary_trees_boehm" "$BIN/binary_trees_boehm" "$DEPTH"
check "binary-trees $DEPTH malloc" "$tmp/bt.expected" "$BIN/binary_trees_malloc" "$BIN/binary_trees_malloc" "$DEPTH"
check "binary-trees $DEPTH lua" "$tmp/bt.expected" "${LUA:-lua5.4}" "${LUA:-lua5.4}" "$bt/binary_trees.lua" "$DEPTH"
check "binary-trees $DEPTH python" "$tmp/bt.expected" python3 python3 "$bt/binary_trees.py" "$DEPTH"
check "binary-trees $DEPTH guile" "$tmp/bt.expected" guile guile --no-auto-compile "$bt/binary-trees.scm" "$DEPTH"
check "binary-trees $DEPTH chez" "$tmp/bt.expected" "${CHEZ:-chezscheme}" "${CHEZ:-chezscheme}" --script "$bt/binary-trees.scm" "$DEPTH"

gx=$HERE/expected/gcbench.txt
check "gcbench go" "$gx" env env GOMAXPROCS=1 "$BIN/gcbench_go"
check "gcbench boehm" "$gx" "$BIN/gcbench_boehm" "$BIN/gcbench_boehm"
check "gcbench malloc" "$gx" "$BIN/gcbench_malloc" "$BIN/gcbench_malloc"
check "gcbench guile" "$gx" guile guile --no-auto-compile "$HERE/gcbench/gcbench.scm"
check "gcbench chez" "$gx" "${CHEZ:-chezscheme}" "${CHEZ:-chezscheme}" --script "$HERE/gcbench/gcbench.scm"

for p in fib tak nqueens deriv; do
    check "$p guile" "$HERE/expected/$p.txt" guile guile --no-auto-compile "$HERE/scheme/$p.scm"
    check "$p chez" "$HERE/expected/$p.txt" "${CHEZ:-chezscheme}" "${CHEZ:-chezscheme}" --script "$HERE/scheme/$p.scm"
done

echo "peers: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
