/*
 * callforms.c - every call form the CFG builder has to recognise.
 *
 * Built with dllimport declarations (FIXTURE_NO_DLLIMPORT undefined), so
 * plain import calls are `call [rip+IAT]`.  Each pattern sits in its own
 * small function so the ground truth can name it:
 *
 *   DirectImportCall   call [IAT]
 *   RegisterImportCall mov reg,[IAT] ; call reg (twice, through one register)
 *   TailInternal       jmp TailTarget            (sibling call)
 *   TailImport         jmp [IAT]                 (sibling call to ZwClose)
 *   DispatchSwitch     dense 12-case switch -> jump table, cases call Op0..Op9
 *   DispatchTable      indirect call through the const HandlerTable in .rdata
 *   TreeDepth          direct recursion; WalkOdd/WalkEven mutual recursion;
 *                      IsEven/IsOdd mutual recursion through tail jumps
 *   BigFrame           64 KB frame -> __chkstk (clang) / ___chkstk_ms (gcc)
 *   CheckedDivide      KeBugCheckEx (noreturn) with code placed after the call
 *   RaiseOnFailure     ExRaiseStatus (noreturn) on the cold path
 *   RetpolineStyleCall MSVC retpoline import call: 48 ff 15 <IAT> + 0f 1f 44 00 00
 *   CfgGuardedCall     Control Flow Guard dispatch: lea rax,CfgTarget ;
 *                      call [__guard_dispatch_icall_fptr]
 */
#include "fixture_nt.h"

typedef NTSTATUS (NTAPI *PFN_ZW_CLOSE)(HANDLE Handle);
typedef ULONG (*PFN_HANDLER)(ULONG Value);

volatile ULONG gSink;
ULONG gCounter = 1;

/* ---- call [IAT] ---- */
FIXTURE_NOINLINE NTSTATUS DirectImportCall(HANDLE Handle)
{
    NTSTATUS status = ZwClose(Handle);
    gSink = (ULONG)status;
    return status + 1;
}

/* ---- mov reg,[IAT] ; call reg ----
   The empty asm makes the compiler keep the imported address in a register
   (it may not fold it back into `call [IAT]`); it emits no instructions. */
FIXTURE_NOINLINE NTSTATUS RegisterImportCall(HANDLE First, HANDLE Second)
{
    PFN_ZW_CLOSE closeRoutine = ZwClose;
    NTSTATUS status;

    __asm__("" : "+r"(closeRoutine));
    status = closeRoutine(First);
    status |= closeRoutine(Second);
    return status;
}

/* ---- tail calls ---- */
FIXTURE_NOINLINE ULONG TailTarget(ULONG Value)
{
    return Value * 7 + gCounter;
}

FIXTURE_NOINLINE ULONG TailInternal(ULONG Value)
{
    return TailTarget(Value + 1);
}

FIXTURE_NOINLINE NTSTATUS TailImport(HANDLE Handle)
{
    gCounter++;
    return ZwClose(Handle);
}

/* ---- jump table ---- */
FIXTURE_NOINLINE ULONG Op0(ULONG x) { return x + 0x11 + gCounter; }
FIXTURE_NOINLINE ULONG Op1(ULONG x) { return x * 3 - gCounter; }
FIXTURE_NOINLINE ULONG Op2(ULONG x) { return (x << 4) ^ gCounter; }
FIXTURE_NOINLINE ULONG Op3(ULONG x) { return (x >> 2) | gCounter; }
FIXTURE_NOINLINE ULONG Op4(ULONG x) { return x * 0x1234 + gCounter; }
FIXTURE_NOINLINE ULONG Op5(ULONG x) { return ~x & gCounter; }
FIXTURE_NOINLINE ULONG Op6(ULONG x) { return x / (gCounter | 1); }
FIXTURE_NOINLINE ULONG Op7(ULONG x) { return x % (gCounter | 2); }
FIXTURE_NOINLINE ULONG Op8(ULONG x) { return (x ^ 0x5555) + (gCounter << 1); }
FIXTURE_NOINLINE ULONG Op9(ULONG x) { return (x + gCounter) * (x - gCounter); }

