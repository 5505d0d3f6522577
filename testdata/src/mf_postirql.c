/*
 * mf_postirql.c - post-operation callbacks that test the IRQL before they
 * call routines that need IRQL <= APC_LEVEL, as commercial filters write
 * them, and contexts with their pool tags, as the ctx and swapBuffers
 * samples declare and allocate them.  Const registration in .rdata (Size
 * 0x70, Version 0x0203, flags 0) with three context registrations.
 *
 * A post-operation callback of READ, WRITE, QUERY_INFORMATION,
 * SET_INFORMATION, DIRECTORY_CONTROL or CLEANUP may run at DISPATCH_LEVEL
 * (in the completion routine of the lower driver), unless its pre-operation
 * returned FLT_PREOP_SYNCHRONIZE; every pre-operation here returns
 * FLT_PREOP_SUCCESS_WITH_CALLBACK (or NO_CALLBACK).  On x64,
 * KeGetCurrentIrql is the inline `mov rax, cr8` (fixture_nt.h).
 *
 *   PostReadP     if (KeGetCurrentIrql() != PASSIVE_LEVEL) return ...;
 *                 then FltGetStreamContext, FltSendMessage,
 *                 ZwQueryInformationProcess                              -
 *   PostWriteP    if (KeGetCurrentIrql() > APC_LEVEL) return ...;
 *                 then FltGetStreamContext, FltSendMessage               -
 *   PostSetInfoP  irql = KeGetCurrentIrql(); a call; if (irql >= DISPATCH_LEVEL)
 *                 return ...; then FltSendMessage                        -
 *   PostCleanupP  if (!CanWaitHere()) return ...; a static noinline
 *                 BOOLEAN helper that returns KeGetCurrentIrql() <= APC_LEVEL;
 *                 then FltGetStreamHandleContext                         -
 *   PostQueryInfoP no test but PAGED_CODE() (a checked build's assertion,
 *                 `int 2Ch` when the IRQL is above APC_LEVEL, after which
 *                 execution goes on): FltGetStreamContext                MF3002
 *   PostDirCtrlP  if (KeGetCurrentIrql() > DISPATCH_LEVEL) return ...;
 *                 DISPATCH_LEVEL gets past it: FltSendMessage            MF3002
 *                 and PeekUnderLock: FltGetStreamContext under a spin
 *                 lock, too high at any IRQL: a cause of its own       MF3002
 *   PostCreateP   post-create runs at PASSIVE_LEVEL: FltAllocateContext,
 *                 FltSetStreamContext, FltReleaseContext                 -
 *
 * The pre-operations hold two more paging guards: PreReadP tests a static
 * BOOLEAN IsPagingIo (inlined but at -O0) before ObQueryNameString (no
 * finding); PreWriteP asks FltGetFileNameInformation for the name before its
 * `if (FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO)) return
 * FLT_PREOP_SUCCESS_NO_CALLBACK;` (MF2003), and LookupRequestorProcess after
 * it (no finding).
 *
 * Contexts (FLT_CONTEXT_REGISTRATION, with their pool tags):
 *   FLT_STREAM_CONTEXT        0x20 bytes 'sPfM' "MfPs"  allocated in PostCreateP (PagedPool)
 *   FLT_STREAMHANDLE_CONTEXT  0x18 bytes 'hPfM' "MfPh"  allocated in PostCreateP (NonPagedPoolNx)
 *   FLT_INSTANCE_CONTEXT      0x28 bytes 'iPfM' "MfPi"  allocated in InstanceSetupP (NonPagedPoolNx)
 */
#include "fixture_ext.h"

#define TAG_STREAM_CTX   'sPfM' /* "MfPs" */
#define TAG_HANDLE_CTX   'hPfM' /* "MfPh" */
#define TAG_INSTANCE_CTX 'iPfM' /* "MfPi" */

typedef struct _STREAM_CONTEXT {
    LONGLONG Created;
    volatile LONG Reads;
    volatile LONG Writes;
    volatile LONG Renames;
    ULONG Flags;
    PVOID Reserved;
} STREAM_CONTEXT, *PSTREAM_CONTEXT;             /* 0x20 */

typedef struct _STREAMHANDLE_CONTEXT {
    HANDLE Process;
    volatile LONG Cleanups;
    ULONG Access;
    PVOID Reserved;
} STREAMHANDLE_CONTEXT, *PSTREAMHANDLE_CONTEXT; /* 0x18 */

typedef struct _INSTANCE_CONTEXT {
    PFLT_INSTANCE Instance;
    PFLT_VOLUME Volume;
    DEVICE_TYPE DeviceType;
    ULONG FilesystemType;
    LONGLONG Attached;
    PVOID Reserved;
} INSTANCE_CONTEXT, *PINSTANCE_CONTEXT;         /* 0x28 */

