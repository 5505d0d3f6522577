package cfg

import (
	"golang.org/x/arch/x86/x86asm"
)

// Evaluation is the forward pass over one function with memory tracked
// (stack slots, globals, xmm lanes), run on demand for the few functions a
// rule needs to read closely, such as the caller of FltRegisterFilter that
// builds its registration on the stack.
type Evaluation struct {
	f       *Func
	ps      pass
	insts   [][]inst // per block
	in      []state
	reached []bool
	conds   []*Cond
	condsOK bool
}

// Evaluate runs the forward pass over f with memory tracked.
func (p *Program) Evaluate(f *Func) *Evaluation {
	e := &Evaluation{f: f, ps: newPass(p.Image), insts: make([][]inst, len(f.Blocks))}
	for i, blk := range f.Blocks {
		e.insts[i] = p.decodeBlock(blk)
	}
	e.in, e.reached = e.ps.fixpoint(f, func(i int) []inst { return e.insts[i] }, true)
	return e
}

// decodeBlock decodes the instructions of a block again (Build keeps only
// the blocks, not the instructions, to stay small).
func (p *Program) decodeBlock(blk *Block) []inst {
	code := p.Image.Bytes(blk.Start, blk.End-blk.Start)
	var out []inst
	var prev uint32
	for off := uint32(0); off < uint32(len(code)); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil || in.Op == 0 {
			break
		}
		rva := blk.Start + off
		out = append(out, inst{Inst: in, rva: rva, prev: prev})
		prev = rva
		off += uint32(in.Len)
	}
	return out
}

// Snapshot is what the evaluation knows just before one instruction.
type Snapshot struct {
	st state
	ps *pass
}

// At returns the state just before the instruction at rva, or nil when rva
// is not an instruction of a block reachable from the entry.
func (e *Evaluation) At(rva uint32) *Snapshot {
	for i, blk := range e.f.Blocks {
		if rva < blk.Start || rva >= blk.End || !e.reached[i] {
			continue
		}
		st := e.in[i].clone()
		for k := range e.insts[i] {
			in := &e.insts[i][k]
			if in.rva == rva {
				return &Snapshot{st: st, ps: &e.ps}
			}
			e.ps.step(in, &st)
		}
	}
	return nil
}

// Return is the value of rax at one ret. Via is the predecessor block the
// value was computed through when paths with different values meet just
// before the ret, nil otherwise.
type Return struct {
	Block *Block
	Via   *Block
	Value Value
}

// Returns lists the value of rax at every reachable ret. Where paths with
// different values meet just before the ret (a status computed on one path,
// a constant on another), the ret block is evaluated once from each
// predecessor, so every value that can be returned is listed.
func (e *Evaluation) Returns() []Return {
	var out []Return
	atRet := func(i int, st state) Value {
		insts := e.insts[i]
		for k := range insts[:len(insts)-1] {
			e.ps.step(&insts[k], &st)
		}
		return st.r[rRAX]
	}
	for i, blk := range e.f.Blocks {
		if blk.Term != TermRet || !e.reached[i] || len(e.insts[i]) == 0 {
			continue
		}
		if v := atRet(i, e.in[i].clone()); v.Kind != Unknown {
			out = append(out, Return{Block: blk, Value: v})
			continue
		}
		for j, pred := range e.f.Blocks {
			if !e.reached[j] || !edgeTo(pred, blk.Start) {
				continue
			}
			st := e.in[j].clone()
			for k := range e.insts[j] {
				e.ps.step(&e.insts[j][k], &st)
			}
			out = append(out, Return{Block: blk, Via: pred, Value: atRet(i, st)})
		}
	}
	return out
}

func edgeTo(b *Block, to uint32) bool {
	for _, e := range b.Succs {
		if e.To == to {
			return true
		}
	}
	return false
}

// Conds returns the test deciding each block's conditional branch, as Block.
// Cond does, but seen with memory tracked: a Debug build that stores a field
// in a stack slot and compares the slot (mov [rsp+20h],al ; cmp byte
// [rsp+20h],4 ; je) is understood here, not in Build.
func (e *Evaluation) Conds() []*Cond {
	if e.condsOK {
		return e.conds
	}
	e.condsOK = true
	e.conds = make([]*Cond, len(e.f.Blocks))
	for i, blk := range e.f.Blocks {
		e.conds[i] = blk.Cond
		insts := e.insts[i]
		if !e.reached[i] || blk.Term != TermCond || len(insts) == 0 {
			continue
		}
		st := e.in[i].clone()
		for k := range insts[:len(insts)-1] {
			e.ps.step(&insts[k], &st)
		}
		last := &insts[len(insts)-1]
		if !isJcc(last.Op) || !st.flags.ok {
			continue
		}
		if c := branchCond(last.Op, st.flags); c != nil {
			e.conds[i] = c
		}
	}
	return e.conds
}

// Arg returns the value of the i-th integer argument register (rcx, rdx,
// r8, r9).
func (s *Snapshot) Arg(i int) Value { return s.st.r[argRegs[i]] }

// Read returns the size bytes (1, 2, 4 or 8) at ptr+off, where ptr is an
// Address or StackAddr value. Stores seen by the evaluation win; global bytes
// nobody stored come from the image, a relocated 8-byte pointer as an
// Address.
func (s *Snapshot) Read(ptr Value, off int64, size int) Value {
	var space uint8
	switch ptr.Kind {
	case Address:
		space = spaceGlobal
	case StackAddr:
		space = spaceStack
	default:
		return Value{}
	}
	at := ptr.V + off
	if v, found := s.st.mem.load(space, at, size); found {
		return v
	}
	if space == spaceGlobal && at >= 0 && at <= 0xffffffff {
		return imageValue(s.ps.img, uint32(at), size)
	}
	return Value{}
}
