package cfg

import (
	"encoding/binary"

	"github.com/drvhazard/drvhazard/loader"
)

// state is what the forward pass knows at one program point.
type state struct {
	r     [nRegs]Value
	flags flagTest // what the last flag-setting instruction tested
	chk   int64    // rax before the call just executed, for __chkstk probes; -1 if none
	// Memory is tracked only when a caller asks for it (Program.StateAt):
	// building every function's CFG does not need it.
	mem *memory
}

// flagTest is the last test/and/bt/cmp whose flags a jcc may read.
type flagTest struct {
	ok    bool
	value Value
	mask  int64
	bt    bool // bt sets CF, not ZF
	cmp   bool // cmp value,imm (or sub value,imm): imm in mask
	size  int
	// stack is set when the tested operand is a stack slot whose value the
	// pass does not know (memory is not tracked in Build).
	stack bool
}

func (s *state) clone() state {
	c := *s
	if s.mem != nil {
		c.mem = s.mem.clone()
	}
	return c
}

// meet keeps what s and o agree on and reports whether s changed.
func (s *state) meet(o *state) bool {
	changed := false
	for i := range s.r {
		if s.r[i] != o.r[i] && s.r[i].Kind != Unknown {
			s.r[i] = Value{}
			changed = true
		}
	}
	if s.flags != o.flags && s.flags.ok {
		s.flags = flagTest{}
		changed = true
	}
	if s.chk != o.chk && s.chk != -1 {
		s.chk = -1
		changed = true
	}
	if s.mem != nil && o.mem != nil && s.mem.meet(o.mem) {
		changed = true
	}
	return changed
}

// Memory spaces.
const (
	spaceStack  uint8 = iota // offsets from rsp at function entry
	spaceGlobal              // RVAs
	spaceXMM                 // xmm register lanes, see xmmOff
)

type memKey struct {
	space uint8
	off   int64
}

type memCell struct {
	size uint8
	v    Value
}

// maxCells bounds the memory a single evaluation tracks.
const maxCells = 4096

// memory maps stored cells; a cell is forgotten when a store overlaps it.
type memory struct {
	cells map[memKey]memCell
}

func newMemory() *memory { return &memory{cells: map[memKey]memCell{}} }

func (m *memory) clone() *memory {
	c := &memory{cells: make(map[memKey]memCell, len(m.cells))}
	for k, v := range m.cells {
		c.cells[k] = v
	}
	return c
}

func (m *memory) meet(o *memory) bool {
	changed := false
	for k, v := range m.cells {
		if ov, ok := o.cells[k]; !ok || ov != v {
			delete(m.cells, k)
			changed = true
		}
	}
	return changed
}

// store records size bytes at (space, off), dropping overlapped cells.
func (m *memory) store(space uint8, off int64, size int, v Value) {
	m.clobber(space, off, size)
	if len(m.cells) >= maxCells {
		return
	}
	if v.Kind != Unknown {
		m.cells[memKey{space, off}] = memCell{uint8(size), v}
	}
}

// clobber forgets the bytes [off, off+size). A constant cell that overlaps
// them keeps the bytes outside the range, split into smaller cells, so that
// a field written into a zeroed structure leaves its neighbours zero.
func (m *memory) clobber(space uint8, off int64, size int) {
	end := off + int64(size)
	for k, c := range m.cells {
		cend := k.off + int64(c.size)
		if k.space != space || k.off >= end || off >= cend {
			continue
		}
		delete(m.cells, k)
		if c.v.Kind != Const {
			continue
		}
		keep := func(from, to int64) {
			if from >= to || len(m.cells) >= maxCells {
				return
			}
			x := uint64(c.v.V) >> uint(8*(from-k.off))
			if n := to - from; n < 8 {
				x &= 1<<(8*uint(n)) - 1
			}
			m.cells[memKey{space, from}] = memCell{uint8(to - from), Value{Kind: Const, V: int64(x)}}
		}
		keep(k.off, off)
		keep(end, cend)
	}
}

// load reads size bytes at (space, off): the value of a cell stored with
// exactly that extent, bytes of a constant cell that covers it, or Unknown.
// found reports whether any stored cell overlapped the range (when none
// did, the caller may read the image instead).
func (m *memory) load(space uint8, off int64, size int) (v Value, found bool) {
	if c, ok := m.cells[memKey{space, off}]; ok && int(c.size) == size {
		return c.v, true
	}
	// Assemble the value byte by byte from constant cells; any other cell
	// in the range makes it unknown.
	var x uint64
	found, complete := false, true
	for i := 0; i < size; i++ {
		b, ok, seen := m.byteAt(space, off+int64(i))
		found = found || seen
		if !ok {
			complete = false
			continue
		}
		x |= uint64(b) << (8 * uint(i))
	}
	if !found {
		return Value{}, false
	}
	if !complete {
		return Value{}, true
	}
	return Value{Kind: Const, V: int64(x)}, true
}

// byteAt returns the byte at (space, at) when a constant cell holds it;
// seen reports whether any cell covers it.
func (m *memory) byteAt(space uint8, at int64) (b byte, ok, seen bool) {
	for k, c := range m.cells {
		if k.space != space || at < k.off || at >= k.off+int64(c.size) {
			continue
		}
		if c.v.Kind != Const {
			return 0, false, true
		}
		return byte(uint64(c.v.V) >> uint(8*(at-k.off))), true, true
	}
	return 0, false, false
}

// imageValue reads size bytes of the image at rva: a relocated pointer is an
// Address, anything else a constant.
func imageValue(img *loader.Image, rva uint32, size int) Value {
	if size == 8 {
		if t, ok := img.PointerAt(rva); ok {
			return Value{Kind: Address, V: int64(t)}
		}
	}
	b := img.Bytes(rva, uint32(size))
	if len(b) < size {
		if s := img.Section(rva); s != nil && s.Contains(rva+uint32(size)-1) {
			return Value{Kind: Const} // past the raw data: zero-filled by the loader
		}
		return Value{}
	}
	var buf [8]byte
	copy(buf[:], b)
	return Value{Kind: Const, V: int64(binary.LittleEndian.Uint64(buf[:]))}
}
