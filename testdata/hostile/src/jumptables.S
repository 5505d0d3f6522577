/*
 * jumptables.S - jump tables of the three forms compilers emit, each with
 * entries that point where no case can be: outside the image (above
 * SizeOfImage and below RVA 0), into data (.rdata), into the headers, into
 * the middle of an instruction, at the table itself, at the jmp itself,
 * and into another executable section.
 *
 *   JtRel:   clang's  lea rdx,[rip+T]; movsxd rax,[rdx+rax*4]; add rax,rdx;
 *            jmp rax, with T in .text.
 *   JtAbs:   gcc's    mov rax,[rdx+rcx*8]; jmp rax over relocated pointers
 *            in .rdata; JtAbsOut's table starts with a pointer outside
 *            the image.
 *   JtMsvc:  MSVC's   lea r12,[rip+__ImageBase]; mov ecx,[r12+rax*4+RVA];
 *            add rcx,r12; jmp rcx over .rva entries in .rdata.
 *
 * drvhazard must analyse it: no edge or function lands outside an
 * executable section; case 0 of each table still reaches its import
 * (DbgPrint, ZwClose, ZwClose).
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        push rbx
        sub rsp, 0x20
        mov ebx, ecx
        call JtRel
        mov ecx, ebx
        call JtAbs
        mov ecx, ebx
        call JtAbsOut
        mov ecx, ebx
        call JtMsvc
        add rsp, 0x20
        pop rbx
        ret
DriverEntryEnd:

JtRel:
        cmp ecx, 7
        ja .LrelDefault
        mov eax, ecx
        lea rdx, [rip + TRel]
        movsxd rax, dword ptr [rdx + rax*4]
        add rax, rdx
RelJmp:
        jmp rax
.LrelDefault:
        xor eax, eax
        ret
RelCase0:
        lea rcx, [rip + msg]
        jmp qword ptr [rip + __imp_DbgPrint]
        .p2align 2
TRel:
        .long RelCase0 - TRel           /* a case */
        .long RelCase0 + 1 - TRel       /* the middle of the lea */
        .long 0                         /* the table itself */
        .long RelJmp - TRel             /* the jmp rax itself */
        .long Far2 + 1 - TRel           /* another executable section, mid-instruction */
        .long msg - TRel                /* .rdata */
        .long 0x7fff0000                /* above SizeOfImage */
        .long 0x80000000                /* below RVA 0 */
JtRelEnd:

JtAbs:
        cmp ecx, 5
        ja .LabsDefault
        lea rdx, [rip + TAbs]
        mov rax, qword ptr [rdx + rcx*8]
        jmp rax
.LabsDefault:
        xor eax, eax
        ret
AbsCase0:
        xor ecx, ecx
        jmp qword ptr [rip + __imp_ZwClose]
JtAbsEnd:

JtAbsOut:
        cmp ecx, 2
        ja .LabsOutDefault
        lea rdx, [rip + TAbsOut]
        mov rax, qword ptr [rdx + rcx*8]
        jmp rax
.LabsOutDefault:
        xor eax, eax
        ret
JtAbsOutEnd:

JtMsvc:
        push r12
        cmp ecx, 4
        ja .LmsvcDefault
        mov eax, ecx
        lea r12, [rip + __ImageBase]
        .byte 0x41, 0x8b, 0x8c, 0x84    /* mov ecx, [r12 + rax*4 + TMsvc@IMGREL] */
        .rva TMsvc
        add rcx, r12
        jmp rcx
.LmsvcDefault:
        pop r12
        xor eax, eax
        ret
MsvcCase0:
        pop r12
        mov ecx, 1
        jmp qword ptr [rip + __imp_ZwClose]
JtMsvcEnd:

        .section CODE2,"xr"
Far2:
        mov eax, 0x12345678
        ret

        .section .rdata,"dr"
msg:    .asciz "table"
        .p2align 3
TAbs:
        .quad AbsCase0                  /* a case */
        .quad TAbs                      /* the table itself (in .rdata) */
        .quad msg                       /* .rdata */
        .quad __ImageBase               /* the headers */
        .quad __ImageBase + 0x7fff0000  /* above SizeOfImage */
        .quad 0                         /* no relocation at all */
TAbsOut:
        .quad __ImageBase + 0x7ff00000  /* the first entry is already outside */
        .quad AbsCase0
        .quad AbsCase0
        .p2align 2
TMsvc:
        .rva MsvcCase0                  /* a case */
        .rva Far2                       /* another executable section */
        .long 0x40                      /* the headers */
        .rva TMsvc                      /* the table itself */
        .long 0x7fff0000                /* above SizeOfImage */

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva JtRel, JtRelEnd, uwPlain
        .rva JtAbs, JtAbsEnd, uwPlain
        .rva JtAbsOut, JtAbsOutEnd, uwPlain
        .rva JtMsvc, JtMsvcEnd, uwPlain
