package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// Model is the driver as the rules see it.
type Model struct {
	Kind          Kind
	Registrations []*Registration
	PoolTags      []PoolTag
}

// Registration is one FLT_REGISTRATION passed to FltRegisterFilter.
type Registration struct {
	Caller *cfg.Func // the function calling FltRegisterFilter
	Site   uint32    // the call
	// Where the structure lives: "rdata", "init", "data" (writable
	// section), "stack", or another section name; "unknown" when rdx could
	// not be followed.
	Where   string
	RVA     uint32 // address of the structure when it is in the image
	Size    uint16
	Version uint16
	Flags   uint32
	// Callbacks holds the non-operation callbacks by field name
	// (FilterUnload, InstanceSetup, ...), entry RVAs.
	Callbacks  map[string]uint32
	Operations []Operation
	Contexts   []ContextRegistration
	// Problems lists what MF1001 reports: bad Size/Version, a missing
	// terminator, a non-zero Reserved1, a pointer without a relocation.
	Problems []Problem
}

// Problem is one thing wrong with a registration.
type Problem struct {
	Text string
	// Fatal is set where FltMgr follows the registration into memory that
	// is not part of it: a table without its terminator, a pointer that is
	// wrong once the image is relocated. MF1001 reports those as errors,
	// the others (a Size/Version pair it rejects, what the analysis could
	// not read) as notes.
	Fatal bool
}

// problem notes a problem of the registration; fault one that is Fatal.
func (r *Registration) problem(format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Text: fmt.Sprintf(format, args...)})
}

func (r *Registration) fault(format string, args ...any) {
	r.problem(format, args...)
	r.Problems[len(r.Problems)-1].Fatal = true
}

// endless notes a table read past its end: Fatal for a table in the image,
// whose bytes are what FltMgr reads; a note for one the driver builds at
// run time (on the stack), where a store the analysis does not model (a
// statically linked memset) may hold the terminator.
func (r *Registration) endless(table *ir.Expr, format string, args ...any) {
	if table != nil && table.Op == ir.OpAddr {
		r.fault(format, args...)
		return
	}
	r.problem(format+", as far as the analysis can read the table the driver builds (a store it does not model, "+
		"such as a statically linked memset, may complete it)", args...)
}

// Operation is one FLT_OPERATION_REGISTRATION entry.
type Operation struct {
	Major     uint8
	Flags     uint32
	Pre, Post uint32 // entry RVAs, 0 for NULL
}

// ContextRegistration is one FLT_CONTEXT_REGISTRATION entry.
type ContextRegistration struct {
	Type    uint16
	Flags   uint16
	Size    uint64
	PoolTag uint32
	// OwnAllocator is set when ContextAllocateCallback is not NULL: the
	// filter allocates the context itself and PoolTag is not used.
	OwnAllocator bool
}

// validVersions are the FLT_REGISTRATION Size/Version pairs of fltKernel.h
// (FLT_REGISTRATION_VERSION_0200 ... _0203).
var validVersions = map[uint16]uint16{0x0200: 0x58, 0x0201: 0x60, 0x0202: 0x68, 0x0203: 0x70}

// registrationCallbacks are the pointer fields after OperationRegistration,
// with the version that introduced each.
var registrationCallbacks = []struct {
	off   int64
	name  string
	since uint16
}{
	{0x18, "FilterUnload", 0x200}, {0x20, "InstanceSetup", 0x200}, {0x28, "InstanceQueryTeardown", 0x200},
	{0x30, "InstanceTeardownStart", 0x200}, {0x38, "InstanceTeardownComplete", 0x200},
	{0x40, "GenerateFileName", 0x200}, {0x48, "NormalizeNameComponent", 0x200},
	{0x50, "NormalizeContextCleanup", 0x200}, {0x58, "TransactionNotification", 0x201},
	{0x60, "NormalizeNameComponentEx", 0x202}, {0x68, "SectionNotification", 0x203},
}

