// Package cfg recovers the functions, basic blocks, control-flow edges and
// call graph of an x64 PE image by recursive-descent disassembly with
// golang.org/x/arch/x86/x86asm.
//
// Functions are discovered from the entry point, exports, .pdata, COFF
// symbols, relocated code pointers in data, code addresses taken with lea,
// direct call targets and tail jumps. A linear sweep is never used: MSVC
// places switch tables after the ret inside a function's .pdata range, and
// decoding them as code would invent instructions.
//
// Call sites are resolved to functions or imports in every form compilers
// emit for drivers: call rel32, call [rip+IAT], jmp [IAT] import thunks,
// mov reg,[IAT]; call reg, tail jumps, Control Flow Guard dispatch
// (call [__guard_dispatch_icall_fptr] with the target in rax), jump tables
// (MSVC image-base-relative and gcc/clang table-relative forms) and handler
// tables of relocated function pointers indexed at run time. A simple forward
// constant pass within each function gives the values of rcx, rdx, r8 and r9
// at every call site (lea rdx,[rip+X], mov r8d,imm) and the stack frame size.
//
// cfg knows nothing about minifilters; the rules package gives the call
// graph its meaning.
package cfg
