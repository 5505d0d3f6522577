package cfg

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
	"sync"

	"github.com/drvhazard/drvhazard/loader"
)

// noReturnImports are kernel routines that never return to their caller.
var noReturnImports = map[string]bool{
	"KeBugCheckEx": true, "KeBugCheck": true, "ExRaiseStatus": true, "RtlRaiseStatus": true,
	"ExRaiseAccessViolation": true, "ExRaiseDatatypeMisalignment": true, "PsTerminateSystemThread": true,
	"RtlFailFast": true,
}

// IsNoReturn reports whether the import never returns.
func IsNoReturn(imp *loader.Import) bool { return imp != nil && noReturnImports[imp.Name] }

// builder holds the state of one Build.
type builder struct {
	values Values
	img    *loader.Image
	prog   *Program
	work   []*Func
	queued map[*Func]bool
	maxEnd map[*Func]uint32 // first RVA past the bytes each analysed function decoded
	// rejected holds weak candidates (see weakSources) that did not decode
	// as code; another weak reference does not bring them back.
	rejected map[uint32]bool
	// fragments maps a function's .pdata Begin to the chained entries
	// (split-off parts) whose chain ends at it.
	fragments map[uint32][]loader.RuntimeFunction
	// lateTables holds the targets of jump tables the value analysis found,
	// by jmp site; noReturnSites the calls it found not to return.
	lateTables    map[uint32][]uint32
	noReturnSites map[uint32]bool
	// thunks caches ThunkImport by target: every direct call asks it.
	thunks  map[uint32]*loader.Import
	scratch *analysis // reused by every analysis: no per-function maps
	entries entrySet

	// What the build has grown to, against its limits; err stops it.
	ctx          context.Context
	limits       Limits
	instructions int // decoded, counting functions decoded again
	packed       int // kept packed in blocks (packBlocks), counting blocks since replaced
	blocks       int // in the program now
	err          error
}

// Limits bound what Build grows to on one image, so that no input (a packed
// or generated driver, a hostile file) can exhaust memory or time. A zero
// field means no limit.
type Limits struct {
	Instructions int // instructions decoded, counting functions decoded again
	Functions    int // functions in the program
	Blocks       int // basic blocks in the program
}

// DefaultLimits are far above what real drivers need: the largest driver of
// the corpus in README.md decodes about 1.3 million instructions into about
// 300,000 blocks.
var DefaultLimits = Limits{Instructions: 40_000_000, Functions: 1_000_000, Blocks: 6_000_000}

// A LimitError says which limit of Limits an image exceeded.
type LimitError struct {
	Limit string // "instructions", "functions" or "blocks"
	Max   int
}

func (e *LimitError) Error() string {
	what := map[string]string{
		"instructions": "instructions decoded",
		"functions":    "functions",
		"blocks":       "basic blocks",
	}[e.Limit]
	return fmt.Sprintf("the control-flow graph grew past its limit of %d %s", e.Max, what)
}

// scratchAnalyses holds the scratch analyses of finished builds. A build
// grows its scratch (instructions, the index's table, maps) to the size of
// its largest function; taking a grown one from the last build instead of
// growing a new one each time was a sixth of the bytes a directory scan
// allocated.
var scratchAnalyses = sync.Pool{New: func() any { return newAnalysis() }}

// BuildWithin disassembles img and returns its program, vals resolving
// what needs values (package lift's Build is the usual way in). What it
// cannot decode is recorded in Program.Notes and the rest goes on. It
// stops with a *LimitError when the program grows past one of lim (a zero
// field is no limit), or with ctx.Err() when ctx is done, and then returns
// no program.
func BuildWithin(ctx context.Context, img *loader.Image, lim Limits, vals Values) (*Program, error) {
	b := &builder{
		ctx:           ctx,
		limits:        lim,
		values:        vals,
		img:           img,
		prog:          &Program{Image: img, IR: vals.IR(), byEntry: map[uint32]*Func{}},
		queued:        map[*Func]bool{},
		maxEnd:        map[*Func]uint32{},
		rejected:      map[uint32]bool{},
		fragments:     chainedFragments(img),
		lateTables:    map[uint32][]uint32{},
		noReturnSites: map[uint32]bool{},
		thunks:        map[uint32]*loader.Import{},
		scratch:       scratchAnalyses.Get().(*analysis),
		entries:       newEntrySet(img),
	}
	code := 0
	for i := range img.Sections {
		if s := &img.Sections[i]; s.Executable() {
			code += int(s.Size())
		}
	}
	b.scratch.decoded.fit(code)
	b.seed()
	b.drain()
	// Thunks nothing calls are found last, and only where no decoded block
	// covers them, so that a tail call jmp [IAT] ending a function is never
	// mistaken for a function of its own.
	b.seedThunks()
	b.drain()
	// Only a build that ran to its end gives its scratch back: a panic may
	// leave it half reset.
	scratchAnalyses.Put(b.scratch)
	b.scratch = nil
	if b.err != nil {
		return nil, b.err
	}
	b.finish()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.prog, nil
}

