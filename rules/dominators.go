package rules

import "github.com/drvhazard/drvhazard/cfg"

// domTree holds the immediate dominators of a function's blocks (Cooper,
// Harvey and Kennedy, "A Simple, Fast Dominance Algorithm", 2001).
type domTree struct {
	index map[uint32]int // block start -> index
	idom  []int          // -1 for the entry and unreachable blocks
	preds [][]int
}

func dominators(f *cfg.Func) *domTree {
	n := len(f.Blocks)
	t := &domTree{index: make(map[uint32]int, n), idom: make([]int, n), preds: make([][]int, n)}
	for i, b := range f.Blocks {
		t.index[b.Start] = i
	}
	for i, b := range f.Blocks {
		for _, e := range b.Succs {
			if j, ok := t.index[e.To]; ok {
				t.preds[j] = append(t.preds[j], i)
			}
		}
	}
	entry, ok := t.index[f.Entry]
	for i := range t.idom {
		t.idom[i] = -1
	}
	if !ok {
		return t
	}
	// Reverse postorder from the entry.
	order := make([]int, 0, n)
	rpo := make([]int, n)
	seen := make([]bool, n)
	var visit func(int)
	visit = func(i int) {
		seen[i] = true
		for _, e := range f.Blocks[i].Succs {
			if j, ok := t.index[e.To]; ok && !seen[j] {
				visit(j)
			}
		}
		order = append(order, i)
	}
	visit(entry)
	for k, i := range order {
		rpo[i] = len(order) - 1 - k
	}
	t.idom[entry] = entry
	intersect := func(a, b int) int {
		for a != b {
			for rpo[a] > rpo[b] {
				a = t.idom[a]
			}
			for rpo[b] > rpo[a] {
				b = t.idom[b]
			}
		}
		return a
	}
	for changed := true; changed; {
		changed = false
		for k := len(order) - 1; k >= 0; k-- {
			b := order[k]
			if b == entry {
				continue
			}
			newIdom := -1
			for _, p := range t.preds[b] {
				if t.idom[p] == -1 {
					continue
				}
				if newIdom == -1 {
					newIdom = p
				} else {
					newIdom = intersect(p, newIdom)
				}
			}
			if newIdom != -1 && t.idom[b] != newIdom {
				t.idom[b] = newIdom
				changed = true
			}
		}
	}
	t.idom[entry] = -1
	return t
}

// dominates reports whether block a dominates block b.
func (t *domTree) dominates(a, b int) bool {
	for steps := 0; b != -1 && steps <= len(t.idom); steps++ {
		if a == b {
			return true
		}
		b = t.idom[b]
	}
	return false
}

// markEdgeRegion marks the blocks that run only after the edge from block u
// to the block starting at to: those dominated by its target, provided every
// other way into the target comes from below it (a loop back edge), never
// around the edge.
func (t *domTree) markEdgeRegion(u int, to uint32, mark []bool) {
	v, ok := t.index[to]
	if !ok {
		return
	}
	for _, pr := range t.preds[v] {
		if pr != u && !t.dominates(v, pr) {
			return
		}
	}
	for w := range mark {
		if t.dominates(v, w) {
			mark[w] = true
		}
	}
}
