/*
 * fixture_flt.h - minimal Filter Manager (fltKernel) declarations for the
 * drvhazard fixtures.  Written for this repository; x64 layouts follow
 * shared/DOMAIN.md section 2.  Include fixture_nt.h first (this header does).
 *
 * Define FLT_REGISTRATION_VERSION before including to pick the size of
 * FLT_REGISTRATION the way the WDK does through NTDDI_VERSION:
 *   0x0200 -> sizeof 0x58, 0x0202 -> 0x68, 0x0203 (default) -> 0x70.
 */
#ifndef FIXTURE_FLT_H
#define FIXTURE_FLT_H

#include "fixture_nt.h"

#ifndef FLT_REGISTRATION_VERSION
#define FLT_REGISTRATION_VERSION 0x0203
#endif

#define FLTAPI NTAPI

typedef struct _FLT_FILTER *PFLT_FILTER;
typedef struct _FLT_VOLUME *PFLT_VOLUME;
typedef struct _FLT_INSTANCE *PFLT_INSTANCE;
typedef struct _KTRANSACTION *PKTRANSACTION;
typedef struct _FLT_DEFERRED_IO_WORKITEM *PFLT_DEFERRED_IO_WORKITEM;
typedef PVOID PFLT_CONTEXT;

/* Major codes (IRP and Filter Manager's non-IRP codes). */
#define IRP_MJ_CREATE                    0x00
#define IRP_MJ_CLOSE                     0x02
#define IRP_MJ_READ                      0x03
#define IRP_MJ_WRITE                     0x04
#define IRP_MJ_QUERY_INFORMATION         0x05
#define IRP_MJ_SET_INFORMATION           0x06
#define IRP_MJ_DIRECTORY_CONTROL         0x0c
#define IRP_MJ_CLEANUP                   0x12
#define IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION ((UCHAR)-1)  /* 0xFF */
#define IRP_MJ_RELEASE_FOR_SECTION_SYNCHRONIZATION ((UCHAR)-2)  /* 0xFE */
#define IRP_MJ_ACQUIRE_FOR_MOD_WRITE     ((UCHAR)-3)            /* 0xFD */
#define IRP_MJ_RELEASE_FOR_MOD_WRITE     ((UCHAR)-4)            /* 0xFC */
#define IRP_MJ_ACQUIRE_FOR_CC_FLUSH      ((UCHAR)-5)            /* 0xFB */
#define IRP_MJ_RELEASE_FOR_CC_FLUSH      ((UCHAR)-6)            /* 0xFA */
#define IRP_MJ_OPERATION_END             ((UCHAR)0x80)

/* FLT_OPERATION_REGISTRATION.Flags */
#define FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO                 0x00000001
#define FLTFL_OPERATION_REGISTRATION_SKIP_CACHED_IO                 0x00000002
#define FLTFL_OPERATION_REGISTRATION_SKIP_NON_DASD_IO               0x00000004
#define FLTFL_OPERATION_REGISTRATION_SKIP_NON_CACHED_NON_PAGING_IO  0x00000008

/* FLT_REGISTRATION.Flags */
#define FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP 0x00000001
#define FLTFL_REGISTRATION_SUPPORT_NPFS_MSFS           0x00000002
#define FLTFL_REGISTRATION_SUPPORT_DAX_VOLUME          0x00000004
#define FLTFL_REGISTRATION_SUPPORT_WCOS                0x00000008

/* Context types */
#define FLT_VOLUME_CONTEXT       0x0001
#define FLT_INSTANCE_CONTEXT     0x0002
#define FLT_FILE_CONTEXT         0x0004
#define FLT_STREAM_CONTEXT       0x0008
#define FLT_STREAMHANDLE_CONTEXT 0x0010
#define FLT_TRANSACTION_CONTEXT  0x0020
#define FLT_SECTION_CONTEXT      0x0040
#define FLT_CONTEXT_END          0xffff

/* FLT_CALLBACK_DATA.Flags */
#define FLTFL_CALLBACK_DATA_IRP_OPERATION     0x00000001
#define FLTFL_CALLBACK_DATA_FAST_IO_OPERATION 0x00000002
#define FLTFL_CALLBACK_DATA_FS_FILTER_OPERATION 0x00000004

