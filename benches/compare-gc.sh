#!/usr/bin/env bash
# compare-gc.sh: runs binary-trees and gcbench on the Marrow heap beside the
# same programs in Go (GOMAXPROCS=1), C on the Boehm collector and C with
# malloc/free, in one run, all single-threaded (Marrow in stop-the-world
# mode on one marking thread; benches/compare-threads.sh covers threads),
# and prints a markdown table (wall time, peak RSS, GC count, ratio to Go
# and to Boehm). Every output is checked against benches/peers/expected/.
#
# Usage: benches/compare-gc.sh [DEPTH] [RUNS]   (defaults: 21, 1)
#        WRITE_DOC=1 benches/compare-gc.sh 21   also writes the table into
#        docs/benchmarks.md (between the compare-gc markers).
# Needs: go, gcc, libgc-dev, GNU time (apt-get install golang-go libgc-dev time).
set -euo pipefail
DEPTH=${1:-21}
RUNS=${2:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PEERS_DIR:-/tmp/marrow-peers}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "compare-gc.sh: GNU time not found (apt-get install time)" >&2; exit 1; }

"$ROOT/benches/peers/build.sh" "$OUT" >/dev/null
(cd "$ROOT" && cargo build --release -q -p marrow-suite --bin binary-trees --bin gcbench)
MARROW="$ROOT/target/release"

# median: the median of its arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run NAME EXPECTED CMD...: prints "seconds kb min_kb max_kb gcs" (median
# wall time and median, lowest and highest peak RSS of RUNS runs).
run() {
    local name=$1 expected=$2
    shift 2
    local times=() kbs=() gcs="-"
    for _ in $(seq "$RUNS"); do
        local log
        log=$(mktemp)
        "$TIME" -f '%e %M' -o "$log.time" "$@" >"$log.out" 2>"$log.err" || {
            echo "compare-gc.sh: $name failed:" >&2
            cat "$log.err" >&2
            exit 1
        }
        if ! cmp -s "$log.out" "$expected"; then
            echo "compare-gc.sh: $name printed the wrong output" >&2
            diff "$log.out" "$expected" | head >&2
            exit 1
        fi
        read -r secs mem <"$log.time"
        times+=("$secs")
        kbs+=("$mem")
        case $name in
        marrow*) gcs=$(grep -o '[0-9]* GCs' "$log.err" | grep -o '[0-9]*' || echo -) ;;
        go*) gcs=$(grep -c '^gc [0-9]' "$log.err" || true) ;;
        boehm*) gcs=$(grep -c 'Collection [0-9]* reclaimed\|^--> Marking for collection' "$log.err" || true) ;;
        esac
        rm -f "$log" "$log.out" "$log.err" "$log.time"
    done
    local lo hi
    lo=$(printf '%s\n' "${kbs[@]}" | sort -n | head -1)
    hi=$(printf '%s\n' "${kbs[@]}" | sort -n | tail -1)
    echo "$(median "${times[@]}") $(median "${kbs[@]}") $lo $hi $gcs"
}

bt_expected=$(mktemp)
"$ROOT/benches/peers/binary-trees-expected.sh" "$DEPTH" >"$bt_expected"
gc_expected="$ROOT/benches/peers/expected/gcbench.txt"

declare -A R
# Single-threaded on every side: Marrow marks stop-the-world on one thread
# (no helper or background worker), Go runs with GOMAXPROCS=1.
export MARROW_GCMODE=stw MARROW_GCWORKERS=1
R[bt_marrow]=$(run marrow-bt "$bt_expected" "$MARROW/binary-trees" --stats "$DEPTH")
R[bt_go]=$(GOMAXPROCS=1 GODEBUG=gctrace=1 run go-bt "$bt_expected" "$OUT/binary_trees_go" "$DEPTH")
R[bt_boehm]=$(GC_PRINT_STATS=1 run boehm-bt "$bt_expected" "$OUT/binary_trees_boehm" "$DEPTH")
R[bt_malloc]=$(run malloc-bt "$bt_expected" "$OUT/binary_trees_malloc" "$DEPTH")
R[gb_marrow]=$(run marrow-gb "$gc_expected" "$MARROW/gcbench" --stats)
R[gb_go]=$(GOMAXPROCS=1 GODEBUG=gctrace=1 run go-gb "$gc_expected" "$OUT/gcbench_go")
R[gb_boehm]=$(GC_PRINT_STATS=1 run boehm-gb "$gc_expected" "$OUT/gcbench_boehm")
R[gb_malloc]=$(run malloc-gb "$gc_expected" "$OUT/gcbench_malloc")
rm -f "$bt_expected"

row() { # row LABEL KEY PREFIX
    local label=$1 key=$2 p=$3
    read -r s kb lo hi g <<<"${R[$key]}"
    read -r sgo kgo _ _ _ <<<"${R[${p}_go]}"
    read -r sbo _ _ _ _ <<<"${R[${p}_boehm]}"
    awk -v l="$label" -v s="$s" -v kb="$kb" -v lo="$lo" -v hi="$hi" -v g="$g" -v go="$sgo" -v kgo="$kgo" -v bo="$sbo" \
        'BEGIN { printf "| %s | %.2f | %d (%d-%d) | %s | %.2f | %.2f | %.2f |\n", l, s, kb/1024, lo/1024, hi/1024, g, s/go, kb/kgo, s/bo }'
}

table() {
    echo "binary-trees $DEPTH and gcbench, median of $RUNS run(s) (peak RSS: median, lowest-highest), $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores:"
    echo
    echo "| program | wall s | peak RSS MiB | GCs | time vs Go | RSS vs Go | time vs Boehm |"
    echo "|---|---|---|---|---|---|---|"
    for impl in marrow go boehm malloc; do row "binary-trees $DEPTH, $impl" "bt_$impl" bt; done
    for impl in marrow go boehm malloc; do row "gcbench, $impl" "gb_$impl" gb; done
}
TABLE=$(table)
echo "$TABLE"

# With WRITE_DOC=1, the table replaces the one between the compare-gc
# markers in docs/benchmarks.md.
if [ "${WRITE_DOC:-0}" = 1 ]; then
    TABLE="$TABLE" python3 - "$ROOT/docs/benchmarks.md" <<'PY'
import os, sys
path = sys.argv[1]
text = open(path).read()
begin, end = "<!-- compare-gc:begin -->", "<!-- compare-gc:end -->"
i, j = text.index(begin) + len(begin), text.index(end)
open(path, "w").write(text[:i] + "\n" + os.environ["TABLE"] + "\n" + text[j:])
PY
    echo "compare-gc.sh: table written to docs/benchmarks.md"
fi
