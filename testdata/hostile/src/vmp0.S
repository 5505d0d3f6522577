/*
 * vmp0.S - a packer's layout: no .text and no .pdata; the entry point is
 * in an executable section named .vmp0, and a byte-code dispatcher in a
 * second one, .vmp1 (read, write, execute), jumps through a table of
 * relocated handler pointers into both sections.
 *
 * drvhazard must analyse it: the entry function is found in .vmp0 and
 * calls DbgPrint; VmDispatch in .vmp1 is a function; through its table
 * the entry reaches ZwClose (Handler1, in .vmp0).
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .vmp0,"xr"
        .globl DriverEntry
DriverEntry:
        push rsi
        sub rsp, 0x20
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        lea rsi, [rip + bytecode]
        CALL32(VmDispatch)              /* into .vmp1 */
        add rsp, 0x20
        pop rsi
        ret

        .p2align 4
Handler0:
        xor eax, eax
        ret
        .p2align 4
Handler1:
        mov ecx, 7
        jmp qword ptr [rip + __imp_ZwClose]

        .section .vmp1,"xr"
VmDispatch:
        movzx eax, byte ptr [rsi]
        cmp eax, 2
        ja .Ldone
        lea rdx, [rip + VmTable]
        mov rax, qword ptr [rdx + rax*8]
        jmp rax
.Ldone:
        ret
        .p2align 4
Handler2:
        inc rsi
        JMP32(VmDispatch)
        .p2align 3
VmTable:
        .quad Handler0, Handler1, Handler2
bytecode:
        .byte 2, 1, 0
msg:    .asciz "vmp"