typedef enum _FLT_PREOP_CALLBACK_STATUS {
    FLT_PREOP_SUCCESS_WITH_CALLBACK = 0,
    FLT_PREOP_SUCCESS_NO_CALLBACK = 1,
    FLT_PREOP_PENDING = 2,
    FLT_PREOP_DISALLOW_FASTIO = 3,
    FLT_PREOP_COMPLETE = 4,
    FLT_PREOP_SYNCHRONIZE = 5
} FLT_PREOP_CALLBACK_STATUS, *PFLT_PREOP_CALLBACK_STATUS;

typedef enum _FLT_POSTOP_CALLBACK_STATUS {
    FLT_POSTOP_FINISHED_PROCESSING = 0,
    FLT_POSTOP_MORE_PROCESSING_REQUIRED = 1
} FLT_POSTOP_CALLBACK_STATUS, *PFLT_POSTOP_CALLBACK_STATUS;

typedef ULONG FLT_POST_OPERATION_FLAGS;
typedef ULONG FLT_FILTER_UNLOAD_FLAGS;
typedef ULONG FLT_INSTANCE_SETUP_FLAGS;
typedef ULONG FLT_INSTANCE_QUERY_TEARDOWN_FLAGS;
typedef ULONG FLT_INSTANCE_TEARDOWN_FLAGS;
typedef ULONG FLT_FILE_NAME_OPTIONS;
typedef ULONG FLT_IO_OPERATION_FLAGS;
typedef ULONG FLT_FILESYSTEM_TYPE;
typedef USHORT FLT_CONTEXT_TYPE;
typedef USHORT FLT_CONTEXT_REGISTRATION_FLAGS;
typedef USHORT FLT_OPERATION_REGISTRATION_FLAGS_U; /* unused */
typedef ULONG FLT_REGISTRATION_FLAGS;
typedef ULONG FLT_OPERATION_REGISTRATION_FLAGS;

#define FLT_FILE_NAME_NORMALIZED          0x01
#define FLT_FILE_NAME_OPENED              0x02
#define FLT_FILE_NAME_QUERY_DEFAULT       0x0100
#define FLTFL_POST_OPERATION_DRAINING     0x00000001

typedef enum _WORK_QUEUE_TYPE { CriticalWorkQueue = 0, DelayedWorkQueue = 1 } WORK_QUEUE_TYPE;

/* FLT_PARAMETERS: only the members the fixtures touch (x64 offsets). */
typedef union _FLT_PARAMETERS {
    struct {
        ULONG Length;                 /* 0x00 */
        ULONG Key;                    /* 0x04 */
        LARGE_INTEGER ByteOffset;     /* 0x08 */
        PVOID ReadBuffer;             /* 0x10 */
        PVOID MdlAddress;             /* 0x18 */
    } Read;
    struct {
        ULONG Length;
        ULONG Key;
        LARGE_INTEGER ByteOffset;
        PVOID WriteBuffer;
        PVOID MdlAddress;
    } Write;
    struct {
        PVOID Args[5];
    } Others;
} FLT_PARAMETERS, *PFLT_PARAMETERS;

/* FLT_IO_PARAMETER_BLOCK */
typedef struct _FLT_IO_PARAMETER_BLOCK {
    ULONG IrpFlags;                   /* 0x00 */
    UCHAR MajorFunction;              /* 0x04 */
    UCHAR MinorFunction;              /* 0x05 */
    UCHAR OperationFlags;             /* 0x06 */
    UCHAR Reserved;                   /* 0x07 */
    PFILE_OBJECT TargetFileObject;    /* 0x08 */
    PFLT_INSTANCE TargetInstance;     /* 0x10 */
    FLT_PARAMETERS Parameters;        /* 0x18 */
} FLT_IO_PARAMETER_BLOCK, *PFLT_IO_PARAMETER_BLOCK;

/* FLT_CALLBACK_DATA (head of the structure). */
typedef struct _FLT_CALLBACK_DATA {
    ULONG Flags;                      /* 0x00 */
    PETHREAD Thread;                  /* 0x08 */
    PFLT_IO_PARAMETER_BLOCK Iopb;     /* 0x10 */
    IO_STATUS_BLOCK IoStatus;         /* 0x18 */
    PVOID TagData;                    /* 0x28 */
    PVOID QueueLinks[2];              /* 0x30 */
    PVOID QueueContext[2];            /* 0x40 */
    KPROCESSOR_MODE RequestorMode;    /* 0x50 */
} FLT_CALLBACK_DATA, *PFLT_CALLBACK_DATA;