// maxOperations bounds the walk of an operation array with no terminator.
const (
	maxOperations = 64
	maxContexts   = 32
)

// BuildModel recovers the driver model from the program.
func BuildModel(prog *lift.Program) *Model {
	m := &Model{Kind: DriverKind(prog.Image)}
	evals := map[*cfg.Func]*lift.Evaluation{}
	evaluate := func(f *cfg.Func) *lift.Evaluation {
		if e, ok := evals[f]; ok {
			return e
		}
		e := prog.Evaluate(f)
		evals[f] = e
		return e
	}
	for _, f := range prog.Funcs {
		for _, c := range f.Calls {
			if c.Tail {
				continue
			}
			for _, ce := range c.Callees {
				if isImport(ce.Import, "fltmgr.sys", "FltRegisterFilter") {
					m.Registrations = append(m.Registrations, readRegistration(prog, f, c, evaluate(f)))
				}
			}
		}
	}
	m.PoolTags = poolTags(prog, NewCatalogue(), m.Registrations)
	return m
}

func isImport(imp *loader.Import, module, name string) bool {
	return imp != nil && strings.EqualFold(imp.Module, module) && imp.Name == name
}

// readRegistration follows rdx of a FltRegisterFilter call to the
// FLT_REGISTRATION and reads it, with the stores the caller made before the
// call overlaid on the image's bytes.
func readRegistration(prog *lift.Program, f *cfg.Func, c *cfg.CallSite, e *lift.Evaluation) *Registration {
	img := prog.Image
	r := &Registration{Caller: f, Site: c.Site, Where: "unknown", Callbacks: map[string]uint32{}}
	snap := e.At(c.Site)
	if snap == nil {
		r.problem("the call to FltRegisterFilter is not reachable from its function's entry")
		return r
	}
	reg := snap.Arg(1)
	switch {
	case reg != nil && reg.Op == ir.OpStack:
		r.Where = "stack"
	case reg != nil && reg.Op == ir.OpAddr:
		r.RVA = uint32(reg.V)
		r.Where = placeOf(img, r.RVA)
	default:
		r.problem("the FLT_REGISTRATION pointer (rdx = %v) could not be followed", reg)
		return r
	}
	u := func(off int64, size int) (uint64, bool) {
		v, ok := snap.Read(reg, off, size).IsConst()
		return uint64(v), ok
	}
	size, ok1 := u(0, 2)
	version, ok2 := u(2, 2)
	flags, ok3 := u(4, 4)
	if !ok1 || !ok2 {
		r.problem("Size or Version of the FLT_REGISTRATION is not a constant")
		return r
	}
	if !ok3 {
		r.problem("Flags of the FLT_REGISTRATION are not a constant (left uninitialised?); assumed 0")
		flags = 0
	}
	r.Size, r.Version, r.Flags = uint16(size), uint16(version), uint32(flags)
	if want, ok := validVersions[r.Version]; !ok || want != r.Size {
		r.problem("Size %#x with Version %#04x is not a pair fltKernel.h defines", r.Size, r.Version)
	}
	// pointer reads a pointer field: an image RVA, 0 for NULL, or false.
	pointer := func(base *ir.Expr, off int64, what string) (uint32, bool) {
		v := snap.Read(base, off, 8)
		c, isConst := v.IsConst()
		switch {
		case isConst && c == 0:
			return 0, true
		case v != nil && v.Op == ir.OpAddr:
			if base.Op == ir.OpAddr && !img.HasReloc(uint32(base.V+off)) && staticValue(img, uint32(base.V+off)) != 0 {
				r.fault("%s at RVA %#x holds a pointer without a base relocation", what, base.V+off)
			}
			return uint32(v.V), true
		case isConst:
			r.fault("%s holds %#x, not an address in the image", what, c)
		}
		return 0, false
	}
	for _, cb := range registrationCallbacks {
		if r.Version < cb.since || cb.off+8 > int64(r.Size) {
			continue
		}
		if t, ok := pointer(reg, cb.off, cb.name); ok && t != 0 {
			r.Callbacks[cb.name] = t
		}
	}
	if ops := snap.Read(reg, 0x10, 8); isPointer(ops) {
		r.readOperations(img, snap, ops, pointer)
	} else if c, ok := ops.IsConst(); !ok || c != 0 {
		r.problem("OperationRegistration (%v) could not be followed", ops)
	}
	if ctx := snap.Read(reg, 0x08, 8); isPointer(ctx) {
		r.readContexts(snap, ctx)
	}
	return r
}

