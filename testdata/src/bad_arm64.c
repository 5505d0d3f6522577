/*
 * bad_arm64.c - reject fixture: a small, valid ARM64 (IMAGE_FILE_MACHINE_ARM64, 0xAA64)
 * driver.  drvhazard analyzes x64 drivers only and must refuse this image
 * with a clear message instead of decoding it as x64.
 */
#include "fixture_nt.h"

FIXTURE_NOINLINE ULONG Helper(ULONG Value)
{
    return Value * 3 + 1;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    (void)RegistryPath;
    DbgPrint("bad_arm64: %lu\n", Helper((ULONG)(ULONG_PTR)DriverObject));
    return STATUS_SUCCESS;
}
