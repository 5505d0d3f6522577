/*
 * chain_xsec.S - the shape of a VMProtect-packed driver that crashed the
 * CFG builder (issue 10): chained .pdata fragments (UNW_FLAG_CHAININFO)
 * that lie in a different executable section from the function they
 * belong to, in both directions.
 *
 *   HotA in .text jumps (jne rel32) to ColdA in .vmp1; ColdA's .pdata entry
 *   chains to HotA's.  .vmp1 lies above .text, so an address in ColdA is
 *   past the end of .text's bytes.
 *   HotB in .vmp1 jumps to ColdB in .text; ColdB's entry chains to HotB's.
 *   .text lies below .vmp1, so an address in ColdB is below it.
 *
 * drvhazard must analyse it, decoding each fragment from its own section's
 * bytes: the DbgPrint call in ColdA (.vmp1) and the ZwClose call in ColdB
 * (.text) are found, and DriverEntry reaches both imports.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call HotA
        call HotB
        add rsp, 0x28
        ret
DriverEntryEnd:

HotA:
        sub rsp, 0x28
        test ecx, ecx
        JNE32(ColdA)                    /* into .vmp1 */
BackA:
        add rsp, 0x28
        ret
HotAEnd:

        int3
        int3
ColdB:                                  /* a fragment of HotB (.vmp1) */
        xor ecx, ecx
        call qword ptr [rip + __imp_ZwClose]
        JMP32(BackB)                    /* back into .vmp1 */
ColdBEnd:

        .section .vmp1,"xr"
        .fill 0x100, 1, 0xcc            /* pushes HotB further from .text's bytes */
HotB:
        sub rsp, 0x28
        test edx, edx
        JNE32(ColdB)                    /* into .text */
BackB:
        add rsp, 0x28
        ret
HotBEnd:

        int3
        int3
ColdA:                                  /* a fragment of HotA (.text) */
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        JMP32(BackA)                    /* back into .text */
ColdAEnd:

        .section .rdata,"dr"
msg:    .asciz "cold"

        .section .xdata,"dr"
UNWIND(uwPlain)
UNWIND(uwHotA)
UNWIND(uwHotB)
UNWIND_CHAIN(uwColdA, HotA, HotAEnd, uwHotA)
UNWIND_CHAIN(uwColdB, HotB, HotBEnd, uwHotB)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva HotA, HotAEnd, uwHotA
        .rva ColdB, ColdBEnd, uwColdB
        .rva HotB, HotBEnd, uwHotB
        .rva ColdA, ColdAEnd, uwColdA
