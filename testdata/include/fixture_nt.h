/*
 * fixture_nt.h - minimal NT kernel declarations for the drvhazard test fixtures.
 *
 * Written for this repository from the documented x64 ABI and the public
 * routine signatures; it is not a copy of the WDK or mingw-w64 headers and
 * only declares what the fixtures use.  x64 (LLP64) only, except for the
 * handful of types the x86 / ARM64 reject fixtures need.
 *
 * Import style: every routine is declared with NTAPI_IMPORT, which expands to
 * __declspec(dllimport) (calls become `call [IAT]`) unless the source defines
 * FIXTURE_NO_DLLIMPORT before including this header (calls become `call X`
 * to a linker-made `jmp [IAT]` thunk).
 */
#ifndef FIXTURE_NT_H
#define FIXTURE_NT_H

#ifdef FIXTURE_NO_DLLIMPORT
#define NTAPI_IMPORT
#else
#define NTAPI_IMPORT __declspec(dllimport)
#endif

#if defined(__i386__)
#define NTAPI __stdcall
#else
#define NTAPI
#endif

#define FIXTURE_NORETURN __attribute__((noreturn))
/* noinline only, as drivers write it: the compilers stay free to clone
 * (.isra/.constprop/.part/.cold).  build.sh pins the gcc -O2 reference
 * build alone, with -fno-ipa-* flags, so that it has one symbol per
 * source function. */
#define FIXTURE_NOINLINE __attribute__((noinline))
#define FIXTURE_USED __attribute__((used))

#define NULL ((void *)0)
#define TRUE 1
#define FALSE 0
#define VOID void

typedef unsigned char UCHAR, *PUCHAR, BOOLEAN, *PBOOLEAN, KIRQL, *PKIRQL, KPROCESSOR_MODE;
typedef char CHAR, *PCHAR;
typedef const char *PCSTR;
typedef unsigned short USHORT, *PUSHORT;
typedef short CSHORT;
typedef __WCHAR_TYPE__ WCHAR, *PWCHAR, *PWSTR;
typedef const __WCHAR_TYPE__ *PCWSTR;
typedef long LONG, *PLONG, NTSTATUS;
typedef unsigned long ULONG, *PULONG, ACCESS_MASK, DEVICE_TYPE;
typedef long long LONGLONG;
#if defined(__i386__)
typedef long LONG_PTR;
#else
typedef long long LONG_PTR;
#endif
typedef unsigned long long ULONGLONG, ULONG64, POOL_FLAGS;
#if defined(__i386__)
typedef unsigned long ULONG_PTR, SIZE_T;
#else
typedef unsigned long long ULONG_PTR, SIZE_T;
#endif
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef void *PVOID, *HANDLE, **PHANDLE;

typedef union _LARGE_INTEGER {
    struct { ULONG LowPart; LONG HighPart; } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWSTR Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _IO_STATUS_BLOCK {
    union { NTSTATUS Status; PVOID Pointer; } u;
    ULONG_PTR Information;
} IO_STATUS_BLOCK, *PIO_STATUS_BLOCK;

typedef struct _OBJECT_ATTRIBUTES {
    ULONG Length;
    HANDLE RootDirectory;
    PUNICODE_STRING ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
    PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;

#define OBJ_CASE_INSENSITIVE 0x00000040L
#define OBJ_KERNEL_HANDLE    0x00000200L

/* Opaque kernel objects. */
typedef struct _EPROCESS *PEPROCESS;
typedef struct _ETHREAD *PETHREAD;
typedef struct _OBJECT_TYPE *POBJECT_TYPE;
typedef struct _FILE_OBJECT *PFILE_OBJECT;
typedef struct _DEVICE_OBJECT *PDEVICE_OBJECT;
typedef struct _IRP *PIRP;
typedef struct _OBJECT_HANDLE_INFORMATION *POBJECT_HANDLE_INFORMATION;

typedef struct _DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef VOID (NTAPI *PDRIVER_UNLOAD)(PDRIVER_OBJECT DriverObject);
typedef NTSTATUS (NTAPI *PDRIVER_DISPATCH)(PDEVICE_OBJECT DeviceObject, PIRP Irp);

#define IRP_MJ_MAXIMUM_FUNCTION 0x1b

/* DRIVER_OBJECT, x64 layout (0x150 bytes). */
struct _DRIVER_OBJECT {
    CSHORT Type;                    /* 0x00 */
    CSHORT Size;                    /* 0x02 */
    PDEVICE_OBJECT DeviceObject;    /* 0x08 */
    ULONG Flags;                    /* 0x10 */
    PVOID DriverStart;              /* 0x18 */
    ULONG DriverSize;               /* 0x20 */
    PVOID DriverSection;            /* 0x28 */
    PVOID DriverExtension;          /* 0x30 */
    UNICODE_STRING DriverName;      /* 0x38 */
    PUNICODE_STRING HardwareDatabase; /* 0x48 */
    PVOID FastIoDispatch;           /* 0x50 */
    PVOID DriverInit;               /* 0x58 */
    PVOID DriverStartIo;            /* 0x60 */
    PDRIVER_UNLOAD DriverUnload;    /* 0x68 */
    PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1]; /* 0x70 */
};

#define STATUS_SUCCESS               ((NTSTATUS)0x00000000L)
#define STATUS_UNSUCCESSFUL          ((NTSTATUS)0xC0000001L)
#define STATUS_INVALID_PARAMETER     ((NTSTATUS)0xC000000DL)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#define STATUS_ACCESS_DENIED         ((NTSTATUS)0xC0000022L)
#define NT_SUCCESS(s) (((NTSTATUS)(s)) >= 0)

#define PASSIVE_LEVEL  0
#define APC_LEVEL      1
#define DISPATCH_LEVEL 2

/* POOL_TYPE values used by the fixtures. */
typedef enum _POOL_TYPE {
    NonPagedPool = 0,
    PagedPool = 1,
    NonPagedPoolNx = 0x200
} POOL_TYPE;

#define POOL_FLAG_NON_PAGED         0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED             0x0000000000000100ULL

#define FILE_SHARE_READ           0x00000001
#define FILE_OPEN                 0x00000001
#define FILE_SYNCHRONOUS_IO_NONALERT 0x00000020
#define FILE_NON_DIRECTORY_FILE   0x00000040
#define FILE_ATTRIBUTE_NORMAL     0x00000080
#define GENERIC_READ              0x80000000UL
#define SYNCHRONIZE               0x00100000UL

#define IRP_NOCACHE               0x00000001
#define IRP_PAGING_IO             0x00000002
#define IRP_SYNCHRONOUS_PAGING_IO 0x00000040

typedef VOID (NTAPI *PIO_APC_ROUTINE)(PVOID ApcContext, PIO_STATUS_BLOCK IoStatusBlock, ULONG Reserved);

/* ---- ntoskrnl.exe ---- */
NTAPI_IMPORT NTSTATUS NTAPI PsLookupProcessByProcessId(HANDLE ProcessId, PEPROCESS *Process);
NTAPI_IMPORT LONGLONG NTAPI PsGetProcessCreateTimeQuadPart(PEPROCESS Process);
NTAPI_IMPORT HANDLE NTAPI PsGetCurrentProcessId(VOID);
/* As in the WDK, ObDereferenceObject and IoCallDriver are macros over the
   exported Obf / Iof routines, so the import table names the f-variants. */
NTAPI_IMPORT LONG_PTR NTAPI ObfDereferenceObject(PVOID Object);
#define ObDereferenceObject(o) ObfDereferenceObject(o)
NTAPI_IMPORT NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess,
    POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode, PVOID *Object,
    POBJECT_HANDLE_INFORMATION HandleInformation);
