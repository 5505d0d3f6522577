package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drvhazard/drvhazard/dumpcorr"
	"github.com/drvhazard/drvhazard/rules"
)

// Correlation is what `drvhazard correlate` reports: the drivers analysed,
// each crash with its signatures and the findings it matches, the crashes
// grouped, and the crash inputs that could not be read.
type Correlation struct {
	Drivers []*rules.Result
	Crashes []dumpcorr.Correlation
	Groups  []dumpcorr.Group
	Failed  []InputError
}

// InputError is a crash file that could not be read.
type InputError struct {
	Source string
	Err    error
}

// WriteCorrelation writes c in format f. SARIF is the drivers' findings,
// each carrying the crash stacks that match it (result.stacks).
func WriteCorrelation(w io.Writer, f Format, c *Correlation, opt Options) error {
	switch f {
	case JSON:
		return encodeTo(w, correlationJSON(c, opt))
	case Table:
		return correlationTable(w, c, opt)
	case Markdown:
		_, err := io.WriteString(w, correlationMarkdown(c, opt))
		return err
	case SARIF:
		opt.Stacks = crashStacks(c)
		return Write(w, SARIF, c.Drivers, opt)
	}
	return fmt.Errorf("unknown format %q", f)
}

func encodeTo(w io.Writer, v any) error {
	text, err := encodeJSON(v, "")
	if err != nil {
		return err
	}
	_, err = w.Write(text)
	return err
}

// crashStacks gives each matched finding the stacks of the crashes that
// match it.
func crashStacks(c *Correlation) map[*rules.Finding][]Stack {
	out := map[*rules.Finding][]Stack{}
	for i := range c.Crashes {
		cr := &c.Crashes[i]
		for _, m := range cr.Matches {
			st := Stack{Message: crashTitle(cr.Crash)}
			for _, f := range cr.Crash.Frames {
				st.Frames = append(st.Frames, StackFrame{Module: f.Module, Function: f.Symbol, Offset: f.Offset,
					Address: f.Address, HasAddress: f.HasAddress})
			}
			out[m.Finding] = append(out[m.Finding], st)
		}
	}
	return out
}

// crashTitle: "crash.txt: 0x7F UNEXPECTED_KERNEL_MODE_TRAP".
func crashTitle(c *dumpcorr.Crash) string {
	if !c.HasBugCheck {
		return c.Source + ": bugcheck unknown"
	}
	s := fmt.Sprintf("%s: %s", c.Source, bugcheckHex(c.BugCheck))
	if name := c.BugCheckName; name != "" {
		s += " " + name
	} else if name := dumpcorr.BugCheckName(c.BugCheck); name != "" {
		s += " " + name
	}
	if c.BugCheckInferredFrom != "" {
		s += " (inferred from " + c.BugCheckInferredFrom + ")"
	}
	return s
}

func bugcheckHex(code uint32) string { return fmt.Sprintf("0x%X", code) }

// ------------------------------------------------------------------ JSON

type jsonCorrelation struct {
	Tool    jsonTool         `json:"tool"`
	Drivers []jsonDriverRef  `json:"drivers"`
	Crashes []jsonCrash      `json:"crashes"`
	Groups  []jsonCrashGroup `json:"groups"`
	Errors  []jsonInputError `json:"errors"`
}

type jsonDriverRef struct {
	Path   string  `json:"path"`
	SHA256 string  `json:"sha256"`
	Module string  `json:"module"` // the name WinDbg gives it
	Error  *string `json:"error"`
}

