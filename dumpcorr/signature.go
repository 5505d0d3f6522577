package dumpcorr

import (
	"fmt"
	"strings"
)

// Signature names a kind of crash the evidence shows. Name is stable (JSON,
// grouping keys); Detail says what in the crash made it.
type Signature struct {
	Name   string
	Detail string
}

// Signature names.
const (
	// SigPagingRecursion: the same driver frames repeat with page-fault
	// and FltMgr pre-callback frames between them: a callback faulted on
	// the paging path and its own paging I/O came back through it.
	SigPagingRecursion = "paging-recursion"
	// SigPagingThroughFilter: a page fault's paging I/O went through a
	// minifilter's pre-operation callback (one level, no repeat seen).
	SigPagingThroughFilter = "paging-io-through-filter"
	// SigDoubleFault: 0x7F with arg1 8, a kernel stack overflow.
	SigDoubleFault = "double-fault"
	// SigFltMgr: 0xF5 FLTMGR_FILE_SYSTEM.
	SigFltMgr = "fltmgr-file-system"
	// SigInPageError: the paging path failed to bring a page in (0x7A,
	// 0x77, 0x154).
	SigInPageError = "paging-io-failure"
	// SigIRQL: a fault at raised IRQL (0xA, 0xD1).
	SigIRQL = "irql-fault"
)

// bugcheckBase drops the 0x10000000 bit Windows sets on bugchecks raised
// through the _M variants (0x1000007F is 0x7F).
func bugcheckBase(code uint32) uint32 { return code &^ 0x10000000 }

// fltMgrCodes names the FLTMGR_FILE_SYSTEM (0xF5) sub-codes in arg1 that
// paging-path bugs cause (fltmgr bugcheck documentation).
var fltMgrCodes = map[uint64]string{
	0x66: "a pre-operation callback returned FLT_PREOP_SUCCESS_WITH_CALLBACK or FLT_PREOP_SYNCHRONIZE but has no post-operation callback",
	0x6A: "the callback data's Iopb was changed and FltSetCallbackDataDirty was not called",
	0x6C: "too many nested page faults: a filter keeps faulting on the paging path",
}

// Signatures recognises the crash kinds c shows, most specific first.
func Signatures(c *Crash) []Signature {
	var out []Signature
	if s, ok := pagingRecursion(c.Frames); ok {
		out = append(out, s)
	} else if s, ok := pagingThroughFilter(c.Frames); ok {
		out = append(out, s)
	}
	if !c.HasBugCheck {
		return out
	}
	arg := func(i int) (uint64, bool) {
		if i < len(c.Args) {
			return c.Args[i], true
		}
		return 0, false
	}
	switch code := bugcheckBase(c.BugCheck); code {
	case 0x7F:
		if a, ok := arg(0); ok && a == 8 {
			out = append(out, Signature{SigDoubleFault, "0x7F arg1 8: EXCEPTION_DOUBLE_FAULT, the kernel stack overflowed"})
		}
	case 0xF5:
		d := "FLTMGR_FILE_SYSTEM"
		if a, ok := arg(0); ok {
			if why, known := fltMgrCodes[a]; known {
				d = fmt.Sprintf("0xF5 arg1 %#x: %s", a, why)
			} else {
				d = fmt.Sprintf("0xF5 arg1 %#x", a)
			}
		}
		out = append(out, Signature{SigFltMgr, d})
	case 0x7A, 0x77, 0x154:
		d := fmt.Sprintf("0x%X %s", code, BugCheckName(code))
		// The I/O status that failed the read: arg2 of 0x7A, arg1 of 0x77.
		if i, ok := map[uint32]int{0x7A: 1, 0x77: 0}[code]; ok {
			if a, ok := arg(i); ok && a>>32 == 0 && a&0xC0000000 == 0xC0000000 {
				d += fmt.Sprintf(", status %#x", a)
			}
		}
		out = append(out, Signature{SigInPageError, d})
	case 0xA, 0xD1:
		d := fmt.Sprintf("0x%X %s", code, BugCheckName(code))
		if a, ok := arg(1); ok {
			d += fmt.Sprintf(" at IRQL %d", a)
		}
		out = append(out, Signature{SigIRQL, d})
	}
	return out
}

