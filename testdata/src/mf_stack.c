/*
 * mf_stack.c - registration built at run time, as some drivers do:
 * DriverEntry fills the FLT_REGISTRATION (Size 0x58, Version 0x0200) on its
 * own stack field by field, and stores the callbacks into a writable
 * operations array in .data (its static image holds only the major codes and
 * the IRP_MJ_OPERATION_END terminator) before calling FltRegisterFilter.
 *
 *   IRP_MJ_CREATE  flags 0               PreCreateS / PostCreateS
 *   IRP_MJ_READ    flags SKIP_PAGING_IO  PreReadS -> FltReadFile
 *   IRP_MJ_WRITE   flags 0               PreWriteS -> FltQueueDeferredIoWorkItem
 *                  (pends; DeferredWrite -> ReadConfigFile -> ZwCreateFile,
 *                  ZwReadFile, ZwClose)
 *   IRP_MJ_CLEANUP flags 0               PreCleanupS -> spin lock pair
 */
#define FLT_REGISTRATION_VERSION 0x0200
#include "fixture_flt.h"

#define TAG_BUFFER 'fBkS' /* "SkBf" */

PFLT_FILTER gFilter;
KSPIN_LOCK gLock;
volatile ULONG gConfig;
volatile ULONG gCleanups;

FLT_OPERATION_REGISTRATION gOperations[] = {
    { IRP_MJ_CREATE, 0, NULL, NULL, NULL },
    { IRP_MJ_READ, 0, NULL, NULL, NULL },
    { IRP_MJ_WRITE, 0, NULL, NULL, NULL },
    { IRP_MJ_CLEANUP, 0, NULL, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

FIXTURE_NOINLINE NTSTATUS ReadConfigFile(VOID)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER offset;
    HANDLE file;
    UCHAR buffer[64];
    NTSTATUS status;

    RtlInitUnicodeString(&name, L"\\SystemRoot\\drvhazard-fixture.cfg");
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwCreateFile(&file, GENERIC_READ | SYNCHRONIZE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                          FILE_SHARE_READ, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE,
                          NULL, 0);
    if (!NT_SUCCESS(status))
        return status;
    offset.QuadPart = 0;
    status = ZwReadFile(file, NULL, NULL, NULL, &iosb, buffer, sizeof(buffer), &offset, NULL);
    ZwClose(file);
    if (NT_SUCCESS(status))
        gConfig = buffer[0] | (buffer[1] << 8);
    return status;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateS(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = Data->Iopb->TargetFileObject;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreateS(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
            FLT_POST_OPERATION_FLAGS Flags)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (!(Flags & FLTFL_POST_OPERATION_DRAINING) && NT_SUCCESS(Data->IoStatus.u.Status))
        gConfig = (ULONG)ReadConfigFile();
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadS(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    LARGE_INTEGER offset;
    ULONG bytesRead = 0;
    PVOID buffer;

    (void)CompletionContext;
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 0x200, TAG_BUFFER);
    if (buffer == NULL)
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    offset.QuadPart = 0;
    FltReadFile(FltObjects->Instance, Data->Iopb->TargetFileObject, &offset, 0x200, buffer, 0, &bytesRead,
                NULL, NULL);
    gConfig = bytesRead;
    ExFreePoolWithTag(buffer, TAG_BUFFER);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE VOID FLTAPI
DeferredWrite(PFLT_DEFERRED_IO_WORKITEM FltWorkItem, PFLT_CALLBACK_DATA CallbackData, PVOID Context)
{
    (void)FltWorkItem;
    (void)Context;
    ReadConfigFile();
    FltCompletePendedPreOperation(CallbackData, FLT_PREOP_SUCCESS_NO_CALLBACK, NULL);
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteS(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PFLT_DEFERRED_IO_WORKITEM item;

    (void)FltObjects;
    (void)CompletionContext;
    item = FltAllocateDeferredIoWorkItem();
    if (item == NULL)
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    if (!NT_SUCCESS(FltQueueDeferredIoWorkItem(item, Data, DeferredWrite, DelayedWorkQueue, NULL)))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    return FLT_PREOP_PENDING;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCleanupS(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    KIRQL oldIrql;

    (void)Data;
    (void)FltObjects;
    (void)CompletionContext;
    oldIrql = KeAcquireSpinLockRaiseToDpc(&gLock);
    gCleanups++;
    KeReleaseSpinLock(&gLock, oldIrql);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadS(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    FLT_REGISTRATION registration;
    NTSTATUS status;

    (void)RegistryPath;
    gOperations[0].PreOperation = PreCreateS;
    gOperations[0].PostOperation = PostCreateS;
    gOperations[1].Flags = FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO;
    gOperations[1].PreOperation = PreReadS;
    gOperations[2].PreOperation = PreWriteS;
    gOperations[3].PreOperation = PreCleanupS;

    registration.Size = sizeof(registration);          /* 0x58 */
    registration.Version = FLT_REGISTRATION_VERSION;   /* 0x0200 */
    registration.Flags = FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP;
    registration.ContextRegistration = NULL;
    registration.OperationRegistration = gOperations;
    registration.FilterUnloadCallback = FilterUnloadS;
    registration.InstanceSetupCallback = NULL;
    registration.InstanceQueryTeardownCallback = NULL;
    registration.InstanceTeardownStartCallback = NULL;
    registration.InstanceTeardownCompleteCallback = NULL;
    registration.GenerateFileNameCallback = NULL;
    registration.NormalizeNameComponentCallback = NULL;
    registration.NormalizeContextCleanupCallback = NULL;

    status = FltRegisterFilter(DriverObject, &registration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
