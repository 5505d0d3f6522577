/*
 * msvc_patterns.c - code shapes that real MSVC-built drivers contain and
 * that neither fixture toolchain emits by itself (cfg/msvc_test.go has the
 * same patterns as hand-assembled images).  Where a compiler will not
 * produce the shape, the function is written in GNU-syntax assembly, which
 * both gcc (GNU as) and clang (integrated assembler) accept, so both builds
 * carry the same bytes:
 *
 *   RegisterDevice       string literals in .text right after the code:
 *                        lea rcx,[rip+"DriverRegister"] ; call [DbgPrint]
 *                        lea rdx,[rip+L"\Device\X"] ; call [RtlInitUnicodeString]
 *   FillQwords           the x64 CRT memset computed jump:
 *                        lea r11,[rip+6] ; lea r11,[r11+r9*4] ; jmp r11
 *                        into a run of unrolled 4-byte stores
 *   DispatchByImageBase  lea r12,[rip+__ImageBase] in the prologue; in a
 *                        block entered by a branch:
 *                        mov ecx,[r12+rax*4+RVA(table)] ; add rcx,r12 ; jmp rcx
 *                        (table of 32-bit RVAs in .text after the function)
 *   ParentWithCold       PGO-style split: the cold block lies after
 *                        ColdNeighbor and has its own .pdata entry, chained
 *                        (UNW_FLAG_CHAININFO) to the parent's; .pdata/.xdata
 *                        written by hand
 *   SehUser              __try/__except(EXCEPTION_EXECUTE_HANDLER) and
 *                        __try/__finally with __C_specific_handler: clang
 *                        compiles the C below; for gcc, which has no __try,
 *                        the same function is written in assembly after
 *                        clang's output, scope table included
 *
 * None of the string or table labels is a symbol (all are .L labels), so the
 * .syms files list only the functions.
 */
#include "fixture_nt.h"

volatile ULONG gSink;
ULONG gCounter = 1;
ULONGLONG gQwords[8];

/* ---- callees of the assembly functions (global, so always emitted) ---- */
FIXTURE_NOINLINE ULONG CaseRead(ULONG x) { return x + 0x31 + gCounter; }
FIXTURE_NOINLINE ULONG CaseWrite(ULONG x) { return x * 5 - gCounter; }
FIXTURE_NOINLINE ULONG CaseClose(ULONG x) { return (x << 3) ^ gCounter; }
FIXTURE_NOINLINE ULONG ColdPathWork(ULONG x) { return x * 0x21 + gCounter; }

/* ---- SEH helpers ---- */
FIXTURE_NOINLINE ULONG ProbeValue(ULONG x) { return gSink / x; }
FIXTURE_NOINLINE VOID ReportFault(ULONG Code) { gSink = Code; }
FIXTURE_NOINLINE VOID ReleaseProbe(ULONG Value) { gSink += Value; }

ULONG RegisterDevice(VOID);
VOID FillQwords(ULONGLONG *Destination, ULONGLONG Value, ULONG Unused, ULONGLONG First);
ULONG DispatchByImageBase(ULONG Enabled, ULONG Code, ULONG Value);
ULONG ParentWithCold(ULONG Value);
ULONG ColdNeighbor(ULONG Value);
ULONG SehUser(ULONG Value);

