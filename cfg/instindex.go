package cfg

// instIndex maps the address of each instruction the descent decoded to
// its place in analysis.insts. The descent asks it at every instruction, and
// a Go map cost as much as a tenth of a scan; a function's code lies almost
// all in the window after its entry, so that window is a dense table and
// only the rest (fragments elsewhere, code past the window) takes the map.
type instIndex struct {
	lo    uint32
	dense []int32 // index+1 for rva lo+i; 0 when absent
	far   map[uint32]int
}

// indexWindow is the span of the dense table, in bytes of code.
const indexWindow = 1 << 16

// reset empties the index of the instructions it holds, insts, for a
// function whose code starts at lo.
func (x *instIndex) reset(lo uint32, insts []Inst) {
	for i := range insts {
		if d := insts[i].RVA - x.lo; d < uint32(len(x.dense)) {
			x.dense[d] = 0
		}
	}
	clear(x.far)
	x.lo = lo
}

func (x *instIndex) get(rva uint32) (int, bool) {
	if d := rva - x.lo; d < uint32(len(x.dense)) {
		i := x.dense[d]
		return int(i) - 1, i != 0
	}
	i, ok := x.far[rva]
	return i, ok
}

func (x *instIndex) has(rva uint32) bool {
	_, ok := x.get(rva)
	return ok
}

func (x *instIndex) put(rva uint32, i int) {
	if d := rva - x.lo; d < indexWindow {
		if x.dense == nil {
			x.dense = make([]int32, indexWindow)
		}
		x.dense[d] = int32(i + 1)
		return
	}
	if x.far == nil {
		x.far = map[uint32]int{}
	}
	x.far[rva] = i
}
