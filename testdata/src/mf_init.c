/*
 * mf_init.c - minispy-style layout: the FLT_REGISTRATION (Size 0x68,
 * Version 0x0202), the operations array and the context registration array
 * are const data in the discardable INIT section, and the IRP_MJ_READ
 * pre-operation callback plus its callee live in the pageable PAGE code
 * section (#pragma code_seg / alloc_text in WDK sources).  An FsFilter
 * callback is registered for IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION
 * (0xFF), and a context registration names a pool tag.
 */
#define FLT_REGISTRATION_VERSION 0x0202
#include "fixture_flt.h"

#define TAG_STREAM_CTX   'xtCI' /* "ICtx" */
#define TAG_INSTANCE_CTX 'tsnI' /* "Inst" */

#if defined(_MSC_VER)
#define INIT_DATA /* #pragma const_seg("INIT") below */
#define PAGE_CODE_BEGIN _Pragma("code_seg(\"PAGE\")")
#define PAGE_CODE_END _Pragma("code_seg()")
#else
#define INIT_DATA __attribute__((section("INIT")))
#define PAGE_CODE_BEGIN
#define PAGE_CODE_END
#endif
#if defined(_MSC_VER)
#define PAGED
#else
#define PAGED __attribute__((section("PAGE")))
#endif

typedef struct _STREAM_CTX {
    UNICODE_STRING Name;
    LONGLONG Opened;
    ULONG Flags;
    ULONG Reads;
    PVOID Reserved;
} STREAM_CTX;   /* 0x28 bytes */

typedef struct _INSTANCE_CTX {
    PFLT_INSTANCE Instance;
    PFLT_VOLUME Volume;
    ULONG Flags;
} INSTANCE_CTX; /* 0x18 bytes */

PFLT_FILTER gFilter;
volatile ULONG gNameLength;
volatile ULONG gSectionSyncs;

PAGE_CODE_BEGIN

FIXTURE_NOINLINE PAGED ULONG QueryNamePaged(PFLT_CALLBACK_DATA Data)
{
    PFLT_FILE_NAME_INFORMATION nameInfo;
    ULONG length = 0;

    if (NT_SUCCESS(FltGetFileNameInformation(Data, FLT_FILE_NAME_OPENED | FLT_FILE_NAME_QUERY_DEFAULT,
                                             &nameInfo))) {
        length = nameInfo->Name.Length;
        FltReleaseFileNameInformation(nameInfo);
    }
    return length;
}

FIXTURE_NOINLINE PAGED FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadPaged(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gNameLength = QueryNamePaged(Data) + 1;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE PAGED NTSTATUS FLTAPI
InstanceSetupPaged(PCFLT_RELATED_OBJECTS FltObjects, FLT_INSTANCE_SETUP_FLAGS Flags,
                   DEVICE_TYPE VolumeDeviceType, FLT_FILESYSTEM_TYPE VolumeFilesystemType)
{
    (void)FltObjects;
    (void)Flags;
    (void)VolumeFilesystemType;
    return VolumeDeviceType == 0x14 /* FILE_DEVICE_NETWORK_FILE_SYSTEM */ ? STATUS_UNSUCCESSFUL
                                                                          : STATUS_SUCCESS;
}

FIXTURE_NOINLINE PAGED NTSTATUS FLTAPI FilterUnloadPaged(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

PAGE_CODE_END

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreAcquireForSection(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PFLT_FILE_NAME_INFORMATION nameInfo;

    (void)FltObjects;
    (void)CompletionContext;
    gSectionSyncs++;
    if (NT_SUCCESS(FltGetFileNameInformation(Data, FLT_FILE_NAME_NORMALIZED | FLT_FILE_NAME_QUERY_DEFAULT,
                                             &nameInfo)))
        FltReleaseFileNameInformation(nameInfo);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateInit(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    *CompletionContext = Data->Iopb->TargetFileObject;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreateInit(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
               FLT_POST_OPERATION_FLAGS Flags)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (!(Flags & FLTFL_POST_OPERATION_DRAINING))
        gNameLength = (ULONG)Data->IoStatus.u.Status;
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE VOID FLTAPI StreamContextCleanup(PFLT_CONTEXT Context, FLT_CONTEXT_TYPE ContextType)
{
    STREAM_CTX *ctx = Context;

    (void)ContextType;
    if (ctx->Reserved != NULL)
        ExFreePoolWithTag(ctx->Reserved, TAG_STREAM_CTX);
}

#if defined(_MSC_VER)
#pragma const_seg("INIT")
#endif

INIT_DATA const FLT_CONTEXT_REGISTRATION ContextRegistration[] = {
    { FLT_STREAMHANDLE_CONTEXT, 0, StreamContextCleanup, sizeof(STREAM_CTX), TAG_STREAM_CTX, NULL, NULL, NULL },
    { FLT_INSTANCE_CONTEXT, 0, NULL, sizeof(INSTANCE_CTX), TAG_INSTANCE_CTX, NULL, NULL, NULL },
    { FLT_CONTEXT_END, 0, NULL, 0, 0, NULL, NULL, NULL }
};

INIT_DATA const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, PreCreateInit, PostCreateInit, NULL },
    { IRP_MJ_READ, 0, PreReadPaged, NULL, NULL },
    { IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION, 0, PreAcquireForSection, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

INIT_DATA const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x68 */
    FLT_REGISTRATION_VERSION,   /* 0x0202 */
    0,
    ContextRegistration,
    Callbacks,
    FilterUnloadPaged,
    InstanceSetupPaged,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

#if defined(_MSC_VER)
#pragma const_seg()
#endif

_Static_assert(sizeof(STREAM_CTX) == 0x28, "STREAM_CTX size");
_Static_assert(sizeof(INSTANCE_CTX) == 0x18, "INSTANCE_CTX size");

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (NT_SUCCESS(status)) {
        status = FltStartFiltering(gFilter);
        if (!NT_SUCCESS(status))
            FltUnregisterFilter(gFilter);
    }
    return status;
}
