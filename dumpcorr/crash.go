// Package dumpcorr turns crash evidence into findings: it reads pasted WinDbg
// text and kernel dump files (PAGEDU64) into Crash values, recognises the crash
// signatures that paging-path hazards leave (recursion through FltMgr and page
// faults, double faults, in-page errors), and matches crash frames to the
// findings of analysed drivers.
//
// # Security
//
// Crash text and dump files come from the field and from strangers' issue
// trackers. For any input bytes the parsers never panic, never allocate more
// than a small multiple of the input size (every count and size read from a dump
// is checked against the bytes present), and refuse what they cannot read with
// an error that names the source and what is wrong.
package dumpcorr

import (
	"strings"

	"github.com/drvhazard/drvhazard/internal/winpath"
)

// Crash is one crash as far as the evidence tells: the bugcheck, the stack of
// the crashing thread, the loaded modules and pool usage where the source has
// them. Fields the source does not give are zero; HasBugCheck says whether
// BugCheck is known.
type Crash struct {
	// Source names where the crash came from: the file name, with "#N" added
	// when one file holds several crashes.
	Source string

	HasBugCheck bool
	BugCheck    uint32 // e.g. 0x7F, 0x1000007E
	// BugCheckName is the symbolic name when the source gives it
	// (UNEXPECTED_KERNEL_MODE_TRAP).
	BugCheckName string
	Args         []uint64 // up to four bugcheck parameters
	// BugCheckInferredFrom names the frame the bugcheck was inferred from
	// when the source does not state it ("nt!KiDoubleFaultAbort"); empty
	// when stated.
	BugCheckInferredFrom string

	// Frames is the crashing thread's stack, innermost first.
	Frames []Frame
	// FramesFrom says how Frames were obtained: "text" (as pasted), "unwind"
	// (.pdata unwinding of a dump's stack), "scan" (return-address scan of a
	// dump's stack: frames may be stale), or "" when there are none.
	FramesFrom string

	Modules   []Module
	PoolUsage []PoolUse

	// From !analyze -v, when present.
	SymbolName  string // SYMBOL_NAME
	ModuleName  string // MODULE_NAME
	ImageName   string // IMAGE_NAME
	BucketID    string // FAILURE_BUCKET_ID
	ProcessName string // PROCESS_NAME
	// FaultingModule is the module of FAULTING_IP (or FAULTING_MODULE),
	// which a stack of unsymbolised kernel frames may not show.
	FaultingModule string

	// Notes are things the parser could not use but a reader should know,
	// e.g. "text cut before STACK_TEXT ended".
	Notes []string
}

// Frame is one stack frame. Module is the module name as WinDbg prints it
// ("nt", "FLTMGR", "mydrv"); Symbol is empty for frames without symbols
// ("mydrv+0x1a2b"). Offset is the displacement from Symbol, or from the module
// base when Symbol is empty. Address is the instruction address (the return
// address for all but the innermost frame) when the source gives it.
type Frame struct {
	Index      int
	Module     string
	Symbol     string
	Offset     uint64
	Address    uint64
	HasAddress bool
	// SourceLine is a "file @ line" or "file(line)" suffix as printed, if any.
	SourceLine string
}

// Module is a loaded module: from `lm`, the dump's module list, or the
// analysis header.
type Module struct {
	Name      string // as WinDbg names it: "nt", "FLTMGR", "amdppm"
	Image     string // file name when known: "amdppm.sys"
	Base      uint64
	Size      uint64
	Timestamp uint32
	Checksum  uint32
}

// PoolUse is one row of `!poolused`.
type PoolUse struct {
	Tag            string
	NonPagedAllocs uint64
	NonPagedBytes  uint64
	PagedAllocs    uint64
	PagedBytes     uint64
	// Binary is the owner pooltag.txt names, e.g. "nt!etw"; empty when unknown.
	Binary string
}

// ModuleName is the name WinDbg gives a loaded file, from its file name or
// a path (with / or \): "nt" and "hal" for the kernel and HAL, otherwise
// the base name without its extension, other dots made underscores
// ("mf_rdata.gcc.sys" is mf_rdata_gcc, "FLTMGR.SYS" is FLTMGR).
func ModuleName(file string) string {
	base := winpath.Base(file)
	if n, ok := kernelModules[strings.ToLower(base)]; ok {
		return n
	}
	if dot := strings.LastIndexByte(base, '.'); dot > 0 {
		base = base[:dot]
	}
	return strings.ReplaceAll(base, ".", "_")
}

// kernelModules are the kernel and HAL files WinDbg calls "nt" and "hal".
var kernelModules = map[string]string{
	"ntoskrnl.exe": "nt", "ntkrnlmp.exe": "nt", "ntkrnlpa.exe": "nt", "ntkrpamp.exe": "nt",
	"hal.dll": "hal", "halacpi.dll": "hal", "halmacpi.dll": "hal", "halaacpi.dll": "hal",
	"halapic.dll": "hal", "halmps.dll": "hal",
}

// Culprit is the module a crash points at, for grouping crashes whose
// bucket is unknown: the one !analyze names (MODULE_NAME), else the
// innermost frame outside the kernel's own modules, else the faulting
// module the text names (FAULTING_IP, FAULTING_MODULE) when the frames are
// the kernel's alone (a STACK_TEXT of unsymbolised nt+0x... frames). ""
// when none is known.
func (c *Crash) Culprit() string {
	if c.ModuleName != "" && !systemModules[strings.ToLower(c.ModuleName)] {
		return c.ModuleName
	}
	for _, f := range c.Frames {
		if f.Module != "" && !systemModules[strings.ToLower(f.Module)] {
			return f.Module
		}
	}
	if c.FaultingModule != "" && !systemModules[strings.ToLower(c.FaultingModule)] {
		return c.FaultingModule
	}
	return ""
}
