/*
 * mf_initptrs.c - what DriverEntry sets up before the first I/O: routine
 * pointers in globals, a structure of hooks in writable data, a routine
 * found by name at run time, and the registration itself, copied from a
 * const template to the stack after an operation's flags were patched.
 *
 * The registration: RegistrationTemplate is const in .rdata (Size 0x70,
 * Version 0x0203, flags 0) and points at gOperations, a complete
 * FLT_OPERATION_REGISTRATION array in writable .data (CREATE, READ, WRITE,
 * every flag 0).  DriverEntry sets SKIP_PAGING_IO on the WRITE entry
 * (`gOperations[2].Flags |= ...`), copies the template to its stack
 * (0x70 bytes: movups from .rdata, or stores of the known values), sets
 * DO_NOT_SUPPORT_SERVICE_STOP in the copy and passes the copy to
 * FltRegisterFilter.  So the filter Filter Manager sees has flags 0x1 and
 * its WRITE operation flags 0x1.
 *
 * The pointers DriverEntry stores (every one before FltRegisterFilter):
 *   gLookupProcess = PsLookupProcessByProcessId   the import's address (IAT)
 *   gQueryOwner    = QueryOwnerHook               a function of the driver
 *   gHooks.Audit / .Describe / .Notify = AuditHook / DescribeHook / NotifyHook
 *                                                  (REQUEST_HOOKS in .bss)
 *   gIsProtected   = MmGetSystemRoutineAddress(L"PsIsProtectedProcessLight")
 *                                                  unknowable from the image
 *   gTraceMessage  = MmGetSystemRoutineAddress(L"WmiTraceMessage"), and
 *                    LegacyTraceMessage only if that found nothing (WPP's
 *                    W2kTraceMessage): the fallback runs on no system the
 *                    driver supports, so its paged allocation is no finding
 *   gOpenHook      = OpenConfigHook, through SetOpenHook(fn) (a setter)
 *   gStreamHooks.Classify / .Count = ClassifyHook / CountHook, stored by
 *                    InitStreamHooks(&gStreamHooks), a helper kept out of
 *                    line (as one in another source file is) that fills the
 *                    structure whose address it gets
 *
 *   IRP_MJ_READ  PreReadI (flags 0):
 *     gLookupProcess(...)            PsLookupProcessByProcessId       MF2001
 *     gQueryOwner(Data)              QueryOwnerHook: ZwQueryInformationProcess  MF2002
 *     gHooks.Describe(Data)          DescribeHook: ObQueryNameString  MF2001
 *     !FlagOn(IrpFlags, IRP_PAGING_IO): gHooks.Audit(Data)
 *                                    AuditHook: ObReferenceObjectByHandle  -
 *     gIsProtected(process)          an unresolved indirect call, no finding
 *     TraceRequest: gTraceMessage(...)  unresolved (the lookup), no finding
 *     gOpenHook(Data)                OpenConfigHook: ZwOpenKey         MF2002
 *     gStreamHooks.Classify(Data)    ClassifyHook: SeLocateProcessImageName  MF2002
 *   IRP_MJ_WRITE PreWriteI (flags 0 in the image, SKIP_PAGING_IO at run time):
 *     gHooks.Notify(Data)            NotifyHook: FltGetFileNameInformation  -
 *     LookupRequestorThread          PsLookupThreadByThreadId         -
 *   IRP_MJ_CREATE PreCreateI: gHooks.Audit(Data)                       -
 */
#include "fixture_ext.h"

typedef NTSTATUS (NTAPI *PFN_LOOKUP_PROCESS)(HANDLE ProcessId, PEPROCESS *Process);
typedef BOOLEAN (NTAPI *PFN_IS_PROTECTED_PROCESS)(PEPROCESS Process);
typedef LONG_PTR (*PFN_REQUEST_HOOK)(PFLT_CALLBACK_DATA Data);
typedef NTSTATUS (NTAPI *PFN_TRACE_MESSAGE)(ULONG64 LoggerHandle, ULONG MessageFlags, const void *MessageGuid,
                                            USHORT MessageNumber, ...);