// isPointer reports an image or stack address.
func isPointer(e *ir.Expr) bool { return e != nil && (e.Op == ir.OpAddr || e.Op == ir.OpStack) }

func (r *Registration) readOperations(img *loader.Image, snap *lift.Snapshot, ops *ir.Expr, pointer func(*ir.Expr, int64, string) (uint32, bool)) {
	for i := 0; ; i++ {
		if i == maxOperations {
			r.endless(ops, "operation array has no IRP_MJ_OPERATION_END within %d entries", maxOperations)
			return
		}
		off := int64(i * operationRegistrationLen)
		major, ok := snap.Read(ops, off, 1).IsConst()
		if !ok {
			r.problem("operation %d: major function is not a constant", i)
			return
		}
		if major == mjOperationEnd {
			return
		}
		flags, flagsOK := snap.Read(ops, off+4, 4).IsConst()
		name := fmt.Sprintf("operation %d (%s)", i, MajorName(uint8(major)))
		pre, okPre := pointer(ops, off+8, name+" PreOperation")
		post, okPost := pointer(ops, off+0x10, name+" PostOperation")
		// An entry that is not an operation means the array ran on past its
		// end (one real driver's array runs into its FLT_REGISTRATION).
		if !validMajor(uint8(major)) || !okPre || !okPost ||
			(pre != 0 && !img.Executable(pre)) || (post != 0 && !img.Executable(post)) {
			r.endless(ops, "operation array has no IRP_MJ_OPERATION_END (0x80): entry %d is not a valid operation", i)
			return
		}
		switch res := snap.Read(ops, off+0x18, 8); {
		case isZero(res):
		case res == nil || res.Op == ir.OpOpaque:
			r.problem("%s: Reserved1 is not set to NULL (left uninitialised?)", name)
		default:
			r.problem("%s: Reserved1 is %v, not NULL", name, describe(res))
		}
		if !flagsOK {
			// Left uninitialised on the stack: whatever it holds, it cannot
			// be relied on to have SKIP_PAGING_IO; analyse as flags 0.
			r.problem("%s: Flags are not a constant (left uninitialised?); assumed 0", name)
			flags = 0
		}
		r.Operations = append(r.Operations, Operation{Major: uint8(major), Flags: uint32(flags), Pre: pre, Post: post})
	}
}

func (r *Registration) readContexts(snap *lift.Snapshot, ctx *ir.Expr) {
	for i := 0; i < maxContexts; i++ {
		off := int64(i * contextRegistrationLen)
		typ, ok := snap.Read(ctx, off, 2).IsConst()
		if !ok {
			r.problem("context registration %d: ContextType is not a constant", i)
			return
		}
		if typ == contextEnd {
			return
		}
		flags, _ := snap.Read(ctx, off+2, 2).IsConst()
		size, _ := snap.Read(ctx, off+0x10, 8).IsConst()
		tag, _ := snap.Read(ctx, off+0x18, 4).IsConst()
		r.Contexts = append(r.Contexts, ContextRegistration{Type: uint16(typ), Flags: uint16(flags), Size: uint64(size),
			PoolTag: uint32(tag), OwnAllocator: !isZero(snap.Read(ctx, off+0x20, 8))})
	}
	r.endless(ctx, "context registration array has no FLT_CONTEXT_END (0xffff) within %d entries", maxContexts)
}

