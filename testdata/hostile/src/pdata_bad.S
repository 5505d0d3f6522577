/*
 * pdata_bad.S - .pdata and unwind data that lie.  Three ordinary functions
 * (DriverEntry calls F1 and F2, which tail-jump to DbgPrint and ZwClose)
 * and Scoped, surrounded by entries that
 *
 *   - have Begin > End, and Begin == End;
 *   - lie outside every section (above SizeOfImage, and in the headers);
 *   - begin in .text and end in .rdata;
 *   - cover the whole of .text, overlapping every other entry;
 *   - begin in the middle of an instruction;
 *   - name unwind info outside the image;
 *   - name an exception handler outside the image;
 *   - name an exception handler (Scoped itself) whose scope table makes
 *     Scoped its own filter, with a __except target in the middle of an
 *     instruction, and a second scope table claiming 0xffffffff entries;
 *   - name unwind info whose CountOfCodes (255) runs past its section.
 *
 * drvhazard must analyse it: DriverEntry, F1, F2 and Scoped are found, and
 * DriverEntry reaches DbgPrint and ZwClose.  The loader drops the entries
 * outside executable sections with a warning.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call F1
        call F2
        call Scoped
        call Scoped2
        add rsp, 0x28
        ret
DriverEntryEnd:

F1:
        lea rcx, [rip + msg]
        jmp qword ptr [rip + __imp_DbgPrint]
F1End:

F2:
        xor ecx, ecx
        jmp qword ptr [rip + __imp_ZwClose]
F2End:

Scoped:
        sub rsp, 0x28
ScopeBegin:
        mov eax, 0x90c3c031             /* a __except target inside: xor eax,eax; ret */
ScopeMid = . - 4
        nop
ScopeEnd:
        add rsp, 0x28
        ret
ScopedEnd:

Scoped2:
        xor eax, eax
        ret
Scoped2End:

        .section .rdata,"dr"
msg:    .asciz "pdata"
msgEnd:

        .section .xdata,"dr"
UNWIND(uwPlain)
        .p2align 2
uwHandlerOut:                           /* UNW_FLAG_EHANDLER, handler outside the image */
        .byte 0x09, 0, 0, 0
        .long 0x7ff00000
        .long 0
        .p2align 2
uwScoped:                               /* UNW_FLAG_EHANDLER: handler Scoped, scope table */
        .byte 0x09, 0, 0, 0
        .rva Scoped
        .long 2                         /* C_SCOPE_TABLE: Count, then entries */
        .rva ScopeBegin, ScopeEnd, Scoped, ScopeMid   /* filter = the function itself */
        .rva ScopeBegin, ScopeEnd
        .long 1                         /* EXCEPTION_EXECUTE_HANDLER */
        .rva ScopeMid + 1
        .p2align 2
uwScopedHuge:                           /* a scope table claiming 0xffffffff entries */
        .byte 0x09, 0, 0, 0
        .rva Scoped2
        .long 0xffffffff
        .rva Scoped2, Scoped2End, Scoped2, Scoped2
        .p2align 2
uwHugeCodes:                            /* 255 unwind codes that are not there */
        .byte 0x09, 0, 255, 0

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva F1, F1End, uwPlain
        .rva F2, F2End, uwPlain
        .rva Scoped, ScopedEnd, uwScoped
        .rva Scoped2, Scoped2End, uwScopedHuge
        .rva F1End, F1, uwPlain         /* Begin > End */
        .rva F2, F2, uwPlain            /* Begin == End */
        .long 0x7ff00000, 0x7ff00010    /* above SizeOfImage */
        .rva uwPlain
        .long 0x40, 0x80                /* in the headers */
        .rva uwPlain
        .rva F2, msgEnd, uwPlain        /* from .text into .rdata */
        .rva DriverEntry, ScopedEnd, uwPlain   /* all of .text */
        .rva F1 + 1, F1End, uwPlain     /* mid-instruction */
        .rva F2, F2End                  /* unwind info outside the image */
        .long 0x7ff00000
        .rva F1, F1End, uwHandlerOut
        .rva F2, F2End, uwHugeCodes
