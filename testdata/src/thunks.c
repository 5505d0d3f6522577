/*
 * thunks.c - imports called without __declspec(dllimport), as most real
 * minifilters call FltRegisterFilter: the compiler emits `call Name` and the
 * linker supplies a `jmp [rip+__imp_Name]` thunk per import.  The analyzer
 * has to see through the thunk to the import.  Built with
 * FIXTURE_NO_DLLIMPORT defined (build.sh does that for this file).
 */
#ifndef FIXTURE_NO_DLLIMPORT
#error "thunks.c must be built with -DFIXTURE_NO_DLLIMPORT"
#endif
#include "fixture_flt.h"

#define TAG_THUNK 'hTxF' /* "FxTh" */

PFLT_FILTER gFilter;
PVOID gBuffer;
volatile LONGLONG gLastXid;
volatile ULONG gCloses;

FIXTURE_NOINLINE LONGLONG XidThunked(VOID)
{
    PEPROCESS process;
    HANDLE pid = PsGetCurrentProcessId();
    LONGLONG created;

    if (!NT_SUCCESS(PsLookupProcessByProcessId(pid, &process)))
        return -1;
    created = PsGetProcessCreateTimeQuadPart(process);
    ObDereferenceObject(process);
    return created + (LONGLONG)(ULONG_PTR)pid;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadT(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)Data;
    (void)FltObjects;
    (void)CompletionContext;
    gLastXid = XidThunked();
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* Tail call through a thunk: `jmp ZwClose` lands on `jmp [__imp_ZwClose]`. */
FIXTURE_NOINLINE NTSTATUS CloseQuietly(HANDLE Handle)
{
    gCloses++;
    return ZwClose(Handle);
}

FIXTURE_NOINLINE VOID AllocateTagged(VOID)
{
    gBuffer = ExAllocatePoolWithTag(NonPagedPoolNx, 0x80, TAG_THUNK);
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadT(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    DbgPrint("thunks: unload %p\n", gBuffer);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_READ, 0, PreReadT, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    Callbacks,
    FilterUnloadT,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    AllocateTagged();
    CloseQuietly(NULL);
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status)) {
        DbgPrint("thunks: FltRegisterFilter failed %08x\n", status);
        return status;
    }
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