__asm__(
    /* ---- 1. strings in .text ----
       As in the MSVC-built drivers seen in the field: the literals sit in
       the code section right after the function that uses them, outside
       its .pdata range. */
    "    .text\n"
    "    .globl RegisterDevice\n"
    "    .def RegisterDevice; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "RegisterDevice:\n"
    "    .seh_proc RegisterDevice\n"
    "    subq $56, %rsp\n"
    "    .seh_stackalloc 56\n"
    "    .seh_endprologue\n"
    "    leaq .LstrDriverRegister(%rip), %rcx\n"
    "    call *__imp_DbgPrint(%rip)\n"
    "    leaq 32(%rsp), %rcx\n"                  /* UNICODE_STRING on the stack */
    "    leaq .LstrDeviceName(%rip), %rdx\n"
    "    call *__imp_RtlInitUnicodeString(%rip)\n"
    "    movzwl 32(%rsp), %eax\n"                /* .Length */
    "    addq $56, %rsp\n"
    "    ret\n"
    "    .seh_endproc\n"
    ".LstrDriverRegister:\n"
    "    .asciz \"DriverRegister\"\n"
    "    .p2align 1\n"
    ".LstrDeviceName:\n"                         /* L"\\Device\\X" */
    "    .short 0x5c, 0x44, 0x65, 0x76, 0x69, 0x63, 0x65, 0x5c, 0x58, 0\n"
    "\n"
    /* ---- 2. memset computed jump ----
       rcx = destination, rdx = value, r9 = first qword to store (1..7).
       r11 = (end of the first lea) + 6 = the last byte of `jmp r11`; each
       unrolled store is 4 bytes, so r11 + r9*4 is the store of qword r9.
       A leaf with no .pdata, like the CRT's. */
    "    .globl FillQwords\n"
    "    .def FillQwords; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "FillQwords:\n"
    "    leaq 6(%rip), %r11\n"                   /* 4c 8d 1d 06 00 00 00 */
    "    leaq (%r11,%r9,4), %r11\n"              /* 4f 8d 1c 8b */
    "    jmp *%r11\n"                            /* 41 ff e3 */
    "    movq %rdx, (%rcx)\n"                    /* 48 89 11 */
    "    movq %rdx, 8(%rcx)\n"                   /* 48 89 51 08 ... */
    "    movq %rdx, 16(%rcx)\n"
    "    movq %rdx, 24(%rcx)\n"
    "    movq %rdx, 32(%rcx)\n"
    "    movq %rdx, 40(%rcx)\n"
    "    movq %rdx, 48(%rcx)\n"
    "    movq %rdx, 56(%rcx)\n"
    "    ret\n"
    "\n"
    /* ---- 3. jump table relative to __ImageBase ----
       ecx = enabled, edx = case, r8d = argument.  The table displacement
       is an image-relative address: `.rva` after the opcode bytes, since
       GNU as has no @IMGREL operand (clang does; the bytes are the same). */
    "    .globl DispatchByImageBase\n"
    "    .def DispatchByImageBase; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "DispatchByImageBase:\n"
    "    .seh_proc DispatchByImageBase\n"
    "    pushq %r12\n"
    "    .seh_pushreg %r12\n"
    "    subq $32, %rsp\n"
    "    .seh_stackalloc 32\n"
    "    .seh_endprologue\n"
    "    leaq __ImageBase(%rip), %r12\n"
    "    xorl %eax, %eax\n"
    "    testl %ecx, %ecx\n"
    "    jne .LdispatchSwitch\n"
    ".LdispatchDone:\n"
    "    addq $32, %rsp\n"
    "    popq %r12\n"
    "    ret\n"
    ".LdispatchSwitch:\n"
    "    cmpl $2, %edx\n"
    "    ja .LdispatchDone\n"
    "    movl %edx, %eax\n"
    "    .byte 0x41, 0x8b, 0x8c, 0x84\n"         /* mov ecx,[r12+rax*4+disp32] */
    "    .rva .LdispatchTable\n"
    "    addq %r12, %rcx\n"
    "    jmp *%rcx\n"
    ".LdispatchCase0:\n"
    "    movl %r8d, %ecx\n"
    "    call CaseRead\n"
    "    jmp .LdispatchDone\n"
    ".LdispatchCase1:\n"
    "    movl %r8d, %ecx\n"
    "    call CaseWrite\n"
    "    jmp .LdispatchDone\n"
    ".LdispatchCase2:\n"
    "    movl %r8d, %ecx\n"
    "    call CaseClose\n"
    "    jmp .LdispatchDone\n"
    "    .seh_endproc\n"
    "    .p2align 2\n"
    ".LdispatchTable:\n"
    "    .rva .LdispatchCase0, .LdispatchCase1, .LdispatchCase2\n"
    "\n"
    /* ---- 4. chained unwind info for a cold block ----
       No .seh_ directives: the .pdata entries and UNWIND_INFO below are
       written by hand.  `.section .pdata` takes the attributes of the
       section the assembler already has (a flags string differing from
       them makes GNU as warn). */
    "    .globl ParentWithCold\n"
    "    .def ParentWithCold; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "ParentWithCold:\n"
    "    subq $40, %rsp\n"                       /* 48 83 ec 28: the prologue */
    "    xorl %eax, %eax\n"
    "    testl %ecx, %ecx\n"
    "    .byte 0x0f, 0x85\n"                     /* jne rel32 (as would pick rel8) */
    "    .long .LparentCold - . - 4\n"
    ".LparentBack:\n"
    "    addq $40, %rsp\n"
    "    ret\n"
    ".LparentEnd:\n"
    "\n"
    "    .globl ColdNeighbor\n"
    "    .def ColdNeighbor; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "ColdNeighbor:\n"
    "    leal 1(%rcx), %eax\n"
    "    ret\n"
    "\n"
    "    .p2align 4\n"
    ".LparentCold:\n"                            /* in the parent's frame */
    "    call ColdPathWork\n"
    "    jmp .LparentBack\n"
    ".LparentColdEnd:\n"
    "\n"
    "    .section .pdata\n"
    "    .p2align 2\n"
    "    .rva ParentWithCold, .LparentEnd, .LparentUnwind\n"
    "    .rva .LparentCold, .LparentColdEnd, .LparentColdUnwind\n"
    "    .section .xdata\n"
    "    .p2align 2\n"
    ".LparentUnwind:\n"
    "    .byte 0x01, 4, 1, 0\n"                  /* version 1, prolog 4 bytes, 1 code */
    "    .byte 4, 0x42\n"                        /* at 4: UWOP_ALLOC_SMALL 0x28 */
    "    .short 0\n"                             /* pad the codes to an even count */
    ".LparentColdUnwind:\n"
    "    .byte 0x21, 0, 0, 0\n"                  /* version 1, UNW_FLAG_CHAININFO */
    "    .rva ParentWithCold, .LparentEnd, .LparentUnwind\n"
    "    .text\n"
);

