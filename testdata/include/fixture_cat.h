/*
 * fixture_cat.h - routines the rules know from Microsoft's DDI reference
 * rather than from drvhazard's built-in table (mf_catalog): fast mutexes,
 * primary tokens, Unicode string comparison, events, a file query.
 * Written for this repository from the documented signatures (the WDK's
 * wdm.h, ntifs.h and fltKernel.h declare the same routines); not a copy of
 * the WDK or mingw-w64 headers. A header of its own, so that the fixtures
 * that do not include it keep their bytes.
 */
#ifndef FIXTURE_CAT_H
#define FIXTURE_CAT_H

#include "fixture_ext.h"

/* wdm.h: an opaque FAST_MUTEX of its real size, and a KEVENT. */
typedef struct _FAST_MUTEX {
    LONG_PTR Opaque[7];
} FAST_MUTEX, *PFAST_MUTEX;             /* 0x38 */
typedef struct _KEVENT {
    LONG_PTR Opaque[3];
} KEVENT, *PKEVENT, *PRKEVENT;          /* 0x18 */
typedef LONG KPRIORITY;
typedef PVOID PACCESS_TOKEN;
typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING;
typedef enum _TOKEN_INFORMATION_CLASS { TokenUser = 1, TokenStatistics = 10 } TOKEN_INFORMATION_CLASS;
typedef enum _FILE_INFORMATION_CLASS { FileStandardInformation = 5 } FILE_INFORMATION_CLASS;
typedef struct _FILE_STANDARD_INFORMATION {
    LONGLONG AllocationSize;
    LONGLONG EndOfFile;
    ULONG NumberOfLinks;
    BOOLEAN DeletePending;
    BOOLEAN Directory;
} FILE_STANDARD_INFORMATION;

/* <= APC_LEVEL */
NTAPI_IMPORT VOID NTAPI ExAcquireFastMutex(PFAST_MUTEX FastMutex);
NTAPI_IMPORT VOID NTAPI ExReleaseFastMutex(PFAST_MUTEX FastMutex);
/* <= APC_LEVEL, or DISPATCH_LEVEL with a zero timeout */
typedef enum _KWAIT_REASON { Executive = 0 } KWAIT_REASON;
NTAPI_IMPORT NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                                  BOOLEAN Alertable, PLARGE_INTEGER Timeout);
/* PASSIVE_LEVEL */
NTAPI_IMPORT PACCESS_TOKEN NTAPI PsReferencePrimaryToken(PEPROCESS Process);
NTAPI_IMPORT NTSTATUS NTAPI SeQueryInformationToken(PACCESS_TOKEN Token, TOKEN_INFORMATION_CLASS TokenInformationClass,
                                                    PVOID *TokenInformation);
NTAPI_IMPORT LONG NTAPI RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                                BOOLEAN CaseInSensitive);
NTAPI_IMPORT NTSTATUS FLTAPI FltQueryInformationFile(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject,
                                                     PVOID FileInformation, ULONG Length,
                                                     FILE_INFORMATION_CLASS FileInformationClass, PULONG LengthReturned);
/* Any level, but Unicode format codes (%wZ, %ws, %S, ...) only at PASSIVE_LEVEL */
NTAPI_IMPORT ULONG __cdecl DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...);
/* <= DISPATCH_LEVEL: no hazard */
NTAPI_IMPORT LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
NTAPI_IMPORT VOID NTAPI ExFreePool(PVOID P);

#endif
