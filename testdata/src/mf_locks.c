/*
 * mf_locks.c - MF3001, the spin-lock half: pageable (PAGE section) code
 * reached while a spin lock is held or after KeRaiseIrql to DISPATCH_LEVEL,
 * from pre-operation callbacks (no post-op is involved).  Registration const
 * in .rdata (Size 0x70, Version 0x0203, flags SUPPORT_NPFS_MSFS).  None of
 * the operations carries paging I/O, so the paging-path rules stay quiet.
 *
 *   IRP_MJ_CLEANUP  PreCleanupL: PagedTouch before KeAcquireSpinLockRaiseToDpc
 *                   (fine), between it and KeReleaseSpinLock (MF3001), and
 *                   after the release (fine)
 *   IRP_MJ_CLOSE    PreCloseL: the same lock pair with only a counter under
 *                   the lock; PagedTouch before and after it: no finding
 *   IRP_MJ_SET_INFORMATION (SKIP_PAGING_IO)
 *                   PreSetInfoL: KeRaiseIrql(DISPATCH_LEVEL) - the inline
 *                   `mov cr8, reg` with 2 - then PagedRaised (MF3001), then
 *                   KeLowerIrql (`mov cr8` with the saved IRQL) and
 *                   PagedRaised again (fine)
 *   IRP_MJ_CREATE   PreCreateL -> LockedUpdate (non-paged), which takes the
 *                   lock and calls CountLocked (non-paged) -> PagedLeaf:
 *                   the lock is in a callee and the PAGE code two calls
 *                   below it (MF3001, attributed to PreCreateL)
 */
#include "fixture_flt.h"

#if defined(_MSC_VER)
#define PAGE_CODE_BEGIN _Pragma("code_seg(\"PAGE\")")
#define PAGE_CODE_END _Pragma("code_seg()")
#define PAGED
#else
#define PAGE_CODE_BEGIN
#define PAGE_CODE_END
#define PAGED __attribute__((section("PAGE")))
#endif

PFLT_FILTER gFilter;
KSPIN_LOCK gLock;
volatile ULONG_PTR gTouched;
volatile ULONG gRaised;
volatile ULONG gLeaves;
volatile ULONG gLocked;

/* ---- pageable code ---- */

PAGE_CODE_BEGIN

FIXTURE_NOINLINE PAGED VOID PagedTouch(PFLT_CALLBACK_DATA Data)
{
    gTouched += (ULONG_PTR)Data->Iopb->TargetFileObject + 1;
}

FIXTURE_NOINLINE PAGED VOID PagedRaised(ULONG Value)
{
    gRaised += Value * 3 + 1;
}

FIXTURE_NOINLINE PAGED ULONG PagedLeaf(ULONG Value)
{
    gLeaves++;
    return Value ^ gLeaves;
}

PAGE_CODE_END

/* ---- CLEANUP: PAGE code under the lock, before and after it ---- */

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCleanupL(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    KIRQL oldIrql;

    (void)FltObjects;
    (void)CompletionContext;
    PagedTouch(Data);                           /* PASSIVE_LEVEL: fine */
    oldIrql = KeAcquireSpinLockRaiseToDpc(&gLock);
    PagedTouch(Data);                           /* DISPATCH_LEVEL: MF3001 */
    KeReleaseSpinLock(&gLock, oldIrql);
    PagedTouch(Data);                           /* back at the old IRQL: fine */
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- CLOSE: PAGE code only outside the lock ---- */

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCloseL(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    KIRQL oldIrql;

    (void)FltObjects;
    (void)CompletionContext;
    PagedTouch(Data);
    oldIrql = KeAcquireSpinLockRaiseToDpc(&gLock);
    gLocked++;
    KeReleaseSpinLock(&gLock, oldIrql);
    PagedTouch(Data);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- SET_INFORMATION: KeRaiseIrql / KeLowerIrql (CR8 writes) ---- */

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreSetInfoL(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    KIRQL oldIrql;

    (void)FltObjects;
    (void)CompletionContext;
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);      /* mov cr8, reg (= 2) */
    PagedRaised(Data->Iopb->MajorFunction);     /* MF3001 */
    KeLowerIrql(oldIrql);                       /* mov cr8, reg (saved) */
    PagedRaised(Data->Iopb->MinorFunction);     /* fine */
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- CREATE: the lock in a callee, PAGE code two calls below ---- */

FIXTURE_NOINLINE ULONG CountLocked(ULONG Value)
{
    return PagedLeaf(Value + gLocked) + 1;
}

FIXTURE_NOINLINE ULONG LockedUpdate(ULONG Value)
{
    KIRQL oldIrql;
    ULONG result;

    oldIrql = KeAcquireSpinLockRaiseToDpc(&gLock);
    result = CountLocked(Value);
    gLocked = result;
    KeReleaseSpinLock(&gLock, oldIrql);
    return result ^ 0x5a;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
PreCreateL(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gTouched = LockedUpdate(Data->Iopb->IrpFlags);
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI FilterUnloadL(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_CREATE, 0, PreCreateL, NULL, NULL },
    { IRP_MJ_CLOSE, 0, PreCloseL, NULL, NULL },
    { IRP_MJ_SET_INFORMATION, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, PreSetInfoL, NULL, NULL },
    { IRP_MJ_CLEANUP, 0, PreCleanupL, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   /* 0x70 */
    FLT_REGISTRATION_VERSION,   /* 0x0203 */
    FLTFL_REGISTRATION_SUPPORT_NPFS_MSFS,
    NULL,
    Callbacks,
    FilterUnloadL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    gLock = 0; /* KeInitializeSpinLock */
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