#if defined(_MSC_VER)
/* ---- 5. SEH (clang) ----
   clang keeps the __except block in SehUser (reached only through the scope
   table), runs the __finally body inline on the normal path and outlines
   it as the funclet "?dtor$5@?0?SehUser@4HA" for the unwind path. */
FIXTURE_NOINLINE ULONG SehUser(ULONG Value)
{
    ULONG result = 0;

    __try {
        result = ProbeValue(Value);
    } __except (1 /* EXCEPTION_EXECUTE_HANDLER */) {
        ReportFault(0x77);
    }
    __try {
        result += ProbeValue(Value + 1);
    } __finally {
        ReleaseProbe(result);
    }
    return result;
}
#else
/* ---- 5. SEH (gcc) ----
   clang's code for the C above, by hand: the same frame, the same scope
   table after .seh_handlerdata (count, then {Begin, End, Handler,
   JumpTarget}), and the __finally funclet under clang's name, so that one
   truth line covers both builds. */
__asm__(
    "    .text\n"
    "    .globl SehUser\n"
    "    .def SehUser; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "SehUser:\n"
    "    .seh_proc SehUser\n"
    "    .seh_handler __C_specific_handler, @unwind, @except\n"
    "    pushq %rbp\n"
    "    .seh_pushreg %rbp\n"
    "    pushq %rsi\n"
    "    .seh_pushreg %rsi\n"
    "    subq $40, %rsp\n"
    "    .seh_stackalloc 40\n"
    "    leaq 32(%rsp), %rbp\n"
    "    .seh_setframe %rbp, 32\n"
    "    .seh_endprologue\n"
    "    movl %ecx, %esi\n"
    "    movl $0, 4(%rbp)\n"                     /* result */
    ".LsehTry0:\n"
    "    call ProbeValue\n"
    ".LsehTry0End:\n"
    "    movl %eax, 4(%rbp)\n"
    ".LsehAfterExcept:\n"
    "    addl $1, %esi\n"
    ".LsehTry1:\n"
    "    movl %esi, %ecx\n"
    "    call ProbeValue\n"
    ".LsehTry1End:\n"
    "    addl %eax, 4(%rbp)\n"
    "    movl 4(%rbp), %ecx\n"                   /* __finally, normal path */
    "    call ReleaseProbe\n"
    "    movl 4(%rbp), %eax\n"
    "    addq $40, %rsp\n"
    "    popq %rsi\n"
    "    popq %rbp\n"
    "    ret\n"
    ".LsehExcept:\n"                             /* __except block */
    "    movl $0x77, %ecx\n"
    "    call ReportFault\n"
    "    jmp .LsehAfterExcept\n"
    "    .seh_handlerdata\n"
    "    .long 2\n"
    "    .rva .LsehTry0, .LsehTry0End+1\n"
    "    .long 1\n"                              /* EXCEPTION_EXECUTE_HANDLER */
    "    .rva .LsehExcept\n"
    "    .rva .LsehTry1, .LsehTry1End+1\n"
    "    .rva \"?dtor$5@?0?SehUser@4HA\"\n"      /* __finally funclet */
    "    .long 0\n"
    "    .text\n"
    "    .seh_endproc\n"
    "\n"
    "    .def \"?dtor$5@?0?SehUser@4HA\"; .scl 3; .type 32; .endef\n"
    "    .p2align 4\n"
    "\"?dtor$5@?0?SehUser@4HA\":\n"
    "    .seh_proc \"?dtor$5@?0?SehUser@4HA\"\n"
    "    movq %rdx, 16(%rsp)\n"                  /* rdx = establisher frame */
    "    pushq %rbp\n"
    "    .seh_pushreg %rbp\n"
    "    pushq %rsi\n"
    "    .seh_pushreg %rsi\n"
    "    subq $40, %rsp\n"
    "    .seh_stackalloc 40\n"
    "    leaq 32(%rdx), %rbp\n"
    "    .seh_endprologue\n"
    "    movl 4(%rbp), %ecx\n"
    "    call ReleaseProbe\n"
    "    nop\n"
    "    addq $40, %rsp\n"
    "    popq %rsi\n"
    "    popq %rbp\n"
    "    ret\n"
    "    .seh_endproc\n"
);
#endif

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    ULONG acc = (ULONG)(ULONG_PTR)DriverObject;

    (void)RegistryPath;
    /* ParentWithCold first: the calls after it are recovered only if it
       is not taken for a no-return function. */
    acc += ParentWithCold(acc & 1);
    acc += ColdNeighbor(acc);
    acc += RegisterDevice();
    FillQwords(gQwords, acc, 0, 1 + acc % 7);
    acc += DispatchByImageBase(acc & 2, acc % 3, acc);
    acc += SehUser(acc | 1);
    gSink = acc;
    return STATUS_SUCCESS;
}
