#!/usr/bin/env bash
# benches/scheme/run.sh: runs the Scheme benchmarks under marrow (release
# build), Guile 3 (auto-compiled, cache warmed first) and Chez Scheme, and
# binary-trees and gcbench under Lua 5.4 and Python 3, side by side in one run; checks
# that marrow and chez print identical output; prints a markdown table of
# wall times (/usr/bin/time), ratios to marrow, and marrow's GC share.
# Usage: benches/scheme/run.sh [DEPTH]   (binary-trees depth, default 17)
set -u
cd "$(dirname "$0")/../.."
DEPTH=${1:-17}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-interp}
cargo build --release -q -p marrow-interp || exit 1
MARROW=$CARGO_TARGET_DIR/release/marrow
P=benches/peers
CHEZ=$(command -v chezscheme || command -v scheme || true)
GUILE=$(command -v guile || true)
LUA=$(command -v lua5.4 || true)
PY=$(command -v python3 || true)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# time_of CMD...: prints wall seconds, output in $TMP/out
time_of() {
  /usr/bin/time -f "%e" -o "$TMP/t" "$@" >"$TMP/out" 2>"$TMP/err" || { echo "fail"; return; }
  cat "$TMP/t"
}

progs=("binary-trees:$P/binary-trees/binary-trees.scm:$DEPTH" "gcbench:$P/gcbench/gcbench.scm:"
       "tak:$P/scheme/tak.scm:" "fib:$P/scheme/fib.scm:" "nqueens:$P/scheme/nqueens.scm:" "deriv:$P/scheme/deriv.scm:")

echo "| program | marrow (s) | marrow GC share | guile (s) | chez (s) | lua 5.4 (s) | python 3 (s) | output = chez |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "${progs[@]}"; do
  IFS=: read -r name file arg <<<"$spec"
  m=$(time_of "$MARROW" --stats "$file" $arg)
  cp "$TMP/out" "$TMP/marrow.out"
  gc=$(grep -o '([0-9.]*% of run time)' "$TMP/err" | tr -d '()' | awk '{print $1}')
  g="-"; c="-"; l="-"; py="-"; same="-"
  if [ -n "$GUILE" ]; then
    "$GUILE" "$file" $arg >/dev/null 2>&1   # warm the auto-compilation cache
    g=$(time_of "$GUILE" "$file" $arg)
  fi
  if [ -n "$CHEZ" ]; then
    c=$(time_of "$CHEZ" --script "$file" $arg)
    if cmp -s "$TMP/out" "$TMP/marrow.out"; then same=yes; else same=NO; fi
  fi
  if [ "$name" = binary-trees ]; then
    [ -n "$LUA" ] && l=$(time_of "$LUA" $P/binary-trees/binary_trees.lua "$DEPTH")
    [ -n "$PY" ] && py=$(time_of "$PY" $P/binary-trees/binary_trees.py "$DEPTH")
  elif [ "$name" = gcbench ]; then
    [ -n "$LUA" ] && l=$(time_of "$LUA" $P/gcbench/gcbench.lua)
    [ -n "$PY" ] && py=$(time_of "$PY" $P/gcbench/gcbench.py)
  fi
  ratio() { case "$1" in -|fail) echo "$1";; *) awk -v a="$1" -v m="$m" 'BEGIN{ if (m>0) printf "%s (%.2fx)", a, a/m; else print a }';; esac; }
  echo "| $name | $m | ${gc:-?} | $(ratio "$g") | $(ratio "$c") | $(ratio "$l") | $(ratio "$py") | $same |"
done
echo
echo "Ratios are peer time / marrow time (above 1: marrow is faster)."
