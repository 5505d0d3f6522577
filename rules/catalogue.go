package rules

import (
	"strings"

	"github.com/drvhazard/drvhazard/loader"
)

// Class is the hazard class of a kernel routine on the paging path.
type Class string

// Hazard classes; each maps to one paging-path rule.
const (
	ClassPageable    Class = "pageable"     // contains pageable code or touches pageable data, callable at APC_LEVEL (MF2001)
	ClassPassiveOnly Class = "passive-only" // requires IRQL PASSIVE_LEVEL (MF2002)
	ClassNameQuery   Class = "name-query"   // file name queries (MF2003)
	ClassPosting     Class = "posting"      // posts or pends the operation (MF2004)
	ClassReentrantIO Class = "reentrant-io" // issues file-system I/O (MF2005)
	ClassPoolAlloc   Class = "pool-alloc"   // pool allocation: paged when its type or flags say so (MF2007)
	// ClassAPCOnly routines are fine on the paging path (APC_LEVEL) but not
	// at DISPATCH_LEVEL: only the post-operation rule (MF3002) uses them.
	ClassAPCOnly Class = "apc-only"
)

// IRQL is the maximum interrupt request level a routine may be called at.
type IRQL uint8

// IRQLs.
const (
	Passive  IRQL = 0
	APC      IRQL = 1
	Dispatch IRQL = 2
)

// API describes one kernel routine.
type API struct {
	// Module is the DLL that exports the routine ("ntoskrnl.exe",
	// "fltmgr.sys"); empty for a user's own routine, which then matches a
	// function of the analysed driver by its symbol name, or an import of
	// that name from any module.
	Module string
	Name   string // exact export name, or a prefix ending in "*" ("Zw*")
	Class  Class
	IRQL   IRQL   // highest IRQL the routine may be called at
	Source string // where the fact comes from
	// Pool allocators: which argument (0 = rcx) holds the pool type or
	// flags and which the tag (-1: none, ExAllocatePool), and whether the
	// former are POOL_FLAG_* flags (ExAllocatePool2/3) or a POOL_TYPE.
	TypeArg, TagArg int
	Flags           bool
	// Note, when set, says in a finding why the call is a hazard where
	// the class and IRQL alone would not (an argument of this call).
	Note string
}

// Catalogue is the API table. Lookups by exact name win over prefixes.
type Catalogue struct {
	exact    map[string]*API // "module!name"
	byName   map[string]*API // entries without a module
	prefixes []*API
	user     []*API // the extra entries NewCatalogue was given
}

const (
	srcPsLookup = "https://learn.microsoft.com/windows-hardware/drivers/ddi/ntifs/nf-ntifs-pslookupprocessbyprocessid (IRQL <= APC_LEVEL; pageable)"
	srcZw       = "https://learn.microsoft.com/windows-hardware/drivers/kernel/using-nt-and-zw-versions-of-the-native-system-services-routines (Zw routines: PASSIVE_LEVEL)"
	srcObHandle = "https://learn.microsoft.com/windows-hardware/drivers/devtest/dv-rule-irqlobpassive (Driver Verifier IrqlObPassive, 0xC4/0x2001B)"
	srcPsPass   = "https://learn.microsoft.com/windows-hardware/drivers/devtest/dv-rule-irqlpspassive (Driver Verifier IrqlPsPassive, 0xC4/0x2001C)"
	srcName     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel/nf-fltkernel-fltgetfilenameinformation (fails in the paging I/O path; result in paged pool)"
	srcPost     = "https://learn.microsoft.com/windows-hardware/drivers/ifs/pending-an-i-o-operation-in-a-preoperation-callback-routine (paging I/O cannot be posted)"
	srcIO       = "https://learn.microsoft.com/windows-hardware/drivers/ifs/issuing-i-o-in-minifilters (I/O issued from the paging path re-enters the file system)"
	srcPool     = "https://learn.microsoft.com/windows-hardware/drivers/kernel/choosing-a-memory-allocation-routine (paged pool faults on the paging path)"
	srcContext  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel/nf-fltkernel-fltgetstreamcontext (context routines: IRQL <= APC_LEVEL)"
	srcSendMsg  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel/nf-fltkernel-fltsendmessage (IRQL <= APC_LEVEL; waits for user mode)"
	srcDosName  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/ntddk/nf-ntddk-iovolumedevicetodosname (IRQL == PASSIVE_LEVEL)"
)

