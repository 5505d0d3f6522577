/*
 * mf_catalog.c - routines the rules know from Microsoft's DDI reference
 * (rules/ddi_irql.tsv) rather than from drvhazard's built-in table, each
 * beside a twin the reference allows.  Const registration in .rdata (Size
 * 0x70, Version 0x0203, flags 0): READ (flags 0) with a pre- and a
 * post-operation, WRITE with a post-operation only.  The pre-operation
 * returns FLT_PREOP_SUCCESS_WITH_CALLBACK, so both post-operations may run
 * at DISPATCH_LEVEL.
 *
 *   IRP_MJ_READ PreReadC (the paging path: no SKIP_PAGING_IO, no test):
 *     PsReferencePrimaryToken(process)       PASSIVE_LEVEL    MF2002
 *     SeQueryInformationToken(token, ...)    PASSIVE_LEVEL    MF2002
 *     RtlCompareUnicodeString(.., TRUE)      PASSIVE_LEVEL    MF2002
 *     ExAcquireFastMutex / ExReleaseFastMutex  <= APC_LEVEL   -  (paging
 *                                            I/O arrives at APC_LEVEL at most)
 *     KeSetEvent(&gDone, 0, FALSE)           <= DISPATCH_LEVEL  -
 *     DbgPrint("... %wZ", ...)               a Unicode format: PASSIVE_LEVEL  MF2002
 *     DbgPrint("... %Z %s", ...)             ANSI only: any level     -
 *   IRP_MJ_READ PostReadC (may run at DISPATCH_LEVEL):
 *     ExAcquireFastMutex                     <= APC_LEVEL     MF3002
 *     ExReleaseFastMutex: at APC_LEVEL, where the acquire left it  -
 *     CompareUnderLock: RtlCompareUnicodeString (PASSIVE_LEVEL) while the
 *       fast mutex holds APC_LEVEL, whatever the callback's IRQL: a cause
 *       of its own                                              MF3002
 *     FltQueryInformationFile                PASSIVE_LEVEL    MF3002
 *     KeSetEvent, ExFreePool                 <= DISPATCH_LEVEL  -
 *     DbgPrintEx(.., "... %ws", ...)         a Unicode format          MF3002
 *     PollDone: KeWaitForSingleObject with a zero timeout  -
 *   IRP_MJ_WRITE PostWriteC, before its IRQL test:
 *     WaitDone: KeWaitForSingleObject with no timeout      MF3002
 *   DriverEntry allocates gScratch (NonPagedPoolNx, tag MfCs).
 *   IRP_MJ_WRITE PostWriteC: the same calls behind
 *     `if (KeGetCurrentIrql() > APC_LEVEL) return` (the inline mov rax,cr8)  -
 */
#include "fixture_cat.h"

PFLT_FILTER gFilter;
FAST_MUTEX gStatsLock;
KEVENT gDone;
volatile LONG gCompared;
volatile LONGLONG gReadBytes;
volatile LONGLONG gFileSize;
PVOID gScratch;
UNICODE_STRING gProtectedName;
UNICODE_STRING gLastName;
STRING gLastAnsiName;

FIXTURE_NOINLINE VOID CountRead(PFLT_CALLBACK_DATA Data)
{
    ExAcquireFastMutex(&gStatsLock);
    gReadBytes += Data->Iopb->Parameters.Read.Length;
    ExReleaseFastMutex(&gStatsLock);
}

/* A name compare under the statistics mutex: APC_LEVEL whatever the
   caller's IRQL, where RtlCompareUnicodeString needs PASSIVE_LEVEL. */
FIXTURE_NOINLINE VOID CompareUnderLock(VOID)
{
    ExAcquireFastMutex(&gStatsLock);
    if (RtlCompareUnicodeString(&gLastName, &gProtectedName, TRUE) == 0)
        gCompared = gCompared + 1;
    ExReleaseFastMutex(&gStatsLock);
}

FIXTURE_NOINLINE VOID QuerySize(PCFLT_RELATED_OBJECTS FltObjects)
{
    FILE_STANDARD_INFORMATION info;
    ULONG returned;

    if (NT_SUCCESS(FltQueryInformationFile(FltObjects->Instance, FltObjects->FileObject, &info, sizeof(info),
                                           FileStandardInformation, &returned)))
        gFileSize = info.EndOfFile;
}

FIXTURE_NOINLINE VOID FinishRead(VOID)
{
    KeSetEvent(&gDone, 0, FALSE);
    if (gScratch != NULL) {
        ExFreePool(gScratch);
        gScratch = NULL;
    }
}

/* Polls the event: a zero timeout does not wait, which DISPATCH_LEVEL
   allows. */
FIXTURE_NOINLINE NTSTATUS PollDone(VOID)
{
    LARGE_INTEGER zero;

    zero.QuadPart = 0;
    return KeWaitForSingleObject(&gDone, Executive, KernelMode, FALSE, &zero);
}

/* Waits for the event for as long as it takes. */
FIXTURE_NOINLINE NTSTATUS WaitDone(VOID)
{
    return KeWaitForSingleObject(&gDone, Executive, KernelMode, FALSE, NULL);
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadC(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PACCESS_TOKEN token;
    PVOID statistics;

    (void)FltObjects;
    *CompletionContext = NULL;
    token = PsReferencePrimaryToken(PsGetCurrentProcess());
    if (token != NULL) {
        if (NT_SUCCESS(SeQueryInformationToken(token, TokenStatistics, &statistics)))
            ExFreePool(statistics);
        ObDereferenceObject(token);
    }
    if (RtlCompareUnicodeString(&gLastName, &gProtectedName, TRUE) == 0)
        gCompared++;
    DbgPrint("mf_catalog: read %wZ\n", &gLastName);
    DbgPrint("mf_catalog: read %Z (%s)\n", &gLastAnsiName, "ansi");
    CountRead(Data);
    FinishRead();
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostReadC(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
          FLT_POST_OPERATION_FLAGS Flags)
{
    (void)CompletionContext;
    (void)Flags;
    CountRead(Data);
    CompareUnderLock();
    QuerySize(FltObjects);
    FinishRead();
    DbgPrintEx(0, 3, "mf_catalog: %ws read\n", L"PostReadC");
    PollDone();
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostWriteC(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
           FLT_POST_OPERATION_FLAGS Flags)
{
    (void)CompletionContext;
    (void)Flags;
    FinishRead();
    WaitDone();
    if (KeGetCurrentIrql() > APC_LEVEL)
        return FLT_POSTOP_FINISHED_PROCESSING;
    CountRead(Data);
    QuerySize(FltObjects);
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI CatalogUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_READ, 0, PreReadC, PostReadC, NULL },
    { IRP_MJ_WRITE, 0, NULL, PostWriteC, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    Callbacks,
    CatalogUnload,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    RtlInitUnicodeString(&gProtectedName, L"\\secret.txt");
    gScratch = ExAllocatePoolWithTag(NonPagedPoolNx, 0x40, 'sCfM');
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
