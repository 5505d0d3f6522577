/*
 * mf_majors.c - one pre-operation callback registered for several majors
 * that decides what to do by Data->Iopb->MajorFunction, as passThrough,
 * minispy and avscan do.  Three filters, one per way of writing the
 * dispatch (each a const registration in .rdata, Size 0x70, Version 0x0203,
 * every operation with flags 0).  Only READ and WRITE carry paging I/O, so
 * only what a callback reaches for READ or WRITE is a finding; the CREATE,
 * CLOSE, QUERY_INFORMATION, SET_INFORMATION and CLEANUP arms call routines
 * that would be findings on the paging path and must not be reported.
 *
 *   ChainRegistration: PreChainOp for CREATE, READ, WRITE, SET_INFORMATION,
 *   CLEANUP, an if/else chain (gcc may turn it into a switch of its own):
 *     CREATE          ReferenceWatchedHandle  ObReferenceObjectByHandle   -
 *     READ            LookupRequestorProcess  PsLookupProcessByProcessId  MF2001
 *     WRITE           !FlagOn(IrpFlags, IRP_PAGING_IO):
 *                       QueryProcessCookie    ZwQueryInformationProcess   -
 *                     QueryRequestorImage     SeLocateProcessImageName    MF2001
 *     SET_INFORMATION ClosePolicyKey      ZwClose                     -
 *     else (CLEANUP)  LookupRequestorThread   PsLookupThreadByThreadId    -
 *
 *   DenseRegistration: PreDenseOp for CREATE, CLOSE, READ, WRITE,
 *   QUERY_INFORMATION, SET_INFORMATION, CLEANUP, a switch over 0..6 that
 *   every build makes a jump table:
 *     CREATE          QueryObjectName         ObQueryNameString           -
 *     CLOSE           ClosePolicyKey      ZwClose                     -
 *     READ            FltGetFileNameInformation (inline)                  MF2003
 *     WRITE           ReadPolicyValue         ZwQueryValueKey             MF2002
 *                     !FlagOn(IrpFlags, IRP_PAGING_IO):
 *                       LookupRequestorProcess PsLookupProcessByProcessId -
 *     QUERY_INFORMATION LookupRequestorThread PsLookupThreadByThreadId    -
 *     SET_INFORMATION QueryProcessCookie      ZwQueryInformationProcess   -
 *     default (CLEANUP) nothing
 *   After the switch, IsModifyingOperation(Data) - avscan's
 *   AvOperationsModifyingFile, a BOOLEAN switch on the major that is TRUE
 *   for WRITE and SET_INFORMATION - decides a call to OpenPolicyKey
 *   (ZwOpenKey): MF2002 through WRITE.
 *
 *   SparseRegistration: PreSparseOp for CREATE, READ, WRITE,
 *   SET_INFORMATION, CLEANUP, written in assembly as MSVC compiles a sparse
 *   switch over 0..0x12 whose cases `return Handler(Data, FltObjects,
 *   CompletionContext);`: a byte table maps the major to a case index, a
 *   table of 32-bit RVAs maps the index to the case, both after the code in
 *   .text, and each case is a tail jump to its handler:
 *       lea r10, [__ImageBase]
 *       movzx eax, byte ptr [r10+rax+RVA(index)]
 *       mov r9d, dword ptr [r10+rax*4+RVA(cases)]
 *       add r9, r10
 *       jmp r9
 *     CREATE (0)      SparseOnCreate   PsLookupThreadByThreadId           -
 *     READ (3)        SparseOnRead     PsLookupProcessByProcessId         MF2001
 *     WRITE (4)       SparseOnWrite    ObReferenceObjectByHandle          MF2002
 *                                      after its own paging test:
 *                                      ZwQueryInformationProcess          -
 *     SET_INFORMATION (6) SparseOnSetInfo ZwClose                         -
 *     CLEANUP (0x12)  SparseOnCleanup  SeLocateProcessImageName           -
 */
#include "fixture_ext.h"