// thunkImport is ThunkImport, remembered.
func (b *builder) thunkImport(rva uint32) *loader.Import {
	imp, ok := b.thunks[rva]
	if !ok {
		imp = ThunkImport(b.img, rva)
		b.thunks[rva] = imp
	}
	return imp
}

func (b *builder) drain() {
	for len(b.work) > 0 {
		if b.exceeded() {
			b.work = nil
			return
		}
		f := b.work[len(b.work)-1]
		b.work = b.work[:len(b.work)-1]
		delete(b.queued, f)
		b.analyse(f)
	}
}

// exceeded reports whether the build must stop: a limit is passed or the
// context is done. It records why in b.err.
func (b *builder) exceeded() bool {
	if b.err != nil {
		return true
	}
	over := func(n, max int, what string) bool {
		if max > 0 && n > max {
			b.err = &LimitError{Limit: what, Max: max}
		}
		return b.err != nil
	}
	if over(b.instructions, b.limits.Instructions, "instructions") ||
		over(len(b.prog.byEntry), b.limits.Functions, "functions") ||
		over(b.blocks, b.limits.Blocks, "blocks") {
		return true
	}
	b.err = b.ctx.Err()
	return b.err != nil
}

// addFunc records a function entry. A new entry inside the decoded range of
// the function before it shortens that function's region, so that function
// is analysed again.
func (b *builder) addFunc(rva uint32, src Source) *Func {
	if f := b.prog.byEntry[rva]; f != nil {
		f.Source |= src
		return f
	}
	if !b.img.Executable(rva) || len(b.img.Bytes(rva, 1)) == 0 {
		return nil
	}
	if src&^weakSources == 0 && (b.rejected[rva] || !b.plausible(rva)) {
		return nil
	}
	// A jump into the middle of another function's unwind range is not a
	// tail call: gcc's .cold parts (their own .pdata entry, not chained)
	// jump back into their parent's epilogue.
	if src == FromTailJump {
		if rf, ok := b.img.RuntimeFunction(rva); ok && rf.Begin != rva {
			return nil
		}
	}
	f := &Func{Entry: rva, Source: src}
	b.prog.byEntry[rva] = f
	b.entries.add(rva)
	if prev, ok := b.entries.prev(rva); ok {
		if pf := b.prog.byEntry[prev]; pf != nil {
			if end, ok := b.maxEnd[pf]; ok && end > rva {
				b.enqueue(pf)
			}
		}
	}
	b.enqueue(f)
	return f
}

// chainedFragments groups chained .pdata entries by the unchained entry their
// chain ends at.
func chainedFragments(img *loader.Image) map[uint32][]loader.RuntimeFunction {
	out := map[uint32][]loader.RuntimeFunction{}
	for _, rf := range img.RuntimeFunctions {
		if !rf.Chained {
			continue
		}
		root := rf.Parent
		for depth := 0; depth < 8; depth++ {
			p, ok := img.RuntimeFunction(root)
			if !ok || p.Begin != root || !p.Chained {
				break
			}
			root = p.Parent
		}
		out[root] = append(out[root], rf)
	}
	return out
}

// weakSources are the discovery sources that only say "an address in an
// executable section is taken": MSVC places string literals in .text, PAGE
// and INIT, right after the code that uses them, so such an address is often
// data.
const weakSources = FromCodeRef | FromDataPtr

// plausible decides whether a weakly referenced address is a function. In an
// image with Control Flow Guard the CFG function table lists every function
// whose address is taken, and is the answer. Otherwise the address must not
// start a string and must not lie inside another function's unwind range.
func (b *builder) plausible(rva uint32) bool {
	img := b.img
	if len(img.GuardCF.Functions) > 0 {
		return img.GuardCF.IsGuardFunction(rva)
	}
	if rf, ok := img.RuntimeFunction(rva); ok && rf.Begin != rva {
		return false
	}
	return !looksLikeString(img.Bytes(rva, 64))
}

// looksLikeString reports a NUL-terminated run of at least four printable
// ASCII or UTF-16LE characters.
func looksLikeString(b []byte) bool {
	printable := func(c byte) bool { return c >= 0x20 && c <= 0x7e || c == '\t' || c == '\n' || c == '\r' }
	n := 0
	for n < len(b) && printable(b[n]) {
		n++
	}
	if n >= 4 && n < len(b) && b[n] == 0 {
		return true
	}
	n = 0
	for 2*n+1 < len(b) && printable(b[2*n]) && b[2*n+1] == 0 {
		n++
	}
	return n >= 4 && 2*n+1 < len(b) && b[2*n] == 0 && b[2*n+1] == 0
}

