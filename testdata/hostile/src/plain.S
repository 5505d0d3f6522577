/*
 * plain.S - an ordinary small driver: DriverEntry calls Worker, which
 * calls DbgPrint; both have .pdata.  build.sh links it once and then
 * writes one header lie into each copy (pepatch):
 *
 *   entry_outside.sys: AddressOfEntryPoint past SizeOfImage;
 *   entry_header.sys:  AddressOfEntryPoint 0x40, in the headers: inside
 *                      the image but in no section;
 *   rawsize_eof.sys:   .text's SizeOfRawData runs past the end of the file;
 *   rawptr_eof.sys:    .text's PointerToRawData is past the end of the file;
 *   reloc_outside.sys: a base relocation at RVA 0x7fff0000, outside the
 *                      image;
 *   reloc_tail.sys:    a base relocation whose 8 bytes straddle the end of
 *                      the image.
 *
 * drvhazard must analyse the first two (no function at the entry point;
 * DriverEntry and Worker are found from .pdata and Worker's DbgPrint call
 * with them) and refuse the others, naming the section or the relocation.
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
msg:    .asciz "plain"
        .p2align 3
anchor: .quad Worker                    /* one relocated pointer: a .reloc section */

        .section .xdata,"dr"
UNWIND(uwPlain)

        .section .pdata,"dr"
        .rva DriverEntry, DriverEntryEnd, uwPlain
        .rva Worker, WorkerEnd, uwPlain
