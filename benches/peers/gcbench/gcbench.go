// gcbench.go: the classic Ellis/Kovac/Boehm GCBench, a peer for Marrow, in Go.
// Phases: stretch tree (depth 18), long-lived tree (depth 16) and long-lived
// array of 500000 doubles, then for depths 4..16 step 2 the same number of
// nodes built top-down (Populate) and bottom-up (MakeTree).
// stdout is identical across the Go, C and Scheme versions (node counts, no
// times); phase times go to stderr. Run with GOMAXPROCS=1 for fairness.
package main

import (
	"bufio"
	"fmt"
	"os"
	"time"
)

const (
	kStretchTreeDepth   = 18
	kLongLivedTreeDepth = 16
	kArraySize          = 500000
	kMinTreeDepth       = 4
	kMaxTreeDepth       = 16
)

type Node struct {
	left, right *Node
	i, j        int32
}

// nodesBuilt counts every Node allocated, so stdout can be checked.
var nodesBuilt int

func newNode(l, r *Node) *Node {
	nodesBuilt++
	return &Node{left: l, right: r}
}

// treeSize is the number of nodes in a complete binary tree of depth i.
func treeSize(i int) int { return (1 << uint(i+1)) - 1 }

// numIters is how many trees of depth i add up to twice the stretch tree.
func numIters(i int) int { return 2 * treeSize(kStretchTreeDepth) / treeSize(i) }

// populate builds the tree top-down: the parent exists before its children.
func populate(depth int, n *Node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = newNode(nil, nil)
	n.right = newNode(nil, nil)
	populate(depth, n.left)
	populate(depth, n.right)
}

// makeTree builds the tree bottom-up: children before the parent.
func makeTree(depth int) *Node {
	if depth <= 0 {
		return newNode(nil, nil)
	}
	return newNode(makeTree(depth-1), makeTree(depth-1))
}

func countNodes(n *Node) int {
	if n == nil {
		return 0
	}
	return 1 + countNodes(n.left) + countNodes(n.right)
}

var out = bufio.NewWriter(os.Stdout)

func since(t time.Time) int64 { return time.Since(t).Milliseconds() }

func timeConstruction(depth int) {
	iters := numIters(depth)
	fmt.Fprintf(out, "Creating %d trees of depth %d\n", iters, depth)

	start := time.Now()
	before := nodesBuilt
	for i := 0; i < iters; i++ {
		t := newNode(nil, nil) // dropped at the end of the iteration
		populate(depth, t)
	}
	fmt.Fprintf(out, "\tTop down construction built %d nodes\n", nodesBuilt-before)
	fmt.Fprintf(os.Stderr, "\tTop down construction of depth %d took %d msec\n", depth, since(start))

	start = time.Now()
	before = nodesBuilt
	for i := 0; i < iters; i++ {
		_ = makeTree(depth) // dropped at once
	}
	fmt.Fprintf(out, "\tBottom up construction built %d nodes\n", nodesBuilt-before)
	fmt.Fprintf(os.Stderr, "\tBottom up construction of depth %d took %d msec\n", depth, since(start))
}

func main() {
	defer out.Flush()
	start := time.Now()

	fmt.Fprintln(out, "Garbage Collector Test")
	fmt.Fprintf(out, " Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth)
	before := nodesBuilt
	_ = makeTree(kStretchTreeDepth) // dropped at once
	fmt.Fprintf(out, "\tStretch tree built %d nodes\n", nodesBuilt-before)

	fmt.Fprintf(out, " Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth)
	before = nodesBuilt
	longLived := newNode(nil, nil)
	populate(kLongLivedTreeDepth, longLived)
	fmt.Fprintf(out, "\tLong-lived tree built %d nodes\n", nodesBuilt-before)

	fmt.Fprintf(out, " Creating a long-lived array of %d doubles\n", kArraySize)
	array := make([]float64, kArraySize)
	for i := 1; i < kArraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}

	for d := kMinTreeDepth; d <= kMaxTreeDepth; d += 2 {
		timeConstruction(d)
	}

	fmt.Fprintf(out, "Long-lived tree has %d nodes\n", countNodes(longLived))
	if array[1000] != 1.0/1000.0 {
		fmt.Fprintln(out, "Failed: long-lived array corrupted")
		out.Flush()
		os.Exit(1)
	}
	fmt.Fprintln(out, "Long-lived array is intact")
	fmt.Fprintf(out, "Total nodes built: %d\n", nodesBuilt)
	fmt.Fprintf(os.Stderr, "Completed in %d msec.\n", since(start))
}
