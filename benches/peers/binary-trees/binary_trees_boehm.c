/* binary_trees_boehm.c: Benchmarks Game "binary-trees" peer for Marrow, in C
 * on the Boehm-Demers-Weiser conservative collector (GC_MALLOC, no frees).
 * Build: gcc -O2 binary_trees_boehm.c -o binary_trees_boehm -lgc
 * Usage: binary_trees_boehm N   (N = max depth, default 10) */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Node {
    struct Node *left, *right;
} Node;

static Node *new_node(Node *l, Node *r) {
    Node *n = (Node *)GC_MALLOC(sizeof(Node));
    if (!n) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    n->left = l;
    n->right = r;
    return n;
}

/* Complete tree of the given depth, built bottom-up. */
static Node *bottom_up(int depth) {
    if (depth <= 0)
        return new_node(NULL, NULL);
    Node *l = bottom_up(depth - 1);
    Node *r = bottom_up(depth - 1);
    return new_node(l, r);
}

/* Node count, by walking the tree. */
static long check(const Node *n) {
    if (n->left == NULL)
        return 1;
    return 1 + check(n->left) + check(n->right);
}

int main(int argc, char **argv) {
    GC_INIT();
    int n = argc > 1 ? atoi(argv[1]) : 10;
    const int min_depth = 4;
    int max_depth = n < min_depth + 2 ? min_depth + 2 : n;

    int stretch = max_depth + 1;
    printf("stretch tree of depth %d\t check: %ld\n", stretch, check(bottom_up(stretch)));

    Node *long_lived = bottom_up(max_depth);

    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + min_depth);
        long sum = 0;
        for (long i = 0; i < iters; i++)
            sum += check(bottom_up(d));
        printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, sum);
    }

    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
    return 0;
}