typedef struct _EVENT_MESSAGE {
    UCHAR Major;
    UCHAR Minor;
    USHORT Reserved;
    ULONG Status;
    HANDLE Process;
    LONGLONG Length;
} EVENT_MESSAGE;

_Static_assert(sizeof(STREAM_CONTEXT) == 0x20, "STREAM_CONTEXT size");
_Static_assert(sizeof(STREAMHANDLE_CONTEXT) == 0x18, "STREAMHANDLE_CONTEXT size");
_Static_assert(sizeof(INSTANCE_CONTEXT) == 0x28, "INSTANCE_CONTEXT size");

PFLT_FILTER gFilter;
PFLT_PORT gClientPort;
volatile LONG_PTR gLastOwner;
volatile ULONG gLastName;
volatile LONG gCompletions;
volatile NTSTATUS gLastStatus;
KSPIN_LOCK gPeekLock;

/* ---- helpers ---- */

FIXTURE_NOINLINE LONG_PTR LookupRequestorProcess(VOID)
{
    PEPROCESS process;
    LONG_PTR key;

    if (!NT_SUCCESS(PsLookupProcessByProcessId(PsGetCurrentProcessId(), &process)))
        return 0;
    key = (LONG_PTR)PsGetProcessCreateTimeQuadPart(process);
    ObDereferenceObject(process);
    return key;
}

FIXTURE_NOINLINE ULONG QueryObjectName(PVOID Object)
{
    union {
        OBJECT_NAME_INFORMATION Info;
        UCHAR Bytes[sizeof(OBJECT_NAME_INFORMATION) + 64 * sizeof(WCHAR)];
    } name;
    ULONG returned = 0;

    if (!NT_SUCCESS(ObQueryNameString(Object, &name.Info, sizeof(name), &returned)))
        return 0;
    return name.Info.Name.Length;
}

/* ZwQueryInformationProcess: PASSIVE_LEVEL only. */
FIXTURE_NOINLINE LONG_PTR QueryProcessCookie(VOID)
{
    ULONG_PTR basic[6];
    ULONG length;

    if (!NT_SUCCESS(ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, basic, sizeof(basic),
                                              &length)))
        return 0;
    return (LONG_PTR)basic[4];
}

/* Tells the user-mode service; FltSendMessage waits, so <= APC_LEVEL. */
FIXTURE_NOINLINE NTSTATUS NotifyService(PFLT_CALLBACK_DATA Data)
{
    EVENT_MESSAGE message;
    LARGE_INTEGER timeout;

    message.Major = Data->Iopb->MajorFunction;
    message.Minor = Data->Iopb->MinorFunction;
    message.Reserved = 0;
    message.Status = (ULONG)Data->IoStatus.u.Status;
    message.Process = PsGetCurrentProcessId();
    message.Length = (LONGLONG)Data->IoStatus.Information;
    timeout.QuadPart = -10 * 1000 * 100; /* 100 ms */
    return FltSendMessage(gFilter, &gClientPort, &message, sizeof(message), NULL, NULL, &timeout);
}

FIXTURE_NOINLINE VOID CountCompletion(PFLT_CALLBACK_DATA Data)
{
    gCompletions += (LONG)(Data->IoStatus.Information & 0xffff);
}

/* Static and not noinline: inlined into PreReadP but at -O0. */
static BOOLEAN IsPagingIo(PFLT_CALLBACK_DATA Data)
{
    return BooleanFlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO);
}

/* Static noinline: a BOOLEAN made of the IRQL (gcc: mov rax,cr8; cmp al,1;
   setbe al). */
static FIXTURE_NOINLINE BOOLEAN CanWaitHere(VOID)
{
    return KeGetCurrentIrql() <= APC_LEVEL;
}

