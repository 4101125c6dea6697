#!/usr/bin/env bash
# compare-threads.sh: Marrow with more than one thread and with concurrent
# marking, side by side in one run, printed as markdown tables:
#  1. binary-trees DEPTH on THREADS threads (--threads): Marrow in
#     stop-the-world mode, Marrow in concurrent mode, and Go's parallel
#     version (benches/peers/binary-trees/binary_trees_par.go) with
#     GOMAXPROCS=THREADS;
#  2. gcbench (single-threaded): Marrow stop-the-world, Marrow concurrent, and
#     Go with GOMAXPROCS=2 (so Go's concurrent collector can use the second
#     core);
#  3. pauses (benches/programs/pauses.rs): a live heap of LIVE_MIB MiB kept
#     changing for PAUSE_SECS s, in concurrent mode and, for contrast, in
#     stop-the-world mode: stop-the-world pauses, time to safepoint, and the
#     mutator's own latencies.
# Columns: wall time, peak RSS (GNU time), GC count, longest stop-the-world
# pause, and wall-time ratios to Marrow stop-the-world and to Go. Every
# binary-trees and gcbench output is checked against benches/peers/expected/
# (binary-trees depths without a file there: against the closed form). Every
# run has a time limit (TIMEOUT s): a crash, a hang or a wrong output is
# reported in the table (FAIL / HANG / WRONG, details on stderr), the other
# runs go on, and the script exits 1 at the end.
#
# Usage: benches/compare-threads.sh
#        DEPTH=16 LIVE_MIB=128 PAUSE_SECS=3 benches/compare-threads.sh   (quick)
#        WRITE_DOC=1 benches/compare-threads.sh   also writes the tables into
#        docs/benchmarks.md (between the compare-threads markers).
# Environment: DEPTH (21), THREADS (2), LIVE_MIB (1024), PAUSE_SECS (20),
# TIMEOUT (600), PEERS_DIR (/tmp/marrow-peers), CARGO_TARGET_DIR.
# Needs: go, gcc, libgc-dev, GNU time, coreutils timeout.
set -euo pipefail
DEPTH=${DEPTH:-21}
THREADS=${THREADS:-2}
LIVE_MIB=${LIVE_MIB:-1024}
PAUSE_SECS=${PAUSE_SECS:-20}
TIMEOUT=${TIMEOUT:-600}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PEERS_DIR:-/tmp/marrow-peers}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "compare-threads.sh: GNU time not found (apt-get install time)" >&2; exit 1; }
command -v timeout >/dev/null || { echo "compare-threads.sh: timeout (coreutils) not found" >&2; exit 1; }

"$ROOT/benches/peers/build.sh" "$OUT" >/dev/null
(cd "$ROOT" && cargo build --release -q -p marrow-suite --bin binary-trees --bin gcbench --bin pauses)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
MARROW="$TARGET/release"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# run NAME EXPECTED CMD...: runs CMD under GNU time and the time limit,
# checks stdout against EXPECTED (none: not checked) and prints
# "seconds kb gcs max_pause_ms" or "FAIL|HANG|WRONG - - -". stdout and
# stderr stay in $tmp/NAME.out and $tmp/NAME.err.
run() {
    local name=$1 expected=$2
    shift 2
    local rc=0
    "$TIME" -f '%e %M' -o "$tmp/$name.time" timeout -k 10 "$TIMEOUT" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "compare-threads.sh: $name did not finish within $TIMEOUT s (hang?): $*" >&2
        tail -5 "$tmp/$name.err" >&2
        echo "HANG - - -"
        return 1
    elif [ "$rc" != 0 ]; then
        echo "compare-threads.sh: $name failed (exit $rc): $*" >&2
        grep -v '^gc [0-9]' "$tmp/$name.err" | tail -20 >&2
        echo "FAIL - - -"
        return 1
    fi
    if [ "$expected" != none ] && ! cmp -s "$tmp/$name.out" "$expected"; then
        echo "compare-threads.sh: $name printed the wrong output: $*" >&2
        diff "$tmp/$name.out" "$expected" | head >&2
        echo "WRONG - - -"
        return 1
    fi
    local secs kb gcs pause
    read -r secs kb <"$tmp/$name.time"
    case $name in
    marrow*)
        gcs=$(grep -o '[0-9]* GCs' "$tmp/$name.err" | grep -o '[0-9]*' || echo -)
        # binary-trees --stats prints the longest pause of the run (all
        # stops, from Gc::recent_pauses); otherwise the gctrace lines
        # ("gc N @Ts P%: START+END ms pause").
        pause=$(grep -o 'max pause [0-9.]* ms' "$tmp/$name.err" | grep -o '[0-9.]*' || true)
        if [ -z "$pause" ]; then
            pause=$(sed -n 's/^gc [0-9]* @[0-9.]*s [0-9]*%: \([0-9.]*\)+\([0-9.]*\) ms pause.*/\1 \2/p' "$tmp/$name.err" |
                awk '{ for (i = 1; i <= NF; i++) if ($i > m) m = $i } END { printf "%.3f", m }')
        fi
        ;;
    go*)
        # "gc N @Ts P%: A+B+C ms clock": A (sweep termination) and C (mark
        # termination) are the stop-the-world phases.
        gcs=$(grep -c '^gc [0-9]' "$tmp/$name.err" || true)
        pause=$(sed -n 's/^gc [0-9]* @[0-9.]*s [0-9]*%: \([0-9.]*\)+[0-9.]*+\([0-9.]*\) ms clock.*/\1 \2/p' "$tmp/$name.err" |
            awk '{ for (i = 1; i <= NF; i++) if ($i > m) m = $i } END { printf "%.3f", m }')
        ;;
    *) gcs=- pause=- ;;
    esac
    echo "$secs $kb $gcs ${pause:--}"
}