type jsonCrash struct {
	Source       string  `json:"source"`
	Bugcheck     *string `json:"bugcheck"`
	BugcheckName *string `json:"bugcheck_name"`
	// BugcheckInferredFrom names the frame the bugcheck was inferred from
	// when the text does not state it; null when stated.
	BugcheckInferredFrom *string         `json:"bugcheck_inferred_from"`
	Args                 []string        `json:"args"`
	Bucket               *string         `json:"failure_bucket_id"`
	FramesFrom           *string         `json:"frames_from"`
	Frames               []jsonFrame     `json:"frames"`
	Signatures           []string        `json:"signatures"`
	Details              []jsonSignature `json:"signature_details"`
	Matches              []jsonMatch     `json:"matches"`
	Pool                 []jsonPoolMatch `json:"pool"`
	// PoolTags is pool by tag: each !poolused row once, with its allocators.
	PoolTags []jsonPoolTagUse `json:"pool_tags"`
	Modules  []jsonModule     `json:"modules"`
	Notes    []string         `json:"notes,omitempty"`
	// Culprit is the module the crash points at (Crash.Culprit); Group
	// the explanation it is grouped under, so that JSON Lines correlated
	// apart can be grouped later (ReadGroups).
	Culprit *string `json:"culprit"`
	Group   string  `json:"group"`
}

type jsonFrame struct {
	Index    int              `json:"index"`
	Module   *string          `json:"module"`
	Symbol   *string          `json:"symbol"`
	Offset   string           `json:"offset"`
	Address  *string          `json:"address"`
	Function *jsonFrameDriver `json:"function"` // set when the frame lies in an analysed driver
}

type jsonFrameDriver struct {
	File string  `json:"file"`
	RVA  string  `json:"rva"`
	Func jsonRef `json:"func"`
}

type jsonSignature struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

type jsonMatch struct {
	File string `json:"file"`
	jsonFinding
	Frames []int  `json:"frames"`
	Score  int    `json:"score"`
	Why    string `json:"why"`
}

type jsonPoolMatch struct {
	Tag      string  `json:"tag"`
	Allocs   uint64  `json:"allocs"`
	Bytes    uint64  `json:"bytes"`
	File     string  `json:"file"`
	API      string  `json:"api"`
	SiteRVA  string  `json:"site_rva"`
	Function jsonRef `json:"function"`
	Message  string  `json:"message"`
}

type jsonPoolTagUse struct {
	Tag        string              `json:"tag"`
	Allocs     uint64              `json:"allocs"`
	Bytes      uint64              `json:"bytes"`
	Allocators []jsonPoolAllocator `json:"allocators"`
	Message    string              `json:"message"`
}

type jsonPoolAllocator struct {
	File     string  `json:"file"`
	Function jsonRef `json:"function"`
	Sites    int     `json:"sites"`
	// Loaded is null when the crash has no module list.
	Loaded *bool `json:"loaded"`
}

type jsonModule struct {
	Name  string  `json:"name"`
	Image *string `json:"image"`
	Base  string  `json:"base"`
	Size  string  `json:"size"`
}

type jsonCrashGroup struct {
	Key     string   `json:"key"`
	Count   int      `json:"count"`
	Rule    *string  `json:"rule"`
	File    *string  `json:"file"`
	Sources []string `json:"sources"`
}

type jsonInputError struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

func correlationJSON(c *Correlation, opt Options) jsonCorrelation {
	doc := jsonCorrelation{Tool: jsonTool{Name: "drvhazard", Version: opt.ToolVersion},
		Drivers: []jsonDriverRef{}, Crashes: []jsonCrash{}, Groups: []jsonCrashGroup{}, Errors: []jsonInputError{}}
	for _, d := range c.Drivers {
		ref := jsonDriverRef{Path: d.Path, SHA256: d.SHA256, Module: dumpcorr.ModuleName(d.Path)}
		if d.Err != nil {
			msg := d.Err.Error()
			ref.Error = &msg
		}
		doc.Drivers = append(doc.Drivers, ref)
	}
	byPath := map[string]*rules.Result{}
	for _, d := range c.Drivers {
		byPath[d.Path] = d
	}
	for i := range c.Crashes {
		doc.Crashes = append(doc.Crashes, crashJSON(&c.Crashes[i], byPath))
	}
	for _, g := range c.Groups {
		jg := jsonCrashGroup{Key: g.Key, Count: len(g.Sources), Sources: g.Sources}
		if g.Match != nil {
			jg.Rule, jg.File = &g.Match.Finding.Rule.ID, &g.Match.File
		}
		doc.Groups = append(doc.Groups, jg)
	}
	for _, e := range c.Failed {
		doc.Errors = append(doc.Errors, jsonInputError{Source: e.Source, Error: e.Err.Error()})
	}
	return doc
}

