// Package cfg recovers the functions, basic blocks, control-flow edges and
// call graph of an x64 PE image by recursive-descent disassembly with
// golang.org/x/arch/x86/x86asm.
//
// Functions are discovered from the entry point, exports, .pdata, COFF
// symbols, relocated code pointers in data, code addresses taken with lea,
// direct call targets and tail jumps. A linear sweep is never used: MSVC
// places switch tables after the ret inside a function's .pdata range, and
// decoding them as code would invent instructions. Every byte decoded comes
// from the executable section that holds its address.
//
// Call sites are resolved from what their target means: call rel32,
// call [rip+IAT], jmp [IAT] import thunks, mov reg,[IAT]; call reg, tail
// jumps, Control Flow Guard dispatch (call [__guard_dispatch_icall_fptr]
// with the target in rax), jump tables (MSVC image-base-relative, gcc/clang
// table-relative, absolute, two-level), pointers held in read-only data and
// handler tables indexed at run time. Where only values can say (a call
// through a register, a jump table whose base was loaded far from its jmp),
// the descent asks a value analysis (Values, which package lift
// implements); what it learns that the descent could not see (such a table,
// a no-return routine called through a register) has the function decoded
// again.
//
// cfg knows nothing of what values mean, nor of minifilters: package lift
// gives the graph its values (edge conditions, call arguments, what a
// function returns), and the rules package gives the program its meaning.
package cfg
