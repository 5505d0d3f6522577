/*
 * vsize_small.S - .text whose VirtualSize build.sh cuts to 0x30
 * (pepatch -section .text:vsize=0x30), below its SizeOfRawData: the file
 * holds code the image does not map.  DriverEntry (the first 0x23 bytes)
 * calls DbgPrint, then calls and jumps into Beyond, which lies past
 * VirtualSize and has a .pdata entry of its own; Beyond calls ZwClose.
 *
 * drvhazard must analyse it: DriverEntry and its DbgPrint call are found;
 * nothing past VirtualSize is decoded, so no block lies there and no call
 * to ZwClose is found.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:                            /* 0x23 bytes */
        sub rsp, 0x28
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        CALL32(Beyond)
        test eax, eax
        JNE32(Beyond)
        add rsp, 0x28
        ret
DriverEntryEnd:
        .p2align 6
Beyond:                                 /* at .text+0x40: past VirtualSize */
        sub rsp, 0x28
        xor ecx, ecx
        call qword ptr [rip + __imp_ZwClose]
        add rsp, 0x28
        ret
BeyondEnd:

        .section .rdata,"dr"
msg:    .asciz "vsize"

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva Beyond, BeyondEnd, uwPlain
