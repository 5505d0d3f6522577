package cfg

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/ir"
)

// Values is the value analysis the descent asks while it builds. Most
// calls and jumps resolve from their instruction alone; a call through a
// register or writable data, Control Flow Guard's dispatch, a jump table
// whose base was loaded far from its jmp resolve only from the values
// before them. Package lift implements it over the ir package.
type Values interface {
	// IR is the builder the analysis makes its expressions in, which the
	// program keeps (Program.IR).
	IR() *ir.Builder
	// Decoded is told a function's instructions each time the descent
	// decodes it (again): what the analysis knew of it is about blocks
	// that are gone.
	Decoded(f *Func, insts []Inst)
	// Flow runs the analysis over f, whose block i holds insts(i). at sees
	// every instruction with the values before it, each time its block is
	// computed (the last time, from the block's final input, stands);
	// late sees each jmp through a register the descent left unresolved,
	// once the conditions on f's edges are known. limit bounds a jump
	// table without a known bound.
	Flow(f *Func, insts func(i int) []Inst, at, late func(bi int, in *Inst, s State), limit uint32)
	// Operands is the State of an instruction of which nothing is known
	// but what its operands say.
	Operands() State
}

// State is what a value analysis knows before one instruction.
type State interface {
	// Target is what a call or jmp transfers to: an address, an import,
	// the pointer it loads; through Control Flow Guard's dispatch, the
	// pointer in rax.
	Target(in *Inst) *ir.Expr
	// Operand is the call's or jmp's operand itself: a dispatch is not
	// seen through.
	Operand(in *Inst) *ir.Expr
	// Args are the parameters a call passes: rcx, rdx, r8, r9, then the
	// first stack arguments.
	Args(in *Inst, tail bool) []*ir.Expr
	// IRQL is the IRQL, nil when unknown.
	IRQL() *ir.Expr
	// Reg is a general register's value, nil when unknown.
	Reg(r x86asm.Reg) *ir.Expr
}