typedef struct _STREAM_HOOKS {
    PFN_REQUEST_HOOK Count;     /* 0x00 */
    PFN_REQUEST_HOOK Classify;  /* 0x08 */
} STREAM_HOOKS;

typedef struct _REQUEST_HOOKS {
    PFN_REQUEST_HOOK Audit;     /* 0x00 */
    PFN_REQUEST_HOOK Describe;  /* 0x08 */
    PFN_REQUEST_HOOK Notify;    /* 0x10 */
} REQUEST_HOOKS;

PFLT_FILTER gFilter;
PFN_LOOKUP_PROCESS gLookupProcess;
PFN_REQUEST_HOOK gQueryOwner;
REQUEST_HOOKS gHooks;
STREAM_HOOKS gStreamHooks;
PFN_IS_PROTECTED_PROCESS gIsProtected;
PFN_TRACE_MESSAGE gTraceMessage;
PFN_REQUEST_HOOK gOpenHook;
HANDLE gWatchedHandle;
volatile LONG_PTR gLastOwner;
volatile LONG_PTR gLastThread;
volatile LONG_PTR gHookResult;
volatile LONG gProtectedReads;

/* ---- the hooks ---- */

FIXTURE_NOINLINE LONG_PTR QueryOwnerHook(PFLT_CALLBACK_DATA Data)
{
    ULONG_PTR basic[6];
    ULONG length;

    (void)Data;
    if (!NT_SUCCESS(ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, basic, sizeof(basic),
                                              &length)))
        return 0;
    return (LONG_PTR)basic[4];
}

FIXTURE_NOINLINE LONG_PTR AuditHook(PFLT_CALLBACK_DATA Data)
{
    PVOID object;

    (void)Data;
    if (!NT_SUCCESS(ObReferenceObjectByHandle(gWatchedHandle, 0, NULL, KernelMode, &object, NULL)))
        return 0;
    ObDereferenceObject(object);
    return (LONG_PTR)object;
}

FIXTURE_NOINLINE LONG_PTR DescribeHook(PFLT_CALLBACK_DATA Data)
{
    union {
        OBJECT_NAME_INFORMATION Info;
        UCHAR Bytes[sizeof(OBJECT_NAME_INFORMATION) + 64 * sizeof(WCHAR)];
    } name;
    ULONG returned = 0;

    if (!NT_SUCCESS(ObQueryNameString(Data->Iopb->TargetFileObject, &name.Info, sizeof(name), &returned)))
        return 0;
    return name.Info.Name.Length;
}

FIXTURE_NOINLINE LONG_PTR NotifyHook(PFLT_CALLBACK_DATA Data)
{
    PFLT_FILE_NAME_INFORMATION nameInfo;
    LONG_PTR length;

    if (!NT_SUCCESS(FltGetFileNameInformation(Data, FLT_FILE_NAME_NORMALIZED | FLT_FILE_NAME_QUERY_DEFAULT,
                                              &nameInfo)))
        return 0;
    length = nameInfo->Name.Length;
    FltReleaseFileNameInformation(nameInfo);
    return length;
}

FIXTURE_NOINLINE LONG_PTR LookupRequestorThread(VOID)
{
    PETHREAD thread;

    if (!NT_SUCCESS(PsLookupThreadByThreadId(PsGetCurrentThreadId(), &thread)))
        return 0;
    ObDereferenceObject(thread);
    return (LONG_PTR)thread;
}

/* What WPP falls back to where WmiTraceMessage is missing (Windows 2000). */
FIXTURE_NOINLINE NTSTATUS NTAPI LegacyTraceMessage(ULONG64 LoggerHandle, ULONG MessageFlags, const void *MessageGuid,
                                                   USHORT MessageNumber, ...)
{
    PVOID buffer = ExAllocatePoolWithTag(PagedPool, 0x200, 'rTfM');

    (void)LoggerHandle;
    (void)MessageFlags;
    (void)MessageGuid;
    (void)MessageNumber;
    if (buffer == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    ExFreePoolWithTag(buffer, 'rTfM');
    return STATUS_SUCCESS;
}

FIXTURE_NOINLINE VOID TraceRequest(PFLT_CALLBACK_DATA Data)
{
    if (gTraceMessage != NULL)
        gTraceMessage(1, 0, NULL, 10, Data, sizeof(Data), NULL);
}

FIXTURE_NOINLINE LONG_PTR OpenConfigHook(PFLT_CALLBACK_DATA Data)
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE key;

    (void)Data;
    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    if (!NT_SUCCESS(ZwOpenKey(&key, KEY_READ, &attributes)))
        return 0;
    ZwClose(key);
    return 1;
}

