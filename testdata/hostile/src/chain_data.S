/*
 * chain_data.S - chained .pdata fragments whose ranges do not lie in
 * executable code, and a jump into data.
 *
 *   HotD jumps (jne rel32) to ColdD, which is code-shaped bytes in .rdata
 *   (a DbgPrint call); ColdD's .pdata entry chains to HotD's.
 *   ColdE's entry begins in .text and ends in .rdata.
 *   ColdF is real code in .text whose entry chains to a "parent" that lies
 *   in .rdata.
 *
 * drvhazard must analyse it without decoding anything in .rdata: no block
 * and no call site there; the jump into data ends HotD's path.  The loader
 * drops the entries outside executable sections with a warning.
 * DriverEntry still reaches ZwClose through ColdF's caller.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call HotD
        call UsesF
        add rsp, 0x28
        ret
DriverEntryEnd:

HotD:
        sub rsp, 0x28
        test ecx, ecx
        JNE32(ColdD)                    /* into .rdata */
BackD:
        add rsp, 0x28
        ret
HotDEnd:

UsesF:
        sub rsp, 0x28
        test ecx, ecx
        JNE32(ColdF)
        add rsp, 0x28
        ret
UsesFEnd:

        int3
ColdF:
        xor ecx, ecx
        call qword ptr [rip + __imp_ZwClose]
        add rsp, 0x28
        ret
ColdFEnd:

ColdE:
        nop
        nop
        .section .rdata,"dr"
msg:    .asciz "data"
        .p2align 4
ColdD:                                  /* code bytes in a read-only data section */
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        JMP32(BackD)
ColdDEnd:
ColdEEnd:
FakeParent:
        .quad 0, 0
FakeParentEnd:

        .section .xdata,"dr"
UNWIND(uwPlain)
UNWIND(uwHotD)
UNWIND_CHAIN(uwColdD, HotD, HotDEnd, uwHotD)
UNWIND_CHAIN(uwColdE, HotD, HotDEnd, uwHotD)
UNWIND_CHAIN(uwColdF, FakeParent, FakeParentEnd, uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva HotD, HotDEnd, uwHotD
        .rva UsesF, UsesFEnd, uwPlain
        .rva ColdF, ColdFEnd, uwColdF
        .rva ColdE, ColdEEnd, uwColdE
        .rva ColdD, ColdDEnd, uwColdD
