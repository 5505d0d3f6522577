package cfg_test

import (
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
)

// A diamond, 0x10 -> 0x20 | 0x30 -> 0x40, with its blocks listed in address
// order (as the descent makes them) and shuffled (as a hand-made function
// may have them): the same tree, each block found by its start.
func TestDominatorsOfADiamond(t *testing.T) {
	block := func(start uint32, succs ...uint32) *cfg.Block {
		b := &cfg.Block{Start: start, End: start + 0x10}
		for _, s := range succs {
			b.Succs = append(b.Succs, cfg.Edge{To: s})
		}
		return b
	}
	entry, left, right, join := block(0x10, 0x20, 0x30), block(0x20, 0x40), block(0x30, 0x40), block(0x40)
	for _, blocks := range [][]*cfg.Block{{entry, left, right, join}, {join, right, entry, left}} {
		f := &cfg.Func{Entry: 0x10, Blocks: blocks}
		tree := cfg.Dominators(f)
		idx := map[uint32]int{}
		for _, b := range []*cfg.Block{entry, left, right, join} {
			i, ok := tree.Index(b.Start)
			if !ok || f.Blocks[i] != b {
				t.Fatalf("blocks %v: Index(%#x) = %d, %v", starts(blocks), b.Start, i, ok)
			}
			idx[b.Start] = i
		}
		if _, ok := tree.Index(0x18); ok {
			t.Errorf("blocks %v: Index(0x18) found a block", starts(blocks))
		}
		if got := tree.IDom(idx[0x40]); got != idx[0x10] {
			t.Errorf("blocks %v: idom of the join is block %d, want the entry (%d)", starts(blocks), got, idx[0x10])
		}
		if got := tree.IDom(idx[0x20]); got != idx[0x10] {
			t.Errorf("blocks %v: idom of 0x20 is block %d, want the entry (%d)", starts(blocks), got, idx[0x10])
		}
		if !tree.Dominates(idx[0x10], idx[0x40]) || tree.Dominates(idx[0x20], idx[0x40]) {
			t.Errorf("blocks %v: dominance of the join wrong", starts(blocks))
		}
	}
}

func starts(blocks []*cfg.Block) []uint32 {
	var out []uint32
	for _, b := range blocks {
		out = append(out, b.Start)
	}
	return out
}
