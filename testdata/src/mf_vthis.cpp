/*
 * mf_vthis.cpp - a C++ minifilter whose virtual call is made on `this`
 * inside a method, on an object the filter keeps in its stream context:
 * where the object comes from is not in the image (the filter manager hands
 * the context back), so only the class hierarchy of the PDB says which
 * methods the call may reach. Built with clang for the MSVC C++ ABI only,
 * like mf_vcall.cpp (no C++ runtime: -fno-exceptions -fno-rtti).
 *
 * Const registration in .rdata (Size 0x70, Version 0x0203, flags 0): CREATE
 * (post), READ and WRITE (pre) with flags 0; a stream context
 * (FLT_STREAM_CONTEXT, 0x10 bytes, 'tVfM' "MfVt") holding the inspector.
 *
 *   StreamInspector (abstract)   ~dtor, Inspect(Data);
 *                                OnRead(Data), not virtual and kept out
 *                                of line (as a larger method would be):
 *                                counts the read, then this->Inspect(Data)
 *     NameInspector              Inspect: PsLookupProcessByProcessId
 *     CountInspector             Inspect: counts bytes
 *   AuditSink (abstract, unrelated)  ~dtor, Inspect(Data) in the same slot
 *     FileAuditSink              Inspect: ZwCreateFile, ZwClose
 *
 *   IRP_MJ_CREATE post PostCreateT: allocates the stream context and puts
 *                  a NameInspector or a CountInspector in it, by the file
 *                  object's flags                                         -
 *   IRP_MJ_READ  pre PreReadT: ctx->Inspector->OnRead(Data)
 *                  -> this->Inspect: NameInspector::Inspect's
 *                  PsLookupProcessByProcessId                 MF2001 (PDB)
 *                  Without the PDB the call in OnRead is unresolved (a
 *                  blind spot of PreReadT); with it, CountInspector's and
 *                  NameInspector's Inspect, never FileAuditSink's, which
 *                  sits in the same slot of another hierarchy.
 *   IRP_MJ_WRITE pre PreWriteT: gAuditSink->Inspect(Data), a FileAuditSink
 *                  DriverEntry constructs: ZwCreateFile, ZwClose   MF2005, MF2002
 */
extern "C" {
#include "fixture_ext.h"
}
#undef NULL
#define NULL nullptr

#define TAG_OBJECT 'oVfM' /* "MfVo" */
#define TAG_STREAM 'tVfM' /* "MfVt" */

volatile LONG_PTR gLastOwner;
volatile LONG gReads;
volatile LONG gAudited;

class PoolAllocated {
public:
    static void *operator new(SIZE_T Size) noexcept
    {
        return ExAllocatePool2(POOL_FLAG_NON_PAGED, Size, TAG_OBJECT);
    }
    static void operator delete(void *Object) noexcept
    {
        if (Object != NULL)
            ExFreePoolWithTag(Object, TAG_OBJECT);
    }
};

class StreamInspector : public PoolAllocated {
public:
    virtual ~StreamInspector() {}
    virtual LONG_PTR Inspect(PFLT_CALLBACK_DATA Data) = 0;

    FIXTURE_NOINLINE LONG_PTR OnRead(PFLT_CALLBACK_DATA Data)
    {
        m_Reads++;
        gReads++;
        return Inspect(Data);
    }

protected:
    volatile LONG m_Reads = 0;
};

class NameInspector : public StreamInspector {
public:
    LONG_PTR Inspect(PFLT_CALLBACK_DATA Data) override
    {
        PEPROCESS process;

        (void)Data;
        if (!NT_SUCCESS(PsLookupProcessByProcessId(PsGetCurrentProcessId(), &process)))
            return 0;
        gLastOwner = PsGetProcessCreateTimeQuadPart(process);
        ObDereferenceObject(process);
        return gLastOwner;
    }
};

class CountInspector : public StreamInspector {
public:
    LONG_PTR Inspect(PFLT_CALLBACK_DATA Data) override
    {
        m_Bytes += Data->Iopb->Parameters.Read.Length;
        return (LONG_PTR)m_Bytes;
    }

private:
    LONGLONG m_Bytes = 0;
};

class AuditSink : public PoolAllocated {
public:
    virtual ~AuditSink() {}
    virtual LONG_PTR Inspect(PFLT_CALLBACK_DATA Data) = 0;
};

