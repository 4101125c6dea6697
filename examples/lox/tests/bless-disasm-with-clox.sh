#!/usr/bin/env bash
# bless-disasm-with-clox.sh: writes disasm/NAME.dis, clox's own listing of
# the bytecode of corpus/NAME.lox, for every corpus script that compiles
# (the generated limit_* scripts excepted: their listings are huge).
#
# Usage: examples/lox/tests/bless-disasm-with-clox.sh CLOX_DIS [--check]
#
# CLOX_DIS is clox built with DEBUG_PRINT_CODE (benches/peers/clox/build.sh
# builds it as clox-dis): it prints each function's disassembly when its
# compilation ends, then runs the script, so its stdout is the listing
# followed by the script's output (corpus/NAME.out), which is cut off.
# tests/disasm.rs checks that marrow-lox's compiler produces the same
# listing, byte for byte. With --check nothing is written and the
# existing files must match. Exits non-zero on any mismatch.
set -uo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 CLOX_DIS [--check]" >&2
    exit 2
fi
CLOX_DIS=$1
CHECK=0
[ "${2:-}" = "--check" ] && CHECK=1
[ -x "$CLOX_DIS" ] || { echo "bless-disasm: '$CLOX_DIS' is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$HERE/disasm"
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
ok=0
bad=0
for script in "$HERE"/corpus/*.lox; do
    name=$(basename "$script" .lox)
    case $name in limit_*) continue ;; esac
    (cd "$HERE/corpus" && "$CLOX_DIS" "$name.lox" >"$TMP" 2>/dev/null)
    code=$?
    [ $code = 65 ] && continue
    out_len=$(wc -c <"$HERE/corpus/$name.out")
    total=$(wc -c <"$TMP")
    if [ "$out_len" -gt "$total" ] || ! tail -c "$out_len" "$TMP" | cmp -s - "$HERE/corpus/$name.out"; then
        echo "FAIL $name: clox-dis's output does not end with $name.out"
        bad=$((bad + 1))
        continue
    fi
    head -c $((total - out_len)) "$TMP" >"$TMP.dis"
    if [ $CHECK = 1 ]; then
        if cmp -s "$TMP.dis" "$HERE/disasm/$name.dis"; then ok=$((ok + 1)); else echo "FAIL $name: disasm/$name.dis differs"; bad=$((bad + 1)); fi
    else
        cp "$TMP.dis" "$HERE/disasm/$name.dis"
        ok=$((ok + 1))
    fi
    rm -f "$TMP.dis"
done
echo "disassembly vs clox: $ok written/agree, $bad failed"
[ $bad = 0 ]
