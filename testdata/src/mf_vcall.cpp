/*
 * mf_vcall.cpp - a C++ minifilter: the READ pre-operation calls a virtual
 * method through a base-class pointer that DriverEntry set to one of two
 * derived objects.  Built with clang for the MSVC C++ ABI only (see
 * testdata/README.md): vtables `??_7Class@@6B@` in .rdata, slot 0 the
 * scalar deleting destructor, a virtual call `mov rax,[rcx]; call [rax+8]`.
 * No C++ runtime: -fno-exceptions -fno-rtti, a class operator new/delete
 * over ExAllocatePool2/ExFreePoolWithTag, a placement new into static
 * storage, and _purecall.
 *
 * Const registration in .rdata (Size 0x70, Version 0x0203, flags 0), READ
 * and WRITE with flags 0.
 *
 *   RequestProcessor (abstract)  ~dtor, Process(Data), Audit(Data)
 *     CountingProcessor          Process: counts bytes
 *                                Audit: ZwQueryInformationProcess
 *     OwnerProcessor             Process: PsLookupProcessByProcessId
 *                                Audit: ObReferenceObjectByHandle
 *   EventSink (abstract, unrelated to RequestProcessor)  ~dtor, Deliver(Data)
 *     FileEventSink              Deliver: ZwCreateFile, ZwClose
 *   Deliver has slot 1 (offset 8) of its vtable, as Process has of theirs.
 *
 * DriverEntry constructs gProcessor as an OwnerProcessor (pool) or a
 * CountingProcessor (placement new into gCountingStorage), by the length
 * of the registry path, and gEventSink as a FileEventSink (pool); the
 * constructors, inlined or not, store the vtable pointers.
 *
 *   IRP_MJ_READ  PreReadV:  gProcessor->Process(Data)
 *                  -> OwnerProcessor::Process: PsLookupProcessByProcessId  MF2001
 *                  (FileEventSink::Deliver sits in the same vtable slot of
 *                  another hierarchy: no ZwCreateFile from READ)
 *   IRP_MJ_WRITE PreWriteV: gEventSink->Deliver(Data)
 *                  -> FileEventSink::Deliver: ZwCreateFile, ZwClose  MF2005, MF2002
 *                then if (FlagOn(IrpFlags, IRP_PAGING_IO)) return; and
 *                gProcessor->Audit(Data): ObReferenceObjectByHandle and
 *                ZwQueryInformationProcess behind the guard             -
 */
extern "C" {
#include "fixture_ext.h"
}
#undef NULL
#define NULL nullptr

#define TAG_OBJECT 'oVfM' /* "MfVo" */

HANDLE gWatchedHandle;
volatile LONG_PTR gLastOwner;
volatile LONG_PTR gLastAudit;
volatile LONG gDelivered;

/* Kernel C++ allocates from the pool: a class operator new that cannot
   throw (the new-expression tests the result), and a placement form. */
class PoolAllocated {
public:
    static void *operator new(SIZE_T Size) noexcept
    {
        return ExAllocatePool2(POOL_FLAG_NON_PAGED, Size, TAG_OBJECT);
    }
    static void *operator new(SIZE_T Size, void *Where) noexcept
    {
        (void)Size;
        return Where;
    }
    static void operator delete(void *Object) noexcept
    {
        if (Object != NULL)
            ExFreePoolWithTag(Object, TAG_OBJECT);
    }
};

class RequestProcessor : public PoolAllocated {
public:
    explicit RequestProcessor(ULONG Kind) : m_Kind(Kind), m_Count(0) {}
    virtual ~RequestProcessor() {}
    virtual LONG_PTR Process(PFLT_CALLBACK_DATA Data) = 0;
    virtual LONG_PTR Audit(PFLT_CALLBACK_DATA Data) = 0;
    ULONG Kind() const { return m_Kind; }

protected:
    ULONG m_Kind;
    volatile LONG m_Count;
};

class CountingProcessor : public RequestProcessor {
public:
    CountingProcessor() : RequestProcessor(1), m_Bytes(0) {}

    LONG_PTR Process(PFLT_CALLBACK_DATA Data) override
    {
        m_Count++;
        m_Bytes += Data->Iopb->Parameters.Read.Length;
        return (LONG_PTR)m_Bytes;
    }

