/*
 * mf_guards.c - the paging guard written the ways minifilters write it, each
 * next to a twin that looks like a guard and is not one.  One filter, a
 * const registration in .rdata (Size 0x70, Version 0x0203, flags 0), READ
 * and WRITE registered with flags 0 (no SKIP_PAGING_IO): every call below
 * is on the paging path unless a test of Data->Iopb->IrpFlags & IRP_PAGING_IO
 * stands in front of it.
 *
 * Paging I/O IRPs carry IRP_PAGING_IO (0x2) and IRP_NOCACHE; the synchronous
 * ones also IRP_SYNCHRONOUS_PAGING_IO (0x40), but the asynchronous page
 * writes of the mapped and modified page writers do not.  So a test of 0x40
 * alone is no guard, nor is a test of bit 1 of Data->Flags (that is
 * FLTFL_CALLBACK_DATA_FAST_IO_OPERATION), nor of IRP_SYNCHRONOUS_API.
 *
 *   IRP_MJ_READ  GuardPreRead: reads IrpFlags into a local first and tests
 *       the local only after five calls (the value lives in a callee-saved
 *       register or a stack slot across them):
 *         LookupRequestorThread  before the test       PsLookupThreadByThreadId   MF2001
 *         TrackTransfer          (IrpFlags >> 1) & 1   ZwQueryInformationProcess  -
 *         TrackTransferSync      (IrpFlags >> 6) & 1   SeLocateProcessImageName   MF2001
 *         NoteRequestor          _bittest(IrpFlags, 1) ObReferenceObjectByHandle  -
 *         NoteRequestorFastIo    _bittest(Data->Flags, 1)  ObOpenObjectByPointer  MF2002
 *         LookupRequestorProcess after the test        PsLookupProcessByProcessId -
 *   IRP_MJ_WRITE GuardPreWrite:
 *         CaptureIopb(Iopb)      callee gets Iopb, tests 0x2   ZwClose            -
 *         CaptureIopbAsync(Iopb) callee gets Iopb, tests 0x40  ZwOpenKey          MF2002
 *         RecordOpen             paging = FlagOn(..) ? TRUE : FALSE  ObQueryNameString -
 *         RecordOpenAsync        sync = FlagOn(IRP_SYNCHRONOUS_API) ? ...  ZwQueryValueKey MF2002
 *         !IsPagingIoLocal(Data) static noinline BOOLEAN helper  FltGetFileNameInformation -
 *         !FlagOn(IrpFlags, IRP_SYNCHRONOUS_PAGING_IO)   FltReadFile                MF2005
 *         IsFastIo(Data) return  (tests Data->Flags)     ExAllocatePoolWithTag(PagedPool) MF2007
 *         IsPagingIo(Data) return (non-static helper)    PsLookupProcessByProcessId -
 *
 * The static helpers are for gcc -O3, which clones them (.isra: the caller
 * passes Data->Iopb instead of Data; .part: the guard of CaptureIopb is
 * inlined into its callers and the rest is outlined).
 */
#include "fixture_ext.h"

#define TAG_SCRATCH 'sGfM' /* "MfGs" */

typedef struct _GUARD_STATS {
    volatile LONG Reads;
    volatile LONG Writes;
    volatile LONG Tracked;
    volatile LONG Captured;
} GUARD_STATS;

typedef struct _CAPTURE {
    LONGLONG Time;
    HANDLE Process;
    HANDLE Thread;
    PFLT_INSTANCE Instance;
    LONGLONG Offset;
    ULONG Length;
} CAPTURE;

PFLT_FILTER gFilter;
GUARD_STATS gStats;
CAPTURE gCapture;
HANDLE gWatchedHandle;
HANDLE gPolicyKey;
UNICODE_STRING gPolicyPath;
volatile LONG_PTR gLastOwner;
volatile LONG_PTR gLastThread;
volatile LONG_PTR gLastObject;
volatile ULONG gLastImage;
volatile ULONG gLastName;
volatile NTSTATUS gLastStatus;
volatile HANDLE gLastHandle;

/* ---- the routines each helper wraps, one sink apiece ---- */

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

FIXTURE_NOINLINE LONG_PTR LookupRequestorThread(VOID)
{
    PETHREAD thread;

    if (!NT_SUCCESS(PsLookupThreadByThreadId(PsGetCurrentThreadId(), &thread)))
        return 0;
    ObDereferenceObject(thread);
    return (LONG_PTR)thread;
}

FIXTURE_NOINLINE ULONG QueryRequestorImage(VOID)
{
    PUNICODE_STRING image;
    ULONG length;

    if (!NT_SUCCESS(SeLocateProcessImageName(PsGetCurrentProcess(), &image)))
        return 0;
    length = image->Length;
    ExFreePoolWithTag(image, 0);
    return length;
}

/* The PROCESSINFOCLASS is the same constant at every call: gcc -O3 makes
   QueryProcessCookie.constprop. */
