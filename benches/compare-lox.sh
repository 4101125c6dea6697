#!/usr/bin/env bash
# compare-lox.sh: the book's Lox benchmarks, clox against marrow-lox's `lox`,
# side by side in one run.
#
# Usage: benches/compare-lox.sh [N] [BENCH...]
#   N      runs per program and interpreter (default 5); the median wall time is kept
#   BENCH  benchmark names (default: all of examples/lox/bench/book/*.lox)
# Environment:
#   CLOX   clox binary (default /tmp/marrow-peers/clox; build it with
#          benches/peers/clox/build.sh)
#   LOX    lox binary (default target/release/lox; built here with
#          `cargo build --release -p marrow-lox` unless NO_BUILD=1)
#   MEASURE  wall (default): elapsed seconds; cpu: user + system seconds of
#          the process, all threads (steadier than wall on a loaded machine;
#          lox's collector threads count)
#   Any MARROW_* variable (MARROW_GCMODE, ...) is passed to lox.
#
# For each program: median wall time of clox and of lox over N runs, and
# lox/clox. A lox run counts only if it exits 0 and prints what clox prints
# (lines that are only a decimal number, the programs' own clock()
# timings, are left out of the comparison); otherwise its row says why and
# it has no ratio. Ends with the geometric mean of the ratios over the
# book's seven (binary_trees, trees, fib, method_call, properties,
# instantiation, equality) and over all programs that ran. Targets (issue
# 12): geometric mean <= 1.5, binary_trees and trees <= 1.0.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/examples/lox/bench/book
N=${1:-5}
shift || true
CLOX=${CLOX:-/tmp/marrow-peers/clox}
LOX=${LOX:-$ROOT/target/release/lox}
SEVEN="binary_trees trees fib method_call properties instantiation equality"

die() { echo "compare-lox.sh: error: $*" >&2; exit 1; }
case $N in '' | *[!0-9]*) die "N must be a positive number, not '$N'" ;; esac
[ "$N" -ge 1 ] || die "N must be at least 1"
[ -x "$CLOX" ] || die "no clox at '$CLOX'; run benches/peers/clox/fetch.sh and benches/peers/clox/build.sh (or set CLOX)"
[ -d "$BENCH_DIR" ] || die "no benchmarks in $BENCH_DIR; run benches/peers/clox/fetch.sh"

if [ "${NO_BUILD:-0}" != 1 ] && [ "$LOX" = "$ROOT/target/release/lox" ]; then
    (cd "$ROOT" && cargo build --release -p marrow-lox >&2) || echo "compare-lox.sh: warning: building lox failed" >&2
fi

if [ $# -gt 0 ]; then
    benches=("$@")
else
    benches=()
    for f in "$BENCH_DIR"/*.lox; do benches+=("$(basename "$f" .lox)"); done
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

MEASURE=${MEASURE:-wall}
case $MEASURE in wall | cpu) ;; *) die "MEASURE must be wall or cpu, not '$MEASURE'" ;; esac
command -v /usr/bin/time >/dev/null 2>&1 || [ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian/Ubuntu: apt-get install time)"
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mask() { sed -E 's/^-?[0-9]+\.[0-9]+(e[-+][0-9]+)?$/<time>/' "$1"; }

# time_runs BIN SCRIPT OUTPREFIX -> prints the median seconds, or "fail:REASON"
time_runs() {
    local bin=$1 script=$2 prefix=$3 i code
    : >"$prefix.times"
    for ((i = 0; i < N; i++)); do
        /usr/bin/time -o "$prefix.time" -f '%e %U %S' "$bin" "$script" >"$prefix.out" 2>"$prefix.err"
        code=$?
        if [ $code != 0 ]; then
            echo "fail:exit $code: $(head -c 60 "$prefix.err" | tr '\n' ' ')"
            return
        fi
        if [ "$MEASURE" = cpu ]; then
            awk 'END { print $2 + $3 }' "$prefix.time" >>"$prefix.times"
        else
            awk 'END { print $1 }' "$prefix.time" >>"$prefix.times"
        fi
    done
    median <"$prefix.times"
}

printf '%s\n' "clox: $CLOX" "lox:  $LOX (${MARROW_GCMODE:+MARROW_GCMODE=$MARROW_GCMODE, }N=$N, median $MEASURE seconds)" ""
printf '| %-14s | %9s | %9s | %8s |\n' benchmark clox lox lox/clox
printf '|%s|%s|%s|%s|\n' ---------------- ----------- ----------- ----------
log_all=0
n_all=0
log_seven=0
n_seven=0
for b in "${benches[@]}"; do
    script=$BENCH_DIR/$b.lox
    if [ ! -f "$script" ]; then
        printf '| %-14s | %s |\n' "$b" "no $script"
        continue
    fi
    c=$(time_runs "$CLOX" "$script" "$TMP/clox")
    case $c in fail:*) printf '| %-14s | %s |\n' "$b" "clox failed (${c#fail:})"; continue ;; esac
    if [ ! -x "$LOX" ]; then
        l="fail:no lox binary at $LOX"
    else
        l=$(time_runs "$LOX" "$script" "$TMP/lox")
    fi
    case $l in
        fail:*)
            printf '| %-14s | %9.3f | %9s | %8s |  lox failed: %s\n' "$b" "$c" - - "${l#fail:}"
            continue
            ;;
    esac
    if ! cmp -s <(mask "$TMP/clox.out") <(mask "$TMP/lox.out"); then
        printf '| %-14s | %9.3f | %9.3f | %8s |  lox printed something else than clox\n' "$b" "$c" "$l" -
        continue
    fi
    r=$(echo "$l / $c" | bc -l)
    printf '| %-14s | %9.3f | %9.3f | %8.2f |\n' "$b" "$c" "$l" "$r"
    lr=$(echo "l($r)" | bc -l)
    log_all=$(echo "$log_all + $lr" | bc -l)
    n_all=$((n_all + 1))
    case " $SEVEN " in *" $b "*)
        log_seven=$(echo "$log_seven + $lr" | bc -l)
        n_seven=$((n_seven + 1))
        ;;
    esac
done
echo
if [ $n_seven -gt 0 ]; then
    printf 'geometric mean lox/clox, the book'"'"'s seven (%d of 7 ran): %.2f\n' $n_seven "$(echo "e($log_seven / $n_seven)" | bc -l)"
else
    echo "geometric mean lox/clox, the book's seven: n/a (none ran)"
fi
if [ $n_all -gt 0 ]; then
    printf 'geometric mean lox/clox, all %d that ran: %.2f\n' $n_all "$(echo "e($log_all / $n_all)" | bc -l)"
fi
