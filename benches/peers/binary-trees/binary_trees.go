// binary_trees.go: Benchmarks Game "binary-trees" peer for Marrow, in Go.
// Single-threaded on purpose (no goroutines): run with GOMAXPROCS=1 for a
// fair comparison with Marrow's single-threaded collector.
// Usage: binary_trees_go N   (N = max depth, default 10)
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
)

type Node struct {
	left, right *Node
}

// bottomUp builds a complete tree of the given depth: children first, then
// the parent that points at them.
func bottomUp(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	l := bottomUp(depth - 1)
	r := bottomUp(depth - 1)
	return &Node{l, r}
}

// check walks the tree and returns its node count.
func (n *Node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	n := 10
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "usage: binary_trees N")
			os.Exit(2)
		}
		n = v
	}
	const minDepth = 4
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()

	stretch := maxDepth + 1
	fmt.Fprintf(out, "stretch tree of depth %d\t check: %d\n", stretch, bottomUp(stretch).check())

	longLived := bottomUp(maxDepth)

	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 1 << uint(maxDepth-d+minDepth)
		check := 0
		for i := 0; i < iters; i++ {
			check += bottomUp(d).check()
		}
		fmt.Fprintf(out, "%d\t trees of depth %d\t check: %d\n", iters, d, check)
	}

	fmt.Fprintf(out, "long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
}