// defaultAPIs is the built-in catalogue.
var defaultAPIs = []API{
	{Module: "ntoskrnl.exe", Name: "PsLookupProcessByProcessId", Class: ClassPageable, IRQL: APC, Source: srcPsLookup},
	{Module: "ntoskrnl.exe", Name: "PsLookupThreadByThreadId", Class: ClassPageable, IRQL: APC, Source: srcPsLookup},
	{Module: "ntoskrnl.exe", Name: "PsReferenceProcessFilePointer", Class: ClassPassiveOnly, IRQL: Passive, Source: srcPsPass},
	{Module: "ntoskrnl.exe", Name: "SeLocateProcessImageName", Class: ClassPassiveOnly, IRQL: Passive, Source: srcPsPass},
	{Module: "ntoskrnl.exe", Name: "ObQueryNameString", Class: ClassPassiveOnly, IRQL: Passive, Source: srcObHandle},
	{Module: "ntoskrnl.exe", Name: "ObReferenceObjectByName", Class: ClassPassiveOnly, IRQL: Passive, Source: srcObHandle},

	{Module: "ntoskrnl.exe", Name: "ObReferenceObjectByHandle", Class: ClassPassiveOnly, IRQL: Passive, Source: srcObHandle},
	{Module: "ntoskrnl.exe", Name: "ObReferenceObjectByHandleWithTag", Class: ClassPassiveOnly, IRQL: Passive, Source: srcObHandle},
	{Module: "ntoskrnl.exe", Name: "ObOpenObjectByPointer", Class: ClassPassiveOnly, IRQL: Passive, Source: srcObHandle},
	{Module: "ntoskrnl.exe", Name: "IoGetDeviceObjectPointer", Class: ClassPassiveOnly, IRQL: Passive, Source: srcZw},
	{Module: "ntoskrnl.exe", Name: "RtlQueryRegistryValues", Class: ClassPassiveOnly, IRQL: Passive, Source: srcZw},
	{Module: "ntoskrnl.exe", Name: "PsSetCreateProcessNotifyRoutine", Class: ClassPassiveOnly, IRQL: Passive, Source: srcPsPass},
	{Module: "ntoskrnl.exe", Name: "Zw*", Class: ClassPassiveOnly, IRQL: Passive, Source: srcZw},

	{Module: "fltmgr.sys", Name: "FltGetFileNameInformation", Class: ClassNameQuery, IRQL: APC, Source: srcName},
	{Module: "fltmgr.sys", Name: "FltGetFileNameInformationUnsafe", Class: ClassNameQuery, IRQL: APC, Source: srcName},
	{Module: "fltmgr.sys", Name: "FltGetDestinationFileNameInformation", Class: ClassNameQuery, IRQL: Passive, Source: srcName},

	{Module: "fltmgr.sys", Name: "FltQueueDeferredIoWorkItem", Class: ClassPosting, IRQL: APC, Source: srcPost},
	{Module: "fltmgr.sys", Name: "FltDoCompletionProcessingWhenSafe", Class: ClassPosting, IRQL: Dispatch, Source: srcPost},

	{Module: "fltmgr.sys", Name: "FltReadFile", Class: ClassReentrantIO, IRQL: APC, Source: srcIO},
	{Module: "fltmgr.sys", Name: "FltReadFileEx", Class: ClassReentrantIO, IRQL: APC, Source: srcIO},
	{Module: "fltmgr.sys", Name: "FltWriteFile", Class: ClassReentrantIO, IRQL: APC, Source: srcIO},
	{Module: "fltmgr.sys", Name: "FltWriteFileEx", Class: ClassReentrantIO, IRQL: APC, Source: srcIO},
	{Module: "fltmgr.sys", Name: "FltCreateFile", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "fltmgr.sys", Name: "FltCreateFileEx", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "fltmgr.sys", Name: "FltCreateFileEx2", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "fltmgr.sys", Name: "FltPerformSynchronousIo", Class: ClassReentrantIO, IRQL: APC, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "IofCallDriver", Class: ClassReentrantIO, IRQL: Dispatch, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "IoCallDriver", Class: ClassReentrantIO, IRQL: Dispatch, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "ZwCreateFile", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "ZwOpenFile", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "ZwReadFile", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "ZwWriteFile", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "ZwQueryInformationFile", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},
	{Module: "ntoskrnl.exe", Name: "ZwSetInformationFile", Class: ClassReentrantIO, IRQL: Passive, Source: srcIO},

	{Module: "ntoskrnl.exe", Name: "IoVolumeDeviceToDosName", Class: ClassPassiveOnly, IRQL: Passive, Source: srcDosName},
	{Module: "fltmgr.sys", Name: "FltSendMessage", Class: ClassAPCOnly, IRQL: APC, Source: srcSendMsg},
	{Module: "fltmgr.sys", Name: "FltAllocateContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltDeleteContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltGetFileContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltSetFileContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltGetStreamContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltSetStreamContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltGetStreamHandleContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltSetStreamHandleContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltGetInstanceContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "fltmgr.sys", Name: "FltGetVolumeContext", Class: ClassAPCOnly, IRQL: APC, Source: srcContext},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePool", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: -1},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePoolWithQuota", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: -1},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePoolWithTag", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: 2},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePoolWithTagPriority", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: 2},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePoolWithQuotaTag", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: 2},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePoolZero", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: 2},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePool2", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: 2, Flags: true},
	{Module: "ntoskrnl.exe", Name: "ExAllocatePool3", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 0, TagArg: 2, Flags: true},
	{Module: "fltmgr.sys", Name: "FltAllocatePoolAlignedWithTag", Class: ClassPoolAlloc, IRQL: Dispatch, Source: srcPool, TypeArg: 1, TagArg: 3},
}

