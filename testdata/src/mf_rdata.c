/*
 * mf_rdata.c - the seed story (shared/seeds 001 and 003).
 *
 * A minifilter whose FLT_REGISTRATION (Size 0x70, Version 0x0203) and
 * FLT_OPERATION_REGISTRATION array are const and live in .rdata.  The
 * IRP_MJ_READ and IRP_MJ_WRITE pre-operation callbacks are registered with
 * flags 0 (no SKIP_PAGING_IO) and both call ProcessXid, which calls
 * PsLookupProcessByProcessId / PsGetProcessCreateTimeQuadPart /
 * ObDereferenceObject without testing IRP_PAGING_IO: the recursion that
 * ended in bugcheck 0x7F.  PostCreate leaks pool tagged 'Leak' through
 * LeakSome (seed 003).
 */
#include "fixture_flt.h"

#define TAG_LEAK 'kaeL' /* !poolused prints "Leak" */

PFLT_FILTER gFilter;
PVOID gLeakNonPaged;
PVOID gLeakPaged;
volatile LONGLONG gLastXid;

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

FIXTURE_NOINLINE VOID LeakSome(VOID)
{
    /* Executable non-paged pool (NonPagedPool == 0) and paged pool, same tag. */
    gLeakNonPaged = ExAllocatePoolWithTag(NonPagedPool, 0x1000, TAG_LEAK);
    gLeakPaged = ExAllocatePool2(POOL_FLAG_PAGED, 0x200, TAG_LEAK);
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreRead(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = NULL;
    gLastXid = ProcessXid(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWrite(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)CompletionContext;
    gLastXid = ProcessXid(Data) + (LONGLONG)(ULONG_PTR)FltObjects->Instance;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreate(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = Data->Iopb->TargetFileObject;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreate(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
           FLT_POST_OPERATION_FLAGS Flags)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (!(Flags & FLTFL_POST_OPERATION_DRAINING) && NT_SUCCESS(Data->IoStatus.u.Status))
        LeakSome();
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    DbgPrint("mf_rdata: unloaded\n");
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, PreCreate, PostCreate, NULL },
    { IRP_MJ_READ, 0, PreRead, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreWrite, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    Callbacks,
    FilterUnload,
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