PFLT_FILTER gChainFilter;
PFLT_FILTER gDenseFilter;
PFLT_FILTER gSparseFilter;
HANDLE gWatchedHandle;
HANDLE gPolicyKey;
UNICODE_STRING gPolicyPath;
volatile LONG_PTR gLastOwner;
volatile LONG_PTR gLastThread;
volatile LONG_PTR gLastObject;
volatile ULONG gLastName;
volatile ULONG gPolicy;
volatile NTSTATUS gLastStatus;
volatile LONG gOperations[0x20];

/* ---- the routines each arm reaches, one sink apiece ---- */

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

/* Static, and every caller passes ProcessBasicInformation: gcc makes
   QueryProcessCookie.constprop.0 (even in the pinned -O2 build). */
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

FIXTURE_NOINLINE VOID ClosePolicyKey(VOID)
{
    if (gPolicyKey != NULL) {
        gLastStatus = ZwClose(gPolicyKey);
        gPolicyKey = NULL;
    }
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

    RtlInitUnicodeString(&name, L"AuditWrites");
    if (!NT_SUCCESS(ZwQueryValueKey(gPolicyKey, &name, KeyValuePartialInformation, &value, sizeof(value),
                                    &length)))
        return 0;
    return value.Info.DataLength >= sizeof(ULONG) ? *(ULONG *)value.Info.Data : 0;
}

