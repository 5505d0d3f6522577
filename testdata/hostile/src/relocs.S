/*
 * relocs.S - base relocations that fix up garbage.  The relocated
 * pointers in .data point into the middle of an instruction, past
 * SizeOfImage, into the headers, into .rdata and into .pdata; a movabs in
 * code carries a relocated immediate past SizeOfImage.  build.sh appends
 * more (pepatch -reloc): DIR64 fixups on the bytes of DriverEntry's code,
 * on the headers and on the IAT, a HIGHLOW (32-bit) fixup, a HIGHADJ
 * fixup (which takes the entry after it as its parameter) and one of the
 * undefined type 15.
 *
 * drvhazard must analyse it: DriverEntry is found and calls DbgPrint, and
 * no function is made of the garbage targets (every call-site callee is a
 * function of the program or an import).
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        movabs rax, offset __ImageBase + 0x7fff0000
        mov rax, qword ptr [rip + Pointers]
        call rax
        add rsp, 0x28
        ret
DriverEntryEnd:

MidTarget:
        mov eax, 0x11223344
        ret
MidTargetEnd:

        .section .rdata,"dr"
msg:    .asciz "relocs"

        .section .data,"dw"
        .p2align 3
Pointers:
        .quad MidTarget + 1             /* inside mov eax, imm32 */
        .quad __ImageBase + 0x7fff0000  /* past SizeOfImage */
        .quad __ImageBase + 0x10        /* the headers */
        .quad msg                       /* .rdata */
        .quad pdataStart                /* .pdata */
        .quad Pointers                  /* itself */

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
pdataStart:
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva MidTarget, MidTargetEnd, uwPlain
