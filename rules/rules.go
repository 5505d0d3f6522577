package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// DefaultBudget is MF4001's default stack budget: 4 KiB of the 24 KiB x64
// kernel stack for one callback's call chain.
const DefaultBudget = 4096

// All returns the rule catalogue in id order. Ids are a contract: rules are
// added, never renumbered or reused.
func All() []*Rule { return catalogue }

// ByID finds a rule.
func ByID(id string) *Rule {
	for _, r := range catalogue {
		if strings.EqualFold(r.ID, id) {
			return r
		}
	}
	return nil
}

var catalogue = []*Rule{
	{
		ID: "MF1001", Name: "RegistrationMalformed", Severity: Error, Precision: "very-high",
		Short: "A FLT_REGISTRATION or its operation array is malformed: an error where FltMgr reads past it, else a note.",
		Help: `The FLT_REGISTRATION passed to FltRegisterFilter has a Size/Version pair fltKernel.h does not define,
its operation array lacks the IRP_MJ_OPERATION_END (0x80) terminator or its context array the FLT_CONTEXT_END
(0xFFFF) terminator, an entry's Reserved1 is not zero, or a pointer in a static table has no base relocation (it
will be wrong once the driver is relocated).

A table without its terminator, or a pointer that is wrong once relocated, makes FltMgr read memory that is not the
registration: an error (the rule's severity). A Size/Version pair FltRegisterFilter rejects fails the load visibly,
and what the analysis could not read (a value not a constant) may be fine: notes.

**Fix:** declare the tables with the WDK types and initialisers, end the operation array with
` + "`{ IRP_MJ_OPERATION_END }`" + `, and use FLT_REGISTRATION_VERSION with sizeof(FLT_REGISTRATION).

Sources: fltKernel.h; https://learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel/ns-fltkernel-_flt_registration`,
		Run: runMF1001,
	},
	{
		ID: "MF1002", Name: "PreOpRequestsMissingPostOp", Severity: Error, Precision: "high",
		Short: "A pre-operation callback asks for a post-operation callback that is not registered.",
		Help: `A pre-operation callback returns FLT_PREOP_SUCCESS_WITH_CALLBACK (0) or FLT_PREOP_SYNCHRONIZE (5), which
ask the filter manager to call the post-operation callback, but the operation was registered with PostOperation
NULL. The filter manager bugchecks with FLTMGR_FILE_SYSTEM (0xF5) argument 0x66.

**Fix:** register a post-operation callback, or return FLT_PREOP_SUCCESS_NO_CALLBACK.

Sources: https://learn.microsoft.com/windows-hardware/drivers/debugger/bug-check-0xf5--fltmgr-file-system`,
		Run: runMF1002,
	},
	pagingRule("MF2001", "PagingPathCallsPageableRoutine", Error, ClassPageable,
		"A paging-path pre-operation callback reaches a pageable Ps/Ob/Se routine.",
		`A READ or WRITE pre-operation callback registered without FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO runs for
paging I/O, at up to APC_LEVEL and in the middle of a page fault. Routines such as PsLookupProcessByProcessId
contain pageable code and touch pageable data: the page fault they take issues paging I/O that enters the same
callback again, until the kernel stack is exhausted (bugcheck 0x7F, argument 8: double fault). This is the
recursion behind field crashes through FltMgr and nt!KiPageFault.

**Fix:** register the operation with FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO if the filter does not need
paging I/O, or return FLT_PREOP_SUCCESS_NO_CALLBACK before the call when
`+"`Data->Iopb->IrpFlags & (IRP_PAGING_IO | IRP_SYNCHRONOUS_PAGING_IO)`"+` is set.

Sources: `+srcPsLookup),
	pagingRule("MF2002", "PagingPathCallsPassiveOnlyRoutine", Error, ClassPassiveOnly,
		"A paging-path pre-operation callback reaches a routine that requires PASSIVE_LEVEL.",
		`Paging I/O reaches a pre-operation callback at up to APC_LEVEL. "Dispatch routines in the paging path ... cannot
safely call any kernel-mode routines that require callers to be running at IRQL PASSIVE_LEVEL": Zw* system
services, ObReferenceObjectByHandle and the Ps process-structure routines. Driver Verifier reports these as
IRQL rule violations (bugcheck 0xC4).

**Fix:** skip paging I/O (FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO or an IrpFlags test) before the call, or
move the work to a worker thread outside the paging path.

Sources: `+srcZw+`; `+srcObHandle),
	pagingRule("MF2003", "PagingPathNameQuery", Warning, ClassNameQuery,
		"A paging-path pre-operation callback queries the file name.",
		`FltGetFileNameInformation fails in the paging I/O path and when TopLevelIrp is not NULL ("file system recursion
could cause deadlocks or stack overflows"), and the name it returns lives in paged pool.

**Fix:** do not query names for paging I/O; query them at IRP_MJ_CREATE and keep them in a stream context.

Sources: `+srcName),
	pagingRule("MF2004", "PagingPathPostsOrPends", Warning, ClassPosting,
		"A paging-path pre-operation callback posts or pends the operation.",
		`Paging I/O cannot be posted to a worker thread or pended: FltQueueDeferredIoWorkItem fails for it, and pending it
risks deadlock on file-system locks the faulting thread already holds.

**Fix:** complete paging I/O synchronously in the callback, or skip it.

Sources: `+srcPost),
	pagingRule("MF2005", "PagingPathReentrantIo", Error, ClassReentrantIO,
		"A paging-path pre-operation callback issues file-system I/O.",
		`Reading or writing files from the paging path (FltReadFile, FltWriteFile, FltCreateFile, Zw*File, IoCallDriver)
re-enters the file-system stack beneath a page fault, where locks are held and the stack is already deep.

**Fix:** skip paging I/O before issuing I/O, or issue it from a worker thread for non-paging requests only.

Sources: `+srcIO),
	pagingRule("MF2006", "PagingPathPageableCode", Error, "",
		"A paging-path pre-operation callback, or a function it calls, is in a pageable (PAGE) section.",
		`Code in PAGE* sections can be paged out. Executing it on the paging path takes a page fault whose paging I/O
comes back through the same callback.

**Fix:** move the callback and its callees out of #pragma alloc_text(PAGE, ...) / code_seg("PAGE").

Sources: https://learn.microsoft.com/windows-hardware/drivers/kernel/making-drivers-pageable`),
	pagingRule("MF2007", "PagingPathPagedPoolAllocation", Warning, ClassPoolAlloc,
		"A paging-path pre-operation callback allocates paged pool.",
		`A paged-pool allocation on the paging path can fault, and the fault's paging I/O enters the callback again.

**Fix:** allocate from non-paged pool (NonPagedPoolNx, POOL_FLAG_NON_PAGED) on the paging path.

Sources: `+srcPool),
	{
		ID: "MF2008", Grouped: true, Name: "FsFilterCallbackOnMmCcPath", Severity: Warning, Precision: "high",
		Short: "A callback for a memory- or cache-manager FsFilter operation reaches a paging-path hazard.",
		Help: `The FsFilter operations IRP_MJ_ACQUIRE_FOR_MOD_WRITE, IRP_MJ_RELEASE_FOR_MOD_WRITE, IRP_MJ_ACQUIRE_FOR_CC_FLUSH and
IRP_MJ_RELEASE_FOR_CC_FLUSH (0xFD..0xFA) are issued by the memory and cache managers while they write pages out.
FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO "applies only to IRP-based I/O operations. It is ignored for I/O
operations that are not IRP-based", so the flag does not protect these callbacks from the hazards of MF2001-MF2007.

**Fix:** keep these callbacks minimal: no Ps/Ob/Zw calls, no name queries, no I/O, no paged memory.

Sources: https://learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel/ns-fltkernel-_flt_operation_registration`,
		Run: runMF2008,
	},
	{
		ID: "MF3001", Grouped: true, Name: "PageableCodeAtDispatch", Severity: Error, Precision: "medium",
		Short: "Pageable code is reachable at DISPATCH_LEVEL: under a spin lock, after KeRaiseIrql, or from a post-operation callback.",
		Help: `Code in PAGE* sections can be paged out; touching it at DISPATCH_LEVEL, where page faults cannot be serviced,
bugchecks (IRQL_NOT_LESS_OR_EQUAL 0xA / DRIVER_IRQL_NOT_LESS_OR_EQUAL 0xD1). A call into pageable code made while a
spin lock is held (KeAcquireSpinLockRaiseToDpc ... KeReleaseSpinLock) or after raising the IRQL (KeRaiseIrql, a
write of CR8 on x64) runs at DISPATCH_LEVEL. Post-operation callbacks can also run at DISPATCH_LEVEL in an arbitrary
thread context.

**Fix:** release the lock or lower the IRQL before calling pageable code; keep post-operation callbacks and their
callees out of PAGE sections, or defer the work with FltDoCompletionProcessingWhenSafe.

For a post-operation callback, the finding goes away as MF3002's does: a pre-operation callback that returns
FLT_PREOP_SYNCHRONIZE, or a KeGetCurrentIrql() test before the pageable code.

Sources: https://learn.microsoft.com/windows-hardware/drivers/ifs/writing-postoperation-callback-routines`,
		Run: runMF3001,
	},
	{
		ID: "MF3002", Grouped: true, Name: "PostOpCallsApcOnlyRoutine", Severity: Warning, Precision: "medium",
		Short: "A post-operation callback calls a routine that must run at APC_LEVEL or below.",
		Help: `Post-operation callbacks can run at DISPATCH_LEVEL. Routines documented for IRQL <= APC_LEVEL (PsLookup*,
FltGetFileNameInformation, Zw*, FltReadFile ...) must not be called there directly.

**Fix:** call FltDoCompletionProcessingWhenSafe and do the work in the safe post-operation callback it runs
at IRQL <= APC_LEVEL, or queue a work item.

The finding goes away when the analysis sees that the call cannot run at DISPATCH_LEVEL: the pre-operation
callback returns FLT_PREOP_SYNCHRONIZE (and never FLT_PREOP_SUCCESS_WITH_CALLBACK) for the operation, a test of
KeGetCurrentIrql() (inline: mov rax,cr8) returns before the call above APC_LEVEL, or the call moves into the
safe post-operation callback. The message says which pre-operation callback lets it run at DISPATCH_LEVEL.

Sources: https://learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel/nf-fltkernel-fltdocompletionprocessingwhensafe`,
		Run: runMF3002,
	},
	{
		ID: "MF4001", Name: "DeepStackOnPagingPath", Severity: Warning, Precision: "medium",
		Short: "A paging-path call chain uses more stack than the budget.",
		Help: `Paging I/O arrives on whatever stack the faulting thread had left; the x64 kernel stack is 24 KiB
(KERNEL_STACK_SIZE 0x6000). A callback chain whose frames add up to more than the budget (4 KiB by default)
leaves too little for the file system and storage stack beneath it (bugcheck 0x7F argument 8).

**Fix:** move large buffers off the stack (non-paged pool or lookaside lists) on the paging path.

Sources: https://learn.microsoft.com/windows-hardware/drivers/kernel/kernel-stack-overflows`,
		Run: runMF4001,
	},
	{
		ID: "KD5001", Name: "HvciIncompatibleSection", Severity: Error, Precision: "very-high",
		Short: "The image layout is incompatible with HVCI (memory integrity).",
		Help: `Under hypervisor-protected code integrity a page is never both writable and executable. A section that is
writable and executable, a section not aligned to a page, or an import address table inside an executable section
makes the driver fail to load with memory integrity on.

**Fix:** link with /INTEGRITYCHECK-compatible settings: no /SECTION:...,ERW, default alignment, IAT in .rdata
(/MERGE only data into data).

Sources: https://learn.microsoft.com/windows-hardware/drivers/driversecurity/implement-hvci-compliant-code`,
		Run: runKD5001,
	},
	{
		ID: "KD5002", Name: "ExecutablePoolAllocation", Severity: Warning, Precision: "high",
		Short: "The driver allocates executable non-paged pool.",
		Help: `NonPagedPool (0, the same as NonPagedPoolExecute) and POOL_FLAG_NON_PAGED_EXECUTE return executable memory,
which HVCI forbids and attackers love.

**Fix:** use NonPagedPoolNx or POOL_FLAG_NON_PAGED (ExAllocatePool2).

Sources: https://learn.microsoft.com/windows-hardware/drivers/kernel/no-execute-nonpaged-pool`,
		Run: runKD5002,
	},
}