FIXTURE_NOINLINE VOID SetOpenHook(PFN_REQUEST_HOOK Hook)
{
    gOpenHook = Hook;
}

FIXTURE_NOINLINE LONG_PTR ClassifyHook(PFLT_CALLBACK_DATA Data)
{
    PUNICODE_STRING image;
    LONG_PTR length;

    (void)Data;
    if (!NT_SUCCESS(SeLocateProcessImageName(IoGetCurrentProcess(), &image)))
        return 0;
    length = image->Length;
    ExFreePoolWithTag(image, 0);
    return length;
}

FIXTURE_NOINLINE LONG_PTR CountHook(PFLT_CALLBACK_DATA Data)
{
    return Data->Iopb->Parameters.Read.Length;
}

FIXTURE_NOINLINE VOID InitStreamHooks(STREAM_HOOKS *Hooks)
{
    Hooks->Count = CountHook;
    Hooks->Classify = ClassifyHook;
}

/* ---- the callbacks ---- */

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadI(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PEPROCESS process;

    (void)FltObjects;
    (void)CompletionContext;
    if (NT_SUCCESS(gLookupProcess(PsGetCurrentProcessId(), &process))) {
        if (gIsProtected != NULL && gIsProtected(process))
            gProtectedReads++;
        gLastOwner = (LONG_PTR)PsGetProcessCreateTimeQuadPart(process);
        ObDereferenceObject(process);
    }
    gLastOwner ^= gQueryOwner(Data);
    TraceRequest(Data);
    gHookResult ^= gOpenHook(Data);
    gHookResult = gHooks.Describe(Data);
    gHookResult += gStreamHooks.Classify(Data);
    if (!FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO))
        gHookResult += gHooks.Audit(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteI(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gHookResult = gHooks.Notify(Data);
    gLastThread = LookupRequestorThread();
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateI(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gHookResult = gHooks.Audit(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI InitPtrsUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

/* ---- registration ---- */

FLT_OPERATION_REGISTRATION gOperations[] = {
    { IRP_MJ_CREATE, 0, PreCreateI, NULL, NULL },
    { IRP_MJ_READ, 0, PreReadI, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreWriteI, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION RegistrationTemplate = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    gOperations,
    InitPtrsUnload,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    FLT_REGISTRATION registration;
    UNICODE_STRING routine;
    NTSTATUS status;

    (void)RegistryPath;
    gLookupProcess = PsLookupProcessByProcessId;
    gQueryOwner = QueryOwnerHook;
    gHooks.Audit = AuditHook;
    gHooks.Describe = DescribeHook;
    gHooks.Notify = NotifyHook;
    RtlInitUnicodeString(&routine, L"PsIsProtectedProcessLight");
    gIsProtected = (PFN_IS_PROTECTED_PROCESS)MmGetSystemRoutineAddress(&routine);
    RtlInitUnicodeString(&routine, L"WmiTraceMessage");
    gTraceMessage = (PFN_TRACE_MESSAGE)MmGetSystemRoutineAddress(&routine);
    if (gTraceMessage == NULL)
        gTraceMessage = LegacyTraceMessage;
    SetOpenHook(OpenConfigHook);
    InitStreamHooks(&gStreamHooks);

    /* Paging writes are the lower filter's business. */
    gOperations[2].Flags |= FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO;

    registration = RegistrationTemplate;
    registration.Flags |= FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP;
    status = FltRegisterFilter(DriverObject, &registration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
