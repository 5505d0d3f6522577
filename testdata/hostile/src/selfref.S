/*
 * selfref.S - tables that point at themselves.
 *
 *   Dispatch calls through a const handler table in .rdata
 *   (call [rax+rcx*8]) whose entries are Handler0, the table itself, the
 *   table's second entry, and Dispatch (a cycle back to the caller).
 *   SelfSwitch jumps through a relative jump table in .text whose entries
 *   are the table itself, the table's second entry, the function's entry,
 *   and the jmp itself.
 *   .hdata is read-write-execute and holds a relocated pointer table whose
 *   entries point into that same table: every pointer is "code".
 *
 * drvhazard must analyse it: Dispatch's call reaches Handler0, which
 * tail-jumps to DbgPrint; nothing loops forever.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call Dispatch
        call SelfSwitch
        lea rax, [rip + ExecTable]
        add rsp, 0x28
        ret
DriverEntryEnd:

Dispatch:
        sub rsp, 0x28
        cmp ecx, 3
        ja .Lout
        lea rax, [rip + Handlers]
        call qword ptr [rax + rcx*8]
.Lout:
        add rsp, 0x28
        ret
DispatchEnd:

Handler0:
        lea rcx, [rip + msg]
        jmp qword ptr [rip + __imp_DbgPrint]
Handler0End:

SelfSwitch:
        cmp ecx, 3
        ja .Ldefault
        mov eax, ecx
        lea rdx, [rip + TSelf]
        movsxd rax, dword ptr [rdx + rax*4]
        add rax, rdx
SelfJmp:
        jmp rax
.Ldefault:
        ret
        .p2align 2
TSelf:
        .long 0                         /* the table itself */
        .long 4                         /* its own second entry */
        .long SelfSwitch - TSelf        /* the function's entry */
        .long SelfJmp - TSelf           /* the jmp rax */
SelfSwitchEnd:

        .section .rdata,"dr"
msg:    .asciz "self"
        .p2align 3
Handlers:
        .quad Handler0
        .quad Handlers
        .quad Handlers + 8
        .quad Dispatch

        .section .hdata,"xdw"
        .p2align 3
ExecTable:
        .quad ExecTable
        .quad ExecTable + 8
        .quad ExecTable + 3             /* inside its own first pointer */
        .quad ExecTable + 0x18          /* at itself */

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva Dispatch, DispatchEnd, uwPlain
        .rva Handler0, Handler0End, uwPlain
        .rva SelfSwitch, SelfSwitchEnd, uwPlain