// isZero reports the constant 0.
func isZero(e *ir.Expr) bool { v, ok := e.IsConst(); return ok && v == 0 }

// describe prints a value read from a structure for a message: a constant
// or an address in hex, else the expression.
func describe(e *ir.Expr) string {
	if v, ok := e.IsConst(); ok {
		return fmt.Sprintf("%#x", v)
	}
	return e.String()
}

// staticValue reads the 8 bytes the image holds at rva.
func staticValue(img *loader.Image, rva uint32) uint64 {
	v, _ := img.Uint64(rva)
	return v
}

// placeOf names where a structure in the image lives, as the JSON contract
// and the truth files spell it.
func placeOf(img *loader.Image, rva uint32) string {
	s := img.Section(rva)
	switch {
	case s == nil:
		return "unknown"
	case s.Name == "INIT":
		return "init"
	case s.Name == ".rdata":
		return "rdata"
	case s.Writable():
		return "data"
	}
	return strings.TrimPrefix(strings.ToLower(s.Name), ".")
}

// PoolTag is one tag constant passed to a pool allocator.
type PoolTag struct {
	Tag  uint32
	API  *loader.Import
	Site uint32
	Func *cfg.Func
	// Type is the POOL_TYPE, or the POOL_FLAG_* flags for ExAllocatePool2/3
	// (Flags set); Known is false when the argument is not a constant.
	Type  uint64
	Flags bool
	Known bool
}

// Pool types and flags (wdm.h).
const (
	poolNonPaged        = 0x0
	poolPaged           = 0x1
	poolTypeMask        = 0x1 // the paged bit of POOL_TYPE (PagedPool 1, PagedPoolCacheAligned 5, ...)
	poolNonPagedNx      = 0x200
	poolFlagNonPagedExe = 0x80
	poolFlagPaged       = 0x100
)

// Paged reports whether the allocation comes from paged pool.
func (t *PoolTag) Paged() bool {
	if !t.Known {
		return false
	}
	if t.Flags {
		return t.Type&poolFlagPaged != 0
	}
	return t.Type&poolTypeMask != 0 && t.Type&poolNonPagedNx == 0
}

// Executable reports an executable non-paged allocation: POOL_TYPE
// NonPagedPool (0, the same as NonPagedPoolExecute) or
// POOL_FLAG_NON_PAGED_EXECUTE.
func (t *PoolTag) Executable() bool {
	if !t.Known {
		return false
	}
	if t.Flags {
		return t.Type&poolFlagNonPagedExe != 0
	}
	return t.Type == poolNonPaged
}

// TagString renders the tag as !poolused prints it: the bytes in memory
// order, so 'kaeL' in C is "Leak".
func TagString(tag uint32) string {
	b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), byte(tag >> 24)}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '.'
		}
	}
	return string(b)
}

