/*
 * rawsize0.S - an executable section, .vmp0, whose SizeOfRawData build.sh
 * sets to 0 (pepatch -section .vmp0:rawsize=0), keeping its
 * PointerToRawData and VirtualSize: the section is all zeros in memory.
 * The entry point (DriverEntry) is there, a .pdata entry names a function
 * there, and Caller in .text calls it, jumps into it and jumps through a
 * table into it.
 *
 * drvhazard must analyse it: no function and no block in .vmp0 (it has
 * no bytes in the file); Caller is found from .pdata and its DbgPrint call
 * with it.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl Caller
Caller:
        sub rsp, 0x28
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        CALL32(Packed)
        cmp ecx, 1
        ja .Lskip
        mov eax, ecx
        lea rdx, [rip + Table]
        movsxd rax, dword ptr [rdx + rax*4]
        add rax, rdx
        jmp rax
.Lskip:
        test eax, eax
        JNE32(Packed + 4)
        add rsp, 0x28
        ret
        .p2align 2
Table:
        .long Packed - Table
        .long Packed + 8 - Table
CallerEnd:

        .section .vmp0,"xr"
        .globl DriverEntry
DriverEntry:
Packed:
        sub rsp, 0x28
        xor ecx, ecx
        call qword ptr [rip + __imp_ZwClose]
        add rsp, 0x28
        ret
PackedEnd:

        .section .rdata,"dr"
msg:    .asciz "rawsize0"

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva Caller, CallerEnd, uwPlain
        .rva Packed, PackedEnd, uwPlain
