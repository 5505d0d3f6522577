/*
 * sections.S - many executable sections, each holding one function that
 * calls the function in the next: DriverEntry (.text) -> S01 (.s01) -> ...
 * -> the last, which calls DbgPrint.  With .text, .rdata (imports and the
 * string) and .reloc, the image has 96 sections, the most the Windows
 * loader accepts; built with -DSECTIONS97 it has one more, 97.
 *
 * drvhazard must analyse sections96.sys (DriverEntry reaches DbgPrint
 * through every section) and refuse sections97.sys (NumberOfSections 97
 * is outside 1..96).
 */
#include "hostile.h"
        .intel_syntax noprefix

#define HOP(n, next) \
        .section .s##n,"xr" ; \
S##n:   sub rsp, 0x28 ; \
        CALL32(S##next) ; \
        add rsp, 0x28 ; \
        ret

        .section .text,"xr"
        .globl DriverEntry
DriverEntry:
        sub rsp, 0x28
        CALL32(S01)
        lea rax, [rip + anchor]         /* one relocated pointer: a .reloc section */
        add rsp, 0x28
        ret

HOP(01, 02)
HOP(02, 03)
HOP(03, 04)
HOP(04, 05)
HOP(05, 06)
HOP(06, 07)
HOP(07, 08)
HOP(08, 09)
HOP(09, 10)
HOP(10, 11)
HOP(11, 12)
HOP(12, 13)
HOP(13, 14)
HOP(14, 15)
HOP(15, 16)
HOP(16, 17)
HOP(17, 18)
HOP(18, 19)
HOP(19, 20)
HOP(20, 21)
HOP(21, 22)
HOP(22, 23)
HOP(23, 24)
HOP(24, 25)
HOP(25, 26)
HOP(26, 27)
HOP(27, 28)
HOP(28, 29)
HOP(29, 30)
HOP(30, 31)
HOP(31, 32)
HOP(32, 33)
HOP(33, 34)
HOP(34, 35)
HOP(35, 36)
HOP(36, 37)
HOP(37, 38)
HOP(38, 39)
HOP(39, 40)
HOP(40, 41)
HOP(41, 42)
HOP(42, 43)
HOP(43, 44)
HOP(44, 45)
HOP(45, 46)
HOP(46, 47)
HOP(47, 48)
HOP(48, 49)
HOP(49, 50)
HOP(50, 51)
HOP(51, 52)
HOP(52, 53)
HOP(53, 54)
HOP(54, 55)
HOP(55, 56)
HOP(56, 57)
HOP(57, 58)
HOP(58, 59)
HOP(59, 60)
HOP(60, 61)
HOP(61, 62)
HOP(62, 63)
HOP(63, 64)
HOP(64, 65)
HOP(65, 66)
HOP(66, 67)
HOP(67, 68)
HOP(68, 69)
HOP(69, 70)
HOP(70, 71)
HOP(71, 72)
HOP(72, 73)
HOP(73, 74)
HOP(74, 75)
HOP(75, 76)
HOP(76, 77)
HOP(77, 78)
HOP(78, 79)
HOP(79, 80)
HOP(80, 81)
HOP(81, 82)
HOP(82, 83)
HOP(83, 84)
HOP(84, 85)
HOP(85, 86)
HOP(86, 87)
HOP(87, 88)
HOP(88, 89)
HOP(89, 90)
HOP(90, 91)
HOP(91, 92)
HOP(92, 93)
#ifdef SECTIONS97
HOP(93, 94)
#define LAST 94
#else
#define LAST 93
#endif

#define LASTHOP(n) \
        .section .s##n,"xr" ; \
S##n:   lea rcx, [rip + msg] ; \
        jmp qword ptr [rip + __imp_DbgPrint]
#define LASTHOP_(n) LASTHOP(n)
LASTHOP_(LAST)

        .section .rdata,"dr"
msg:    .asciz "section"
        .p2align 3
anchor: .quad DriverEntry