class FileAuditSink : public AuditSink {
public:
    LONG_PTR Inspect(PFLT_CALLBACK_DATA Data) override
    {
        UNICODE_STRING name;
        OBJECT_ATTRIBUTES attributes;
        IO_STATUS_BLOCK iosb;
        HANDLE file;
        NTSTATUS status;

        RtlInitUnicodeString(&name, reinterpret_cast<PCWSTR>(L"\\SystemRoot\\mf_vthis.log"));
        attributes.Length = sizeof(attributes);
        attributes.RootDirectory = NULL;
        attributes.ObjectName = &name;
        attributes.Attributes = OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE;
        attributes.SecurityDescriptor = NULL;
        attributes.SecurityQualityOfService = NULL;
        status = ZwCreateFile(&file, GENERIC_READ | SYNCHRONIZE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                              FILE_SHARE_READ, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE,
                              NULL, 0);
        if (!NT_SUCCESS(status))
            return status;
        gAudited += Data->Iopb->MajorFunction;
        ZwClose(file);
        return status;
    }
};

typedef struct _STREAM_CONTEXT {
    StreamInspector *Inspector;
    ULONG Flags;
} STREAM_CONTEXT, *PSTREAM_CONTEXT;

PFLT_FILTER gFilter;
AuditSink *gAuditSink;

extern "C" int __cdecl _purecall(void)
{
    KeBugCheckEx(0xE2 /* MANUALLY_INITIATED_CRASH */, 0, 0, 0, 0);
}

extern "C" {

FIXTURE_NOINLINE FLT_POSTOP_CALLBACK_STATUS FLTAPI
PostCreateT(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
            FLT_POST_OPERATION_FLAGS Flags)
{
    PSTREAM_CONTEXT stream;
    NTSTATUS status;

    (void)CompletionContext;
    if (FlagOn(Flags, FLTFL_POST_OPERATION_DRAINING) || !NT_SUCCESS(Data->IoStatus.u.Status))
        return FLT_POSTOP_FINISHED_PROCESSING;
    status = FltAllocateContext(gFilter, FLT_STREAM_CONTEXT, sizeof(STREAM_CONTEXT), NonPagedPoolNx,
                                (PFLT_CONTEXT *)&stream);
    if (!NT_SUCCESS(status))
        return FLT_POSTOP_FINISHED_PROCESSING;
    stream->Flags = Data->Iopb->OperationFlags;
    if (stream->Flags & 1)
        stream->Inspector = new NameInspector;
    else
        stream->Inspector = new CountInspector;
    status = FltSetStreamContext(FltObjects->Instance, FltObjects->FileObject, FLT_SET_CONTEXT_KEEP_IF_EXISTS,
                                 stream, NULL);
    FltReleaseContext(stream);
    return FLT_POSTOP_FINISHED_PROCESSING;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadT(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PSTREAM_CONTEXT stream;

    (void)CompletionContext;
    if (!NT_SUCCESS(FltGetStreamContext(FltObjects->Instance, FltObjects->FileObject, (PFLT_CONTEXT *)&stream)))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    if (stream->Inspector != NULL)
        stream->Inspector->OnRead(Data);
    FltReleaseContext(stream);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteT(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gAuditSink->Inspect(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE VOID FLTAPI StreamCleanup(PFLT_CONTEXT Context, FLT_CONTEXT_TYPE ContextType)
{
    PSTREAM_CONTEXT stream = (PSTREAM_CONTEXT)Context;

    (void)ContextType;
    delete stream->Inspector;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI VthisUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    delete gAuditSink;
    return STATUS_SUCCESS;
}

extern const FLT_CONTEXT_REGISTRATION Contexts[];
const FLT_CONTEXT_REGISTRATION Contexts[] = {
    { FLT_STREAM_CONTEXT, 0, StreamCleanup, sizeof(STREAM_CONTEXT), TAG_STREAM, NULL, NULL, NULL },
    { FLT_CONTEXT_END, 0, NULL, 0, 0, NULL, NULL, NULL }
};

extern const FLT_OPERATION_REGISTRATION Callbacks[];
const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, NULL, PostCreateT, NULL },
    { IRP_MJ_READ, 0, PreReadT, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreWriteT, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

extern const FLT_REGISTRATION FilterRegistration;
const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    Contexts,
    Callbacks,
    VthisUnload,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    gAuditSink = new FileAuditSink;
    if (gAuditSink == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}

} /* extern "C" */