// pagingRule builds one of the MF200x rules over the shared paging walk.
func pagingRule(id, name string, sev Severity, class Class, short, help string) *Rule {
	r := &Rule{ID: id, Name: name, Severity: sev, Precision: "high", Short: short, Help: help, Grouped: true}
	r.Run = func(p *Pass, r *Rule) []Finding {
		var out []Finding
		for _, h := range p.pagingHits() {
			if h.mmcc || hitClass(h) != class || (class == "" && h.kind != hitPageCode) {
				continue
			}
			out = append(out, p.pagingFinding(r, h, ""))
		}
		return out
	}
	return r
}

// hitClass is the hazard class of a paging hit: its routine's class, with
// pool allocations counting only when paged, PAGE code as "".
func hitClass(h pagingHit) Class {
	switch h.kind {
	case hitPageCode:
		return ""
	case hitPending:
		return ClassPosting
	}
	if h.api.Class == ClassPoolAlloc {
		t := poolTagAt(h)
		if !t.Paged() {
			return "-" // non-paged: no hazard
		}
	}
	return h.api.Class
}

func poolTagAt(h pagingHit) PoolTag { return poolType(h.api, h.call) }

func runMF2008(p *Pass, r *Rule) []Finding {
	var out []Finding
	for _, h := range p.pagingHits() {
		if c := hitClass(h); h.mmcc && c != "-" && c != ClassAPCOnly {
			out = append(out, p.pagingFinding(r, h, describeClass(c)))
		}
	}
	return out
}