    LONG_PTR Audit(PFLT_CALLBACK_DATA Data) override
    {
        ULONG_PTR basic[6];
        ULONG length;

        (void)Data;
        if (!NT_SUCCESS(ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, basic,
                                                  sizeof(basic), &length)))
            return 0;
        return (LONG_PTR)basic[4];
    }

private:
    LONGLONG m_Bytes;
};

class OwnerProcessor : public RequestProcessor {
public:
    OwnerProcessor() : RequestProcessor(2), m_LastOwner(0) {}

    LONG_PTR Process(PFLT_CALLBACK_DATA Data) override
    {
        PEPROCESS process;

        (void)Data;
        m_Count++;
        if (!NT_SUCCESS(PsLookupProcessByProcessId(PsGetCurrentProcessId(), &process)))
            return 0;
        m_LastOwner = PsGetProcessCreateTimeQuadPart(process);
        ObDereferenceObject(process);
        return (LONG_PTR)m_LastOwner;
    }

    LONG_PTR Audit(PFLT_CALLBACK_DATA Data) override
    {
        PVOID object;

        (void)Data;
        if (!NT_SUCCESS(ObReferenceObjectByHandle(gWatchedHandle, 0, NULL, KernelMode, &object, NULL)))
            return 0;
        ObDereferenceObject(object);
        return (LONG_PTR)object;
    }

private:
    LONGLONG m_LastOwner;
};

class EventSink : public PoolAllocated {
public:
    virtual ~EventSink() {}
    virtual LONG_PTR Deliver(PFLT_CALLBACK_DATA Data) = 0;
};

class FileEventSink : public EventSink {
public:
    FileEventSink() : m_Failures(0) {}

    LONG_PTR Deliver(PFLT_CALLBACK_DATA Data) override
    {
        UNICODE_STRING name;
        OBJECT_ATTRIBUTES attributes;
        IO_STATUS_BLOCK iosb;
        HANDLE file;
        NTSTATUS status;

        RtlInitUnicodeString(&name, reinterpret_cast<PCWSTR>(L"\\SystemRoot\\mf_vcall.log"));
        attributes.Length = sizeof(attributes);
        attributes.RootDirectory = NULL;
        attributes.ObjectName = &name;
        attributes.Attributes = OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE;
        attributes.SecurityDescriptor = NULL;
        attributes.SecurityQualityOfService = NULL;
        status = ZwCreateFile(&file, GENERIC_READ | SYNCHRONIZE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                              FILE_SHARE_READ, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE,
                              NULL, 0);
        if (!NT_SUCCESS(status)) {
            m_Failures++;
            return status;
        }
        gDelivered += Data->Iopb->MajorFunction;
        ZwClose(file);
        return status;
    }

private:
    volatile LONG m_Failures;
};

PFLT_FILTER gFilter;
RequestProcessor *gProcessor;
EventSink *gEventSink;
alignas(8) static UCHAR gCountingStorage[sizeof(CountingProcessor)];

/* An abstract class's vtable slots point here until a derived constructor
   replaces the vtable pointer. */
extern "C" int __cdecl _purecall(void)
{
    KeBugCheckEx(0xE2 /* MANUALLY_INITIATED_CRASH */, 0, 0, 0, 0);
}

extern "C" {

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreReadV(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastOwner = gProcessor->Process(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreWriteV(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gEventSink->Deliver(Data);
    if (FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gLastAudit = gProcessor->Audit(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI VcallUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    delete gEventSink;
    if (gProcessor->Kind() == 2)
        delete gProcessor;
    else
        gProcessor->~RequestProcessor();
    return STATUS_SUCCESS;
}

extern const FLT_OPERATION_REGISTRATION Callbacks[];
const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_READ, 0, PreReadV, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreWriteV, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

extern const FLT_REGISTRATION FilterRegistration;
const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    0,
    NULL,
    Callbacks,
    VcallUnload,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    if (RegistryPath->Length > 0x80)
        gProcessor = new OwnerProcessor();
    else
        gProcessor = new (gCountingStorage) CountingProcessor();
    gEventSink = new FileEventSink();
    if (gProcessor == NULL || gEventSink == NULL)
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