// NewCatalogue builds a catalogue from the built-in table plus extra
// entries (a user's own wrappers); extra entries override built-in ones of
// the same name.
func NewCatalogue(extra ...API) *Catalogue {
	c := &Catalogue{exact: map[string]*API{}, byName: map[string]*API{}}
	for i := range extra {
		c.user = append(c.user, &extra[i])
	}
	for _, list := range [][]API{defaultAPIs, extra} {
		for i := range list {
			a := &list[i]
			switch {
			case strings.HasSuffix(a.Name, "*"):
				c.prefixes = append(c.prefixes, a)
			case a.Module == "":
				c.byName[a.Name] = a
			default:
				c.exact[strings.ToLower(a.Module)+"!"+a.Name] = a
			}
		}
	}
	return c
}

// Lookup finds the catalogue entry for an import: a user's, the built-in
// table's, else the one its documented IRQL gives (documented.go).
func (c *Catalogue) Lookup(imp *loader.Import) *API {
	if imp == nil || imp.ByOrdinal {
		return nil
	}
	mod := strings.ToLower(imp.Module)
	if a := c.exact[mod+"!"+imp.Name]; a != nil {
		return a
	}
	if a := c.byName[imp.Name]; a != nil {
		return a
	}
	for _, a := range c.prefixes {
		if strings.ToLower(a.Module) == mod && strings.HasPrefix(imp.Name, strings.TrimSuffix(a.Name, "*")) {
			return a
		}
	}
	a := lookupDocumented(imp)
	return a
}

// LookupFunc finds a user's entry for a function of the analysed driver,
// by symbol name.
func (c *Catalogue) LookupFunc(name string) *API {
	if name == "" {
		return nil
	}
	return c.byName[name]
}

// Classes lists the hazard classes, for configuration and help.
var Classes = []Class{ClassPageable, ClassPassiveOnly, ClassNameQuery, ClassPosting, ClassReentrantIO, ClassPoolAlloc, ClassAPCOnly}
