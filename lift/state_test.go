package lift

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/drvhazard/drvhazard/ir"
)

// A state that owns its cells stores into them in place (storeMem); the
// cells must come out as cells.store, which always copies, makes them:
// every mix of widths, overlaps, forgotten values and a memory full up to
// maxCells, and a copy taken on the way must not see the writes after it.
func TestStoreInPlaceIsStore(t *testing.T) {
	b := ir.NewBuilder()
	bases := []*ir.Expr{b.Stack(0), b.Param(0), b.Addr(0)}
	widths := []int{1, 2, 4, 8, 16}
	rng := rand.New(rand.NewSource(1))
	var st symState
	var want cells
	var snap symState
	var snapWant cells
	inPlace := 0
	for n := 0; n < 20000; n++ {
		base := bases[rng.Intn(len(bases))]
		w := widths[rng.Intn(len(widths))]
		// Mostly aligned slots over a range wide enough to fill the memory;
		// some unaligned, overlapping ones.
		off := int64(rng.Intn(1200)) * 8
		if rng.Intn(4) == 0 {
			off += int64(rng.Intn(8))
		}
		var v *ir.Expr
		if rng.Intn(10) > 0 {
			v = b.Const(int64(rng.Intn(1000)), w)
		}
		owned := st.memOwner == &st
		before := st.mem
		st.storeMem(b, base, off, w, v)
		if owned && sameCells(before, st.mem) {
			inPlace++
		}
		want = want.store(b, base, off, w, v)
		if !equalCells(st.mem, want) {
			t.Fatalf("store %d (%v%+d, %d bytes, %v, owned %v): %s", n, base, off, w, v, owned, cellsDiff(st.mem, want))
		}
		if n == 5000 {
			snap, snapWant = st.clone(), append(cells(nil), want...)
		}
	}
	if !equalCells(snap.mem, snapWant) {
		t.Error("a copy of the state saw the stores made after it")
	}
	if len(want) < maxCells-1 {
		t.Errorf("the memory never filled: %d cells", len(want))
	}
	if inPlace == 0 {
		t.Error("no store was made in place")
	}
}

func equalCells(a, b cells) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// cellsDiff describes where two sets of cells first differ.
func cellsDiff(got, want cells) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("cell %d: got %v%+d/%d=%v, want %v%+d/%d=%v (%d and %d cells)", i,
				got[i].base, got[i].off, got[i].w, got[i].v, want[i].base, want[i].off, want[i].w, want[i].v, len(got), len(want))
		}
	}
	return fmt.Sprintf("%d cells, want %d", len(got), len(want))
}