func crashJSON(cr *dumpcorr.Correlation, drivers map[string]*rules.Result) jsonCrash {
	c := cr.Crash
	j := jsonCrash{Source: c.Source, Args: []string{}, Frames: []jsonFrame{}, Signatures: []string{},
		Details: []jsonSignature{}, Matches: []jsonMatch{}, Pool: []jsonPoolMatch{}, PoolTags: []jsonPoolTagUse{}, Modules: []jsonModule{},
		Notes: c.Notes, FramesFrom: nullable(c.FramesFrom), Bucket: nullable(c.BucketID),
		Culprit: nullable(c.Culprit()), Group: dumpcorr.GroupKey(cr)}
	if c.HasBugCheck {
		code := bugcheckHex(c.BugCheck)
		j.Bugcheck = &code
		name := c.BugCheckName
		if name == "" {
			name = dumpcorr.BugCheckName(c.BugCheck)
		}
		j.BugcheckName = nullable(name)
		j.BugcheckInferredFrom = nullable(c.BugCheckInferredFrom)
	}
	for _, a := range c.Args {
		j.Args = append(j.Args, hex(a))
	}
	for i, f := range c.Frames {
		jf := jsonFrame{Index: f.Index, Module: nullable(f.Module), Symbol: nullable(f.Symbol), Offset: hex(f.Offset)}
		if f.HasAddress {
			a := hex(f.Address)
			jf.Address = &a
		}
		if ref, ok := cr.Resolved[i]; ok {
			jf.Function = &jsonFrameDriver{File: ref.File, RVA: hex(uint64(ref.RVA)),
				Func: refOf(ref.Func.Entry, ref.Func.Name)}
		}
		j.Frames = append(j.Frames, jf)
	}
	for _, s := range cr.Signatures {
		j.Signatures = append(j.Signatures, s.Name)
		j.Details = append(j.Details, jsonSignature{Name: s.Name, Detail: s.Detail})
	}
	for _, m := range cr.Matches {
		j.Matches = append(j.Matches, jsonMatch{File: m.File, jsonFinding: findingJSON(drivers[m.File], m.Finding), Frames: m.Frames,
			Score: m.Score, Why: m.Why})
	}
	for _, p := range cr.Pool {
		j.Pool = append(j.Pool, jsonPoolMatch{Tag: p.Use.Tag, Allocs: p.Use.NonPagedAllocs + p.Use.PagedAllocs,
			Bytes: p.Use.NonPagedBytes + p.Use.PagedBytes, File: p.File, API: p.Tag.API.Name,
			SiteRVA: hex(uint64(p.Tag.Site)), Function: refOf(p.Tag.Func.Entry, p.Tag.Func.Name),
			Message: p.Message()})
	}
	for _, p := range cr.PoolTags {
		jt := jsonPoolTagUse{Tag: p.Use.Tag, Allocs: p.Use.NonPagedAllocs + p.Use.PagedAllocs,
			Bytes: p.Use.NonPagedBytes + p.Use.PagedBytes, Allocators: []jsonPoolAllocator{}, Message: p.Message()}
		for _, a := range p.Allocators {
			ja := jsonPoolAllocator{File: a.File, Function: refOf(a.Func.Entry, a.Func.Name), Sites: a.Sites}
			if p.Modules {
				loaded := a.Loaded
				ja.Loaded = &loaded
			}
			jt.Allocators = append(jt.Allocators, ja)
		}
		j.PoolTags = append(j.PoolTags, jt)
	}
	for _, m := range c.Modules {
		j.Modules = append(j.Modules, jsonModule{Name: m.Name, Image: nullable(m.Image), Base: hex(m.Base), Size: hex(m.Size)})
	}
	return j
}

// ------------------------------------------------------------------ table

