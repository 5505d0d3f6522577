/*
 * overlap.S - overlapping instruction streams, the anti-disassembly
 * staple of packers:
 *
 *   SelfJump: eb ff is "jmp -1", a jump into its own second byte; from
 *   there ff c0 decodes as "inc eax", then ret.
 *   Hidden:   a movabs rax,imm64 whose immediate is the 6-byte instruction
 *   call [rip+__imp_DbgPrint] plus two bytes; a jne into the immediate
 *   (the movabs's third byte) runs that hidden call.
 *   Straddle: a jne into the last byte of a mov ecx,imm32 whose immediate
 *   ends in c3 (ret), and a jmp to a byte past the end of its own .pdata
 *   range but inside the section.
 *
 * drvhazard must analyse it: both streams are decoded where they are
 * reached, so the hidden DbgPrint call is found; every block stays in
 * .text.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call SelfJump
        call Hidden
        call Straddle
        add rsp, 0x28
        ret
DriverEntryEnd:

SelfJump:
        xor eax, eax
        .byte 0xeb, 0xff                /* jmp -1: into its own ff byte */
        .byte 0xc0                      /* ... which decodes as ff c0: inc eax */
        ret
SelfJumpEnd:

Hidden:
        sub rsp, 0x28
        test ecx, ecx
        JNE32(HiddenCall)
        .byte 0x48, 0xb8                /* movabs rax, imm64 = */
HiddenCall:
        .byte 0xff, 0x15                /*   call [rip + __imp_DbgPrint] */
        .long __imp_DbgPrint - (. + 4)
        .byte 0xeb, 0x00                /*   jmp +0: joins the outer stream */
        add rsp, 0x28
        ret
HiddenEnd:

Straddle:
        test edx, edx
        .byte 0x75                      /* jne rel8 into the mov's last byte */
        .byte StraddleRet - (. + 1)
        .byte 0xb9, 0x90, 0x90, 0x90    /* mov ecx, 0xc3909090 ... */
StraddleRet:
        .byte 0xc3                      /* ... whose last byte is a ret */
        .byte 0xeb                      /* jmp rel8 past the .pdata range */
        .byte StraddleOut - (. + 1)
StraddleEnd:
        int3
StraddleOut:
        xor eax, eax
        ret

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva SelfJump, SelfJumpEnd, uwPlain
        .rva Hidden, HiddenEnd, uwPlain
        .rva Straddle, StraddleEnd, uwPlain
