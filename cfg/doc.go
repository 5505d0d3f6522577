// Package cfg recovers the functions, basic blocks, control-flow edges and
// call graph of an x64 PE image by recursive-descent disassembly with
// golang.org/x/arch/x86/x86asm, and lifts every function into the symbolic
// IR of package ir.
//
// Functions are discovered from the entry point, exports, .pdata, COFF
// symbols, relocated code pointers in data, code addresses taken with lea,
// direct call targets and tail jumps. A linear sweep is never used: MSVC
// places switch tables after the ret inside a function's .pdata range, and
// decoding them as code would invent instructions. Every byte decoded comes
// from the executable section that holds its address.
//
// The lifter (lift.go) expresses each instruction's effect on registers,
// flags, the IRQL and memory cells (stack, image, and memory reached through
// parameters) as ir expressions; a forward pass runs it to a fixed point
// over each function's blocks, gating values on the branches that choose
// them where paths meet. From it come, in the function's own terms:
//
//   - the condition on every conditional and jump-table edge (Edge.Cond);
//   - the arguments, IRQL and target of every call (CallSite);
//   - what the function returns and the IRQL it returns at (Func.Result,
//     Func.ExitIRQL, Func.Returns), so that a helper's result can stand for
//     its call in its callers' conditions;
//   - the frame size.
//
// Call sites are resolved from what their target means: call rel32,
// call [rip+IAT], jmp [IAT] import thunks, mov reg,[IAT]; call reg, tail
// jumps, Control Flow Guard dispatch (call [__guard_dispatch_icall_fptr]
// with the target in rax), jump tables (MSVC image-base-relative, gcc/clang
// table-relative, absolute, two-level), pointers held in read-only data and
// handler tables indexed at run time. What the pass learns that the descent
// could not see (a jump table whose base was loaded far from its jmp, a
// no-return routine called through a register) has the function decoded
// again.
//
// cfg knows nothing about minifilters; the rules package gives the program
// its meaning.
package cfg
