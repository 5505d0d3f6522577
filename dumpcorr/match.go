package dumpcorr

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/rules"
)

// Correlation is what one crash says about the analysed drivers.
type Correlation struct {
	Crash      *Crash
	Signatures []Signature
	// Resolved maps a crash frame (by position in Crash.Frames) to the
	// driver function it lies in.
	Resolved map[int]FrameRef
	Matches  []Match     // best first
	Pool     []PoolMatch // !poolused rows whose tag a driver allocates, one per allocation site
	// PoolTags is Pool by tag: each !poolused row once, with the functions
	// that allocate with its tag (PoolTagsOf).
	PoolTags []PoolAttribution
}

// FrameRef places a crash frame in an analysed driver.
type FrameRef struct {
	File string // the driver's path
	RVA  uint32 // the frame's address in the driver
	Func *cfg.Func
}

// Match ties a crash to a finding whose call path its stack shows.
type Match struct {
	File    string // the driver's path
	Finding *rules.Finding
	// Frames are the crash frames (Frame.Index) on the finding's path,
	// innermost first.
	Frames []int
	// Score ranks matches: the call to the sink seen right above a kernel
	// frame scores most, then the other calls on the path, then frames
	// merely inside the path's functions.
	Score int
	Why   string
}

// PoolMatch attributes a !poolused row to the driver code that allocates
// with its tag.
type PoolMatch struct {
	Use  PoolUse
	File string
	Tag  *rules.PoolTag
}

// Message is the one-line attribution: "tag Leak: 4.99 GB in 119
// allocations, allocated by myfault.sys!LeakSome".
func (m PoolMatch) Message() string {
	fn := m.Tag.Func.DisplayName()
	allocs, bytes := m.Use.NonPagedAllocs+m.Use.PagedAllocs, m.Use.NonPagedBytes+m.Use.PagedBytes
	return fmt.Sprintf("tag %s: %s in %d allocations, allocated by %s!%s", m.Use.Tag, byteSize(bytes), allocs,
		filepath.Base(m.File), fn)
}

