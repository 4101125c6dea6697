#!/usr/bin/env bash
# binary-trees-expected.sh: prints the exact Benchmarks Game output of
# binary-trees for a depth, from the closed form (a tree of depth d has
# 2^(d+1)-1 nodes), so every script checks every implementation against
# the same text without trusting any one of them.
# Usage: benches/peers/binary-trees-expected.sh DEPTH
set -euo pipefail
awk -v n="${1:?usage: binary-trees-expected.sh DEPTH}" 'BEGIN {
    min = 4; max = (n < min + 2) ? min + 2 : n; s = max + 1
    printf "stretch tree of depth %d\t check: %.0f\n", s, 2^(s+1) - 1
    for (d = min; d <= max; d += 2) {
        it = 2^(max - d + min)
        printf "%.0f\t trees of depth %d\t check: %.0f\n", it, d, it * (2^(d+1) - 1)
    }
    printf "long lived tree of depth %d\t check: %.0f\n", max, 2^(max+1) - 1
}'