func describeClass(c Class) string {
	switch c {
	case "":
		return "pageable code"
	case ClassPoolAlloc:
		return "a paged-pool allocation"
	}
	return "a " + string(c) + " routine"
}

// pagingFinding describes a paging hit.
func (p *Pass) pagingFinding(r *Rule, h pagingHit, what string) Finding {
	f := Finding{Rule: r, Severity: r.Severity, Callback: &h.cb, Site: h.site, Path: h.path}
	cbName := h.cb.Name
	if cbName == "" {
		cbName = fmt.Sprintf("sub_%x", h.cb.RVA)
	}
	var reached string
	switch h.kind {
	case hitPageCode:
		fn := h.path[len(h.path)-1]
		f.Sink = "PAGE:" + stepName(fn)
		reached = fmt.Sprintf("%s, which lies in pageable section %s", stepName(fn), p.Image.Section(fn.RVA).Name)
	case hitPending:
		f.Sink = "FLT_PREOP_PENDING"
		reached = "a return of FLT_PREOP_PENDING"
	default:
		f.Sink = h.sink
		name := h.sink
		if h.imp != nil {
			name = h.imp.Name
		}
		reached = fmt.Sprintf("%s (%s, IRQL <= %s)", name, h.api.Class, irqlName(h.api.IRQL))
		if h.api.Note != "" {
			reached = fmt.Sprintf("%s (%s)", name, h.api.Note)
		}
		if h.api.Class == ClassPoolAlloc {
			reached = fmt.Sprintf("%s allocating paged pool", name)
		}
	}
	why := fmt.Sprintf("flags %#x lack FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO", h.op.Flags)
	if h.mmcc {
		why = "FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO does not apply to this non-IRP operation"
	}
	f.Message = fmt.Sprintf("%s %s-operation callback %s reaches %s on the paging path via %s; %s; no test of IrpFlags & IRP_PAGING_IO before it",
		h.cb.Major, h.cb.Kind, cbName, reached, pathString(h.path), why)
	if what != "" {
		f.Message += " (" + what + ")"
	}
	f.Fingerprint = fingerprint(r.ID, h.cb.Major, h.cb.Kind, f.Sink, p.pathKey(h.path))
	return f
}