bt_expected="$tmp/bt.expected"
"$ROOT/benches/peers/binary-trees-expected.sh" "$DEPTH" >"$bt_expected"
gc_expected="$ROOT/benches/peers/expected/gcbench.txt"
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A R
R[bt_stw]=$(MARROW_GCMODE=stw run marrow-bt-stw "$bt_expected" \
    "$MARROW/binary-trees" --stats --threads "$THREADS" "$DEPTH") || failed=1
R[bt_conc]=$(MARROW_GCMODE=concurrent run marrow-bt-conc "$bt_expected" \
    "$MARROW/binary-trees" --stats --threads "$THREADS" "$DEPTH") || failed=1
R[bt_go]=$(GOMAXPROCS=$THREADS GODEBUG=gctrace=1 run go-bt "$bt_expected" \
    "$OUT/binary_trees_par_go" -threads "$THREADS" "$DEPTH") || failed=1
R[gb_stw]=$(MARROW_GCMODE=stw MARROW_GCTRACE=1 run marrow-gb-stw "$gc_expected" "$MARROW/gcbench" --stats) || failed=1
R[gb_conc]=$(MARROW_GCMODE=concurrent MARROW_GCTRACE=1 run marrow-gb-conc "$gc_expected" "$MARROW/gcbench" --stats) ||
    failed=1
R[gb_go]=$(GOMAXPROCS=2 GODEBUG=gctrace=1 run go-gb "$gc_expected" "$OUT/gcbench_go") || failed=1
R[pa_conc]=$(MARROW_GCMODE=concurrent run pauses-conc none \
    "$MARROW/pauses" --live-mib "$LIVE_MIB" --secs "$PAUSE_SECS" --quiet) || failed=1
R[pa_stw]=$(MARROW_GCMODE=stw run pauses-stw none \
    "$MARROW/pauses" --live-mib "$LIVE_MIB" --secs "$PAUSE_SECS" --quiet) || failed=1
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

row() { # row LABEL KEY PREFIX
    local label=$1 key=$2 p=$3
    local s kb g pause sstw sgo
    read -r s kb g pause <<<"${R[$key]}"
    read -r sstw _ _ _ <<<"${R[${p}_stw]}"
    read -r sgo _ _ _ <<<"${R[${p}_go]}"
    awk -v l="$label" -v s="$s" -v kb="$kb" -v g="$g" -v pa="$pause" -v stw="$sstw" -v go="$sgo" '
        function num(x) { return x ~ /^[0-9.]+$/ }
        function ratio(a, b) { return (num(a) && num(b) && b > 0) ? sprintf("%.2f", a / b) : "-" }
        BEGIN {
            if (!num(s)) { printf "| %s | %s | - | - | - | - | - |\n", l, s; exit }
            printf "| %s | %.2f | %d | %s | %s | %s | %s |\n", l, s, kb / 1024, g, pa, ratio(s, stw), ratio(s, go)
        }'
}

