/*
 * hostile.h - shared spellings of the hand-written unwind data of the
 * hostile fixtures.  Every .S file here is assembled by clang's integrated
 * assembler for x86_64-pc-windows-msvc (intel syntax) and linked by
 * lld-link; build.sh has the recipe.
 */

/* UNWIND_INFO version 1, no flags, no prologue codes: enough for a .pdata
   entry to name a function. */
#define UNWIND(label) \
        .p2align 2 ; \
label:  .byte 0x01, 0, 0, 0

/* A chained UNWIND_INFO (UNW_FLAG_CHAININFO, 0x04 << 3 | version 1): the
   entry describes a fragment of the function whose RUNTIME_FUNCTION
   {begin, end, unwind} follows. */
#define UNWIND_CHAIN(label, begin, end, unwind) \
        .p2align 2 ; \
label:  .byte 0x21, 0, 0, 0 ; \
        .rva begin, end, unwind

/* jcc/jmp rel32 spelled in bytes, so that the assembler cannot pick rel8
   and so that a target in another section is a plain REL32 fixup. */
#define JNE32(target) .byte 0x0f, 0x85 ; .long target - (. + 4)
#define JMP32(target) .byte 0xe9 ; .long target - (. + 4)
#define CALL32(target) .byte 0xe8 ; .long target - (. + 4)