// frameClass says what a frame is on the paging path.
type frameClass int

const (
	otherFrame frameClass = iota
	pageFaultFrame
	filterFrame
)

// classify recognises the page-fault path and FltMgr's pre-operation
// dispatch (DOMAIN.md §3, stack signatures).
func classify(f Frame) frameClass {
	mod, sym := strings.ToLower(f.Module), f.Symbol
	switch mod {
	case "nt":
		switch {
		case sym == "KiPageFault", sym == "MmAccessFault",
			strings.HasPrefix(sym, "IoPageRead"), strings.HasPrefix(sym, "MiIssueHardFault"),
			sym == "MiDispatchFault", sym == "MiResolveProtoPteFault", sym == "MiPageRead":
			return pageFaultFrame
		case sym == "FsFilterPerformCallbacks":
			return filterFrame
		}
	case "fltmgr":
		if strings.HasPrefix(sym, "FltpPerformPreCallbacks") || strings.HasPrefix(sym, "FltpPassThrough") ||
			sym == "FltpDispatch" || sym == "FltpCreate" {
			return filterFrame
		}
	}
	return otherFrame
}

// systemModules are the kernel's own modules: their frames repeat in any
// deep stack and name no culprit.
var systemModules = map[string]bool{"nt": true, "hal": true, "fltmgr": true, "ntfs": true, "refs": true,
	"fastfat": true, "exfat": true, "ci": true, "volsnap": true, "volmgr": true, "partmgr": true, "disk": true,
	"classpnp": true, "storport": true, "stornvme": true, "storahci": true, "ataport": true, "wof": true}

// frameKey identifies a frame's code location for finding repeats.
func frameKey(f Frame) string {
	if f.Symbol != "" {
		return fmt.Sprintf("%s!%s+%#x", strings.ToLower(f.Module), f.Symbol, f.Offset)
	}
	return fmt.Sprintf("%s+%#x", strings.ToLower(f.Module), f.Offset)
}

// pagingRecursion looks for a driver frame that occurs again further out on
// the stack with both a page-fault frame and a FltMgr pre-callback frame in
// between, and counts how deep it goes.
func pagingRecursion(frames []Frame) (Signature, bool) {
	positions := map[string][]int{}
	var order []string
	for i, f := range frames {
		if f.Module == "" || systemModules[strings.ToLower(f.Module)] {
			continue
		}
		k := frameKey(f)
		if positions[k] == nil {
			order = append(order, k)
		}
		positions[k] = append(positions[k], i)
	}
	best, bestDepth := "", 0
	for _, k := range order {
		ps := positions[k]
		depth := 1
		for j := 1; j < len(ps); j++ {
			if between(frames[ps[j-1]+1:ps[j]], pageFaultFrame) && between(frames[ps[j-1]+1:ps[j]], filterFrame) {
				depth++
			}
		}
		if depth > bestDepth {
			best, bestDepth = k, depth
		}
	}
	if bestDepth < 2 {
		return Signature{}, false
	}
	return Signature{SigPagingRecursion, fmt.Sprintf("%s repeats %d times with page faults and FltMgr pre-callbacks between",
		best, bestDepth)}, true
}

func between(frames []Frame, c frameClass) bool {
	for _, f := range frames {
		if classify(f) == c {
			return true
		}
	}
	return false
}

// pagingThroughFilter: a driver frame, then (further out) a FltMgr
// pre-callback frame, then a page-fault frame: the callback runs for
// paging I/O that a page fault issued.
func pagingThroughFilter(frames []Frame) (Signature, bool) {
	for i, f := range frames {
		if f.Module == "" || systemModules[strings.ToLower(f.Module)] {
			continue
		}
		for j := i + 1; j < len(frames); j++ {
			if classify(frames[j]) != filterFrame {
				continue
			}
			for k := j + 1; k < len(frames); k++ {
				if classify(frames[k]) == pageFaultFrame {
					return Signature{SigPagingThroughFilter, fmt.Sprintf("%s runs in a filter callback (frame %d) for paging I/O from a page fault (frame %d)",
						frameKey(f), frames[j].Index, frames[k].Index)}, true
				}
			}
			break
		}
	}
	return Signature{}, false
}
