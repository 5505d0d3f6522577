/*
 * debug_cv.S - a damaged CodeView record.  The driver is plain.S's, plus
 * the bytes of an RSDS record (signature, GUID, age, "debug_cv.pdb") at
 * the start of its own section, .cvdata.  lld-link /Brepro writes one
 * debug directory entry (type REPRO, no data); build.sh retypes it
 * (pepatch -debug) to a CodeView entry for those bytes whose SizeOfData,
 * 0x18, is shorter than the 24 bytes of an RSDS header and its name's NUL:
 * a reader that computes the name's length as SizeOfData - 25 in 32 bits
 * gets 0xffffffff and allocates 4 GiB for a 3 KB file.
 *
 * drvhazard must analyse it (no PDB identity from the damaged record),
 * with the loader's memory bounded by a small multiple of the file size:
 * DriverEntry and Worker are found, with Worker's DbgPrint call.
 */
#include "hostile.h"
        .intel_syntax noprefix

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        call Worker
        lea rax, [rip + anchor]
        add rsp, 0x28
        ret
DriverEntryEnd:

Worker:
        sub rsp, 0x28
        lea rcx, [rip + msg]
        call qword ptr [rip + __imp_DbgPrint]
        add rsp, 0x28
        ret
WorkerEnd:

        .section .rdata,"dr"
msg:    .asciz "debug"
        .p2align 3
anchor: .quad Worker

        .section .cvdata,"dr"
        .ascii "RSDS"
        .byte 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe   /* GUID */
        .byte 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
        .long 1                                                 /* age */
        .asciz "debug_cv.pdb"

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva Worker, WorkerEnd, uwPlain
