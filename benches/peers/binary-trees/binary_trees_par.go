// binary_trees_par.go: Benchmarks Game "binary-trees" peer for Marrow, in Go,
// with the iterations of each depth split across N goroutines (like the
// parallel Go and C versions of the Benchmarks Game). Output is identical to
// binary_trees.go's for any N. Pair it with GOMAXPROCS to fix the cores used.
// Usage: binary_trees_par [-threads N] DEPTH   or   binary_trees_par DEPTH [N]
// (DEPTH = max depth, default 10; N = goroutines, default GOMAXPROCS)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
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

func usage() {
	fmt.Fprintln(os.Stderr, "usage: binary_trees_par [-threads N] DEPTH [N]")
	os.Exit(2)
}

func main() {
	threads := flag.Int("threads", 0, "goroutines per depth (default GOMAXPROCS)")
	flag.Usage = usage
	flag.Parse()
	n := 10
	if flag.NArg() > 0 {
		v, err := strconv.Atoi(flag.Arg(0))
		if err != nil {
			usage()
		}
		n = v
	}
	if flag.NArg() > 1 {
		v, err := strconv.Atoi(flag.Arg(1))
		if err != nil {
			usage()
		}
		*threads = v
	}
	if *threads <= 0 {
		*threads = runtime.GOMAXPROCS(0)
	}
	workers := *threads

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
		sums := make([]int, workers)
		var wg sync.WaitGroup
		for k := 0; k < workers; k++ {
			// Worker k builds iterations iters*k/workers .. iters*(k+1)/workers.
			share := iters*(k+1)/workers - iters*k/workers
			wg.Add(1)
			go func(k, share int) {
				defer wg.Done()
				check := 0
				for i := 0; i < share; i++ {
					check += bottomUp(d).check()
				}
				sums[k] = check
			}(k, share)
		}
		wg.Wait()
		check := 0
		for _, s := range sums {
			check += s
		}
		fmt.Fprintf(out, "%d\t trees of depth %d\t check: %d\n", iters, d, check)
	}

	fmt.Fprintf(out, "long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
}