// poolTags finds every pool allocation whose tag is a constant, and every
// FltAllocateContext whose context type (and size) name one of the
// registered contexts: Filter Manager allocates it with that
// registration's tag.
func poolTags(prog *lift.Program, cat *Catalogue, regs []*Registration) []PoolTag {
	var out []PoolTag
	for _, f := range prog.Funcs {
		if f.Thunk != nil {
			continue
		}
		for _, c := range f.Calls {
			for _, ce := range c.Callees {
				if isImport(ce.Import, "fltmgr.sys", "FltAllocateContext") {
					t, ok := atCall(prog, f, c, func(args []*ir.Expr) (PoolTag, bool, bool) {
						t, ok := contextPoolTag(prog.IR, args, regs)
						return t, ok, t.Known
					})
					if ok {
						t.API, t.Site, t.Func = ce.Import, c.Site, f
						out = append(out, t)
					}
					continue
				}
				api := cat.Lookup(ce.Import)
				if api == nil || api.Class != ClassPoolAlloc {
					continue
				}
				t, ok := atCall(prog, f, c, func(args []*ir.Expr) (PoolTag, bool, bool) {
					tagArg := argAt(args, api.TagArg)
					tag, ok := tagArg.IsConst()
					t := poolTypeOf(api, args)
					t.Tag = uint32(tag)
					// A tag or type read from a global stays one when f is
					// lifted: only what the block could not follow may
					// become known.
					sure := (ok || followed(tagArg)) && (t.Known || followed(argAt(args, api.TypeArg)))
					return t, ok, sure
				})
				if ok {
					t.API, t.Site, t.Func = ce.Import, c.Site, f
					out = append(out, t)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

// atCall reads what call c of f passes with read, from the call's block
// alone while f is not lifted (the constants an allocation is given are
// set just before it), lifting f only when read says the block did not
// tell all (sure false) and the block is not all there is before the call.
func atCall(prog *lift.Program, f *cfg.Func, c *cfg.CallSite, read func(args []*ir.Expr) (t PoolTag, ok, sure bool)) (PoolTag, bool) {
	args, whole := prog.ArgsAt(f, c)
	t, ok, sure := read(args)
	if whole || sure {
		return t, ok
	}
	prog.Lift(f)
	t, ok, _ = read(c.Args)
	return t, ok
}

// followed reports a value the pass followed to its sources, none of them
// opaque (what a register held where the block started): lifting the whole
// function would not make it more known.
func followed(e *ir.Expr) bool { return e != nil && e.Uses()&ir.UsesOpaque == 0 }

// argAt returns argument i, nil when unknown.
func argAt(args []*ir.Expr, i int) *ir.Expr {
	if i >= 0 && i < len(args) {
		return args[i]
	}
	return nil
}

// FltAllocateContext's parameters (rcx, rdx, ...): Filter, ContextType,
// ContextSize, PoolType, ReturnedContext.
const (
	allocContextType = 1
	allocContextSize = 2
	allocContextPool = 3
	// variableSizedContexts is FLT_VARIABLE_SIZED_CONTEXTS, the Size of a
	// registration that serves any size.
	variableSizedContexts = ^uint64(0)
)

// contextPoolTag is the pool allocation FltAllocateContext call c makes:
// the tag of the registered context of its type, the one of its size where
// several are registered (else the variable-sized one). Not known when the
// type is not a constant, no registration or several match, or the filter
// allocates that context itself.
func contextPoolTag(b *ir.Builder, args []*ir.Expr, regs []*Registration) (PoolTag, bool) {
	// FLT_CONTEXT_TYPE is a USHORT and POOL_TYPE an int: the register's
	// upper bits are whatever it held (clang: mov dx,2).
	typ, ok := b.Trunc(argAt(args, allocContextType), 2).IsConst()
	if !ok {
		return PoolTag{}, false
	}
	size, sizeKnown := argAt(args, allocContextSize).IsConst()
	var ofType, exact, variable []ContextRegistration
	for _, r := range regs {
		for _, cr := range r.Contexts {
			if cr.Type != uint16(typ) {
				continue
			}
			ofType = append(ofType, cr)
			switch {
			case sizeKnown && cr.Size == uint64(size):
				exact = append(exact, cr)
			case cr.Size == variableSizedContexts:
				variable = append(variable, cr)
			}
		}
	}
	var cr ContextRegistration
	switch {
	case len(ofType) == 1:
		cr = ofType[0]
	case len(exact) == 1:
		cr = exact[0]
	case len(exact) == 0 && len(variable) == 1:
		cr = variable[0]
	default:
		return PoolTag{}, false
	}
	if cr.OwnAllocator || cr.PoolTag == 0 {
		return PoolTag{}, false
	}
	t := PoolTag{Tag: cr.PoolTag}
	if v, ok := b.Trunc(argAt(args, allocContextPool), 4).IsConst(); ok {
		t.Type, t.Known = uint64(v), true
	}
	return t, true
}