# pause_row LABEL NAME KEY: the summary line of a pauses run.
pause_row() {
    local label=$1 name=$2 key=$3
    read -r s kb _ _ <<<"${R[$key]}"
    if ! [[ $s =~ ^[0-9.]+$ ]]; then
        echo "| $label | $s | - | - | - | - | - | - | - | - | - |"
        return
    fi
    local line
    line=$(grep '^pauses:' "$tmp/$name.out" | tail -1)
    # field PATTERN: the number after PATTERN in the summary line.
    field() { sed -n "s/.*$1 \\([0-9.]*\\).*/\\1/p" <<<"$line"; }
    local cycles ops
    cycles=$(sed -n 's/.*, \([0-9]*\) cycles,.*/\1/p' <<<"$line")
    ops=$(sed -n 's/.*mutate [0-9.]* s (\([0-9]*\) ops).*/\1/p' <<<"$line")
    local pmax p99 p50 ttsp amax omax
    pmax=$(sed -n 's/.* pauses: max \([0-9.]*\) ms.*/\1/p' <<<"$line")
    p99=$(sed -n 's/.* pauses: max [0-9.]* ms, p99 \([0-9.]*\) ms.*/\1/p' <<<"$line")
    p50=$(sed -n 's/.* pauses: max [0-9.]* ms, p99 [0-9.]* ms, p50 \([0-9.]*\) ms.*/\1/p' <<<"$line")
    ttsp=$(field 'max ttsp')
    amax=$(sed -n 's/.*samples): max \([0-9.]*\) ms.*/\1/p' <<<"$line")
    omax=$(sed -n 's/.*op latency: max \([0-9.]*\) ms.*/\1/p' <<<"$line")
    echo "| $label | $s | $((kb / 1024)) | $cycles | $pmax | $p99 | $p50 | $ttsp | $amax | $omax | $ops |"
}

tables() {
    echo "$(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, load average $LOAD at the start, $LOAD_END at the end; one run each."
    echo
    echo "binary-trees $DEPTH, $THREADS threads (Marrow \`--threads $THREADS\`; Go \`binary_trees_par\` with GOMAXPROCS=$THREADS):"
    echo
    echo "| program | wall s | peak RSS MiB | GCs | max pause ms | vs Marrow STW | vs Go |"
    echo "|---|---|---|---|---|---|---|"
    row "binary-trees $DEPTH, Marrow stop-the-world" bt_stw bt
    row "binary-trees $DEPTH, Marrow concurrent" bt_conc bt
    row "binary-trees $DEPTH, Go GOMAXPROCS=$THREADS" bt_go bt
    echo
    echo "gcbench (one mutator thread; Go with GOMAXPROCS=2):"
    echo
    echo "| program | wall s | peak RSS MiB | GCs | max pause ms | vs Marrow STW | vs Go |"
    echo "|---|---|---|---|---|---|---|"
    row "gcbench, Marrow stop-the-world" gb_stw gb
    row "gcbench, Marrow concurrent" gb_conc gb
    row "gcbench, Go GOMAXPROCS=2" gb_go gb
    echo
    echo "pauses: $LIVE_MIB MiB live, one mutator thread, built then mutated for $PAUSE_SECS s (pauses in ms; alloc max: every 64th allocation timed; op max: the longest replacement of one slot, about 2000 allocations):"
    echo
    echo "| mode | wall s | peak RSS MiB | cycles | max pause | p99 pause | p50 pause | max ttsp | alloc max | op max | ops |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    pause_row "concurrent" pauses-conc pa_conc
    pause_row "stop-the-world" pauses-stw pa_stw
}
TABLES=$(tables)
echo "$TABLES"

# With WRITE_DOC=1, the tables replace what stands between the
# compare-threads markers in docs/benchmarks.md (the section is added at the
# end if the markers are missing).
if [ "${WRITE_DOC:-0}" = 1 ]; then
    TABLES="$TABLES" python3 - "$ROOT/docs/benchmarks.md" <<'PY'
import os, sys
path = sys.argv[1]
text = open(path).read()
begin, end = "<!-- compare-threads:begin -->", "<!-- compare-threads:end -->"
if begin not in text or end not in text:
    text = text.rstrip("\n") + (
        "\n\n## Threads, concurrent marking and pauses\n\n"
        "Command: `WRITE_DOC=1 benches/compare-threads.sh` (quick run: "
        "`DEPTH=16 LIVE_MIB=128 PAUSE_SECS=3 benches/compare-threads.sh`).\n\n"
        + begin + "\n" + end + "\n")
i, j = text.index(begin) + len(begin), text.index(end)
open(path, "w").write(text[:i] + "\n" + os.environ["TABLES"] + "\n" + text[j:])
PY
    echo "compare-threads.sh: tables written to docs/benchmarks.md"
fi
if [ "$failed" != 0 ]; then
    echo "compare-threads.sh: some runs failed, hung or printed the wrong output (see above)" >&2
    exit 1
fi