typedef struct _FLT_RELATED_OBJECTS {
    USHORT Size;                      /* 0x00 */
    USHORT TransactionContext;        /* 0x02 */
    PFLT_FILTER Filter;               /* 0x08 */
    PFLT_VOLUME Volume;               /* 0x10 */
    PFLT_INSTANCE Instance;           /* 0x18 */
    PFILE_OBJECT FileObject;          /* 0x20 */
    PKTRANSACTION Transaction;        /* 0x28 */
} FLT_RELATED_OBJECTS, *PFLT_RELATED_OBJECTS;
typedef const FLT_RELATED_OBJECTS *PCFLT_RELATED_OBJECTS;

typedef struct _FLT_FILE_NAME_INFORMATION {
    USHORT Size;
    USHORT NamesParsed;
    ULONG Format;
    UNICODE_STRING Name;
    /* further members omitted */
} FLT_FILE_NAME_INFORMATION, *PFLT_FILE_NAME_INFORMATION;

/* Callback prototypes */
typedef FLT_PREOP_CALLBACK_STATUS (FLTAPI *PFLT_PRE_OPERATION_CALLBACK)(
    PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext);
typedef FLT_POSTOP_CALLBACK_STATUS (FLTAPI *PFLT_POST_OPERATION_CALLBACK)(
    PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
    FLT_POST_OPERATION_FLAGS Flags);
typedef NTSTATUS (FLTAPI *PFLT_FILTER_UNLOAD_CALLBACK)(FLT_FILTER_UNLOAD_FLAGS Flags);
typedef NTSTATUS (FLTAPI *PFLT_INSTANCE_SETUP_CALLBACK)(PCFLT_RELATED_OBJECTS FltObjects,
    FLT_INSTANCE_SETUP_FLAGS Flags, DEVICE_TYPE VolumeDeviceType, FLT_FILESYSTEM_TYPE VolumeFilesystemType);
typedef NTSTATUS (FLTAPI *PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK)(PCFLT_RELATED_OBJECTS FltObjects,
    FLT_INSTANCE_QUERY_TEARDOWN_FLAGS Flags);
typedef VOID (FLTAPI *PFLT_INSTANCE_TEARDOWN_CALLBACK)(PCFLT_RELATED_OBJECTS FltObjects,
    FLT_INSTANCE_TEARDOWN_FLAGS Reason);
typedef NTSTATUS (FLTAPI *PFLT_GENERATE_FILE_NAME)(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject,
    PFLT_CALLBACK_DATA CallbackData, FLT_FILE_NAME_OPTIONS NameOptions, PBOOLEAN CacheFileNameInformation,
    PVOID FileName);
typedef NTSTATUS (FLTAPI *PFLT_NORMALIZE_NAME_COMPONENT)(PFLT_INSTANCE Instance, PCUNICODE_STRING ParentDirectory,
    USHORT VolumeNameLength, PCUNICODE_STRING Component, PVOID ExpandComponentName,
    ULONG ExpandComponentNameLength, ULONG Flags, PVOID *NormalizationContext);
typedef VOID (FLTAPI *PFLT_NORMALIZE_CONTEXT_CLEANUP)(PVOID *NormalizationContext);
typedef NTSTATUS (FLTAPI *PFLT_TRANSACTION_NOTIFICATION_CALLBACK)(PCFLT_RELATED_OBJECTS FltObjects,
    PFLT_CONTEXT TransactionContext, ULONG NotificationMask);
typedef NTSTATUS (FLTAPI *PFLT_NORMALIZE_NAME_COMPONENT_EX)(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject,
    PCUNICODE_STRING ParentDirectory, USHORT VolumeNameLength, PCUNICODE_STRING Component,
    PVOID ExpandComponentName, ULONG ExpandComponentNameLength, ULONG Flags, PVOID *NormalizationContext);
typedef NTSTATUS (FLTAPI *PFLT_SECTION_CONFLICT_NOTIFICATION_CALLBACK)(PFLT_INSTANCE Instance,
    PFLT_CONTEXT SectionContext, PFLT_CALLBACK_DATA Data);