static FIXTURE_NOINLINE LONG_PTR QueryProcessCookie(PROCESSINFOCLASS InfoClass)
{
    ULONG_PTR basic[6];
    ULONG length;

    if (!NT_SUCCESS(ZwQueryInformationProcess(NtCurrentProcess(), InfoClass, basic, sizeof(basic), &length)))
        return 0;
    return (LONG_PTR)basic[4];
}

FIXTURE_NOINLINE LONG_PTR ReferenceWatchedHandle(VOID)
{
    PVOID object;

    if (!NT_SUCCESS(ObReferenceObjectByHandle(gWatchedHandle, 0, NULL, KernelMode, &object, NULL)))
        return 0;
    ObDereferenceObject(object);
    return (LONG_PTR)object;
}

FIXTURE_NOINLINE HANDLE OpenHandleToObject(PVOID Object)
{
    HANDLE handle;

    if (!NT_SUCCESS(ObOpenObjectByPointer(Object, OBJ_KERNEL_HANDLE, NULL, GENERIC_READ, NULL, KernelMode,
                                          &handle)))
        return NULL;
    return handle;
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

FIXTURE_NOINLINE NTSTATUS OpenPolicyKey(VOID)
{
    OBJECT_ATTRIBUTES attributes;

    InitializeObjectAttributes(&attributes, &gPolicyPath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwOpenKey(&gPolicyKey, KEY_READ, &attributes);
}

FIXTURE_NOINLINE ULONG ReadPolicyValue(VOID)
{
    union {
        KEY_VALUE_PARTIAL_INFORMATION Info;
        UCHAR Bytes[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 8];
    } value;
    UNICODE_STRING name;
    ULONG length = 0;

    RtlInitUnicodeString(&name, L"TrackWrites");
    if (!NT_SUCCESS(ZwQueryValueKey(gPolicyKey, &name, KeyValuePartialInformation, &value, sizeof(value),
                                    &length)))
        return 0;
    return value.Info.DataLength >= sizeof(ULONG) ? *(ULONG *)value.Info.Data : 0;
}

/* ---- guard helpers of the READ path ---- */

/* (IrpFlags >> 1) & 1 is IRP_PAGING_IO: a guard. */
FIXTURE_NOINLINE VOID TrackTransfer(PFLT_CALLBACK_DATA Data)
{
    ULONG flags = Data->Iopb->IrpFlags;

    if ((flags >> 1) & 1)
        return;
    gStats.Tracked++;
    gLastOwner = QueryProcessCookie(ProcessBasicInformation);
}

/* (IrpFlags >> 6) & 1 is IRP_SYNCHRONOUS_PAGING_IO: asynchronous paging
   writes get past it. */
FIXTURE_NOINLINE VOID TrackTransferSync(PFLT_CALLBACK_DATA Data)
{
    ULONG flags = Data->Iopb->IrpFlags;

    if ((flags >> 6) & 1)
        return;
    gLastImage = QueryRequestorImage();
}

/* _bittest(&IrpFlags, 1): bt dword ptr [iopb], 1 ; jb - a guard. */
FIXTURE_NOINLINE VOID NoteRequestor(PFLT_CALLBACK_DATA Data)
{
    if (_bittest((const LONG *)&Data->Iopb->IrpFlags, 1))
        return;
    gLastObject = ReferenceWatchedHandle();
}

/* The same bit of the wrong field: bit 1 of Data->Flags is
   FLTFL_CALLBACK_DATA_FAST_IO_OPERATION, and paging I/O is IRP-based. */
FIXTURE_NOINLINE VOID NoteRequestorFastIo(PFLT_CALLBACK_DATA Data)
{
    if (_bittest((const LONG *)&Data->Flags, 1))
        return;
    gLastHandle = OpenHandleToObject(Data->Iopb->TargetFileObject);
}

/* ---- guard helpers of the WRITE path ---- */

/* The callee receives the parameter block, not the callback data.  Static
   and not noinline, called from both callbacks: gcc -O3 splits it,
   inlining the test into its callers and calling CaptureIopb.part.0 on the
   not-paging edge. */
static VOID CaptureIopb(PFLT_IO_PARAMETER_BLOCK Iopb)
{
    if (FlagOn(Iopb->IrpFlags, IRP_PAGING_IO))
        return;
    gStats.Captured++;
    if (Iopb->TargetFileObject != NULL && gPolicyKey != NULL) {
        gLastStatus = ZwClose(gPolicyKey);   /* reopened by CaptureIopbAsync */
        gPolicyKey = NULL;
    }
    gCapture.Time = KeQueryPerformanceCounter(NULL).QuadPart;
    gCapture.Process = PsGetCurrentProcessId();
    gCapture.Thread = PsGetCurrentThreadId();
    gCapture.Instance = Iopb->TargetInstance;
    gCapture.Offset = Iopb->Parameters.Write.ByteOffset.QuadPart;
    gCapture.Length = Iopb->Parameters.Write.Length;
    if (gCapture.Length > 0x10000)
        DbgPrint("mf_guards: %lu bytes at %I64d\n", gCapture.Length, gCapture.Offset);
}

FIXTURE_NOINLINE VOID CaptureIopbAsync(PFLT_IO_PARAMETER_BLOCK Iopb)
{
    if (FlagOn(Iopb->IrpFlags, IRP_SYNCHRONOUS_PAGING_IO))
        return;
    if (gPolicyKey == NULL)
        gLastStatus = OpenPolicyKey();
}

/* The ternary of a BOOLEAN, then a test of the BOOLEAN. */
FIXTURE_NOINLINE VOID RecordOpen(PFLT_CALLBACK_DATA Data)
{
    BOOLEAN paging = FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO) ? TRUE : FALSE;

    gStats.Tracked += paging;
    if (!paging)
        gLastName = QueryObjectName(Data->Iopb->TargetFileObject);
}

FIXTURE_NOINLINE VOID RecordOpenAsync(PFLT_CALLBACK_DATA Data)
{
    BOOLEAN synchronous = FlagOn(Data->Iopb->IrpFlags, IRP_SYNCHRONOUS_API) ? TRUE : FALSE;

    gStats.Tracked += synchronous;
    if (!synchronous)
        gLastImage = ReadPolicyValue();
}

/* BOOLEAN helpers.  IsPagingIoLocal is static: gcc -O3 makes it
   IsPagingIoLocal.isra, which receives Data->Iopb. */
static FIXTURE_NOINLINE BOOLEAN IsPagingIoLocal(PFLT_CALLBACK_DATA Data)
{
    return BooleanFlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO | IRP_SYNCHRONOUS_PAGING_IO);
}

