/*
 * mf_variants.c - the fixed versions of the seed story, plus the cases the
 * paging-path rules must tell apart.  Registration in .rdata, Size 0x70,
 * Version 0x0203, flags DO_NOT_SUPPORT_SERVICE_STOP.
 *
 *   IRP_MJ_READ   flags SKIP_PAGING_IO -> PreReadSkip  -> ProcessXid   (safe: flag)
 *   IRP_MJ_WRITE  flags 0              -> PreWriteGuarded: tests
 *                 Iopb->IrpFlags & IRP_PAGING_IO and returns before
 *                 ProcessXid                                          (safe: guard)
 *   IRP_MJ_SET_INFORMATION flags 0     -> PreSetInfo  -> ProcessXid   (safe: major
 *                 never carries paging I/O)
 *   IRP_MJ_QUERY_INFORMATION flags 0   -> PreQueryInfoLateGuard: calls
 *                 FltGetFileNameInformation before its 0x42 paging test
 *                 (guard present but not dominating; major not paging anyway)
 *   IRP_MJ_ACQUIRE_FOR_CC_FLUSH (0xFB) flags SKIP_PAGING_IO (ignored for
 *                 non-IRP operations) -> PreAcquireCcFlush -> ProcessXid (hazard)
 *   IRP_MJ_CLEANUP flags 0 -> PreCleanupWantsPost returns
 *                 FLT_PREOP_SUCCESS_WITH_CALLBACK with no post-op (MF1002)
 *   IRP_MJ_CREATE flags 0 -> PreCreateV / PostCreateV; the post-op defers to
 *                 SafePostCreate through FltDoCompletionProcessingWhenSafe.
 */
#include "fixture_flt.h"

#define TAG_NAME 'maNV' /* "VNam" */

PFLT_FILTER gFilter;
volatile LONGLONG gLastXid;
volatile ULONG gNameLength;

FIXTURE_NOINLINE LONGLONG ProcessXid(PFLT_CALLBACK_DATA Data)
{
    PEPROCESS process;
    HANDLE pid = PsGetCurrentProcessId();
    LONGLONG created;

    if (!NT_SUCCESS(PsLookupProcessByProcessId(pid, &process)))
        return 0;
    created = PsGetProcessCreateTimeQuadPart(process);
    ObDereferenceObject(process);
    return created ^ (LONGLONG)(ULONG_PTR)pid ^ (LONGLONG)Data->Iopb->MajorFunction;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadSkip(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastXid = ProcessXid(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteGuarded(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (Data->Iopb->IrpFlags & IRP_PAGING_IO)
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gLastXid = ProcessXid(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreSetInfo(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastXid = ProcessXid(Data) + 1;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreQueryInfoLateGuard(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PFLT_FILE_NAME_INFORMATION nameInfo;

    (void)FltObjects;
    (void)CompletionContext;
    if (NT_SUCCESS(FltGetFileNameInformation(Data, FLT_FILE_NAME_NORMALIZED | FLT_FILE_NAME_QUERY_DEFAULT,
                                             &nameInfo))) {
        gNameLength = nameInfo->Name.Length;
        FltReleaseFileNameInformation(nameInfo);
    }
    if (Data->Iopb->IrpFlags & (IRP_PAGING_IO | IRP_SYNCHRONOUS_PAGING_IO))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gNameLength += 1;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreAcquireCcFlush(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastXid = ProcessXid(Data) - 1;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCleanupWantsPost(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = Data;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateV(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    *CompletionContext = FltAllocatePoolAlignedWithTag(FltObjects->Instance, PagedPool, 0x100, TAG_NAME);
    return Data->Iopb->TargetFileObject ? FLT_PREOP_SUCCESS_WITH_CALLBACK : FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
SafePostCreate(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
               FLT_POST_OPERATION_FLAGS Flags)
{
    (void)Flags;
    gLastXid = ProcessXid(Data);
    if (CompletionContext != NULL)
        FltFreePoolAlignedWithTag(FltObjects->Instance, CompletionContext, TAG_NAME);
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreateV(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
            FLT_POST_OPERATION_FLAGS Flags)
{
    FLT_POSTOP_CALLBACK_STATUS status = FLT_POSTOP_FINISHED_PROCESSING;

    if (!FltDoCompletionProcessingWhenSafe(Data, FltObjects, CompletionContext, Flags, SafePostCreate, &status))
        gLastXid = 0;
    return status;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadV(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, PreCreateV, PostCreateV, NULL },
    { IRP_MJ_READ, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, PreReadSkip, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreWriteGuarded, NULL, NULL },
    { IRP_MJ_QUERY_INFORMATION, 0, PreQueryInfoLateGuard, NULL, NULL },
    { IRP_MJ_SET_INFORMATION, 0, PreSetInfo, NULL, NULL },
    { IRP_MJ_CLEANUP, 0, PreCleanupWantsPost, NULL, NULL },
    { IRP_MJ_ACQUIRE_FOR_CC_FLUSH, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, PreAcquireCcFlush, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP,
    NULL,
    Callbacks,
    FilterUnloadV,
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
