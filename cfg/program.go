package cfg

import (
	"slices"
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// Program is the control-flow and call graph of one image, computed once by
// BuildWithin and shared read-only by every rule.
type Program struct {
	Image *loader.Image
	Funcs []*Func // sorted by Entry
	// Notes records what the disassembler could not do (undecodable bytes,
	// unresolved indirect jumps), for the user to judge coverage.
	Notes []string
	// IR made every expression of the program (conditions, arguments,
	// results); rules build theirs with it too, and only one goroutine may
	// use it at a time.
	IR *ir.Builder

	byEntry map[uint32]*Func
}

// Source says how a function was discovered; several bits may be set.
type Source uint16

// Discovery sources.
const (
	FromEntryPoint Source = 1 << iota
	FromExport
	FromPdata
	FromSymbol
	FromCall       // target of a direct call
	FromTailJump   // target of a jump that leaves its function
	FromDataPtr    // relocated pointer in data (callback tables, handler tables)
	FromCodeRef    // address taken in code (lea reg,[rip+f])
	FromJumpTarget // target of a resolved register call
	FromThunkScan  // jmp [rip+IAT] found by its bytes
	FromGuardTable // listed in the Control Flow Guard function table
	FromHandler    // an exception filter or termination handler (funclet)
)

// Func is one function.
type Func struct {
	Entry uint32
	// Name is the symbol or export name at Entry, "" when the image does not
	// say (names are never invented).
	Name   string
	Source Source
	Blocks []*Block    // sorted by Start; Blocks[0] need not be the entry block
	Calls  []*CallSite // sorted by Site; includes tail jumps
	// Refs lists code addresses this function takes (lea, mov imm64 with a
	// relocation), such as callbacks passed to a registration call.
	Refs []Ref
	// Result, ExitIRQL, Returns and Phis are the value analysis's (package
	// lift), known once it has lifted the function.
	//
	// Result is the value the function returns (rax), over its parameters
	// and entry IRQL where it depends on them: a helper's
	// ne(and(load(load(p0+0x10):8):4, 0x2), 0) says "Data is paging I/O".
	// ExitIRQL is the IRQL it returns at. Both are nil when unknown.
	Result, ExitIRQL *ir.Expr
	// Returns lists the value of rax at each reachable ret, by predecessor
	// where paths with different values meet at the ret (a status set on
	// one path, a constant on another).
	Returns []Return
	// Phis holds, for each phi of the function's expressions (where paths
	// with different values meet and no branch selects between them), the
	// values that meet there, one per predecessor.
	Phis map[*ir.Expr][]*ir.Expr
	// FrameSize is the deepest the function moves rsp below its entry value
	// (pushes, sub rsp, __chkstk probes), not counting the return address,
	// along the first path the descent decodes to each instruction.
	FrameSize uint32
	// Thunk is set when the whole function is jmp [IAT]: calls to it are
	// calls to the import.
	Thunk *loader.Import
	// NoReturn is set when no path through the function returns.
	NoReturn bool
	// Size is the number of code bytes decoded in the function's blocks.
	Size uint32
}

// DisplayName is Name, or "sub_<rva>" for output that needs some label.
// JSON output uses Name and null instead.
func (f *Func) DisplayName() string {
	if f.Name != "" {
		return f.Name
	}
	return "sub_" + hex32(f.Entry)
}

// EdgeKind classifies a control-flow edge out of a block.
type EdgeKind uint8

// Edge kinds.
const (
	EdgeFall     EdgeKind = iota // fall-through to the next instruction
	EdgeJump                     // unconditional jump inside the function
	EdgeTaken                    // conditional branch taken
	EdgeNotTaken                 // conditional branch not taken (falls through)
	EdgeSwitch                   // jump-table entry
)

// Edge is a control-flow edge between two blocks of one function.
type Edge struct {
	To   uint32 // Start of the successor block
	Kind EdgeKind
	// Cond is what holds when the edge is taken, over the function's
	// parameters, entry IRQL, loads and call results: the branch's
	// condition on the taken edge, its negation on the other, the index
	// values that select a jump-table entry. nil when nothing is known.
	Cond *ir.Expr
}

// Block is a basic block: a run of instructions entered only at Start.
type Block struct {
	Start, End uint32 // RVAs; End is exclusive
	Succs      []Edge
	// Term says how the block ends.
	Term Term
	// Insts is the number of instructions.
	Insts int
	// code holds the instructions packed, kept by the descent (packed.go);
	// nil when they are decoded again.
	code []packedInst
}

// Term is a block terminator kind.
type Term uint8

// Block terminators.
const (
	TermFall     Term = iota // falls into the next block (a leader follows)
	TermJump                 // jmp inside the function
	TermCond                 // jcc
	TermSwitch               // jmp reg through a resolved jump table
	TermRet                  // ret
	TermTail                 // jmp to another function or an import
	TermNoReturn             // call to a no-return routine, int3, ud2, int 29h
	TermIndirect             // jmp through something unresolved
	TermInvalid              // bytes that do not decode
)

// CallKind says how a call site reaches its callees.
type CallKind uint8

// Call kinds.
const (
	CallDirect      CallKind = iota // call rel32 to a function
	CallIAT                         // call [rip+IAT slot]
	CallIATRegister                 // mov reg,[IAT]; call reg
	CallThunk                       // call rel32 to a jmp [IAT] thunk
	CallGuard                       // call [__guard_dispatch_icall_fptr], target in rax
	CallPointer                     // call through a register or memory holding a known code pointer
	CallTable                       // call [table+idx*8]: every pointer of a handler table
	CallUnresolved                  // an indirect call whose target is unknown
	CallHandler                     // an exception filter or __finally funclet the runtime runs for the function
	CallGlobal                      // call through a pointer in writable data: every routine the driver stores there
	CallVirtual                     // a C++ virtual call: that slot of every vtable stored into the objects kept there
)

var callKindNames = [...]string{"direct", "iat", "iat-register", "thunk", "guard-dispatch", "pointer", "table", "unresolved", "handler", "global", "virtual"}

func (k CallKind) String() string { return callKindNames[k] }

// Callee is one possible target of a call site: a function of the image or
// an import.
type Callee struct {
	Func   uint32         // entry RVA when the callee is in the image, else 0
	Import *loader.Import // when the callee is an import (also for thunks)
}

// CallSite is one call or tail jump.
type CallSite struct {
	Site    uint32 // RVA of the call or jmp instruction
	Kind    CallKind
	Tail    bool // a jmp that leaves the function
	Callees []Callee
	// Open is set when the call may reach more than Callees: a pointer in
	// writable data (CallGlobal) that is also given values the analysis
	// cannot name, an object (CallVirtual) whose vtables are not all known.
	Open bool
	// Args are the values of the parameters the call passes (rcx, rdx, r8,
	// r9, then the first stack arguments), nil where unknown; IRQL is the
	// IRQL at the call; Target is what the call transfers to (an address,
	// an import, or the pointer it loads; for a call through Control Flow
	// Guard's dispatch, the pointer in rax). All are expressions over the
	// caller's parameters and entry IRQL.
	Args   []*ir.Expr
	IRQL   *ir.Expr
	Target *ir.Expr
}

// Arg returns argument i, nil when unknown.
func (c *CallSite) Arg(i int) *ir.Expr {
	if i >= 0 && i < len(c.Args) {
		return c.Args[i]
	}
	return nil
}

// Return is the value of rax at one ret. Via is the predecessor block the
// value was computed through when paths with different values meet at the
// ret block, nil otherwise.
type Return struct {
	Block *Block
	Via   *Block
	Value *ir.Expr
}

// A Ref is a code address taken by an instruction.
type Ref struct {
	Site, Target uint32
}

// Func returns the function with the given entry, or nil.
func (p *Program) Func(entry uint32) *Func { return p.byEntry[entry] }

// Callees returns the distinct functions and imports f calls or tail-jumps
// to, thunks resolved to their imports.
func (p *Program) Callees(f *Func) []Callee {
	seen := map[Callee]bool{}
	var out []Callee
	for _, c := range f.Calls {
		for _, ce := range c.Callees {
			if !seen[ce] {
				seen[ce] = true
				out = append(out, ce)
			}
		}
	}
	return out
}

// CodeBytes sums the decoded bytes of all functions.
func (p *Program) CodeBytes() uint64 {
	var n uint64
	for _, f := range p.Funcs {
		n += uint64(f.Size)
	}
	return n
}

const hexDigits = "0123456789abcdef"

func hex32(v uint32) string {
	var b [8]byte
	i := len(b)
	for {
		i--
		b[i] = hexDigits[v&0xf]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}

// Decode returns the instructions of a block: those the descent kept
// packed (packed.go), else decoded again. Either way they are what decoding
// the block's bytes gives.
func (p *Program) Decode(blk *Block) []Inst { return p.AppendDecoded(nil, blk) }

// AppendDecoded appends the instructions of blk (Decode) to dst, so that a
// caller can reuse one buffer for many blocks.
func (p *Program) AppendDecoded(dst []Inst, blk *Block) []Inst {
	if blk.code != nil {
		n := len(dst)
		dst = slices.Grow(dst, len(blk.code))[:n+len(blk.code)]
		var prev uint32
		for k := range blk.code {
			blk.code[k].unpack(&dst[n+k], prev)
			prev = dst[n+k].RVA
		}
		return dst
	}
	return p.appendDecode(dst, blk)
}

// appendDecode appends what decoding blk's bytes again gives to dst.
func (p *Program) appendDecode(dst []Inst, blk *Block) []Inst {
	code := p.Image.Bytes(blk.Start, blk.End-blk.Start)
	dst = slices.Grow(dst, blk.Insts)
	var prev uint32
	for off := uint32(0); off < uint32(len(code)); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil || in.Op == 0 {
			break
		}
		rva := blk.Start + off
		dst = append(dst, Inst{Inst: in, RVA: rva, prev: prev})
		prev = rva
		off += uint32(in.Len)
	}
	return dst
}

// BlockAt returns the block of f that holds the instruction at rva, nil
// when none does.
func (f *Func) BlockAt(rva uint32) *Block {
	i := sort.Search(len(f.Blocks), func(i int) bool { return f.Blocks[i].End > rva })
	if i < len(f.Blocks) && f.Blocks[i].Start <= rva {
		return f.Blocks[i]
	}
	return nil
}

// NewProgram makes the program of funcs, sorted by entry, as BuildWithin
// would hold them: for tests that assemble a call graph by hand.
func NewProgram(img *loader.Image, funcs []*Func) *Program {
	p := &Program{Image: img, Funcs: funcs, IR: ir.NewBuilder(), byEntry: map[uint32]*Func{}}
	sort.Slice(p.Funcs, func(i, j int) bool { return p.Funcs[i].Entry < p.Funcs[j].Entry })
	for _, f := range funcs {
		p.byEntry[f.Entry] = f
	}
	return p
}