/* ---- pre-operations ---- */

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)Data;
    (void)FltObjects;
    *CompletionContext = NULL;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    *CompletionContext = NULL;
    if (IsPagingIo(Data))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gLastName = QueryObjectName(FltObjects->FileObject);
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PFLT_FILE_NAME_INFORMATION nameInfo;

    (void)FltObjects;
    *CompletionContext = NULL;
    if (NT_SUCCESS(FltGetFileNameInformation(Data, FLT_FILE_NAME_OPENED | FLT_FILE_NAME_QUERY_DEFAULT,
                                             &nameInfo))) {
        gLastName = nameInfo->Name.Length;
        FltReleaseFileNameInformation(nameInfo);
    }
    if (FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gLastOwner = LookupRequestorProcess();
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreInfoP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = NULL;
    return Data->Iopb->TargetFileObject != NULL ? FLT_PREOP_SUCCESS_WITH_CALLBACK
                                                : FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- post-operations ---- */

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreateP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
            FLT_POST_OPERATION_FLAGS Flags)
{
    PSTREAM_CONTEXT stream = NULL;
    PSTREAMHANDLE_CONTEXT handle = NULL;
    NTSTATUS status;

    (void)CompletionContext;
    if (FlagOn(Flags, FLTFL_POST_OPERATION_DRAINING) || !NT_SUCCESS(Data->IoStatus.u.Status))
        return FLT_POSTOP_FINISHED_PROCESSING;
    status = FltAllocateContext(gFilter, FLT_STREAM_CONTEXT, sizeof(STREAM_CONTEXT), PagedPool,
                                (PFLT_CONTEXT *)&stream);
    if (NT_SUCCESS(status)) {
        stream->Created = KeQueryPerformanceCounter(NULL).QuadPart;
        stream->Reads = stream->Writes = stream->Renames = 0;
        stream->Flags = 0;
        stream->Reserved = NULL;
        status = FltSetStreamContext(FltObjects->Instance, FltObjects->FileObject,
                                     FLT_SET_CONTEXT_KEEP_IF_EXISTS, stream, NULL);
        FltReleaseContext(stream);
    }
    status = FltAllocateContext(gFilter, FLT_STREAMHANDLE_CONTEXT, sizeof(STREAMHANDLE_CONTEXT), NonPagedPoolNx,
                                (PFLT_CONTEXT *)&handle);
    if (NT_SUCCESS(status)) {
        handle->Process = PsGetCurrentProcessId();
        handle->Cleanups = 0;
        handle->Access = 0;
        handle->Reserved = NULL;
        FltReleaseContext(handle);
    }
    gLastStatus = status;
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostReadP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
          FLT_POST_OPERATION_FLAGS Flags)
{
    PSTREAM_CONTEXT stream;

    (void)CompletionContext;
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        return FLT_POSTOP_FINISHED_PROCESSING;
    if (FlagOn(Flags, FLTFL_POST_OPERATION_DRAINING))
        return FLT_POSTOP_FINISHED_PROCESSING;
    if (NT_SUCCESS(FltGetStreamContext(FltObjects->Instance, FltObjects->FileObject, (PFLT_CONTEXT *)&stream))) {
        stream->Reads++;
        FltReleaseContext(stream);
    }
    gLastStatus = NotifyService(Data);
    gLastOwner = QueryProcessCookie();
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostWriteP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
           FLT_POST_OPERATION_FLAGS Flags)
{
    PSTREAM_CONTEXT stream;

    (void)CompletionContext;
    (void)Flags;
    if (KeGetCurrentIrql() > APC_LEVEL)
        return FLT_POSTOP_FINISHED_PROCESSING;
    if (NT_SUCCESS(FltGetStreamContext(FltObjects->Instance, FltObjects->FileObject, (PFLT_CONTEXT *)&stream))) {
        stream->Writes++;
        FltReleaseContext(stream);
    }
    gLastStatus = NotifyService(Data);
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostSetInfoP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
             FLT_POST_OPERATION_FLAGS Flags)
{
    KIRQL irql = KeGetCurrentIrql();

    (void)FltObjects;
    (void)CompletionContext;
    (void)Flags;
    CountCompletion(Data);
    if (irql >= DISPATCH_LEVEL)
        return FLT_POSTOP_FINISHED_PROCESSING;
    gLastStatus = NotifyService(Data);
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCleanupP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
             FLT_POST_OPERATION_FLAGS Flags)
{
    PSTREAMHANDLE_CONTEXT handle;

    (void)Data;
    (void)CompletionContext;
    (void)Flags;
    if (!CanWaitHere())
        return FLT_POSTOP_FINISHED_PROCESSING;
    if (NT_SUCCESS(FltGetStreamHandleContext(FltObjects->Instance, FltObjects->FileObject,
                                             (PFLT_CONTEXT *)&handle))) {
        handle->Cleanups++;
        FltReleaseContext(handle);
    }
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostQueryInfoP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
               FLT_POST_OPERATION_FLAGS Flags)
{
    PSTREAM_CONTEXT stream;

    (void)Data;
    (void)CompletionContext;
    /* PAGED_CODE() as a checked build expands it: NT_ASSERT's __int2c(). */
    if (KeGetCurrentIrql() > APC_LEVEL)
        __asm__ __volatile__("int $0x2c");
    if (FlagOn(Flags, FLTFL_POST_OPERATION_DRAINING))
        return FLT_POSTOP_FINISHED_PROCESSING;
    if (NT_SUCCESS(FltGetStreamContext(FltObjects->Instance, FltObjects->FileObject, (PFLT_CONTEXT *)&stream))) {
        stream->Flags |= 1;
        FltReleaseContext(stream);
    }
    return FLT_POSTOP_FINISHED_PROCESSING;
}

