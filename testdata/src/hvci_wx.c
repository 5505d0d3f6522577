/*
 * hvci_wx.c - KD5001 HvciIncompatibleSection: a plain WDM driver (no Filter
 * Manager) with a code section that is also writable, a layout memory
 * integrity (HVCI) refuses to load.
 *
 *   WXCODE  PatchableStub, code in its own section, made writable:
 *             clang: #pragma code_seg("WXCODE") + lld-link /section:WXCODE,ERW
 *             gcc:   __attribute__((section("WXCODE"))) + pepatch -write WXCODE
 *                    (GNU ld cannot set section attributes)
 *           -> KD5001 wx:WXCODE
 *   .text   DriverEntry rewrites the stub's first byte in place (why such
 *           drivers want W+X), then calls it; HvciUnload.  Not W+X.
 *
 * No other KD5001 finding: every section starts on a page, and the import
 * address table is in .rdata (lld-link) or the writable, non-executable
 * .idata (GNU ld).
 */
#include "fixture_nt.h"

#if defined(_MSC_VER)
#define WX_CODE_BEGIN _Pragma("code_seg(\"WXCODE\")")
#define WX_CODE_END _Pragma("code_seg()")
#define WXCODE
#else
#define WX_CODE_BEGIN
#define WX_CODE_END
#define WXCODE __attribute__((section("WXCODE")))
#endif

volatile ULONG gSink;

WX_CODE_BEGIN

FIXTURE_NOINLINE WXCODE ULONG PatchableStub(ULONG Value)
{
    return Value * 3 + gSink;
}

WX_CODE_END

FIXTURE_NOINLINE VOID NTAPI HvciUnload(PDRIVER_OBJECT DriverObject)
{
    (void)DriverObject;
    DbgPrint("hvci_wx: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    volatile UCHAR *code = (volatile UCHAR *)(ULONG_PTR)PatchableStub;

    (void)RegistryPath;
    code[0] = code[0]; /* a write into WXCODE */
    gSink = PatchableStub(RegistryPath != NULL);
    DriverObject->DriverUnload = HvciUnload;
    return STATUS_SUCCESS;
}
