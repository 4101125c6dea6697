/* gcbench_boehm.c: the classic Ellis/Kovac/Boehm GCBench, a peer for Marrow,
 * in C on the Boehm-Demers-Weiser collector (GC_MALLOC for nodes,
 * GC_MALLOC_ATOMIC for the array of doubles; nothing is freed by hand).
 * stdout is identical across the Go, C and Scheme versions; times go to stderr.
 * Build: gcc -O2 gcbench_boehm.c -o gcbench_boehm -lgc */
#include <gc.h>
#include <stdlib.h>
#include "gcbench_common.h"

static long nodes_built;

static Node *new_node(Node *l, Node *r) {
    Node *n = (Node *)GC_MALLOC(sizeof(Node)); /* zeroed by the collector */
    if (!n) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    nodes_built++;
    n->left = l;
    n->right = r;
    return n;
}

/* Top-down: the parent exists before its children. */
static void populate(int depth, Node *n) {
    if (depth <= 0)
        return;
    depth--;
    n->left = new_node(NULL, NULL);
    n->right = new_node(NULL, NULL);
    populate(depth, n->left);
    populate(depth, n->right);
}

/* Bottom-up: children before the parent. */
static Node *make_tree(int depth) {
    if (depth <= 0)
        return new_node(NULL, NULL);
    Node *l = make_tree(depth - 1);
    Node *r = make_tree(depth - 1);
    return new_node(l, r);
}

static void time_construction(int depth) {
    long iters = num_iters(depth);
    printf("Creating %ld trees of depth %d\n", iters, depth);

    long t0 = now_ms(), before = nodes_built;
    for (long i = 0; i < iters; i++) {
        Node *t = new_node(NULL, NULL);
        populate(depth, t); /* t is dropped at the end of the iteration */
    }
    printf("\tTop down construction built %ld nodes\n", nodes_built - before);
    fprintf(stderr, "\tTop down construction of depth %d took %ld msec\n", depth, now_ms() - t0);

    t0 = now_ms();
    before = nodes_built;
    for (long i = 0; i < iters; i++) {
        Node *t = make_tree(depth);
        (void)t; /* dropped at once */
    }
    printf("\tBottom up construction built %ld nodes\n", nodes_built - before);
    fprintf(stderr, "\tBottom up construction of depth %d took %ld msec\n", depth, now_ms() - t0);
}

int main(void) {
    GC_INIT();
    long start = now_ms();

    printf("Garbage Collector Test\n");
    printf(" Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth);
    long before = nodes_built;
    (void)make_tree(kStretchTreeDepth); /* dropped at once */
    printf("\tStretch tree built %ld nodes\n", nodes_built - before);

    printf(" Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth);
    before = nodes_built;
    Node *long_lived = new_node(NULL, NULL);
    populate(kLongLivedTreeDepth, long_lived);
    printf("\tLong-lived tree built %ld nodes\n", nodes_built - before);

    printf(" Creating a long-lived array of %d doubles\n", kArraySize);
    double *array = (double *)GC_MALLOC_ATOMIC(sizeof(double) * kArraySize);
    if (!array) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < kArraySize; i++)
        array[i] = 0.0;
    for (int i = 1; i < kArraySize / 2; i++)
        array[i] = 1.0 / i;

    for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2)
        time_construction(d);

    printf("Long-lived tree has %ld nodes\n", count_nodes(long_lived));
    if (array[1000] != 1.0 / 1000) {
        printf("Failed: long-lived array corrupted\n");
        return 1;
    }
    printf("Long-lived array is intact\n");
    printf("Total nodes built: %ld\n", nodes_built);
    fprintf(stderr, "Completed in %ld msec (%lu collections, heap %lu bytes).\n",
            now_ms() - start, (unsigned long)GC_get_gc_no(), (unsigned long)GC_get_heap_size());
    return 0;
}