func irqlName(l IRQL) string {
	if l > Dispatch {
		return "any level"
	}
	return [...]string{"PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL"}[l]
}

func stepName(s Step) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("sub_%x", s.RVA)
}

func pathString(path []Step) string {
	names := make([]string, len(path))
	for i, s := range path {
		names[i] = stepName(s)
	}
	return strings.Join(names, " -> ")
}

// pathKey is what a finding's fingerprint keeps of its path: each step's
// function name, or for an unnamed function (a stripped image) its shape:
// code size, blocks and call sites, which survive rebuilds that do not touch
// the function, where its address does not.
type pathKey []string

func (p *Pass) pathKey(path []Step) pathKey {
	k := make(pathKey, len(path))
	for i, s := range path {
		k[i] = s.Name
		if s.Name == "" {
			if f := p.Program.Func(s.RVA); f != nil {
				k[i] = fmt.Sprintf("?%d/%d/%d", f.Size, len(f.Blocks), len(f.Calls))
			}
		}
	}
	return k
}

// fingerprint hashes what stays the same across rebuilds: the rule, the
// callback's major and kind, the sink, and the path's key.
func fingerprint(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		switch v := p.(type) {
		case pathKey:
			for _, s := range v {
				fmt.Fprintf(h, "%s>", s)
			}
		default:
			fmt.Fprintf(h, "%v|", v)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Run runs every rule over a pass and returns the findings, one per cause
// (group), sorted by severity (highest first), rule, site.
func Run(p *Pass, rules []*Rule) []Finding {
	var out []Finding
	for _, r := range rules {
		if p.stopped() {
			break
		}
		out = append(out, r.Run(p, r)...)
	}
	out = group(out)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Rule.ID != b.Rule.ID {
			return a.Rule.ID < b.Rule.ID
		}
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		return a.Fingerprint < b.Fingerprint
	})
	return out
}