// correlationTable writes, per crash, what it is and what explains it, then
// the groups when there are several crashes.
func correlationTable(w io.Writer, c *Correlation, opt Options) error {
	o := &textOut{w: w, color: opt.Color}
	for i := range c.Crashes {
		if i > 0 {
			o.line("")
		}
		cr := &c.Crashes[i]
		o.text("", "  ", crashTitle(cr.Crash))
		if cr.Crash.BucketID != "" {
			o.text("  ", "    ", "bucket "+cr.Crash.BucketID)
		}
		frames := plural(len(cr.Crash.Frames), "frame")
		if cr.Crash.FramesFrom != "" {
			frames += " (" + framesFromText(cr.Crash.FramesFrom) + ")"
		}
		frames += fmt.Sprintf(", %s", plural(len(cr.Crash.Modules), "module"))
		o.text("  ", "    ", frames)
		for _, s := range cr.Signatures {
			o.para("  ", "    ", append([]string{"signature", s.Name + ":"}, strings.Fields(s.Detail)...), map[int]string{1: ansiYellow})
		}
		if len(cr.Matches) == 0 && len(cr.Pool) == 0 {
			o.text("  ", "    ", "no finding of the given drivers matches this crash")
		}
		for k, m := range cr.Matches {
			if k == maxTableMatches {
				o.text("  ", "    ", fmt.Sprintf("and %d weaker matches (--format json lists them)", len(cr.Matches)-k))
				break
			}
			f := m.Finding
			head := []string{"match", f.Rule.ID, f.Severity.String(), filepath.Base(m.File) + ":"}
			head = append(head, strings.Fields(matchText(m))...)
			o.para("  ", "    ", head, map[int]string{2: severityColor(f.Severity)})
			o.text("    ", "      ", fmt.Sprintf("frames %s; %s (score %d)", intList(m.Frames), m.Why, m.Score))
		}
		for _, p := range cr.PoolTags {
			o.text("  ", "    ", "pool "+p.Message())
		}
		for _, n := range cr.Crash.Notes {
			o.text("  ", "    ", "note: "+n)
		}
	}
	if len(c.Crashes) > 1 && len(c.Groups) > 0 {
		o.line("")
		o.text("", "  ", fmt.Sprintf("%s in %s:", plural(len(c.Crashes), "crash"), plural(len(c.Groups), "group")))
		for _, g := range c.Groups {
			o.text("  ", "      ", fmt.Sprintf("%4d  %s", len(g.Sources), g.Key))
		}
	}
	for _, e := range c.Failed {
		o.para("", "  ", append([]string{e.Source + ":", "error:"}, strings.Fields(e.Err.Error())...), map[int]string{1: ansiRed})
	}
	return o.err
}

// maxTableMatches bounds the matches listed per crash in the table.
const maxTableMatches = 5

func framesFromText(from string) string {
	switch from {
	case "text":
		return "as pasted"
	case "unwind":
		return "unwound with .pdata"
	case "scan":
		return "return-address scan, may include stale frames"
	}
	return from
}

// matchText: "PsLookupProcessByProcessId reached from IRP_MJ_READ pre
// PreRead".
func matchText(m dumpcorr.Match) string {
	f := m.Finding
	s := sinkText(f.Sink)
	if cb := f.Callback; cb != nil {
		s += fmt.Sprintf(" from %s %s %s", cb.Major, cb.Kind, stepName(cb.RVA, cb.Name))
	}
	return s
}

