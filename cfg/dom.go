package cfg

import (
	"cmp"
	"slices"
)

// DomTree holds the immediate dominators of a function's blocks (Cooper,
// Harvey and Kennedy, "A Simple, Fast Dominance Algorithm", 2001).
type DomTree struct {
	// starts holds the blocks' starts in ascending order; byStart maps a
	// position in it to the block's index, nil when the blocks are in
	// address order already (the descent makes them so). A search, not a
	// map: the tree is made for every function lifted.
	starts  []uint32
	byStart []int
	idom    []int // -1 for the entry and unreachable blocks
	preds   [][]int
	rpo     []int // reverse-postorder number of each block; -1 when unreachable
}

// IDom returns the immediate dominator of block i, -1 for the entry and
// unreachable blocks.
func (t *DomTree) IDom(i int) int { return t.idom[i] }

// Preds returns the indexes of block i's predecessors.
func (t *DomTree) Preds(i int) []int { return t.preds[i] }

// RPO returns block i's reverse-postorder number from the entry, -1 when the
// entry does not reach it.
func (t *DomTree) RPO(i int) int { return t.rpo[i] }

// Index returns the index of the block starting at start.
func (t *DomTree) Index(start uint32) (int, bool) {
	i, ok := slices.BinarySearch(t.starts, start)
	if !ok {
		return 0, false
	}
	if t.byStart != nil {
		return t.byStart[i], true
	}
	return i, true
}

// Dominators computes f's dominator tree.
func Dominators(f *Func) *DomTree {
	n := len(f.Blocks)
	t := &DomTree{starts: make([]uint32, n), idom: make([]int, n), preds: make([][]int, n), rpo: make([]int, n)}
	for i := range t.rpo {
		t.rpo[i] = -1
	}
	for i, b := range f.Blocks {
		t.starts[i] = b.Start
	}
	if !slices.IsSorted(t.starts) {
		t.byStart = make([]int, n)
		for i := range t.byStart {
			t.byStart[i] = i
		}
		slices.SortStableFunc(t.byStart, func(i, j int) int { return cmp.Compare(f.Blocks[i].Start, f.Blocks[j].Start) })
		for k, i := range t.byStart {
			t.starts[k] = f.Blocks[i].Start
		}
	}
	for i, b := range f.Blocks {
		for _, e := range b.Succs {
			if j, ok := t.Index(e.To); ok {
				t.preds[j] = append(t.preds[j], i)
			}
		}
	}
	entry, ok := t.Index(f.Entry)
	for i := range t.idom {
		t.idom[i] = -1
	}
	if !ok {
		return t
	}
	// Reverse postorder from the entry.
	order := make([]int, 0, n)
	rpo := t.rpo
	seen := make([]bool, n)
	var visit func(int)
	visit = func(i int) {
		seen[i] = true
		for _, e := range f.Blocks[i].Succs {
			if j, ok := t.Index(e.To); ok && !seen[j] {
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

// Dominates reports whether block a dominates block b (indexes into
// Func.Blocks).
func (t *DomTree) Dominates(a, b int) bool {
	for steps := 0; b != -1 && steps <= len(t.idom); steps++ {
		if a == b {
			return true
		}
		b = t.idom[b]
	}
	return false
}

// Common returns the nearest block that dominates both a and b, -1 when a
// or b is unreachable.
func (t *DomTree) Common(a, b int) int {
	if t.rpo[a] < 0 || t.rpo[b] < 0 {
		return -1
	}
	for a != b {
		for t.rpo[a] > t.rpo[b] {
			if a = t.idom[a]; a < 0 {
				return -1
			}
		}
		for t.rpo[b] > t.rpo[a] {
			if b = t.idom[b]; b < 0 {
				return -1
			}
		}
	}
	return a
}