typedef VOID (FLTAPI *PFLT_CONTEXT_CLEANUP_CALLBACK)(PFLT_CONTEXT Context, FLT_CONTEXT_TYPE ContextType);
typedef PVOID (FLTAPI *PFLT_CONTEXT_ALLOCATE_CALLBACK)(POOL_TYPE PoolType, SIZE_T Size, FLT_CONTEXT_TYPE ContextType);
typedef VOID (FLTAPI *PFLT_CONTEXT_FREE_CALLBACK)(PVOID Pool, FLT_CONTEXT_TYPE ContextType);
typedef VOID (FLTAPI *PFLT_DEFERRED_IO_WORKITEM_ROUTINE)(PFLT_DEFERRED_IO_WORKITEM FltWorkItem,
    PFLT_CALLBACK_DATA CallbackData, PVOID Context);
typedef VOID (FLTAPI *PFLT_COMPLETED_ASYNC_IO_CALLBACK)(PFLT_CALLBACK_DATA CallbackData, PFLT_CONTEXT Context);

/* 0x20 bytes */
typedef struct _FLT_OPERATION_REGISTRATION {
    UCHAR MajorFunction;                          /* 0x00 */
    FLT_OPERATION_REGISTRATION_FLAGS Flags;       /* 0x04 */
    PFLT_PRE_OPERATION_CALLBACK PreOperation;     /* 0x08 */
    PFLT_POST_OPERATION_CALLBACK PostOperation;   /* 0x10 */
    PVOID Reserved1;                              /* 0x18 */
} FLT_OPERATION_REGISTRATION, *PFLT_OPERATION_REGISTRATION;

/* 0x38 bytes */
typedef struct _FLT_CONTEXT_REGISTRATION {
    FLT_CONTEXT_TYPE ContextType;                 /* 0x00 */
    FLT_CONTEXT_REGISTRATION_FLAGS Flags;         /* 0x02 */
    PFLT_CONTEXT_CLEANUP_CALLBACK ContextCleanupCallback; /* 0x08 */
    SIZE_T Size;                                  /* 0x10 */
    ULONG PoolTag;                                /* 0x18 */
    PFLT_CONTEXT_ALLOCATE_CALLBACK ContextAllocateCallback; /* 0x20 */
    PFLT_CONTEXT_FREE_CALLBACK ContextFreeCallback; /* 0x28 */
    PVOID Reserved1;                              /* 0x30 */
} FLT_CONTEXT_REGISTRATION, *PFLT_CONTEXT_REGISTRATION;

typedef struct _FLT_REGISTRATION {
    USHORT Size;                                                  /* 0x00 */
    USHORT Version;                                               /* 0x02 */
    FLT_REGISTRATION_FLAGS Flags;                                 /* 0x04 */
    const FLT_CONTEXT_REGISTRATION *ContextRegistration;          /* 0x08 */
    const FLT_OPERATION_REGISTRATION *OperationRegistration;      /* 0x10 */
    PFLT_FILTER_UNLOAD_CALLBACK FilterUnloadCallback;             /* 0x18 */
    PFLT_INSTANCE_SETUP_CALLBACK InstanceSetupCallback;           /* 0x20 */
    PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK InstanceQueryTeardownCallback; /* 0x28 */
    PFLT_INSTANCE_TEARDOWN_CALLBACK InstanceTeardownStartCallback;    /* 0x30 */
    PFLT_INSTANCE_TEARDOWN_CALLBACK InstanceTeardownCompleteCallback; /* 0x38 */
    PFLT_GENERATE_FILE_NAME GenerateFileNameCallback;             /* 0x40 */
    PFLT_NORMALIZE_NAME_COMPONENT NormalizeNameComponentCallback; /* 0x48 */
    PFLT_NORMALIZE_CONTEXT_CLEANUP NormalizeContextCleanupCallback; /* 0x50 */
#if FLT_REGISTRATION_VERSION >= 0x0202
    PFLT_TRANSACTION_NOTIFICATION_CALLBACK TransactionNotificationCallback; /* 0x58 */
    PFLT_NORMALIZE_NAME_COMPONENT_EX NormalizeNameComponentExCallback;      /* 0x60 */
#endif
#if FLT_REGISTRATION_VERSION >= 0x0203
    PFLT_SECTION_CONFLICT_NOTIFICATION_CALLBACK SectionNotificationCallback; /* 0x68 */
#endif
} FLT_REGISTRATION, *PFLT_REGISTRATION;