func intList(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

// ------------------------------------------------------------------ Markdown

func correlationMarkdown(c *Correlation, opt Options) string {
	var b strings.Builder
	matched := 0
	for i := range c.Crashes {
		if len(c.Crashes[i].Matches) > 0 {
			matched++
		}
	}
	fmt.Fprintf(&b, "## drvhazard: %s, %d explained by a finding\n", plural(len(c.Crashes), "crash"), matched)
	if len(c.Groups) > 0 && len(c.Crashes) > 1 {
		b.WriteString("\n| crashes | explanation |\n|---:|---|\n")
		for _, g := range c.Groups {
			fmt.Fprintf(&b, "| %d | %s |\n", len(g.Sources), mdText(clip(g.Key, maxMDText)))
		}
	}
	for i := range c.Crashes {
		cr := &c.Crashes[i]
		fmt.Fprintf(&b, "\n---\n\n### %s\n\n", mdText(clip(crashTitle(cr.Crash), maxMDText)))
		for _, s := range cr.Signatures {
			fmt.Fprintf(&b, "- **%s**: %s\n", mdText(s.Name), mdText(clip(s.Detail, maxMDText)))
		}
		if len(cr.Matches) == 0 {
			b.WriteString("- No finding of the given drivers matches this crash.\n")
		}
		for k, m := range cr.Matches {
			if k == maxTableMatches {
				fmt.Fprintf(&b, "- and %d weaker matches\n", len(cr.Matches)-k)
				break
			}
			f := m.Finding
			fmt.Fprintf(&b, "- %s **%s** in %s: %s. Frames %s: %s.\n", severityIcon(f.Severity), f.Rule.ID,
				codeSpan(filepath.Base(m.File)), mdText(clip(matchText(m), maxMDText)), intList(m.Frames), mdText(clip(m.Why, maxMDText)))
		}
		for _, p := range cr.PoolTags {
			fmt.Fprintf(&b, "- Pool: %s\n", mdText(p.Message()))
		}
	}
	if len(c.Failed) > 0 {
		b.WriteString("\n---\n\n### Crash files that could not be read\n\n")
		for _, e := range c.Failed {
			fmt.Fprintf(&b, "- %s: %s\n", codeSpan(clip(e.Source, maxMDText)), mdText(clip(e.Err.Error(), maxMDText)))
		}
	}
	b.WriteString(mdFooter(opt))
	return b.String()
}

// CrashLines writes correlations as JSON Lines, one crash a line as soon as
// it is correlated (the shape of the JSON output's crashes[]), so that a
// fleet's crashes stream through in flat memory and can be grouped later
// (ReadGroups).
type CrashLines struct {
	w       io.Writer
	drivers map[string]*rules.Result
}

// NewCrashLines writes to w the crashes correlated against drivers.
func NewCrashLines(w io.Writer, drivers []*rules.Result) *CrashLines {
	m := map[string]*rules.Result{}
	for _, d := range drivers {
		m[d.Path] = d
	}
	return &CrashLines{w: w, drivers: m}
}

// Write writes one crash.
func (l *CrashLines) Write(cr *dumpcorr.Correlation) error {
	return l.line(crashJSON(cr, l.drivers))
}

// Error writes the record of an input that could not be read.
func (l *CrashLines) Error(source string, err error) error {
	return l.line(jsonInputError{Source: source, Error: err.Error()})
}

func (l *CrashLines) line(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<stdin>", "<Unloaded_x.sys>" as written
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := l.w.Write(b.Bytes())
	return err
}

// maxGroupExamples bounds the sources kept per group when grouping JSONL:
// counts are exact, memory flat in the number of crashes.
const maxGroupExamples = 5

// GroupSummary is one group of crashes read back from JSON Lines.
type GroupSummary struct {
	Key      string
	Count    int
	Examples []string // the first sources, at most maxGroupExamples
}

// ReadGroups groups the crash records of JSON Lines (CrashLines' output,
// several files' concatenated), largest group first; records of inputs
// that failed are counted apart.
func ReadGroups(r io.Reader) (groups []GroupSummary, failed int, err error) {
	dec := json.NewDecoder(r)
	at := map[string]int{}
	for n := 1; ; n++ {
		var rec struct {
			Source string  `json:"source"`
			Group  *string `json:"group"`
			Error  *string `json:"error"`
		}
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			return nil, 0, fmt.Errorf("record %d: %v", n, err)
		}
		switch {
		case rec.Error != nil:
			failed++
			continue
		case rec.Group == nil:
			return nil, 0, fmt.Errorf("record %d (%s): no \"group\": not a drvhazard correlate --format jsonl record", n, rec.Source)
		}
		i, ok := at[*rec.Group]
		if !ok {
			i = len(groups)
			at[*rec.Group] = i
			groups = append(groups, GroupSummary{Key: *rec.Group})
		}
		g := &groups[i]
		g.Count++
		if len(g.Examples) < maxGroupExamples {
			g.Examples = append(g.Examples, rec.Source)
		}
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Count > groups[j].Count })
	return groups, failed, nil
}