/* A context lookup under a spin lock: DISPATCH_LEVEL whatever the caller's
   IRQL, where FltGetStreamContext needs <= APC_LEVEL. */
FIXTURE_NOINLINE VOID PeekUnderLock(PFLT_CALLBACK_DATA Data)
{
    PFLT_CONTEXT context;
    KIRQL old = KeAcquireSpinLockRaiseToDpc(&gPeekLock);

    if (NT_SUCCESS(FltGetStreamContext(Data->Iopb->TargetInstance, Data->Iopb->TargetFileObject, &context)))
        FltReleaseContext(context);
    KeReleaseSpinLock(&gPeekLock, old);
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostDirCtrlP(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
             FLT_POST_OPERATION_FLAGS Flags)
{
    (void)FltObjects;
    (void)CompletionContext;
    (void)Flags;
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        return FLT_POSTOP_FINISHED_PROCESSING;
    gLastStatus = NotifyService(Data);
    PeekUnderLock(Data);
    return FLT_POSTOP_FINISHED_PROCESSING;
}

/* ---- instance and filter callbacks ---- */

FIXTURE_NOINLINE NTSTATUS FLTAPI
InstanceSetupP(PCFLT_RELATED_OBJECTS FltObjects, FLT_INSTANCE_SETUP_FLAGS Flags, DEVICE_TYPE VolumeDeviceType,
               FLT_FILESYSTEM_TYPE VolumeFilesystemType)
{
    PINSTANCE_CONTEXT instance = NULL;
    NTSTATUS status;

    (void)Flags;
    status = FltAllocateContext(gFilter, FLT_INSTANCE_CONTEXT, sizeof(INSTANCE_CONTEXT), NonPagedPoolNx,
                                (PFLT_CONTEXT *)&instance);
    if (!NT_SUCCESS(status))
        return status;
    instance->Instance = FltObjects->Instance;
    instance->Volume = FltObjects->Volume;
    instance->DeviceType = VolumeDeviceType;
    instance->FilesystemType = VolumeFilesystemType;
    instance->Attached = KeQueryPerformanceCounter(NULL).QuadPart;
    instance->Reserved = NULL;
    status = FltSetInstanceContext(FltObjects->Instance, FLT_SET_CONTEXT_KEEP_IF_EXISTS, instance, NULL);
    FltReleaseContext(instance);
    return status;
}

FIXTURE_NOINLINE VOID FLTAPI ContextCleanupP(PFLT_CONTEXT Context, FLT_CONTEXT_TYPE ContextType)
{
    if (ContextType == FLT_STREAM_CONTEXT && ((PSTREAM_CONTEXT)Context)->Reserved != NULL)
        ExFreePoolWithTag(((PSTREAM_CONTEXT)Context)->Reserved, TAG_STREAM_CTX);
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadP(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_CONTEXT_REGISTRATION ContextRegistration[] = {
    { FLT_STREAM_CONTEXT, 0, ContextCleanupP, sizeof(STREAM_CONTEXT), TAG_STREAM_CTX, NULL, NULL, NULL },
    { FLT_STREAMHANDLE_CONTEXT, 0, NULL, sizeof(STREAMHANDLE_CONTEXT), TAG_HANDLE_CTX, NULL, NULL, NULL },
    { FLT_INSTANCE_CONTEXT, 0, NULL, sizeof(INSTANCE_CONTEXT), TAG_INSTANCE_CTX, NULL, NULL, NULL },
    { FLT_CONTEXT_END, 0, NULL, 0, 0, NULL, NULL, NULL }
};

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, PreCreateP, PostCreateP, NULL },
    { IRP_MJ_READ, 0, PreReadP, PostReadP, NULL },
    { IRP_MJ_WRITE, 0, PreWriteP, PostWriteP, NULL },
    { IRP_MJ_QUERY_INFORMATION, 0, PreInfoP, PostQueryInfoP, NULL },
    { IRP_MJ_SET_INFORMATION, 0, PreInfoP, PostSetInfoP, NULL },
    { IRP_MJ_DIRECTORY_CONTROL, 0, PreInfoP, PostDirCtrlP, NULL },
    { IRP_MJ_CLEANUP, 0, NULL, PostCleanupP, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    ContextRegistration,
    Callbacks,
    FilterUnloadP,
    InstanceSetupP,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
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
