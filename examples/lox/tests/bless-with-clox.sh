#!/usr/bin/env bash
# bless-with-clox.sh: checks the Lox corpus against clox and writes its
# expectation files.
#
# Usage: examples/lox/tests/bless-with-clox.sh CLOX [--check] [NAME...]
#
# Every corpus script states what it must do in its own comments, written
# from the language's specification: `// expect: TEXT` for each line of
# stdout and `// stderr: TEXT` for each line of stderr, in order. This
# script runs each script with CLOX (clox built from the book's sources,
# see benches/peers/clox/), and checks that clox's stdout and stderr equal
# those annotations and that its exit code is the one the annotations
# imply (0 without stderr; 65 when stderr starts with a compile error
# `[line N] Error`; 70 otherwise, a runtime error). When all agree it
# writes NAME.out (stdout) and NAME.err (stderr, only when non-empty),
# the files the Rust test runner (tests/corpus.rs) compares `lox` against.
# With --check nothing is written: the existing .out/.err files must also
# equal clox's output. Exits non-zero if any script disagrees.
set -uo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 CLOX [--check] [NAME...]" >&2
    exit 2
fi
CLOX=$1
shift
CHECK=0
if [ "${1:-}" = "--check" ]; then
    CHECK=1
    shift
fi
[ -x "$CLOX" ] || { echo "bless: '$CLOX' is not an executable clox" >&2; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CORPUS=$HERE/corpus
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in "$CORPUS"/*.lox; do names+=("$(basename "$f" .lox)"); done
fi

pass=0
fail=0
for name in "${names[@]}"; do
    script=$CORPUS/$name.lox
    [ -f "$script" ] || { echo "FAIL $name: no $script"; fail=$((fail + 1)); continue; }
    sed -n 's|.*// expect: \{0,1\}||p' "$script" | tr -d '\r' >"$TMP/want.out"
    sed -n 's|.*// stderr: ||p' "$script" | tr -d '\r' >"$TMP/want.err"
    (cd "$CORPUS" && "$CLOX" "$name.lox" >"$TMP/got.out" 2>"$TMP/got.err")
    code=$?
    if [ -s "$TMP/want.err" ]; then
        if head -1 "$TMP/want.err" | grep -q '^\[line [0-9]*\] Error'; then want_code=65; else want_code=70; fi
    else
        want_code=0
    fi
    ok=1
    if ! cmp -s "$TMP/want.out" "$TMP/got.out"; then
        echo "FAIL $name: clox's stdout differs from the // expect: lines"
        diff "$TMP/want.out" "$TMP/got.out" | head -10
        ok=0
    fi
    if ! cmp -s "$TMP/want.err" "$TMP/got.err"; then
        echo "FAIL $name: clox's stderr differs from the // stderr: lines"
        diff "$TMP/want.err" "$TMP/got.err" | head -10
        ok=0
    fi
    if [ "$code" != "$want_code" ]; then
        echo "FAIL $name: clox exited $code, the annotations imply $want_code"
        ok=0
    fi
    if [ $ok = 1 ] && [ $CHECK = 1 ]; then
        if ! cmp -s "$TMP/got.out" "$CORPUS/$name.out"; then
            echo "FAIL $name: $name.out is not clox's stdout"
            ok=0
        fi
        if [ -s "$TMP/got.err" ] && ! cmp -s "$TMP/got.err" "$CORPUS/$name.err"; then
            echo "FAIL $name: $name.err is not clox's stderr"
            ok=0
        fi
        if [ ! -s "$TMP/got.err" ] && [ -e "$CORPUS/$name.err" ]; then
            echo "FAIL $name: $name.err exists but clox writes nothing to stderr"
            ok=0
        fi
    fi
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
        if [ $CHECK = 0 ]; then
            cp "$TMP/got.out" "$CORPUS/$name.out"
            if [ -s "$TMP/got.err" ]; then cp "$TMP/got.err" "$CORPUS/$name.err"; else rm -f "$CORPUS/$name.err"; fi
        fi
    else
        fail=$((fail + 1))
    fi
done
echo "corpus vs clox: $pass agree, $fail disagree"
[ $fail = 0 ]
