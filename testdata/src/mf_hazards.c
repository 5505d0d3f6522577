/*
 * mf_hazards.c - paging-path and post-operation hazards beyond the seed
 * story, each reached in a way the call-graph walk has to see through.
 * Registration const in .rdata (Size 0x70, Version 0x0203, flags 0); every
 * operation is registered with flags 0 (no SKIP_PAGING_IO).
 *
 *   IRP_MJ_READ   PreReadH
 *     - ExAllocatePoolWithTag(PagedPool, 0x200, 'gPzH')   MF2007 (paged pool)
 *     - ExAllocatePool2(POOL_FLAG_NON_PAGED, 0x80, 'nNzH') no finding (non-paged)
 *     - WriteThrough: `return FltWriteFile(...)` with the caller's own nine
 *       parameters, compiled to a tail jump `rex.W jmp [IAT]`    MF2005
 *     - OwnerIfNotPaging(Data): the callee tests
 *       Data->Iopb->IrpFlags & 0x42 and returns before PsLookupProcessByProcessId:
 *       no finding (the guard is in the callee, not the callback)
 *   IRP_MJ_WRITE  PreWriteH
 *     - WriteHandlers[Data->Iopb->MinorFunction & 3](Data): a const handler
 *       table in .rdata indexed at run time (`call [reg+idx*8]`)
 *         WriteCheckHandle  -> ObReferenceObjectByHandle     MF2002
 *         WriteQueryProcess -> ZwQueryInformationProcess     MF2002 (a Zw*
 *                              routine that is not file I/O, so not MF2005)
 *         WriteNop, WriteCount                               nothing
 *     - OwnerIfNotSyncPaging(Data): a test of IRP_SYNCHRONOUS_PAGING_IO (0x40)
 *       alone before PsLookupProcessByProcessId: no guard, since asynchronous
 *       paging I/O sets only IRP_PAGING_IO                        MF2001
 *   IRP_MJ_CREATE PreCreateH / PostCreateH; the post-op calls CountCreatePaged,
 *                 which lies in the pageable PAGE section, and ZwClose: no
 *                 finding, post-create callbacks run at PASSIVE_LEVEL
 *   IRP_MJ_CLEANUP no pre-op / PostCreateH again (one callback shared by two
 *                 operations): a post-cleanup callback may run at
 *                 DISPATCH_LEVEL                           MF3001, MF3002
 *
 * A second filter (SharedRegistration) registers one pre-op, PreSharedH,
 * for IRP_MJ_READ and IRP_MJ_SET_INFORMATION; it branches on
 * Data->Iopb->MajorFunction, itself and in SharedHelper, which receives Data:
 *     - ZwClose only for SET_INFORMATION                  no finding
 *     - ZwQueryInformationProcess in SharedHelper only for SET_INFORMATION
 *                                                         no finding
 *     - PsLookupProcessByProcessId (LookupOwnerH) only for READ      MF2001
 */
#include "fixture_flt.h"

#define TAG_PAGED    'gPzH' /* "HzPg" */
#define TAG_NONPAGED 'nNzH' /* "HzNn" */

#if defined(_MSC_VER)
#define PAGE_CODE_BEGIN _Pragma("code_seg(\"PAGE\")")
#define PAGE_CODE_END _Pragma("code_seg()")
#define PAGED
#else
#define PAGE_CODE_BEGIN
#define PAGE_CODE_END
#define PAGED __attribute__((section("PAGE")))
#endif

typedef LONG_PTR (*PWRITE_HANDLER)(PFLT_CALLBACK_DATA Data);

PFLT_FILTER gFilter;
HANDLE gWatchedHandle;
volatile LONG_PTR gOwner;
volatile LONG_PTR gHandled;
volatile NTSTATUS gMirrorStatus;
volatile ULONG gWrites;
volatile ULONG_PTR gCreates;

/* ---- guards inside a callee ---- */

/* The usual guard, written in the helper the callback passes Data to. */
FIXTURE_NOINLINE LONG_PTR OwnerIfNotPaging(PFLT_CALLBACK_DATA Data)
{
    PEPROCESS process;

    if (Data->Iopb->IrpFlags & (IRP_PAGING_IO | IRP_SYNCHRONOUS_PAGING_IO))
        return 0;
    if (!NT_SUCCESS(PsLookupProcessByProcessId(PsGetCurrentProcessId(), &process)))
        return -1;
    ObDereferenceObject(process);
    return (LONG_PTR)process;
}

/* A guard that tests IRP_SYNCHRONOUS_PAGING_IO (0x40) only. */
FIXTURE_NOINLINE LONG_PTR OwnerIfNotSyncPaging(PFLT_CALLBACK_DATA Data)
{
    PEPROCESS process;

    if (Data->Iopb->IrpFlags & IRP_SYNCHRONOUS_PAGING_IO)
        return 0;
    if (!NT_SUCCESS(PsLookupProcessByProcessId(PsGetCurrentProcessId(), &process)))
        return -2;
    ObDereferenceObject(process);
    return (LONG_PTR)process + 1;
}

/* ---- READ: tail call to FltWriteFile, paged and non-paged pool ---- */

/* Same parameters as FltWriteFile, so the stack arguments are already in
   place and both compilers emit `jmp [__imp_FltWriteFile]`. */
