/* gcbench_common.h: shared constants and helpers for the C GCBench peers
 * (gcbench_boehm.c, gcbench_malloc.c) of Marrow. Not a program by itself. */
#ifndef GCBENCH_COMMON_H
#define GCBENCH_COMMON_H

#include <stdio.h>
#include <time.h>

#define kStretchTreeDepth 18
#define kLongLivedTreeDepth 16
#define kArraySize 500000
#define kMinTreeDepth 4
#define kMaxTreeDepth 16

typedef struct Node {
    struct Node *left, *right;
    int i, j;
} Node;

/* Number of nodes in a complete binary tree of depth i. */
static long tree_size(int i) { return (1L << (i + 1)) - 1; }

/* How many trees of depth i add up to twice the stretch tree. */
static long num_iters(int i) { return 2 * tree_size(kStretchTreeDepth) / tree_size(i); }

static long count_nodes(const Node *n) {
    if (n == NULL)
        return 0;
    return 1 + count_nodes(n->left) + count_nodes(n->right);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