NTAPI_IMPORT NTSTATUS NTAPI ZwCreateFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess,
    POBJECT_ATTRIBUTES ObjectAttributes, PIO_STATUS_BLOCK IoStatusBlock, PLARGE_INTEGER AllocationSize,
    ULONG FileAttributes, ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions,
    PVOID EaBuffer, ULONG EaLength);
NTAPI_IMPORT NTSTATUS NTAPI ZwClose(HANDLE Handle);
/* PROCESSINFOCLASS values used by the fixtures. */
typedef enum _PROCESSINFOCLASS {
    ProcessBasicInformation = 0,
    ProcessImageFileName = 27
} PROCESSINFOCLASS;
#define NtCurrentProcess() ((HANDLE)(LONG_PTR)-1)
NTAPI_IMPORT NTSTATUS NTAPI ZwQueryInformationProcess(HANDLE ProcessHandle,
    PROCESSINFOCLASS ProcessInformationClass, PVOID ProcessInformation, ULONG ProcessInformationLength,
    PULONG ReturnLength);
NTAPI_IMPORT NTSTATUS NTAPI ZwReadFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine,
    PVOID ApcContext, PIO_STATUS_BLOCK IoStatusBlock, PVOID Buffer, ULONG Length,
    PLARGE_INTEGER ByteOffset, PULONG Key);
NTAPI_IMPORT PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTAPI_IMPORT PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
NTAPI_IMPORT VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag);
NTAPI_IMPORT FIXTURE_NORETURN VOID NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1,
    ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4);
NTAPI_IMPORT FIXTURE_NORETURN VOID NTAPI ExRaiseStatus(NTSTATUS Status);
NTAPI_IMPORT KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock);
NTAPI_IMPORT VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
NTAPI_IMPORT NTSTATUS NTAPI IofCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp);
#define IoCallDriver(d, i) IofCallDriver(d, i)
NTAPI_IMPORT ULONG __cdecl DbgPrint(PCSTR Format, ...);
NTAPI_IMPORT VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);

/* ---- HAL.dll ---- */
NTAPI_IMPORT VOID NTAPI KeStallExecutionProcessor(ULONG MicroSeconds);
NTAPI_IMPORT LARGE_INTEGER NTAPI KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency);

/* On x64 the IRQL is CR8; KeRaiseIrql / KeLowerIrql / KeGetCurrentIrql are
   inline intrinsics in the WDK, not imports. */
#if defined(__x86_64__)
static __inline__ __attribute__((always_inline)) KIRQL KeGetCurrentIrql(VOID)
{
    ULONG64 v;
    __asm__ __volatile__("movq %%cr8, %0" : "=r"(v));
    return (KIRQL)v;
}
static __inline__ __attribute__((always_inline)) VOID KeLowerIrql(KIRQL NewIrql)
{
    __asm__ __volatile__("movq %0, %%cr8" : : "r"((ULONG64)NewIrql) : "memory");
}
static __inline__ __attribute__((always_inline)) KIRQL KfRaiseIrql(KIRQL NewIrql)
{
    KIRQL old = KeGetCurrentIrql();
    __asm__ __volatile__("movq %0, %%cr8" : : "r"((ULONG64)NewIrql) : "memory");
    return old;
}
#define KeRaiseIrql(n, o) (*(o) = KfRaiseIrql(n))
#endif

#define InitializeObjectAttributes(p, n, a, r, s) do { \
        (p)->Length = sizeof(OBJECT_ATTRIBUTES);         \
        (p)->RootDirectory = (r);                        \
        (p)->Attributes = (a);                           \
        (p)->ObjectName = (n);                           \
        (p)->SecurityDescriptor = (s);                   \
        (p)->SecurityQualityOfService = NULL;            \
    } while (0)

#endif /* FIXTURE_NT_H */
