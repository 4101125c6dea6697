#!/bin/sh
# Runs each cargo-fuzz target of the interpreter for a bounded time.
#
#   interp/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default: 60 s each for reader, compile and program (the short run of
# .ci/run); a longer run is e.g. `interp/fuzz/run.sh 3600`. Needs
# `cargo install cargo-fuzz`; runs on stable Rust through RUSTC_BOOTSTRAP=1,
# with AddressSanitizer (cargo-fuzz's default) and at nice 10. Seeds are
# the test corpus (interp/tests/corpus/*.scm); what the fuzzer learns is
# kept in interp/fuzz/corpus/TARGET (not committed), crashes in
# interp/fuzz/artifacts/TARGET. Exit status 1 if any target crashed.
set -eu
cd "$(dirname "$0")"
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-reader compile program}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/reader" "$seeds/compile" "$seeds/program"
for f in ../tests/corpus/*.scm ../tests/corpus/lib/*.scm; do
    b=$(basename "$f" .scm)
    cp "$f" "$seeds/reader/$b"
    cp "$f" "$seeds/compile/$b"
    # The program target's first byte picks the collector mode.
    { printf '\001'; cat "$f"; } >"$seeds/program/$b"
done
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    log="$seeds/$t.log"
    if RUSTC_BOOTSTRAP=1 nice -n 10 cargo fuzz run -O "$t" "corpus/$t" "$seeds/$t" -- \
        -max_total_time="$secs" -timeout=30 -rss_limit_mb=3072 -max_len=16384 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
        grep -E 'ERROR|panicked|SUMMARY|Test unit written' "$log" | head -20
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz $t: $result, $runs executions in ${secs} s"
done
exit $status
