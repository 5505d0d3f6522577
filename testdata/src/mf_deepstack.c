/*
 * mf_deepstack.c - stack depth on the paging path, shaped as a source review
 * found it in a real filter: a pre-read callback (registered without
 * SKIP_PAGING_IO, so paging reads enter it) calls a name check whose frame
 * holds two WCHAR name buffers, which calls a policy compare with a buffer of
 * its own. No frame reaches a page (no stack probe), but together they pass
 * MF4001's 4 KiB budget, and the largest frame is the name check's: the
 * finding points at PreReadD's call of CheckRequestName.
 *
 *   IRP_MJ_READ   flags 0               PreReadD -> CheckRequestName (2 x WCHAR[700])
 *                                          -> CompareToPolicy (WCHAR[800]), twice
 *   IRP_MJ_WRITE  flags SKIP_PAGING_IO  PreWriteD -> CheckRequestName: the same
 *                                       depth, never for paging I/O: no finding
 */
#include "fixture_flt.h"

PFLT_FILTER gFilter;
volatile ULONG gVerdict;
volatile USHORT gSeed;

FIXTURE_NOINLINE ULONG CompareToPolicy(const WCHAR *name, ULONG length)
{
    WCHAR policy[800];
    ULONG i, hash = 0;

    /* gSeed is volatile: every element is read, none can be folded away. */
    for (i = 0; i < 800; i++)
        policy[i] = (WCHAR)(gSeed + i * 7);
    for (i = 0; i < length && i < 800; i++)
        hash = hash * 31 + (ULONG)(policy[(i * 13) % 800] ^ name[i]);
    return hash;
}

FIXTURE_NOINLINE ULONG CheckRequestName(PFLT_CALLBACK_DATA Data)
{
    WCHAR names[2][700];
    ULONG i, seed = (ULONG)(ULONG_PTR)Data->Iopb->TargetFileObject;

    for (i = 0; i < 700; i++) {
        names[0][i] = (WCHAR)(seed >> (i & 15));
        names[1][i] = (WCHAR)(seed * i);
    }
    return CompareToPolicy(names[0], 700) ^ CompareToPolicy(names[1], seed & 511);
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadD(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = NULL;
    gVerdict = CheckRequestName(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteD(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = NULL;
    gVerdict = CheckRequestName(Data) + 1;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadD(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION CallbacksD[] = {
    { IRP_MJ_READ, 0, PreReadD, NULL, NULL },
    { IRP_MJ_WRITE, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, PreWriteD, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistrationD = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    CallbacksD,
    FilterUnloadD,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    status = FltRegisterFilter(DriverObject, &FilterRegistrationD, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
