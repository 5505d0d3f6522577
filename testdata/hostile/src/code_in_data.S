/*
 * code_in_data.S - the entry point is code in .data, which build.sh links
 * executable (/section:.data,ERW: read, write, execute), the way some
 * packers and hand-patched drivers ship it.  The same section holds
 * ordinary variables after the code.
 *
 * drvhazard must analyse it: the entry function is found in .data; it
 * calls DbgPrint and TextHelper in .text, which tail-jumps to ZwClose.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .data,"dw"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        inc qword ptr [rip + counter]
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        call TextHelper                 /* into .text */
        add rsp, 0x28
        ret
        .p2align 3
counter: .quad 0
msg:    .asciz "code in .data"

        .section .text,"xr"
TextHelper:
        xor ecx, ecx
        jmp qword ptr [rip + __imp_ZwClose]