FIXTURE_NOINLINE ULONG DispatchSwitch(ULONG Code, ULONG Value)
{
    ULONG result;

    switch (Code) {
    case 0: result = Op0(Value); break;
    case 1: result = Op1(Value); break;
    case 2: result = Op2(Value); break;
    case 3: result = Op3(Value); break;
    case 4: result = Op4(Value); break;
    case 5: result = Op5(Value); break;
    case 6: result = Op6(Value); break;
    case 7: result = Op7(Value); break;
    case 8: result = Op8(Value); break;
    case 9: result = Op9(Value); break;
    case 10: result = (ULONG)(ULONG_PTR)PsGetCurrentProcessId(); break;
    case 11: KeStallExecutionProcessor(Value); result = 11; break;
    default: result = 0xffff; break;
    }
    return result ^ 0x5a5a;
}

/* ---- handler table in .rdata ---- */
FIXTURE_NOINLINE ULONG HandlerA(ULONG x) { return x + 100 + gCounter; }
FIXTURE_NOINLINE ULONG HandlerB(ULONG x) { return x * 200 + gCounter; }
FIXTURE_NOINLINE ULONG HandlerC(ULONG x) { return (x | 300) - gCounter; }
FIXTURE_NOINLINE ULONG HandlerD(ULONG x) { return (x ^ 400) * gCounter; }

const PFN_HANDLER HandlerTable[4] = { HandlerA, HandlerB, HandlerC, HandlerD };

FIXTURE_NOINLINE ULONG DispatchTable(ULONG Index, ULONG Value)
{
    ULONG result = HandlerTable[Index & 3](Value);
    return result + 3;
}

/* ---- recursion ---- */
typedef struct _NODE {
    struct _NODE *Left;
    struct _NODE *Right;
    ULONG Value;
} NODE;

FIXTURE_NOINLINE ULONG TreeDepth(const NODE *Node)
{
    ULONG left, right;

    if (Node == NULL)
        return 0;
    left = TreeDepth(Node->Left);
    right = TreeDepth(Node->Right);
    return 1 + (left > right ? left : right);
}

ULONG WalkEven(const NODE *Node);

FIXTURE_NOINLINE ULONG WalkOdd(const NODE *Node)
{
    if (Node == NULL)
        return 1;
    return WalkEven(Node->Left) * 3 + Node->Value;
}

FIXTURE_NOINLINE ULONG WalkEven(const NODE *Node)
{
    if (Node == NULL)
        return 0;
    return WalkOdd(Node->Right) * 5 + Node->Value;
}

BOOLEAN IsOdd(ULONG n);

FIXTURE_NOINLINE BOOLEAN IsEven(ULONG n)
{
    if (n == 0)
        return TRUE;
    return IsOdd(n - 1);
}

FIXTURE_NOINLINE BOOLEAN IsOdd(ULONG n)
{
    if (n == 0)
        return FALSE;
    return IsEven(n - 1);
}

/* ---- large frame: stack probe ---- */
FIXTURE_NOINLINE ULONG FillBuffer(UCHAR *Buffer, ULONG Length)
{
    ULONG i, sum = 0;

    for (i = 0; i < Length; i += 64) {
        Buffer[i] = (UCHAR)(i ^ gCounter);
        sum += Buffer[i];
    }
    return sum;
}

FIXTURE_NOINLINE ULONG BigFrame(ULONG Seed)
{
    UCHAR buffer[65536];
    ULONG sum = FillBuffer(buffer, sizeof(buffer));

    return sum + buffer[Seed & 0xffc0];
}

/* ---- no-return imports ---- */
FIXTURE_NOINLINE ULONG CheckedDivide(ULONG Dividend, ULONG Divisor)
{
    /* Claimed likely so the compilers lay the bugcheck call out on the
       fall-through path: the bytes after the call belong to the divide. */
    if (__builtin_expect(Divisor == 0, 1))
        KeBugCheckEx(0xE2 /* MANUALLY_INITIATED_CRASH */, Dividend, 0, 0, 0);
    return Dividend / Divisor;
}

FIXTURE_NOINLINE ULONG RaiseOnFailure(NTSTATUS Status)
{
    if (!NT_SUCCESS(Status))
        ExRaiseStatus(Status);
    return (ULONG)Status + gCounter;
}