FIXTURE_NOINLINE NTSTATUS WriteThrough(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject,
                                       PLARGE_INTEGER ByteOffset, ULONG Length, PVOID Buffer,
                                       FLT_IO_OPERATION_FLAGS Flags, PULONG BytesWritten,
                                       PFLT_COMPLETED_ASYNC_IO_CALLBACK CallbackRoutine, PVOID CallbackContext)
{
    gWrites++;
    return FltWriteFile(Instance, FileObject, ByteOffset, Length, Buffer, Flags, BytesWritten,
                        CallbackRoutine, CallbackContext);
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadH(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PVOID scratch, record;
    ULONG written = 0;

    (void)CompletionContext;
    gOwner = OwnerIfNotPaging(Data);
    scratch = ExAllocatePoolWithTag(PagedPool, 0x200, TAG_PAGED);
    record = ExAllocatePool2(POOL_FLAG_NON_PAGED, 0x80, TAG_NONPAGED);
    if (scratch != NULL && record != NULL)
        gMirrorStatus = WriteThrough(FltObjects->Instance, Data->Iopb->TargetFileObject,
                                     &Data->Iopb->Parameters.Read.ByteOffset, 0x80, record, 0, &written,
                                     NULL, NULL);
    if (record != NULL)
        ExFreePoolWithTag(record, TAG_NONPAGED);
    if (scratch != NULL)
        ExFreePoolWithTag(scratch, TAG_PAGED);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- WRITE: handler table ---- */

FIXTURE_NOINLINE LONG_PTR WriteNop(PFLT_CALLBACK_DATA Data)
{
    return Data->Iopb->MinorFunction;
}

FIXTURE_NOINLINE LONG_PTR WriteCheckHandle(PFLT_CALLBACK_DATA Data)
{
    PVOID object;

    if (!NT_SUCCESS(ObReferenceObjectByHandle(gWatchedHandle, 0, NULL, 0 /* KernelMode */, &object, NULL)))
        return 0;
    ObDereferenceObject(object);
    return (LONG_PTR)object ^ (LONG_PTR)Data;
}

FIXTURE_NOINLINE LONG_PTR WriteQueryProcess(PFLT_CALLBACK_DATA Data)
{
    ULONG_PTR basic[6]; /* PROCESS_BASIC_INFORMATION */
    ULONG length;

    (void)Data;
    if (!NT_SUCCESS(ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, basic,
                                              sizeof(basic), &length)))
        return 0;
    return (LONG_PTR)basic[4]; /* UniqueProcessId */
}

FIXTURE_NOINLINE LONG_PTR WriteCount(PFLT_CALLBACK_DATA Data)
{
    return (LONG_PTR)Data->Iopb->Parameters.Write.Length + gWrites;
}

const PWRITE_HANDLER WriteHandlers[4] = { WriteNop, WriteCheckHandle, WriteQueryProcess, WriteCount };

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteH(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gHandled = WriteHandlers[Data->Iopb->MinorFunction & 3](Data);
    gOwner = OwnerIfNotSyncPaging(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- CREATE: post-op reaches PAGE code ---- */

PAGE_CODE_BEGIN

FIXTURE_NOINLINE PAGED VOID CountCreatePaged(PFLT_CALLBACK_DATA Data)
{
    gCreates += Data->IoStatus.Information + 1;
}

PAGE_CODE_END

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateH(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = Data->Iopb->TargetFileObject;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreateH(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
            FLT_POST_OPERATION_FLAGS Flags)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (!(Flags & FLTFL_POST_OPERATION_DRAINING)) {
        CountCreatePaged(Data);
        ZwClose(gWatchedHandle);
    }
    return FLT_POSTOP_FINISHED_PROCESSING;
}

/* ---- a pre-op shared by two operations, branching on the major ---- */

PFLT_FILTER gSharedFilter;

FIXTURE_NOINLINE LONG_PTR LookupOwnerH(VOID)
{
    PEPROCESS process;

    if (!NT_SUCCESS(PsLookupProcessByProcessId(PsGetCurrentProcessId(), &process)))
        return -3;
    ObDereferenceObject(process);
    return (LONG_PTR)process;
}

FIXTURE_NOINLINE VOID SharedHelper(PFLT_CALLBACK_DATA Data)
{
    ULONG length = 0;

    if (Data->Iopb->MajorFunction == IRP_MJ_SET_INFORMATION)
        gMirrorStatus = ZwQueryInformationProcess(NtCurrentProcess(), 0, NULL, 0, &length);
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreSharedH(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (Data->Iopb->MajorFunction == IRP_MJ_SET_INFORMATION)
        ZwClose(gWatchedHandle);
    else if (Data->Iopb->MajorFunction == IRP_MJ_READ)
        gOwner = LookupOwnerH();
    SharedHelper(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadH(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, PreCreateH, PostCreateH, NULL },
    { IRP_MJ_READ, 0, PreReadH, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreWriteH, NULL, NULL },
    { IRP_MJ_CLEANUP, 0, NULL, PostCreateH, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    Callbacks,
    FilterUnloadH,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

const FLT_OPERATION_REGISTRATION SharedCallbacks[] = {
    { IRP_MJ_READ, 0, PreSharedH, NULL, NULL },
    { IRP_MJ_SET_INFORMATION, 0, PreSharedH, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION SharedRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    SharedCallbacks,
    FilterUnloadH,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltRegisterFilter(DriverObject, &SharedRegistration, &gSharedFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
