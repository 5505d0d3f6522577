/*
 * mf_malformed.c - a FLT_REGISTRATION with the defects MF1001 reports.
 * Nothing here is a paging-path hazard; every finding is MF1001.
 *
 *   - Size 0x70 (sizeof FLT_REGISTRATION for Version 0x0203) with Version
 *     0x0202: not a pair fltKernel.h defines.
 *   - The operation array has no IRP_MJ_OPERATION_END entry and runs into
 *     the FLT_REGISTRATION, as in one real driver.  The array is in
 *     .rdata$mfa and the registration in .rdata$mfb: both linkers merge
 *     grouped sections into .rdata sorted by the part after '$' (GNU ld's
 *     script: *(.rdata) *(SORT(.rdata$*))), so the registration directly
 *     follows the array.  The entry after the last operation reads
 *     70 00 02 02 00 00 00 00: major 0x70, not an operation.
 *   - The IRP_MJ_WRITE entry has Reserved1 = 1.
 *
 *   IRP_MJ_CREATE flags 0              PreCreateM / PostCreateM
 *   IRP_MJ_WRITE  flags SKIP_PAGING_IO PreWriteM (Reserved1 1)
 */
#include "fixture_flt.h"

PFLT_FILTER gFilter;
volatile ULONG gCreates;
volatile ULONG gWrites;

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateM(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = Data->Iopb->TargetFileObject;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreateM(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
            FLT_POST_OPERATION_FLAGS Flags)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (!(Flags & FLTFL_POST_OPERATION_DRAINING) && NT_SUCCESS(Data->IoStatus.u.Status))
        gCreates++;
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteM(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gWrites += Data->Iopb->Parameters.Write.Length;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadM(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

/* No IRP_MJ_OPERATION_END: the array ends where the registration begins. */
__attribute__((section(".rdata$mfa"))) const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, PreCreateM, PostCreateM, NULL },
    { IRP_MJ_WRITE, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, PreWriteM, NULL, (PVOID)1 }
};

__attribute__((section(".rdata$mfb"))) const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 ... */
    0x0202,                     /* ... but Version 0x0202 (whose size is 0x68) */
    0,
    NULL,
    Callbacks,
    FilterUnloadM,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
