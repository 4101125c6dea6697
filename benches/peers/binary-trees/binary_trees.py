# binary_trees.py: Benchmarks Game "binary-trees" peer for Marrow, in Python 3.
# A node is a tuple (left, right); a leaf is (None, None).
# Usage: python3 binary_trees.py N   (N = max depth, default 10)
import sys


def bottom_up(depth):
    if depth <= 0:
        return (None, None)
    left = bottom_up(depth - 1)
    right = bottom_up(depth - 1)
    return (left, right)


def check(node):
    left, right = node
    if left is None:
        return 1
    return 1 + check(left) + check(right)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    min_depth = 4
    max_depth = max(n, min_depth + 2)
    out = sys.stdout

    stretch = max_depth + 1
    out.write("stretch tree of depth %d\t check: %d\n" % (stretch, check(bottom_up(stretch))))

    long_lived = bottom_up(max_depth)

    for d in range(min_depth, max_depth + 1, 2):
        iters = 1 << (max_depth - d + min_depth)
        total = 0
        for _ in range(iters):
            total += check(bottom_up(d))
        out.write("%d\t trees of depth %d\t check: %d\n" % (iters, d, total))

    out.write("long lived tree of depth %d\t check: %d\n" % (max_depth, check(long_lived)))


if __name__ == "__main__":
    main()
