package lift

import (
	"context"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// Program is an image's control-flow graph with its value analysis: the
// descent of package cfg, which asks the lifter for the values its
// indirect calls and jumps need, and the functions' lifts the rules ask for
// afterwards (Lift, Evaluate, ArgsAt, MemoryAt).
type Program struct {
	*cfg.Program
	// lifter is the pass that lifts the program's functions, during the
	// build and after it (lifterPass sets its hooks into the program).
	lifter pass
	// flowScratch is the memory of the pass during the build, reused for
	// every function.
	flowScratch symFlow
	// spare holds the memory of finished lifts for the next ones (Lift).
	spare []*liftMemory
	facts map[*cfg.Func]*facts
	// clobbered memoizes clobbers; irqlChanging holds the functions
	// changesIRQL is true of (irqlChangers), made on first use.
	clobbered    map[*cfg.Func]uint16
	irqlChanging map[*cfg.Func]bool
	// takenData holds the read-only data addresses code takes with lea
	// (a constructor's vtable, a constant table): where a vtable without a
	// symbol may start (hierarchy.go). Kept only when it may be needed.
	takenData map[uint32]bool
}

// facts is what the lifter knows of one function beside what it writes
// into the function itself (edge conditions, call arguments, Result).
type facts struct {
	// writes holds the general registers the function's own instructions
	// write, calls aside (bit r for register r; see clobbers); writesCR8 is
	// set when it writes CR8 (KeRaiseIrql and KeLowerIrql inline).
	writes    uint16
	writesCR8 bool
	// refs are the writable addresses it names (writableRefs), for
	// resolveGlobalCalls.
	refs []globalRef
	// lifted is set once the symbolic pass has run over the function:
	// until then its edge conditions, its calls' Args, IRQL and Target, and
	// Result, ExitIRQL and Returns are not known (see Lift).
	lifted bool
	// stores are its 8-byte stores into writable image data, objStores its
	// stores of vtable addresses into objects (a constructor's), known once
	// it is lifted (see resolveGlobalCalls and resolveVirtualCalls).
	stores    []globalStore
	objStores []objectStore
	// paramStores are its 8-byte stores through the pointers its register
	// parameters hold (InitHooks(HOOKS *Hooks) { Hooks->Pre = PreHook; }):
	// stores into a global whose address a caller passes (storedInto).
	paramStores []paramStore
}

// A paramStore is a store of v at parameter param + off.
type paramStore struct {
	param int
	off   int64
	v     *ir.Expr
}

// Build disassembles img and returns its program. It never fails: what it
// cannot decode is recorded in Program.Notes and the rest goes on.
func Build(img *loader.Image) *Program {
	p, _ := BuildWithin(context.Background(), img, cfg.Limits{})
	return p
}

// BuildWithin is Build with limits: it stops with a *cfg.LimitError when
// the program grows past one of lim, or with ctx.Err() when ctx is done,
// and then returns no program.
func BuildWithin(ctx context.Context, img *loader.Image, lim cfg.Limits) (*Program, error) {
	// One ir.Builder for the whole program: the expressions of every
	// function and what the rules make of them are interned together.
	p := &Program{lifter: newPass(img, ir.NewBuilder()), facts: map[*cfg.Func]*facts{}, takenData: map[uint32]bool{}}
	prog, err := cfg.BuildWithin(ctx, img, lim, building{p})
	if err != nil {
		return nil, err
	}
	p.Program = prog
	p.resolveGlobalCalls(func() bool { return ctx.Err() != nil })
	p.resolveMethodCalls()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// factsOf returns f's facts, made empty on first use.
func (p *Program) factsOf(f *cfg.Func) *facts {
	fa := p.facts[f]
	if fa == nil {
		fa = &facts{}
		p.facts[f] = fa
	}
	return fa
}

// building is the value analysis the descent asks while it builds
// (cfg.Values).
type building struct{ p *Program }

func (v building) IR() *ir.Builder { return v.p.lifter.b }

func (v building) Decoded(f *cfg.Func, insts []cfg.Inst) {
	ps := &v.p.lifter
	fa := v.p.factsOf(f)
	*fa = facts{}
	// Vtables are found by the addresses code takes only where symbols
	// describe classes but name no vtable (classVtables).
	inferVtables := len(ps.img.Classes) > 0 && len(ps.img.Vtables) == 0
	for i := range insts {
		in := &insts[i]
		if in.Op == x86asm.MOV && in.Args[0] == x86asm.CR8 {
			fa.writesCR8 = true
		}
		if in.Op != x86asm.CALL {
			fa.writes |= writtenRegs(in)
		}
		if in.Probe {
			ps.probes[in.RVA] = true
		}
		if inferVtables && in.Op == x86asm.LEA {
			if t, ok := cfg.RIPSlot(in); ok {
				if sec := ps.img.Section(t); sec != nil && !sec.Writable() && !ps.img.Executable(t) {
					v.p.takenData[t] = true
				}
			}
		}
	}
	fa.refs = ps.writableRefs(insts)
}

func (v building) Flow(f *cfg.Func, insts func(i int) []cfg.Inst, at, late func(bi int, in *cfg.Inst, s cfg.State), limit uint32) {
	s := &state{ps: &v.p.lifter}
	v.p.lift(&v.p.flowScratch, f, insts, func(bi int, in *cfg.Inst, st *symState) {
		s.st = st
		at(bi, in, s)
	}, limit, func(_ *symFlow, bi int, in *cfg.Inst, st *symState, _ uint32) {
		s.st = st
		late(bi, in, s)
	})
}

func (v building) Operands() cfg.State {
	st := unknownState()
	return &state{ps: &v.p.lifter, st: &st}
}

// state is a cfg.State: the pass's values before one instruction.
type state struct {
	ps *pass
	st *symState
}

func (s *state) Target(in *cfg.Inst) *ir.Expr  { return s.ps.callTarget(in, s.st) }
func (s *state) Operand(in *cfg.Inst) *ir.Expr { return s.ps.rawTarget(in, s.st) }
func (s *state) IRQL() *ir.Expr                { return s.st.irql }

func (s *state) Args(in *cfg.Inst, tail bool) []*ir.Expr { return s.ps.callArgs(in, s.st, tail) }

func (s *state) Reg(r x86asm.Reg) *ir.Expr {
	if i := cfg.RegIndex(r); i >= 0 {
		return s.st.r[i]
	}
	return nil
}