_Static_assert(sizeof(FLT_OPERATION_REGISTRATION) == 0x20, "FLT_OPERATION_REGISTRATION size");
_Static_assert(sizeof(FLT_CONTEXT_REGISTRATION) == 0x38, "FLT_CONTEXT_REGISTRATION size");
_Static_assert(__builtin_offsetof(FLT_CALLBACK_DATA, Iopb) == 0x10, "Iopb offset");
#if FLT_REGISTRATION_VERSION >= 0x0203
_Static_assert(sizeof(FLT_REGISTRATION) == 0x70, "FLT_REGISTRATION size");
#elif FLT_REGISTRATION_VERSION >= 0x0202
_Static_assert(sizeof(FLT_REGISTRATION) == 0x68, "FLT_REGISTRATION size");
#else
_Static_assert(sizeof(FLT_REGISTRATION) == 0x58, "FLT_REGISTRATION size");
#endif

/* ---- FLTMGR.SYS ---- */
NTAPI_IMPORT NTSTATUS FLTAPI FltRegisterFilter(PDRIVER_OBJECT Driver, const FLT_REGISTRATION *Registration,
    PFLT_FILTER *RetFilter);
NTAPI_IMPORT NTSTATUS FLTAPI FltStartFiltering(PFLT_FILTER Filter);
NTAPI_IMPORT VOID FLTAPI FltUnregisterFilter(PFLT_FILTER Filter);
NTAPI_IMPORT NTSTATUS FLTAPI FltGetFileNameInformation(PFLT_CALLBACK_DATA CallbackData,
    FLT_FILE_NAME_OPTIONS NameOptions, PFLT_FILE_NAME_INFORMATION *FileNameInformation);
NTAPI_IMPORT VOID FLTAPI FltReleaseFileNameInformation(PFLT_FILE_NAME_INFORMATION FileNameInformation);
NTAPI_IMPORT NTSTATUS FLTAPI FltReadFile(PFLT_INSTANCE InitiatingInstance, PFILE_OBJECT FileObject,
    PLARGE_INTEGER ByteOffset, ULONG Length, PVOID Buffer, FLT_IO_OPERATION_FLAGS Flags, PULONG BytesRead,
    PFLT_COMPLETED_ASYNC_IO_CALLBACK CallbackRoutine, PVOID CallbackContext);
NTAPI_IMPORT NTSTATUS FLTAPI FltWriteFile(PFLT_INSTANCE InitiatingInstance, PFILE_OBJECT FileObject,
    PLARGE_INTEGER ByteOffset, ULONG Length, PVOID Buffer, FLT_IO_OPERATION_FLAGS Flags, PULONG BytesWritten,
    PFLT_COMPLETED_ASYNC_IO_CALLBACK CallbackRoutine, PVOID CallbackContext);
NTAPI_IMPORT PFLT_DEFERRED_IO_WORKITEM FLTAPI FltAllocateDeferredIoWorkItem(VOID);
NTAPI_IMPORT NTSTATUS FLTAPI FltQueueDeferredIoWorkItem(PFLT_DEFERRED_IO_WORKITEM FltWorkItem,
    PFLT_CALLBACK_DATA Data, PFLT_DEFERRED_IO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType,
    PVOID Context);
NTAPI_IMPORT BOOLEAN FLTAPI FltDoCompletionProcessingWhenSafe(PFLT_CALLBACK_DATA Data,
    PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext, FLT_POST_OPERATION_FLAGS Flags,
    PFLT_POST_OPERATION_CALLBACK SafePostCallback, PFLT_POSTOP_CALLBACK_STATUS RetPostOperationStatus);
NTAPI_IMPORT PVOID FLTAPI FltAllocatePoolAlignedWithTag(PFLT_INSTANCE Instance, POOL_TYPE PoolType,
    SIZE_T NumberOfBytes, ULONG Tag);
NTAPI_IMPORT VOID FLTAPI FltFreePoolAlignedWithTag(PFLT_INSTANCE Instance, PVOID Buffer, ULONG Tag);
NTAPI_IMPORT VOID FLTAPI FltCompletePendedPreOperation(PFLT_CALLBACK_DATA CallbackData,
    FLT_PREOP_CALLBACK_STATUS CallbackStatus, PVOID Context);

#endif /* FIXTURE_FLT_H */