// byteSize uses decimal units, as the support write-ups it is compared
// with do (4991221760 bytes is "4.99 GB").
func byteSize(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Scores (see Match.Score).
const (
	scoreSinkCall      = 50 // the call to the sink is on the stack
	scoreSinkAboveOS   = 50 // ... and the frame inside it is the kernel's or FltMgr's
	scorePathCall      = 10 // another call of the path is on the stack
	scorePathFunc      = 2  // a frame lies in a function of the path
	scoreSignatureRule = 20 // a paging-path rule and a paging-path crash
)

// Correlate matches one crash against analysed drivers (results that
// failed are ignored).
func Correlate(c *Crash, drivers []*rules.Result) Correlation {
	out := Correlation{Crash: c, Signatures: Signatures(c), Resolved: map[int]FrameRef{}}
	for _, d := range drivers {
		if d.Err != nil || d.Program == nil {
			continue
		}
		refs := resolveFrames(c, d)
		for i, ref := range refs {
			out.Resolved[i] = ref
		}
		for i := range d.Findings {
			if m, ok := matchTraces(c, d, &d.Findings[i], refs, out.Signatures); ok {
				out.Matches = append(out.Matches, m)
			}
		}
		out.Pool = append(out.Pool, matchPool(c.PoolUsage, d)...)
	}
	sort.SliceStable(out.Matches, func(i, j int) bool { return out.Matches[i].Score > out.Matches[j].Score })
	out.PoolTags = PoolTagsOf(out.Pool, c.Modules)
	return out
}

// PoolAttribution is one !poolused tag and the driver code that allocates
// with it.
type PoolAttribution struct {
	Use PoolUse
	// Allocators are the functions allocating with the tag: those of
	// drivers loaded in the crash first, then by driver and address.
	Allocators []PoolAllocator
	// Modules says whether the crash lists its loaded modules: only then
	// does Loaded mean anything.
	Modules bool
}

// PoolAllocator is one function that allocates with a tag.
type PoolAllocator struct {
	File   string // the driver's path
	Func   *cfg.Func
	Sites  int  // its calls that allocate with the tag
	Loaded bool // the driver is in the crash's module list
}

// PoolTagsOf groups per-site pool matches by tag and function, and marks
// the drivers the crash's module list holds.
func PoolTagsOf(matches []PoolMatch, modules []Module) []PoolAttribution {
	loaded := map[string]bool{}
	for _, m := range modules {
		loaded[strings.ToLower(m.Name)] = true
	}
	var out []PoolAttribution
	at := map[string]int{}
	for _, m := range matches {
		i, ok := at[m.Use.Tag]
		if !ok {
			i = len(out)
			at[m.Use.Tag] = i
			out = append(out, PoolAttribution{Use: m.Use, Modules: len(modules) > 0})
		}
		a := &out[i]
		found := false
		for k := range a.Allocators {
			if al := &a.Allocators[k]; al.File == m.File && al.Func == m.Tag.Func {
				al.Sites++
				found = true
			}
		}
		if !found {
			a.Allocators = append(a.Allocators, PoolAllocator{File: m.File, Func: m.Tag.Func, Sites: 1,
				Loaded: loaded[strings.ToLower(ModuleName(m.File))]})
		}
	}
	for i := range out {
		al := out[i].Allocators
		sort.SliceStable(al, func(x, y int) bool {
			if al[x].Loaded != al[y].Loaded {
				return al[x].Loaded
			}
			if al[x].File != al[y].File {
				return al[x].File < al[y].File
			}
			return al[x].Func.Entry < al[y].Func.Entry
		})
	}
	return out
}

// Message is the one-line attribution of a tag: "tag Leak: 4.99 GB in 119
// allocations, allocated by myfault.sys!LeakSome (2 sites), other.sys!Alloc
// (not loaded)".
func (a PoolAttribution) Message() string {
	allocs, bytes := a.Use.NonPagedAllocs+a.Use.PagedAllocs, a.Use.NonPagedBytes+a.Use.PagedBytes
	var by []string
	anyLoaded := false
	for _, al := range a.Allocators {
		fn := al.Func.DisplayName()
		var notes []string
		if al.Sites > 1 {
			notes = append(notes, fmt.Sprintf("%d sites", al.Sites))
		}
		if a.Modules && !al.Loaded {
			notes = append(notes, "not loaded in this crash")
		}
		anyLoaded = anyLoaded || al.Loaded
		w := filepath.Base(al.File) + "!" + fn
		if len(notes) > 0 {
			w += " (" + strings.Join(notes, ", ") + ")"
		}
		by = append(by, w)
	}
	msg := fmt.Sprintf("tag %s: %s in %d allocations, allocated by %s", a.Use.Tag, byteSize(bytes), allocs, strings.Join(by, ", "))
	if a.Modules && !anyLoaded {
		msg += "; no module loaded in the crash allocates it"
	}
	return msg
}

// resolveFrames places the crash frames that lie in driver d, by module
// name or by address inside d's range in the module list.
func resolveFrames(c *Crash, d *rules.Result) map[int]FrameRef {
	name := strings.ToLower(ModuleName(d.Path))
	file := strings.ToLower(filepath.Base(d.Path))
	var base uint64
	var size uint64
	for _, m := range c.Modules {
		if strings.EqualFold(m.Name, name) || strings.EqualFold(m.Image, file) {
			base, size = m.Base, m.Size
			break
		}
	}
	refs := map[int]FrameRef{}
	for i, f := range c.Frames {
		rva, ok := frameRVA(f, d, name, base, size)
		if !ok {
			continue
		}
		if fn := funcAt(d.Program, rva); fn != nil {
			refs[i] = FrameRef{File: d.Path, RVA: rva, Func: fn}
		}
	}
	return refs
}

// frameRVA is the frame's address in d: mod+offset, mod!Func+offset with
// Func named in d, or an address inside d's loaded range.
func frameRVA(f Frame, d *rules.Result, name string, base, size uint64) (uint32, bool) {
	inRange := f.HasAddress && size != 0 && f.Address >= base && f.Address-base < size
	if strings.EqualFold(f.Module, name) {
		if f.Symbol == "" {
			return uint32(f.Offset), f.Offset < uint64(d.Image.SizeOfImage)
		}
		if entry, ok := funcByName(d.Program, f.Symbol); ok {
			return entry + uint32(f.Offset), f.Offset < uint64(d.Image.SizeOfImage)
		}
	} else if f.Module != "" && !inRange {
		return 0, false
	}
	if inRange {
		return uint32(f.Address - base), true
	}
	return 0, false
}

func funcByName(p *cfg.Program, name string) (uint32, bool) {
	for _, fn := range p.Funcs {
		if fn.Name == name {
			return fn.Entry, true
		}
	}
	return 0, false
}

// funcAt is the function with a block holding rva: its .pdata entry's root
// first (a chained fragment belongs to its parent), else the nearest entry
// below rva whose blocks cover it.
func funcAt(p *cfg.Program, rva uint32) *cfg.Func {
	if rf, ok := p.Image.RuntimeFunction(rva); ok {
		entry := rf.Begin
		for depth := 0; rf.Chained && depth < 32; depth++ {
			entry = rf.Parent
			if rf, ok = p.Image.RuntimeFunction(entry); !ok {
				break
			}
		}
		if fn := p.Func(entry); fn != nil {
			return fn
		}
	}
	i := sort.Search(len(p.Funcs), func(i int) bool { return p.Funcs[i].Entry > rva })
	for j := i - 1; j >= 0 && j >= i-8; j-- {
		for _, b := range p.Funcs[j].Blocks {
			// rva may be a return address: the end of a block that calls.
			if rva >= b.Start && rva <= b.End {
				return p.Funcs[j]
			}
		}
	}
	return nil
}

// returnsFrom reports whether rva is the return address of the call at
// site (or the call itself, for the innermost frame).
func returnsFrom(d *rules.Result, site, rva uint32) bool {
	if rva == site {
		return true
	}
	if rva < site || rva-site > 15 {
		return false
	}
	inst, err := x86asm.Decode(d.Image.Bytes(site, 15), 64)
	return err == nil && site+uint32(inst.Len) == rva
}

// matchTraces matches the crash against each path of f (a finding lists
// every path of its cause) and keeps the best: the finding as that path
// alone describes it.
func matchTraces(c *Crash, d *rules.Result, f *rules.Finding, refs map[int]FrameRef, sigs []Signature) (Match, bool) {
	if len(f.Traces) <= 1 {
		return matchFinding(c, d, f, refs, sigs)
	}
	var best Match
	found := false
	for _, t := range f.Traces {
		one := *f
		one.Sink, one.Site, one.Path, one.Message = t.Sink, t.Site, t.Path, t.Message
		one.Traces = []rules.Trace{t}
		if m, ok := matchFinding(c, d, &one, refs, sigs); ok && (!found || m.Score > best.Score) {
			best, found = m, true
		}
	}
	return best, found
}

// matchFinding scores how well the crash shows f's call path. Each call of
// the path counts once, however often a recursion repeats it; Frames lists
// every frame on the path.
func matchFinding(c *Crash, d *rules.Result, f *rules.Finding, refs map[int]FrameRef, sigs []Signature) (Match, bool) {
	m := Match{File: d.Path, Finding: f}
	type stepSeen struct {
		frames  []int // Frame.Index of the frames at the step's call
		aboveOS string
		inFunc  bool
	}
	steps := make([]stepSeen, len(f.Path))
	for i := range c.Frames {
		ref, ok := refs[i]
		if !ok {
			continue
		}
		on := false
		for k, s := range f.Path {
			switch {
			case returnsFrom(d, s.Call, ref.RVA):
				steps[k].frames = append(steps[k].frames, c.Frames[i].Index)
				if s.Call == f.Site && i > 0 && !refsDriver(refs, i-1) && c.Frames[i-1].Module != "" && steps[k].aboveOS == "" {
					steps[k].aboveOS = frameText(c.Frames[i-1])
				}
			case ref.Func.Entry == s.RVA:
				steps[k].inFunc = true
			default:
				continue
			}
			on = true
		}
		if on {
			m.Frames = append(m.Frames, c.Frames[i].Index)
		}
	}
	var why []string
	for k, s := range f.Path {
		st := steps[k]
		switch {
		case len(st.frames) > 0 && s.Call == f.Site:
			m.Score += scoreSinkCall
			w := fmt.Sprintf("the call to %s at frame%s %s", sinkName(f.Sink), pluralS(len(st.frames)), intList(st.frames))
			if st.aboveOS != "" {
				m.Score += scoreSinkAboveOS
				w += " (right above " + st.aboveOS + ")"
			}
			why = append(why, w)
		case len(st.frames) > 0:
			m.Score += scorePathCall
			why = append(why, fmt.Sprintf("the call in %s at frame%s %s", stepFuncName(s), pluralS(len(st.frames)), intList(st.frames)))
		case st.inFunc:
			m.Score += scorePathFunc
		}
	}
	if m.Score == 0 {
		return Match{}, false
	}
	if pagingRule(f.Rule.ID) && pagingCrash(sigs) {
		m.Score += scoreSignatureRule
		why = append(why, "a paging-path crash")
	}
	m.Why = strings.Join(why, "; ")
	if len(why) == 0 {
		m.Why = "frames lie in functions of the path"
	}
	return m, true
}

func stepFuncName(s rules.Step) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("sub_%x", s.RVA)
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func intList(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

func refsDriver(refs map[int]FrameRef, i int) bool {
	_, ok := refs[i]
	return ok
}

func sinkName(sink string) string {
	if i := strings.LastIndexByte(sink, '!'); i >= 0 {
		return sink[i+1:]
	}
	return sink
}

func frameText(f Frame) string {
	if f.Symbol != "" {
		return f.Module + "!" + f.Symbol
	}
	return fmt.Sprintf("%s+%#x", f.Module, f.Offset)
}

// pagingRule: the rules whose hazard shows as a paging-path crash.
func pagingRule(id string) bool {
	return strings.HasPrefix(id, "MF2") || id == "MF4001"
}

func pagingCrash(sigs []Signature) bool {
	for _, s := range sigs {
		switch s.Name {
		case SigPagingRecursion, SigPagingThroughFilter, SigDoubleFault, SigFltMgr, SigInPageError:
			return true
		}
	}
	return false
}

// matchPool finds the !poolused tags that d allocates with.
func matchPool(uses []PoolUse, d *rules.Result) []PoolMatch {
	if d.Model == nil {
		return nil
	}
	var out []PoolMatch
	for _, u := range uses {
		for i := range d.Model.PoolTags {
			t := &d.Model.PoolTags[i]
			if tagText(t.Tag) == strings.TrimRight(u.Tag, " ") {
				out = append(out, PoolMatch{Use: u, File: d.Path, Tag: t})
			}
		}
	}
	return out
}

// tagText is a pool tag as !poolused prints it: the four bytes in memory
// order, trailing blanks dropped.
func tagText(tag uint32) string {
	b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), byte(tag >> 24)}
	return strings.TrimRight(string(b), " \x00")
}