/* ---- 1. if/else chain ---- */

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreChainOp(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PFLT_IO_PARAMETER_BLOCK iopb = Data->Iopb;

    (void)FltObjects;
    (void)CompletionContext;
    if (iopb->MajorFunction == IRP_MJ_CREATE) {
        gLastObject = ReferenceWatchedHandle();
    } else if (iopb->MajorFunction == IRP_MJ_READ) {
        gLastOwner = LookupRequestorProcess();
    } else if (iopb->MajorFunction == IRP_MJ_WRITE) {
        if (!FlagOn(iopb->IrpFlags, IRP_PAGING_IO))
            gLastOwner = QueryProcessCookie(ProcessBasicInformation);
        gLastName = QueryRequestorImage();
    } else if (iopb->MajorFunction == IRP_MJ_SET_INFORMATION) {
        ClosePolicyKey();
    } else {
        gLastThread = LookupRequestorThread();
    }
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- 2. dense switch (jump table) ---- */

/* avscan's AvOperationsModifyingFile and change's CgOperationsModifyingFile:
   a switch on the major returning a BOOLEAN.  Static: inlined at -O2. */
static BOOLEAN IsModifyingOperation(PFLT_CALLBACK_DATA Data)
{
    switch (Data->Iopb->MajorFunction) {
    case IRP_MJ_WRITE:
        return TRUE;
    case IRP_MJ_SET_INFORMATION:
        return TRUE;
    default:
        return FALSE;
    }
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreDenseOp(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    PFLT_FILE_NAME_INFORMATION nameInfo;

    (void)CompletionContext;
    switch (Data->Iopb->MajorFunction) {
    case IRP_MJ_CREATE:
        gLastName = QueryObjectName(FltObjects->FileObject);
        break;
    case IRP_MJ_CLOSE:
        ClosePolicyKey();
        break;
    case IRP_MJ_READ:
        if (NT_SUCCESS(FltGetFileNameInformation(Data, FLT_FILE_NAME_NORMALIZED | FLT_FILE_NAME_QUERY_DEFAULT,
                                                 &nameInfo))) {
            gLastName = nameInfo->Name.Length;
            FltReleaseFileNameInformation(nameInfo);
        }
        break;
    case IRP_MJ_WRITE:
        gPolicy = ReadPolicyValue();
        if (!FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO))
            gLastOwner = LookupRequestorProcess();
        break;
    case IRP_MJ_QUERY_INFORMATION:
        gLastThread = LookupRequestorThread();
        break;
    case IRP_MJ_SET_INFORMATION:
        gLastOwner = QueryProcessCookie(ProcessBasicInformation);
        break;
    default:
        break;
    }
    if (IsModifyingOperation(Data) && gPolicyKey == NULL)
        gLastStatus = OpenPolicyKey();
    gOperations[Data->Iopb->MajorFunction & 0x1f]++;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- 3. sparse switch, MSVC's two-level table ---- */

/* One handler per major, with the callback's parameters.  PreSparseOp's
   assembly is their only reference: `used` keeps clang LTO from dropping
   them or changing their parameters. */
FIXTURE_NOINLINE FIXTURE_USED FLT_PREOP_CALLBACK_STATUS FLTAPI
SparseOnCreate(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastThread = LookupRequestorThread() ^ (LONG_PTR)Data;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FIXTURE_USED FLT_PREOP_CALLBACK_STATUS FLTAPI
SparseOnRead(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastOwner = LookupRequestorProcess() + Data->Iopb->Parameters.Read.Length;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FIXTURE_USED FLT_PREOP_CALLBACK_STATUS FLTAPI
SparseOnWrite(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastObject = ReferenceWatchedHandle();
    if (FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO))
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gLastOwner = QueryProcessCookie(ProcessBasicInformation);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FIXTURE_USED FLT_PREOP_CALLBACK_STATUS FLTAPI
SparseOnSetInfo(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)Data;
    (void)FltObjects;
    (void)CompletionContext;
    ClosePolicyKey();
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FIXTURE_USED FLT_PREOP_CALLBACK_STATUS FLTAPI
SparseOnCleanup(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gLastName = QueryRequestorImage() + Data->Iopb->MinorFunction;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* What MSVC /O2 makes of
 *
 *     switch (Data->Iopb->MajorFunction) {
 *     case IRP_MJ_CREATE:          return SparseOnCreate(Data, FltObjects, CompletionContext);
 *     case IRP_MJ_READ:            return SparseOnRead(Data, FltObjects, CompletionContext);
 *     case IRP_MJ_WRITE:           return SparseOnWrite(Data, FltObjects, CompletionContext);
 *     case IRP_MJ_SET_INFORMATION: return SparseOnSetInfo(Data, FltObjects, CompletionContext);
 *     case IRP_MJ_CLEANUP:         return SparseOnCleanup(Data, FltObjects, CompletionContext);
 *     default:                     return FLT_PREOP_SUCCESS_NO_CALLBACK;
 *     }
 *
 * a two-level table and tail jumps, the parameters left in rcx, rdx, r8.
 * Neither gcc nor clang makes a two-level table, so the function is written
 * in GNU-syntax assembly: both assemblers take it.  It is a naked function,
 * not top-level asm, so that clang's PDB has a line for each tail jump (one
 * asm statement per line); it is a leaf that never moves rsp, so it needs no
 * unwind data.  GNU as has no @IMGREL operand: the two table loads are
 * spelled as opcode bytes followed by `.rva table`.  gcc ends a naked
 * function with ud2, after the tables. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* used in the asm only */
__attribute__((naked)) FLT_PREOP_CALLBACK_STATUS FLTAPI
PreSparseOp(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    __asm__("movq 16(%rcx), %rax\n\t"               /* Data->Iopb */
            "movzbl 4(%rax), %eax\n\t"              /* Iopb->MajorFunction */
            "cmpl $0x12, %eax\n\t"
            "ja .LsparseDefault\n\t"
            "leaq __ImageBase(%rip), %r10\n\t"
            ".byte 0x41, 0x0f, 0xb6, 0x84, 0x02\n\t" /* movzx eax, byte ptr [r10+rax+disp32] */
            ".rva .LsparseIndex\n\t"
            ".byte 0x45, 0x8b, 0x8c, 0x82\n\t"      /* mov r9d, dword ptr [r10+rax*4+disp32] */
            ".rva .LsparseCases\n\t"
            "addq %r10, %r9\n\t"
            "jmp *%r9");
    __asm__(".LsparseCreate: jmp SparseOnCreate");
    __asm__(".LsparseRead: jmp SparseOnRead");
    __asm__(".LsparseWrite: jmp SparseOnWrite");
    __asm__(".LsparseSetInfo: jmp SparseOnSetInfo");
    __asm__(".LsparseCleanup: jmp SparseOnCleanup");
    __asm__(".LsparseDefault:\n\t"
            "movl $1, %eax\n\t"                     /* FLT_PREOP_SUCCESS_NO_CALLBACK */
            "ret\n\t"
            ".p2align 2, 0xcc\n"
            ".LsparseCases:\n\t"                    /* case index -> RVA */
            ".rva .LsparseCreate, .LsparseRead, .LsparseWrite, .LsparseSetInfo\n\t"
            ".rva .LsparseCleanup, .LsparseDefault\n"
            ".LsparseIndex:\n\t"                    /* major 0..0x12 -> case index */
            ".byte 0, 5, 5, 1, 2, 5, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5\n\t"
            ".byte 5, 5, 4");
}
#pragma GCC diagnostic pop

/* ---- registrations ---- */

FIXTURE_NOINLINE NTSTATUS FLTAPI MajorsUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gSparseFilter);
    FltUnregisterFilter(gDenseFilter);
    FltUnregisterFilter(gChainFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION ChainCallbacks[] = {
    { IRP_MJ_CREATE, 0, PreChainOp, NULL, NULL },
    { IRP_MJ_READ, 0, PreChainOp, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreChainOp, NULL, NULL },
    { IRP_MJ_SET_INFORMATION, 0, PreChainOp, NULL, NULL },
    { IRP_MJ_CLEANUP, 0, PreChainOp, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_OPERATION_REGISTRATION DenseCallbacks[] = {
    { IRP_MJ_CREATE, 0, PreDenseOp, NULL, NULL },
    { IRP_MJ_CLOSE, 0, PreDenseOp, NULL, NULL },
    { IRP_MJ_READ, 0, PreDenseOp, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreDenseOp, NULL, NULL },
    { IRP_MJ_QUERY_INFORMATION, 0, PreDenseOp, NULL, NULL },
    { IRP_MJ_SET_INFORMATION, 0, PreDenseOp, NULL, NULL },
    { IRP_MJ_CLEANUP, 0, PreDenseOp, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_OPERATION_REGISTRATION SparseCallbacks[] = {
    { IRP_MJ_CREATE, 0, PreSparseOp, NULL, NULL },
    { IRP_MJ_READ, 0, PreSparseOp, NULL, NULL },
    { IRP_MJ_WRITE, 0, PreSparseOp, NULL, NULL },
    { IRP_MJ_SET_INFORMATION, 0, PreSparseOp, NULL, NULL },
    { IRP_MJ_CLEANUP, 0, PreSparseOp, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION ChainRegistration = {
    sizeof(FLT_REGISTRATION), FLT_REGISTRATION_VERSION, 0, NULL, ChainCallbacks, MajorsUnload,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

const FLT_REGISTRATION DenseRegistration = {
    sizeof(FLT_REGISTRATION), FLT_REGISTRATION_VERSION, 0, NULL, DenseCallbacks, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

const FLT_REGISTRATION SparseRegistration = {
    sizeof(FLT_REGISTRATION), FLT_REGISTRATION_VERSION, 0, NULL, SparseCallbacks, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    gPolicyPath = *RegistryPath;
    status = FltRegisterFilter(DriverObject, &ChainRegistration, &gChainFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltRegisterFilter(DriverObject, &DenseRegistration, &gDenseFilter);
    if (NT_SUCCESS(status))
        status = FltRegisterFilter(DriverObject, &SparseRegistration, &gSparseFilter);
    if (!NT_SUCCESS(status)) {
        if (gDenseFilter != NULL)
            FltUnregisterFilter(gDenseFilter);
        FltUnregisterFilter(gChainFilter);
        return status;
    }
    status = FltStartFiltering(gChainFilter);
    if (NT_SUCCESS(status))
        status = FltStartFiltering(gDenseFilter);
    if (NT_SUCCESS(status))
        status = FltStartFiltering(gSparseFilter);
    if (!NT_SUCCESS(status))
        MajorsUnload(0);
    return status;
}
