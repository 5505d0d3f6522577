/*
 * cfguard.c - indirect calls as an MSVC /guard:cf driver makes them.  clang
 * is run with -cfguard (clang-cl /guard:cf) and lld-link with /guard:cf, so
 * every indirect call becomes
 *     mov rax, <target> ; call [rip+__guard_dispatch_icall_fptr]
 * and the image carries a load-config directory with the guard function
 * table (GuardCFFunctionTable).  The gcc build has no CFG support: the same
 * calls are plain `call [table+i*8]` / `call reg`, with the same edges.
 */
#include "fixture_nt.h"

typedef ULONG (*PFN_OP)(ULONG Value);

ULONG gCounter = 3;
PFN_OP gCallback;
volatile ULONG gSink;

FIXTURE_NOINLINE ULONG OpAdd(ULONG x) { return x + gCounter; }
FIXTURE_NOINLINE ULONG OpMul(ULONG x) { return x * gCounter; }
FIXTURE_NOINLINE ULONG OpXor(ULONG x) { return x ^ gCounter; }
FIXTURE_NOINLINE ULONG OpSub(ULONG x) { return x - gCounter; }

const PFN_OP OpTable[4] = { OpAdd, OpMul, OpXor, OpSub };

/* Index masked to the table size: the targets are exactly OpTable[0..3]. */
FIXTURE_NOINLINE ULONG RunTable(ULONG Index, ULONG Value)
{
    return OpTable[Index & 3](Value) + 1;
}

/* Target known only through a global written by DriverEntry. */
FIXTURE_NOINLINE ULONG RunCallback(ULONG Value)
{
    return gCallback(Value) * 2;
}

/* The loader replaces these pointers when CFG is on; until then they point
   at the no-op checks, as in the MSVC CRT. */
VOID _guard_dispatch_icall_nop(VOID);
VOID _guard_check_icall_nop(VOID);
const PVOID __guard_dispatch_icall_fptr = (PVOID)_guard_dispatch_icall_nop;
const PVOID __guard_check_icall_fptr = (PVOID)_guard_check_icall_nop;

__asm__(
    "    .text\n"
    "    .globl _guard_dispatch_icall_nop\n"
    "    .def _guard_dispatch_icall_nop; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "_guard_dispatch_icall_nop:\n"
    "    jmp *%rax\n"
    "    .globl _guard_check_icall_nop\n"
    "    .def _guard_check_icall_nop; .scl 2; .type 32; .endef\n"
    "    .p2align 4\n"
    "_guard_check_icall_nop:\n"
    "    ret\n"
#if defined(_MSC_VER)
    /* IMAGE_LOAD_CONFIG_DIRECTORY64 up to GuardFlags (Size 0x94); lld-link
       /guard:cf defines the __guard_fids_* / __guard_flags symbols. */
    "    .section .rdata,\"dr\"\n"
    "    .globl _load_config_used\n"
    "    .p2align 3\n"
    "_load_config_used:\n"
    "    .long 0x94\n"                        /* 0x00 Size */
    "    .fill 0x6c, 1, 0\n"                  /* 0x04 .. 0x6f */
    "    .quad __guard_check_icall_fptr\n"    /* 0x70 GuardCFCheckFunctionPointer */
    "    .quad __guard_dispatch_icall_fptr\n" /* 0x78 GuardCFDispatchFunctionPointer */
    "    .quad __guard_fids_table\n"          /* 0x80 GuardCFFunctionTable */
    "    .quad __guard_fids_count\n"          /* 0x88 GuardCFFunctionCount */
    "    .long __guard_flags\n"               /* 0x90 GuardFlags */
    "    .long 0\n"
#endif
);

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    ULONG acc;

    (void)RegistryPath;
    gCallback = OpMul;
    acc = RunTable((ULONG)(ULONG_PTR)DriverObject, 5);
    acc += RunCallback(acc);
    gSink = acc;
    DbgPrint("cfguard: %lu\n", acc);
    return STATUS_SUCCESS;
}