// reject forgets a weak candidate that did not decode as code.
func (b *builder) reject(f *Func) {
	b.blocks -= len(f.Blocks)
	delete(b.prog.byEntry, f.Entry)
	delete(b.maxEnd, f)
	b.entries.remove(f.Entry)
	b.rejected[f.Entry] = true
}

func (b *builder) enqueue(f *Func) {
	if !b.queued[f] {
		b.queued[f] = true
		b.work = append(b.work, f)
	}
}

func (b *builder) seed() {
	img := b.img
	b.addFunc(img.EntryRVA, FromEntryPoint)
	for _, e := range img.Exports {
		if e.RVA != 0 {
			b.addFunc(e.RVA, FromExport)
		}
	}
	for _, rf := range img.RuntimeFunctions {
		if !rf.Chained {
			b.addFunc(rf.Begin, FromPdata)
		}
	}
	for _, s := range img.Symbols {
		if s.Function {
			b.addFunc(s.RVA, FromSymbol)
		}
	}
	for _, rva := range img.GuardCF.Functions {
		b.addFunc(rva, FromGuardTable)
	}
	// Relocated pointers into code: callback tables (FLT_OPERATION_REGISTRATION),
	// handler tables, function pointers in initialised data.
	for _, r := range img.Relocs {
		if s := img.Section(r); s != nil && s.Executable() {
			continue // an imm64 inside code; found by the forward pass
		}
		if t, ok := img.PointerAt(r); ok && img.Executable(t) {
			b.addFunc(t, FromDataPtr)
		}
	}
}

// seedThunks finds import thunks (jmp [rip+IAT], FF 25 disp32) by their
// bytes. Linkers emit one for every import a library declares, called or
// not, so unreferenced thunks exist in most images; finding them by pattern
// names them even in stripped images. The displacement must land exactly on
// an IAT slot, which random bytes almost never do.
func (b *builder) seedThunks() {
	img := b.img
	covered := b.coveredRanges()
	for i := range img.Sections {
		s := &img.Sections[i]
		if !s.Executable() {
			continue
		}
		data := img.Data(s)
		for off := 0; off+6 <= len(data); {
			j := bytes.Index(data[off:], []byte{0xff, 0x25})
			if j < 0 || off+j+6 > len(data) {
				break
			}
			at := off + j
			rva := s.RVA + uint32(at)
			slot := uint32(int64(rva) + 6 + int64(int32(binary.LittleEndian.Uint32(data[at+2:]))))
			if _, ok := img.ImportAt(slot); ok && !covered.contains(rva) {
				b.addFunc(rva, FromThunkScan)
			}
			off = at + 1
		}
	}
}

// ranges is a sorted list of half-open RVA intervals.
type ranges [][2]uint32

func (r ranges) contains(rva uint32) bool {
	i := sort.Search(len(r), func(i int) bool { return r[i][1] > rva })
	return i < len(r) && r[i][0] <= rva
}

