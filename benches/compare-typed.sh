#!/usr/bin/env bash
# compare-typed.sh: what the typed embedding API costs. Runs binary-trees
# and gcbench on the raw API (shadow stack, unsafe stores) beside the same
# programs on the typed API (binary-trees-typed, gcbench-typed: no unsafe),
# interleaved in one run, Marrow stop-the-world on one marking thread, and
# prints a markdown table: median wall time and peak RSS of RUNS runs, and
# the typed/raw ratios. Outputs are compared between the two versions.
# With CALLGRIND=1 it also counts instructions (stable on noisy machines)
# at a smaller depth (binary-trees 16, gcbench).
#
# Usage: benches/compare-typed.sh [DEPTH] [RUNS]   (defaults: 21, 3)
#        WRITE_DOC=1 ... also writes the table into docs/benchmarks.md
#        (between the compare-typed markers).
# Needs: GNU time (apt-get install time); valgrind for CALLGRIND=1.
set -euo pipefail
DEPTH=${1:-21}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "compare-typed.sh: GNU time not found (apt-get install time)" >&2; exit 1; }
(cd "$ROOT" && cargo build --release -q -p marrow-suite \
    --bin binary-trees --bin binary-trees-typed --bin gcbench --bin gcbench-typed)
BIN="$ROOT/target/release"
export MARROW_GCMODE=stw MARROW_GCWORKERS=1

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# measure PROGRAM ARGS...: runs the raw and typed versions RUNS times,
# alternating, and prints a table row.
measure() {
    local prog=$1
    shift
    local rt=() rk=() tt=() tk=()
    for _ in $(seq "$RUNS"); do
        for v in raw typed; do
            local bin=$prog
            [ $v = typed ] && bin=$prog-typed
            "$TIME" -f '%e %M' -o "$TMP/time" "$BIN/$bin" "$@" >"$TMP/$v.out" 2>/dev/null
            read -r secs kb <"$TMP/time"
            if [ $v = raw ]; then rt+=("$secs"); rk+=("$kb"); else tt+=("$secs"); tk+=("$kb"); fi
        done
        cmp -s "$TMP/raw.out" "$TMP/typed.out" || {
            echo "compare-typed.sh: $prog and $prog-typed printed different output" >&2
            exit 1
        }
    done
    local a b c d
    a=$(median "${rt[@]}") b=$(median "${tt[@]}") c=$(median "${rk[@]}") d=$(median "${tk[@]}")
    echo "| ${prog}${*:+ $*} | $a s | $b s | **$(ratio "$b" "$a")** | $((c / 1024)) MiB | $((d / 1024)) MiB | $(ratio "$d" "$c") |"
}

# instructions PROGRAM ARGS...: callgrind's instruction counts, raw and typed.
instructions() {
    local prog=$1 r t
    shift
    r=$(valgrind --tool=callgrind --callgrind-out-file="$TMP/cg" "$BIN/$prog" "$@" 2>&1 >/dev/null | grep -o 'refs: *[0-9,]*' | tr -dc 0-9)
    t=$(valgrind --tool=callgrind --callgrind-out-file="$TMP/cg" "$BIN/$prog-typed" "$@" 2>&1 >/dev/null | grep -o 'refs: *[0-9,]*' | tr -dc 0-9)
    echo "| ${prog}${*:+ $*} (instructions) | $(ratio "$r" 1e9) G | $(ratio "$t" 1e9) G | **$(ratio "$t" "$r")** | | | |"
}

TABLE=$(
    echo "| program | raw API | typed API | typed / raw | raw peak RSS | typed peak RSS | typed / raw |"
    echo "|---|---|---|---|---|---|---|"
    measure binary-trees "$DEPTH"
    measure gcbench
    if [ "${CALLGRIND:-0}" = 1 ]; then
        instructions binary-trees 16
        instructions gcbench
    fi
)
echo "$TABLE"
if [ "${WRITE_DOC:-0}" = 1 ]; then
    DOC="$ROOT/docs/benchmarks.md"
    {
        echo "<!-- compare-typed: begin (benches/compare-typed.sh $DEPTH $RUNS, $(date -u +%Y-%m-%d)) -->"
        echo "$TABLE"
        echo "<!-- compare-typed: end -->"
    } >"$TMP/table"
    if grep -q '<!-- compare-typed: begin' "$DOC"; then
        awk -v f="$TMP/table" '
            /<!-- compare-typed: begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
            /<!-- compare-typed: end/ { skip = 0; next }
            !skip' "$DOC" >"$TMP/doc" && cp "$TMP/doc" "$DOC"
    else
        { echo; cat "$TMP/table"; } >>"$DOC"
    fi
fi
