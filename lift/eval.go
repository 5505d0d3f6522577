package lift

import (
	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
)

// Evaluation is the symbolic pass over one function kept whole, for the
// few functions a rule reads closely: the caller of FltRegisterFilter that
// builds its registration on the stack or in writable data reads back what
// it stored. Build keeps only conditions, arguments and results; an
// Evaluation keeps the state at every instruction.
type Evaluation struct {
	f     *cfg.Func
	ps    pass
	insts [][]cfg.Inst // per block
	fl    *symFlow
}

// Evaluate runs the symbolic pass over f again and keeps its states. It
// reads f as code that runs at initialisation: writable data it does not
// store holds the value the image gives it (the registration a DriverEntry
// patches, `gOperations[2].Flags |= ...`, reads as the patched constant).
func (p *Program) Evaluate(f *cfg.Func) *Evaluation {
	e := &Evaluation{f: f, ps: newPass(p.Image, p.IR), insts: make([][]cfg.Inst, len(f.Blocks))}
	e.ps.initial = true
	e.ps.clobbers = p.clobbersAt
	for i, blk := range f.Blocks {
		e.insts[i] = p.Decode(blk)
	}
	e.fl = e.ps.newSymFlow(f, func(i int) []cfg.Inst { return e.insts[i] })
	e.fl.run()
	return e
}

// Snapshot is what the evaluation knows just before one instruction.
type Snapshot struct {
	st symState
	ps *pass
}

// At returns the state just before the instruction at rva, or nil when rva
// is not an instruction of a block the pass reached.
func (e *Evaluation) At(rva uint32) *Snapshot {
	for i, blk := range e.f.Blocks {
		if rva < blk.Start || rva >= blk.End || !e.fl.reached[i] {
			continue
		}
		st := e.fl.in[i].clone()
		for k := range e.insts[i] {
			in := &e.insts[i][k]
			if in.RVA == rva {
				return &Snapshot{st: st, ps: &e.ps}
			}
			e.ps.symStep(in, &st)
		}
	}
	return nil
}

// Arg returns the value of the i-th integer argument register (rcx, rdx,
// r8, r9).
func (s *Snapshot) Arg(i int) *ir.Expr { return s.st.r[argRegs[i]] }

// Read returns the size bytes (1, 2, 4 or 8) at ptr+off, where ptr is an
// image or stack address. Stores the pass saw win; image bytes nobody
// stored come from the file (writable data too: its initial value), a
// relocated 8-byte pointer as an address. nil when unknown.
func (s *Snapshot) Read(ptr *ir.Expr, off int64, size int) *ir.Expr {
	b := s.ps.b
	a := b.Bin(ir.OpAdd, ptr, b.Const(off, 8))
	if a == nil {
		return nil
	}
	base, at := b.Base(a)
	if v, overlap := s.st.mem.loadOver(b, base, at, size, s.ps.background(base)); v != nil || overlap {
		return v
	}
	if base == s.ps.addr0 && at >= 0 && at <= 0xffffffff {
		return s.ps.imageValue(uint32(at), size)
	}
	return nil
}

// blockState runs the symbolic pass over block blk of f alone, from what
// is known at its start without the rest of the function (the entry state
// for f's entry block, nothing for another), calling observe before each
// instruction. Cheaper than lifting f when one block is all a question
// needs: the constants a call's arguments are set to just before it, the
// pointer a block stores.
func (p *Program) blockState(f *cfg.Func, blk *cfg.Block, observe func(in *cfg.Inst, st *symState)) {
	ps := p.lifterPass()
	st := unknownState()
	if blk.Start == f.Entry {
		st = ps.symEntry()
	}
	mem := p.takeLiftMemory()
	mem.buf = p.AppendDecoded(mem.buf[:0], blk)
	for k := range mem.buf {
		in := &mem.buf[k]
		if observe != nil {
			observe(in, &st)
		}
		ps.symStep(in, &st)
	}
	p.spare = append(p.spare, mem)
}

// blockStores returns the 8-byte stores into writable data that block blk
// of f makes, evaluated alone (blockState).
func (p *Program) blockStores(f *cfg.Func, blk *cfg.Block) []globalStore {
	var out []globalStore
	ps := p.lifterPass()
	outer := ps.onStore
	ps.onStore = func(base *ir.Expr, off int64, v *ir.Expr) {
		if base == ps.addr0 && off >= 0 && off <= 0xffffffff {
			if sec := ps.img.Section(uint32(off)); sec != nil && sec.Writable() {
				out = append(out, globalStore{slot: uint32(off), v: v})
			}
		}
	}
	p.blockState(f, blk, nil)
	ps.onStore = outer
	return out
}

// ArgsAt returns the arguments of call c of f: c.Args once f is lifted,
// else evaluated from c's block alone (blockState), where the constants set
// just before the call are known without lifting f. whole says the
// arguments are what lifting f would say: f is lifted, or c is in f's
// entry block, which nothing runs before.
func (p *Program) ArgsAt(f *cfg.Func, c *cfg.CallSite) (args []*ir.Expr, whole bool) {
	if p.factsOf(f).lifted {
		return c.Args, true
	}
	blk := f.BlockAt(c.Site)
	if blk == nil {
		return nil, false
	}
	whole = blk.Start == f.Entry && !p.entryReentered(f)
	p.blockState(f, blk, func(in *cfg.Inst, st *symState) {
		if in.RVA == c.Site {
			args = p.lifter.callArgs(in, st, c.Tail)
		}
	})
	return args, whole
}

// entryReentered reports whether an edge leads back into f's entry block
// (a loop at the top of the function): then the block also runs with other
// values than the entry state.
func (p *Program) entryReentered(f *cfg.Func) bool {
	for _, b := range f.Blocks {
		for _, e := range b.Succs {
			if e.To == f.Entry {
				return true
			}
		}
	}
	return false
}

// MemoryAt returns the w bytes at address a just before call c of f, as
// far as c's block alone says (blockState): what the block stored there,
// or read-only data. nil when unknown (stored in another block, say).
func (p *Program) MemoryAt(f *cfg.Func, c *cfg.CallSite, a *ir.Expr, w int) *ir.Expr {
	blk := f.BlockAt(c.Site)
	if blk == nil || a == nil {
		return nil
	}
	var v *ir.Expr
	ps := p.lifterPass()
	p.blockState(f, blk, func(in *cfg.Inst, st *symState) {
		if in.RVA == c.Site {
			base, off := p.IR.Base(a)
			v, _ = st.mem.loadOver(p.IR, base, off, w, ps.background(base))
		}
	})
	return v
}
