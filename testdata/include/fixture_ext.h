/*
 * fixture_ext.h - more NT and Filter Manager declarations, for the fixtures
 * written the way production minifilters are (mf_majors, mf_guards,
 * mf_postirql, mf_initptrs, mf_vcall): contexts, the communication port,
 * process and thread lookups, registry reads, MmGetSystemRoutineAddress,
 * FlagOn and _bittest.  Written for this repository from the documented
 * signatures (the WDK's ntifs.h, wdm.h and fltKernel.h declare the same
 * routines); not a copy of the WDK or mingw-w64 headers.
 *
 * A separate header so that the bytes of the fixtures that include only
 * fixture_nt.h / fixture_flt.h (line numbers in their PDBs included) do
 * not change.  Include fixture_flt.h first (this header does).
 */
#ifndef FIXTURE_EXT_H
#define FIXTURE_EXT_H

#include "fixture_flt.h"

/* wdm.h */
#define FlagOn(_F, _SF) ((_F) & (_SF))
#define BooleanFlagOn(F, SF) ((BOOLEAN)(((F) & (SF)) != 0))
#define SetFlag(_F, _SF) ((_F) |= (_SF))
#define ClearFlag(_F, _SF) ((_F) &= ~(_SF))

#define KernelMode 0
#define KEY_READ 0x20019UL
/* IRP flags beyond fixture_nt.h's three (wdm.h). Paging I/O IRPs carry
   IRP_PAGING_IO and IRP_NOCACHE, synchronous ones IRP_SYNCHRONOUS_PAGING_IO
   too (IoPageRead, IoSynchronousPageWrite); IoAsynchronousPageWrite sets
   IRP_PAGING_IO | IRP_NOCACHE only.  No paging IRP has IRP_SYNCHRONOUS_API. */
#define IRP_SYNCHRONOUS_API 0x00000004
#define STATUS_NOT_FOUND ((NTSTATUS)0xC0000225L)

/* _bittest (intrin.h): MSVC compiles `if (_bittest(&x, n))` to
   `bt dword ptr [x], n; jb`, and so does this inline (the carry flag is the
   asm output, gcc's and clang's "=@ccc"). */
static __inline__ __attribute__((always_inline)) UCHAR FixtureBitTest(const LONG *Base, LONG Offset)
{
    UCHAR set;
    __asm__("btl %2, %1" : "=@ccc"(set) : "m"(*Base), "Ir"(Offset));
    return set;
}
#define _bittest(b, o) FixtureBitTest((b), (o))

typedef struct _ACCESS_STATE *PACCESS_STATE;
typedef struct _FLT_PORT *PFLT_PORT;

typedef struct _OBJECT_NAME_INFORMATION {
    UNICODE_STRING Name;
} OBJECT_NAME_INFORMATION, *POBJECT_NAME_INFORMATION;

typedef enum _KEY_VALUE_INFORMATION_CLASS {
    KeyValueBasicInformation = 0,
    KeyValueFullInformation = 1,
    KeyValuePartialInformation = 2
} KEY_VALUE_INFORMATION_CLASS;

typedef struct _KEY_VALUE_PARTIAL_INFORMATION {
    ULONG TitleIndex;
    ULONG Type;
    ULONG DataLength;
    UCHAR Data[4];
} KEY_VALUE_PARTIAL_INFORMATION, *PKEY_VALUE_PARTIAL_INFORMATION;

typedef enum _FLT_SET_CONTEXT_OPERATION {
    FLT_SET_CONTEXT_REPLACE_IF_EXISTS = 0,
    FLT_SET_CONTEXT_KEEP_IF_EXISTS = 1
} FLT_SET_CONTEXT_OPERATION;

/* ---- ntoskrnl.exe ---- */
NTAPI_IMPORT NTSTATUS NTAPI PsLookupThreadByThreadId(HANDLE ThreadId, PETHREAD *Thread);
NTAPI_IMPORT HANDLE NTAPI PsGetCurrentThreadId(VOID);
NTAPI_IMPORT PEPROCESS NTAPI IoGetCurrentProcess(VOID);
#define PsGetCurrentProcess IoGetCurrentProcess
NTAPI_IMPORT NTSTATUS NTAPI SeLocateProcessImageName(PEPROCESS Process, PUNICODE_STRING *pImageFileName);
NTAPI_IMPORT NTSTATUS NTAPI ObQueryNameString(PVOID Object, POBJECT_NAME_INFORMATION ObjectNameInfo,
    ULONG Length, PULONG ReturnLength);
NTAPI_IMPORT NTSTATUS NTAPI ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes,
    PACCESS_STATE PassedAccessState, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
    KPROCESSOR_MODE AccessMode, PHANDLE Handle);
NTAPI_IMPORT NTSTATUS NTAPI ZwOpenKey(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess,
    POBJECT_ATTRIBUTES ObjectAttributes);
NTAPI_IMPORT NTSTATUS NTAPI ZwQueryValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
    KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass, PVOID KeyValueInformation, ULONG Length,
    PULONG ResultLength);
NTAPI_IMPORT PVOID NTAPI MmGetSystemRoutineAddress(PUNICODE_STRING SystemRoutineName);

/* ---- FLTMGR.SYS ---- */
NTAPI_IMPORT NTSTATUS FLTAPI FltAllocateContext(PFLT_FILTER Filter, FLT_CONTEXT_TYPE ContextType,
    SIZE_T ContextSize, POOL_TYPE PoolType, PFLT_CONTEXT *ReturnedContext);
NTAPI_IMPORT VOID FLTAPI FltReleaseContext(PFLT_CONTEXT Context);
NTAPI_IMPORT NTSTATUS FLTAPI FltSetStreamContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject,
    FLT_SET_CONTEXT_OPERATION Operation, PFLT_CONTEXT NewContext, PFLT_CONTEXT *OldContext);
NTAPI_IMPORT NTSTATUS FLTAPI FltGetStreamContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject,
    PFLT_CONTEXT *Context);
NTAPI_IMPORT NTSTATUS FLTAPI FltGetStreamHandleContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject,
    PFLT_CONTEXT *Context);
NTAPI_IMPORT NTSTATUS FLTAPI FltSetInstanceContext(PFLT_INSTANCE Instance, FLT_SET_CONTEXT_OPERATION Operation,
    PFLT_CONTEXT NewContext, PFLT_CONTEXT *OldContext);
NTAPI_IMPORT NTSTATUS FLTAPI FltSendMessage(PFLT_FILTER Filter, PFLT_PORT *ClientPort, PVOID SenderBuffer,
    ULONG SenderBufferLength, PVOID ReplyBuffer, PULONG ReplyLength, PLARGE_INTEGER Timeout);

#endif /* FIXTURE_EXT_H */