/* ---- retpoline-style import call and CFG dispatch (hand-written asm) ----
   Written as whole functions so the shadow space and stack alignment are
   right; the .seh_ directives give them .pdata/.xdata like compiled code. */
ULONGLONG RetpolineStyleCall(VOID);
ULONG CfgGuardedCall(VOID);
VOID _guard_dispatch_icall_nop(VOID);

FIXTURE_NOINLINE FIXTURE_USED ULONG CfgTarget(ULONG Value)
{
    return Value * 9 + gCounter;
}

/* What the loader would patch: with CFG off it is a plain `jmp rax`. */
const PVOID __guard_dispatch_icall_fptr = (PVOID)_guard_dispatch_icall_nop;

__asm__(
    "    .text\n"
    "    .globl RetpolineStyleCall\n"
    "    .def RetpolineStyleCall; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "RetpolineStyleCall:\n"
    "    .seh_proc RetpolineStyleCall\n"
    "    subq $40, %rsp\n"
    "    .seh_stackalloc 40\n"
    "    .seh_endprologue\n"
    "    xorl %ecx, %ecx\n"
    "    .byte 0x48\n"                                  /* REX.W: 48 ff 15 disp32 */
    "    call *__imp_KeQueryPerformanceCounter(%rip)\n"
    "    .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"            /* nop dword [rax+rax*1+0x0]; as
                                                          would shorten `nopl 0(%rax,%rax)` */
    "    addq $40, %rsp\n"
    "    ret\n"
    "    .seh_endproc\n"
    "\n"
    "    .globl CfgGuardedCall\n"
    "    .def CfgGuardedCall; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "CfgGuardedCall:\n"
    "    .seh_proc CfgGuardedCall\n"
    "    subq $40, %rsp\n"
    "    .seh_stackalloc 40\n"
    "    .seh_endprologue\n"
    "    movl $7, %ecx\n"
    "    leaq CfgTarget(%rip), %rax\n"
    "    call *__guard_dispatch_icall_fptr(%rip)\n"
    "    addq $40, %rsp\n"
    "    ret\n"
    "    .seh_endproc\n"
    "\n"
    "    .globl _guard_dispatch_icall_nop\n"
    "    .def _guard_dispatch_icall_nop; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "_guard_dispatch_icall_nop:\n"
    "    jmp *%rax\n"
#if defined(_MSC_VER)
    /* clang (MSVC target) calls __chkstk for frames over a page; with
       /nodefaultlib nothing provides it, so here is one: probe each page
       from the caller's rsp down by rax bytes, preserve all registers. */
    "\n"
    "    .globl __chkstk\n"
    "    .def __chkstk; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "__chkstk:\n"
    "    pushq %rcx\n"
    "    pushq %rax\n"
    "    leaq 24(%rsp), %rcx\n"
    "1:  cmpq $0x1000, %rax\n"
    "    jb 2f\n"
    "    subq $0x1000, %rcx\n"
    "    orq $0, (%rcx)\n"
    "    subq $0x1000, %rax\n"
    "    jmp 1b\n"
    "2:  subq %rax, %rcx\n"
    "    orq $0, (%rcx)\n"
    "    popq %rax\n"
    "    popq %rcx\n"
    "    ret\n"
#endif
);

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NODE leaf = { NULL, NULL, 3 };
    NODE root = { &leaf, NULL, 5 };
    ULONG acc = 0;

    (void)RegistryPath;
    acc += (ULONG)DirectImportCall((HANDLE)DriverObject);
    acc += (ULONG)RegisterImportCall((HANDLE)1, (HANDLE)2);
    acc += TailInternal(acc);
    acc += (ULONG)TailImport((HANDLE)3);
    acc += DispatchSwitch(acc % 13, acc);
    acc += DispatchTable(acc, 4);
    acc += TreeDepth(&root);
    acc += WalkOdd(&root);
    acc += IsEven(acc & 0xff);
    acc += BigFrame(acc);
    acc += CheckedDivide(acc, gCounter);
    acc += RaiseOnFailure((NTSTATUS)acc);
    acc += (ULONG)RetpolineStyleCall();
    acc += CfgGuardedCall();
    gSink = acc;
    return STATUS_SUCCESS;
}