FIXTURE_NOINLINE BOOLEAN IsPagingIo(PFLT_CALLBACK_DATA Data)
{
    return BooleanFlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO);
}

FIXTURE_NOINLINE BOOLEAN IsFastIo(PFLT_CALLBACK_DATA Data)
{
    return BooleanFlagOn(Data->Flags, FLTFL_CALLBACK_DATA_FAST_IO_OPERATION);
}

/* ---- the callbacks ---- */

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
GuardPreRead(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    ULONG irpFlags = Data->Iopb->IrpFlags;

    (void)FltObjects;
    (void)CompletionContext;
    gStats.Reads++;
    gLastThread = LookupRequestorThread();
    CaptureIopb(Data->Iopb);
    TrackTransfer(Data);
    TrackTransferSync(Data);
    NoteRequestor(Data);
    NoteRequestorFastIo(Data);
    if (FlagOn(irpFlags, IRP_PAGING_IO))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gLastOwner = LookupRequestorProcess();
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
GuardPreWrite(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PFLT_IO_PARAMETER_BLOCK iopb = Data->Iopb;
    PFLT_FILE_NAME_INFORMATION nameInfo;
    LARGE_INTEGER offset;
    UCHAR header[16];
    ULONG bytesRead = 0;
    PVOID scratch;

    (void)CompletionContext;
    gStats.Writes++;
    CaptureIopb(iopb);
    CaptureIopbAsync(iopb);
    RecordOpen(Data);
    RecordOpenAsync(Data);
    if (!IsPagingIoLocal(Data) &&
        NT_SUCCESS(FltGetFileNameInformation(Data, FLT_FILE_NAME_NORMALIZED | FLT_FILE_NAME_QUERY_DEFAULT,
                                             &nameInfo))) {
        gLastName = nameInfo->Name.Length;
        FltReleaseFileNameInformation(nameInfo);
    }
    if (!FlagOn(iopb->IrpFlags, IRP_SYNCHRONOUS_PAGING_IO)) {
        offset.QuadPart = 0;
        gLastStatus = FltReadFile(FltObjects->Instance, iopb->TargetFileObject, &offset, sizeof(header), header,
                                  0, &bytesRead, NULL, NULL);
    }
    if (IsFastIo(Data))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    scratch = ExAllocatePoolWithTag(PagedPool, 0x100, TAG_SCRATCH);
    if (IsPagingIo(Data)) {
        if (scratch != NULL)
            ExFreePoolWithTag(scratch, TAG_SCRATCH);
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }
    gLastOwner = LookupRequestorProcess() + bytesRead;
    if (scratch != NULL)
        ExFreePoolWithTag(scratch, TAG_SCRATCH);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI GuardUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    if (gPolicyKey != NULL)
        ZwClose(gPolicyKey);
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_READ, 0, GuardPreRead, NULL, NULL },
    { IRP_MJ_WRITE, 0, GuardPreWrite, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    Callbacks,
    GuardUnload,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    gPolicyPath = *RegistryPath;
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
