/*
 * chain_outside.S - chained .pdata that leads nowhere: a fragment whose
 * range lies outside the image, a fragment whose parent lies outside it,
 * a cycle of two chained entries and an entry chained to itself, and jumps
 * whose rel32 targets leave the image (above SizeOfImage, and below RVA 0,
 * wrapping around).
 *
 * drvhazard must analyse it: nothing outside the image is decoded; HotO's
 * DbgPrint call and the ZwClose call in the cycle are found.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call HotO
        call LoopA
        call LoopSelf
        add rsp, 0x28
        ret
DriverEntryEnd:

HotO:
        sub rsp, 0x28
        test ecx, ecx
        .byte 0x0f, 0x85                /* jne rel32 far above the image */
        .long 0x7fff0000
        test edx, edx
        .byte 0x0f, 0x84                /* je rel32 below RVA 0 (wraps) */
        .long 0x80000000
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        add rsp, 0x28
        ret
HotOEnd:

LoopA:                                  /* chained to LoopB, which chains back */
        test ecx, ecx
        jne LoopB
        ret
LoopAEnd:
LoopB:
        xor ecx, ecx
        jmp qword ptr [rip + __imp_ZwClose]
LoopBEnd:

LoopSelf:                               /* chained to itself */
        xor eax, eax
        ret
LoopSelfEnd:

        .section .rdata,"dr"
msg:    .asciz "outside"

        .section .xdata,"dr"
UNWIND(uwPlain)
UNWIND(uwHotO)
/* the fragment outside the image belongs to HotO */
UNWIND_CHAIN(uwFarFrag, HotO, HotOEnd, uwHotO)
/* a fragment in .text whose parent is outside the image */
        .p2align 2
uwOrphan:
        .byte 0x21, 0, 0, 0
        .long 0x7ff00000, 0x7ff00040
        .rva uwPlain
UNWIND_CHAIN(uwLoopA, LoopB, LoopBEnd, uwLoopB)
UNWIND_CHAIN(uwLoopB, LoopA, LoopAEnd, uwLoopA)
UNWIND_CHAIN(uwLoopSelf, LoopSelf, LoopSelfEnd, uwLoopSelf)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva HotO, HotOEnd, uwHotO
        .rva LoopA, LoopAEnd, uwLoopA
        .rva LoopB, LoopBEnd, uwLoopB
        .rva LoopSelf, LoopSelfEnd, uwLoopSelf
        .long 0x7ff00000, 0x7ff00040    /* outside the image */
        .rva uwFarFrag
        .long 0x7ff00100, 0x7ff00140    /* outside, with a parent outside */
        .rva uwOrphan
