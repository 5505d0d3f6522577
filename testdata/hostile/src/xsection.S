/*
 * xsection.S - code that calls and jumps between two executable sections,
 * .text and CODE2, in both directions: a call, a jcc into the middle of
 * the other section's code, tail jumps, a call back.
 *
 * drvhazard must analyse it: DriverEntry calls FarHelper in CODE2, which
 * calls DbgPrint; FarBranch (entered only by DriverEntry's jne) calls
 * ZwClose; NearHelper in .text tail-jumps to DbgPrint.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call FarHelper                  /* call into CODE2 */
        test eax, eax
        JNE32(FarBranch)                /* jcc into CODE2, not a function entry */
        add rsp, 0x28
        JMP32(FarTail)                  /* tail jump into CODE2 */
DriverEntryEnd:

NearHelper:                             /* reached from CODE2 only */
        lea rcx, [rip + msgNear]
        jmp qword ptr [rip + __imp_DbgPrint]
NearHelperEnd:

        .section CODE2,"xr"
FarHelper:
        sub rsp, 0x28
        lea rcx, [rip + msgFar]
        call qword ptr [rip + __imp_DbgPrint]
        add rsp, 0x28
        JMP32(NearHelper)               /* tail jump back into .text */
FarHelperEnd:

FarBranch:                              /* still DriverEntry's frame */
        xor ecx, ecx
        call qword ptr [rip + __imp_ZwClose]
        add rsp, 0x28
        ret

FarTail:
        sub rsp, 0x28
        mov ecx, 0x11
        CALL32(NearHelper)              /* call back into .text */
        add rsp, 0x28
        xor eax, eax
        ret

        .section .rdata,"dr"
msgNear: .asciz "near"
msgFar:  .asciz "far"

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva NearHelper, NearHelperEnd, uwPlain
        .rva FarHelper, FarHelperEnd, uwPlain