// coveredRanges returns the bytes covered by the blocks of every function.
func (b *builder) coveredRanges() ranges {
	var r ranges
	for _, f := range b.prog.byEntry {
		for _, blk := range f.Blocks {
			r = append(r, [2]uint32{blk.Start, blk.End})
		}
	}
	sort.Slice(r, func(i, j int) bool { return r[i][0] < r[j][0] })
	// Merge overlaps so the search above is exact.
	out := r[:0]
	for _, iv := range r {
		if n := len(out); n > 0 && iv[0] <= out[n-1][1] {
			if iv[1] > out[n-1][1] {
				out[n-1][1] = iv[1]
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// regionEnd is the first RVA that no longer belongs to the function at entry:
// the next known function entry or the end of the section's file data.
func (b *builder) regionEnd(entry uint32, sec *loader.Section) uint32 {
	end := sec.RVA + uint32(len(b.img.Data(sec)))
	if next, ok := b.entries.next(entry); ok && next < end {
		end = next
	}
	return end
}

// finish names functions, resolves calls to thunks and sorts the program.
func (b *builder) finish() {
	p := b.prog
	img := b.img
	names := map[uint32]string{}
	for _, s := range img.Symbols {
		if _, ok := names[s.RVA]; !ok || s.Function {
			if s.Function || names[s.RVA] == "" {
				names[s.RVA] = s.Name
			}
		}
	}
	for _, e := range img.Exports {
		if e.RVA != 0 && e.Name != "" {
			names[e.RVA] = e.Name
		}
	}
	for _, f := range p.byEntry {
		f.Name = names[f.Entry]
		p.Funcs = append(p.Funcs, f)
	}
	sort.Slice(p.Funcs, func(i, j int) bool { return p.Funcs[i].Entry < p.Funcs[j].Entry })
	for _, f := range p.Funcs {
		for _, c := range f.Calls {
			// Every callee is a function of the program or an import: a
			// target that was never accepted as a function (a rejected
			// weak candidate, bytes past the section) is dropped, and a site
			// left with none is unresolved.
			kept := c.Callees[:0]
			for _, ce := range c.Callees {
				if ce.Func != 0 {
					t := p.byEntry[ce.Func]
					if t == nil {
						continue
					}
					if t.Thunk != nil {
						ce.Import = t.Thunk
						if c.Kind == CallDirect {
							c.Kind = CallThunk
						}
					}
				}
				kept = append(kept, ce)
			}
			c.Callees = kept
			if len(kept) == 0 {
				c.Kind = CallUnresolved
			}
		}
	}
	b.propagateNoReturn()
}

// propagateNoReturn marks functions none of whose paths return. Calls to
// them already end blocks when they were known at analysis time; this pass
// makes the flag complete for the rules.
func (b *builder) propagateNoReturn() {
	for changed := true; changed; {
		changed = false
		for _, f := range b.prog.Funcs {
			if f.NoReturn || f.Thunk != nil || len(f.Blocks) == 0 {
				continue
			}
			returns := false
			for _, blk := range f.Blocks {
				switch blk.Term {
				case TermRet, TermIndirect, TermInvalid, TermSwitch:
					returns = true
				case TermTail:
					returns = returns || b.tailReturns(f, blk)
				}
			}
			if !returns {
				f.NoReturn = true
				changed = true
			}
		}
	}
}

func (b *builder) tailReturns(f *Func, blk *Block) bool {
	for _, c := range f.Calls {
		if !c.Tail || c.Site < blk.Start || c.Site >= blk.End {
			continue
		}
		for _, ce := range c.Callees {
			if ce.Import != nil && IsNoReturn(ce.Import) {
				continue
			}
			if t := b.prog.byEntry[ce.Func]; ce.Func != 0 && t != nil && t.NoReturn {
				continue
			}
			return true
		}
		return len(c.Callees) == 0
	}
	return true
}

func (b *builder) notef(format string, args ...any) {
	b.prog.Notes = append(b.prog.Notes, fmt.Sprintf(format, args...))
}

// entrySet is a bitmap of function entries over the file-backed bytes of each
// executable section, so that finding the next or previous entry is a short
// scan rather than a search of a growing sorted list.
type entrySet struct {
	secs []entrySec
}

type entrySec struct {
	start, end uint32
	bits       []uint64
}

func newEntrySet(img *loader.Image) entrySet {
	var es entrySet
	for i := range img.Sections {
		s := &img.Sections[i]
		n := uint32(len(img.Data(s)))
		if !s.Executable() || n == 0 {
			continue
		}
		es.secs = append(es.secs, entrySec{start: s.RVA, end: s.RVA + n, bits: make([]uint64, (n+63)/64)})
	}
	return es
}

func (es *entrySet) sec(rva uint32) *entrySec {
	for i := range es.secs {
		if rva >= es.secs[i].start && rva < es.secs[i].end {
			return &es.secs[i]
		}
	}
	return nil
}

func (es *entrySet) add(rva uint32) {
	if s := es.sec(rva); s != nil {
		o := rva - s.start
		s.bits[o/64] |= 1 << (o % 64)
	}
}

func (es *entrySet) remove(rva uint32) {
	if s := es.sec(rva); s != nil {
		o := rva - s.start
		s.bits[o/64] &^= 1 << (o % 64)
	}
}

func (es *entrySet) has(rva uint32) bool {
	s := es.sec(rva)
	if s == nil {
		return false
	}
	o := rva - s.start
	return s.bits[o/64]&(1<<(o%64)) != 0
}

// next returns the smallest entry greater than rva in rva's section.
func (es *entrySet) next(rva uint32) (uint32, bool) {
	s := es.sec(rva)
	if s == nil {
		return 0, false
	}
	o := rva - s.start + 1
	for w := o / 64; w < uint32(len(s.bits)); w++ {
		word := s.bits[w]
		if w == o/64 {
			word &^= (1 << (o % 64)) - 1
		}
		if word != 0 {
			return s.start + w*64 + uint32(bits.TrailingZeros64(word)), true
		}
	}
	return 0, false
}

// prev returns the greatest entry smaller than rva in rva's section.
func (es *entrySet) prev(rva uint32) (uint32, bool) {
	s := es.sec(rva)
	if s == nil || rva == s.start {
		return 0, false
	}
	o := rva - s.start - 1
	for w := int(o / 64); w >= 0; w-- {
		word := s.bits[w]
		if uint32(w) == o/64 && o%64 != 63 {
			word &= (1 << (o%64 + 1)) - 1
		}
		if word != 0 {
			return s.start + uint32(w)*64 + uint32(63-bits.LeadingZeros64(word)), true
		}
	}
	return 0, false
}
