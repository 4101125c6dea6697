# gcbench.py: the classic Ellis/Kovac/Boehm GCBench, a peer for Marrow, in Python 3.
# Same phases and the same stdout as gcbench.go and gcbench.scm (node counts,
# no times). A node is an object with __slots__ left, right, i, j.
# Usage: python3 gcbench.py
import sys

K_STRETCH_TREE_DEPTH = 18
K_LONG_LIVED_TREE_DEPTH = 16
K_ARRAY_SIZE = 500000
K_MIN_TREE_DEPTH = 4
K_MAX_TREE_DEPTH = 16


class Node:
    __slots__ = ("left", "right", "i", "j")

    def __init__(self, left=None, right=None):
        self.left = left
        self.right = right
        self.i = 0
        self.j = 0


built = 0


def new_node(l=None, r=None):
    global built
    built += 1
    return Node(l, r)


def tree_size(i):
    return (1 << (i + 1)) - 1


def num_iters(i):
    return 2 * tree_size(K_STRETCH_TREE_DEPTH) // tree_size(i)


def populate(depth, n):
    """Top-down: the parent exists before its children."""
    if depth <= 0:
        return
    depth -= 1
    n.left = new_node()
    n.right = new_node()
    populate(depth, n.left)
    populate(depth, n.right)


def make_tree(depth):
    """Bottom-up: children before the parent."""
    if depth <= 0:
        return new_node()
    return new_node(make_tree(depth - 1), make_tree(depth - 1))


def count_nodes(n):
    if n is None:
        return 0
    return 1 + count_nodes(n.left) + count_nodes(n.right)


def main():
    out = []
    out.append("Garbage Collector Test")
    out.append(" Stretching memory with a binary tree of depth %d" % K_STRETCH_TREE_DEPTH)
    before = built
    make_tree(K_STRETCH_TREE_DEPTH)
    out.append("\tStretch tree built %d nodes" % (built - before))

    out.append(" Creating a long-lived binary tree of depth %d" % K_LONG_LIVED_TREE_DEPTH)
    before = built
    long_lived = new_node()
    populate(K_LONG_LIVED_TREE_DEPTH, long_lived)
    out.append("\tLong-lived tree built %d nodes" % (built - before))

    out.append(" Creating a long-lived array of %d doubles" % K_ARRAY_SIZE)
    array = [0.0] * K_ARRAY_SIZE
    for i in range(1, K_ARRAY_SIZE // 2):
        array[i] = 1.0 / i

    for d in range(K_MIN_TREE_DEPTH, K_MAX_TREE_DEPTH + 1, 2):
        iters = num_iters(d)
        out.append("Creating %d trees of depth %d" % (iters, d))
        before = built
        for _ in range(iters):
            populate(d, new_node())
        out.append("\tTop down construction built %d nodes" % (built - before))
        before = built
        for _ in range(iters):
            make_tree(d)
        out.append("\tBottom up construction built %d nodes" % (built - before))

    out.append("Long-lived tree has %d nodes" % count_nodes(long_lived))
    if array[1000] != 1.0 / 1000:
        out.append("Failed: long-lived array corrupted")
        sys.stdout.write("\n".join(out) + "\n")
        sys.exit(1)
    out.append("Long-lived array is intact")
    out.append("Total nodes built: %d" % built)
    sys.stdout.write("\n".join(out) + "\n")


main()
