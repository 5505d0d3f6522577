package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/rules"
)

// TableWidth is the width the table output keeps to. Only what cannot be
// broken goes past it: a single word longer than a line (a long path or
// symbol name), or a table cell holding one.
const TableWidth = 80

// ANSI colours of the severities (SGR foreground codes).
const (
	ansiRed    = "31"
	ansiYellow = "33"
	ansiCyan   = "36"
)

// WriteTable writes a human-readable report of each file: its findings
// first, grouped by severity, most severe first; then what the analysis
// recovered (sections, imports, registrations, pool tags and, with
// opt.Functions, every function and its calls). Lines are wrapped at
// TableWidth; with opt.Color the severities are coloured.
func WriteTable(w io.Writer, results []*rules.Result, opt Options) error {
	return Write(w, Table, results, opt)
}

// tableWriter writes each file's part as it comes and a summary at the end.
type tableWriter struct {
	o      *textOut
	opt    Options
	counts map[rules.Severity]int
	files  int
	failed int
}

func newTableWriter(w io.Writer, opt Options) *tableWriter {
	return &tableWriter{o: &textOut{w: w, color: opt.Color}, opt: opt, counts: map[rules.Severity]int{}}
}

// tablePart is a file's text and what the summary counts of it.
type tablePart struct {
	text   []byte
	failed bool
	counts map[rules.Severity]int
	err    error
}

func (tablePart) part() {}

func (t *tableWriter) Render(r *rules.Result) Part {
	shown, hidden := unsuppressed([]*rules.Result{r})
	r = shown[0]
	var b bytes.Buffer
	o := &textOut{w: &b, color: t.opt.Color, suppressed: hidden}
	if r.Err != nil {
		// "path: error: message", greppable; the message wraps.
		o.para("", "  ", append([]string{r.Path + ":", "error:"}, strings.Fields(unprefixed(r))...),
			map[int]string{1: ansiRed})
		return tablePart{text: b.Bytes(), failed: true, err: o.err}
	}
	counts := map[rules.Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	err := fileTable(o, r, t.opt)
	if err == nil {
		err = o.err
	}
	return tablePart{text: b.Bytes(), counts: counts, err: err}
}

func (t *tableWriter) Add(p Part) error {
	tp, ok := p.(tablePart)
	if !ok {
		return wrongPart(p)
	}
	if tp.err != nil {
		return tp.err
	}
	if t.files > 0 {
		t.o.line("")
	}
	t.files++
	if tp.failed {
		t.failed++
	}
	for sev, n := range tp.counts {
		t.counts[sev] += n
	}
	if t.o.err == nil {
		_, t.o.err = t.o.w.Write(tp.text)
	}
	return t.o.err
}

// Close writes the summary of a scan of several files.
func (t *tableWriter) Close() error {
	o := t.o
	if t.files > 1 {
		o.line("")
		n := 0
		for _, c := range t.counts {
			n += c
		}
		summary := fmt.Sprintf("%s, %d analysed, %d failed; %s", plural(t.files, "file"), t.files-t.failed, t.failed,
			plural(n, "finding"))
		if n > 0 {
			summary += ": " + severityCounts(t.counts)
		}
		o.para("", "  ", strings.Fields(summary), nil)
	}
	return o.err
}

// unprefixed drops the path the loader puts in front of its errors, since
// the table already names the file.
func unprefixed(r *rules.Result) string {
	return strings.TrimPrefix(r.Err.Error(), r.Path+": ")
}

// textOut writes lines, wrapped and optionally coloured, and keeps the
// first write error.
type textOut struct {
	w          io.Writer
	color      bool
	err        error
	suppressed map[*rules.Result]int // findings left out per file
}

func (o *textOut) line(s string) {
	if o.err == nil {
		_, o.err = io.WriteString(o.w, s+"\n")
	}
}

// paint colours s with an SGR code when colour is on.
func (o *textOut) paint(s, code string) string {
	if !o.color || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// para writes words as a paragraph wrapped at TableWidth: the first line
// starts with first, the others with rest. paint colours words by index;
// widths count the words' text only.
func (o *textOut) para(first, rest string, words []string, paint map[int]string) {
	for _, l := range wrapWords(first, rest, words) {
		var b strings.Builder
		b.WriteString(l.indent)
		for k, i := range l.words {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(o.paint(words[i], paint[i]))
		}
		o.line(b.String())
	}
}

// wrapped is one line of a paragraph: its indent and the indexes of its words.
type wrapped struct {
	indent string
	words  []int
}

// wrapWords fills lines of at most TableWidth columns with words; a word
// longer than a line stands alone on its line.
func wrapWords(first, rest string, words []string) []wrapped {
	var out []wrapped
	cur := wrapped{indent: first}
	width := utf8.RuneCountInString(first)
	for i, w := range words {
		n := utf8.RuneCountInString(w)
		if len(cur.words) > 0 && width+1+n > TableWidth {
			out = append(out, cur)
			cur = wrapped{indent: rest}
			width = utf8.RuneCountInString(rest)
		}
		if len(cur.words) > 0 {
			width++
		}
		cur.words = append(cur.words, i)
		width += n
	}
	return append(out, cur)
}

// text writes a plain paragraph.
func (o *textOut) text(first, rest, s string) { o.para(first, rest, strings.Fields(s), nil) }

func severityColor(s rules.Severity) string {
	switch s {
	case rules.Error:
		return ansiRed
	case rules.Warning:
		return ansiYellow
	}
	return ansiCyan
}

func fileTable(o *textOut, r *rules.Result, opt Options) error {
	img, p := r.Image, r.Program
	o.line(r.Path)
	o.text("  ", "    ", fmt.Sprintf("kind %s, machine %s, %d bytes", r.Kind, img.Machine, r.Size))
	writeFindings(o, r)
	writeUnresolved(o, r)

	o.line("")
	if r.SHA256 != "" {
		o.line("  sha256 " + r.SHA256)
	}
	if cv := img.CodeView; cv != nil {
		o.text("  ", "    ", fmt.Sprintf("pdb %s (guid %s, age %d)", cv.Path, cv.GUIDString(), cv.Age))
		if r.Symbols != "" {
			o.text("  ", "    ", "names and source lines from "+r.Symbols)
		}
	}
	unresolved, sites := 0, 0
	for _, f := range p.Funcs {
		sites += len(f.Calls)
		for _, c := range f.Calls {
			if c.Kind == cfg.CallUnresolved {
				unresolved++
			}
		}
	}
	o.text("  ", "    ", fmt.Sprintf("%d functions, %d call sites (%d unresolved), %d bytes of code decoded",
		len(p.Funcs), sites, unresolved, p.CodeBytes()))
	o.line("")

	t := newTable(o, tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignLeft)
	t.Header("SECTION", "RVA", "SIZE", "ATTRIBUTES")
	for i := range img.Sections {
		s := &img.Sections[i]
		var attrs []string
		for _, a := range []struct {
			on   bool
			name string
		}{{s.Executable(), "exec"}, {s.Writable(), "write"}, {s.Pageable(), "pageable"}, {s.Discardable(), "discardable"}} {
			if a.on {
				attrs = append(attrs, a.name)
			}
		}
		if err := t.Append(s.Name, hex(uint64(s.RVA)), hex(uint64(s.Size())), strings.Join(attrs, " ")); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}

	byMod := map[string][]string{}
	var mods []string
	for i := range img.Imports {
		imp := &img.Imports[i]
		if _, ok := byMod[imp.Module]; !ok {
			mods = append(mods, imp.Module)
		}
		name := imp.Name
		if imp.ByOrdinal {
			name = fmt.Sprintf("#%d", imp.Ordinal)
		}
		byMod[imp.Module] = append(byMod[imp.Module], name)
	}
	sort.Strings(mods)
	if len(mods) > 0 {
		o.line("")
	}
	for _, m := range mods {
		names := byMod[m]
		sort.Strings(names)
		words := []string{"imports", m, fmt.Sprintf("(%d):", len(names))}
		for i, n := range names {
			if i < len(names)-1 {
				n += ","
			}
			words = append(words, n)
		}
		o.para("  ", "    ", words, nil)
	}
	writeModel(o, r)
	if len(img.Warnings) > 0 {
		o.line("")
		for _, warn := range img.Warnings {
			o.text("  ", "    ", "warning: "+warn)
		}
	}
	if !opt.Functions {
		return o.err
	}
	o.line("")
	return functionTable(o, r)
}

// newTable is a table in the report's style, cells taken as they are (the
// caller breaks them into lines), columns aligned as given.
func newTable(o *textOut, align ...tw.Align) *tablewriter.Table {
	return tablewriter.NewTable(o.w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}))
}

// functionTable lists every function with, under its name, the functions
// and imports it calls, one per line. (A separate calls column would not
// fit: a 33-character function name beside a 44-character import such as
// FLTMGR.SYS!FltDoCompletionProcessingWhenSafe makes 110 columns.)
func functionTable(o *textOut, r *rules.Result) error {
	img, p := r.Image, r.Program
	t := newTable(o, tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignRight)
	t.Header("FUNCTION → CALLS", "RVA", "BLOCKS", "FRAME")
	// The first column gets what the others leave of the width: 4 columns
	// have 5 borders and 8 spaces of padding.
	rvaWidth := len("RVA")
	for _, f := range p.Funcs {
		rvaWidth = max(rvaWidth, len(hex(uint64(f.Entry))))
	}
	nameWidth := TableWidth - 13 - rvaWidth - len("BLOCKS") - len("FRAME")
	for _, f := range p.Funcs {
		name := f.DisplayName()
		switch {
		case f.Entry == img.EntryRVA:
			name += " (entry point)"
		case f.Thunk != nil:
			name += " (thunk)"
		}
		lines := wrapCell(name, nameWidth)
		for _, ce := range p.Callees(f) {
			callee := calleeName(p, ce)
			if ce.Import == nil {
				if cf := p.Func(ce.Func); cf != nil {
					callee = cf.DisplayName()
				}
			}
			lines = append(lines, "→ "+callee)
		}
		if err := t.Append(strings.Join(lines, "\n"), hex(uint64(f.Entry)), fmt.Sprint(len(f.Blocks)),
			fmt.Sprint(f.FrameSize)); err != nil {
			return err
		}
	}
	return t.Render()
}

// wrapCell breaks a cell's text into lines of at most width columns at
// spaces; a longer word keeps its own line.
func wrapCell(s string, width int) []string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(s) {
		if cur != "" && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	return append(lines, cur)
}

// writeModel prints the recovered registrations and pool tags.
func writeModel(o *textOut, r *rules.Result) {
	p := r.Program
	name := func(rva uint32) string {
		if rva == 0 {
			return "-"
		}
		if f := p.Func(rva); f != nil {
			return f.DisplayName()
		}
		return hex(uint64(rva))
	}
	for _, reg := range r.Model.Registrations {
		o.line("")
		where := reg.Where
		if reg.RVA != 0 {
			where += " at " + hex(uint64(reg.RVA))
		}
		o.text("  ", "    ", fmt.Sprintf("FLT_REGISTRATION (%s) passed by %s at %s",
			where, reg.Caller.DisplayName(), hex(uint64(reg.Site))))
		o.text("    ", "      ", fmt.Sprintf("size %#x version 0x%04x flags %#x", reg.Size, reg.Version, reg.Flags))
		rows := make([][]string, len(reg.Operations))
		for i, op := range reg.Operations {
			rows[i] = []string{rules.MajorName(op.Major), fmt.Sprintf("flags %#x", op.Flags), "pre " + name(op.Pre), "post " + name(op.Post)}
		}
		writeAligned(o, "    ", "      ", rows)
		for _, c := range reg.Contexts {
			o.text("    ", "      ", fmt.Sprintf("context type %#x size %#x tag %s", c.Type, c.Size, rules.TagString(c.PoolTag)))
		}
		for _, prob := range reg.Problems {
			o.text("    ", "      ", "problem: "+prob.Text)
		}
	}
	if len(r.Model.PoolTags) > 0 {
		o.line("")
		for _, t := range r.Model.PoolTags {
			attrs := ""
			switch {
			case t.Executable():
				attrs = " (executable)"
			case t.Paged():
				attrs = " (paged)"
			}
			o.text("  ", "    ", fmt.Sprintf("pool tag %s  %s in %s at %s%s", rules.TagString(t.Tag), t.API.Name,
				t.Func.DisplayName(), hex(uint64(t.Site)), attrs))
		}
	}
}

// writeAligned writes rows in columns two spaces apart, aligning as many
// leading columns as keep every row within TableWidth; a row that does not
// fit even unaligned is wrapped as a paragraph.
func writeAligned(o *textOut, first, rest string, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	// render lays a row out with its first k cells padded to their column.
	render := func(row []string, k int) string {
		var b strings.Builder
		b.WriteString(first)
		for i, cell := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(cell)
			if i < k && i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)))
			}
		}
		return b.String()
	}
	k := len(widths)
	for ; k > 0; k-- {
		fits := true
		for _, row := range rows {
			if utf8.RuneCountInString(render(row, k)) > TableWidth {
				fits = false
				break
			}
		}
		if fits {
			break
		}
	}
	for _, row := range rows {
		if l := render(row, k); utf8.RuneCountInString(l) <= TableWidth {
			o.line(l)
		} else {
			o.text(first, rest, strings.Join(row, " "))
		}
	}
}

// writeFindings prints the findings, grouped by severity, most severe
// first (rules.Run sorts them so; results built otherwise are grouped
// here too). Each starts with its severity, coloured, so that a finding
// stays whole under grep.
// writeUnresolved lists the blind spots, indirect calls on callbacks'
// paths whose targets are unknown: a line per callback with its first
// calls (JSON and SARIF list them all).
func writeUnresolved(o *textOut, r *rules.Result) {
	if len(r.Unresolved) == 0 {
		return
	}
	o.line("")
	o.text("  ", "    ", fmt.Sprintf("%s on callback paths not resolved; what they reach is not analysed:",
		plural(len(r.Unresolved), "indirect call")))
	for i := 0; i < len(r.Unresolved); {
		cb := r.Unresolved[i].Callback
		j := i
		var sites []string
		for ; j < len(r.Unresolved) && r.Unresolved[j].Callback.RVA == cb.RVA && r.Unresolved[j].Callback.Kind == cb.Kind; j++ {
			if len(sites) < maxTableBlindSpots {
				u := r.Unresolved[j]
				in := u.Path[len(u.Path)-1]
				sites = append(sites, fmt.Sprintf("%s in %s", hex(uint64(u.Site)), stepName(in.RVA, in.Name)))
			}
		}
		if n := j - i; n > len(sites) {
			sites = append(sites, fmt.Sprintf("%d more", n-len(sites)))
		}
		o.text("    ", "      ", fmt.Sprintf("%s %s-operation callback %s: %s", majorsText(r.Unresolved[i]), cb.Kind, stepName(cb.RVA, cb.Name),
			strings.Join(sites, ", ")))
		i = j
	}
}

// majorsText names the majors of a blind spot's callback: "IRP_MJ_READ",
// or "IRP_MJ_CREATE and 38 more majors" for a dispatcher.
func majorsText(u rules.Unresolved) string {
	if len(u.Majors) <= 1 {
		return u.Callback.Major
	}
	return fmt.Sprintf("%s and %s", u.Majors[0], plural(len(u.Majors)-1, "more major"))
}

// maxTableBlindSpots bounds the unresolved calls the table names per
// callback.
const maxTableBlindSpots = 3

// stepsText renders a call path as "A -> B".
func stepsText(path []rules.Step) string {
	names := make([]string, len(path))
	for i, s := range path {
		names[i] = stepName(s.RVA, s.Name)
	}
	return strings.Join(names, " -> ")
}

func writeFindings(o *textOut, r *rules.Result) {
	if n := o.suppressed[r]; n > 0 {
		o.line(fmt.Sprintf("  %s accepted by the configuration or the baseline (listed in JSON and SARIF)", plural(n, "suppressed finding")))
	}
	if len(r.Findings) == 0 {
		o.line("  no findings")
		return
	}
	counts := map[rules.Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	o.line(fmt.Sprintf("  %s: %s", plural(len(r.Findings), "finding"), severityCounts(counts)))
	for _, sev := range severitiesDown {
		for _, f := range r.Findings {
			if f.Severity != sev {
				continue
			}
			o.line("")
			// WinDbg and disassemblers show virtual addresses: the VA at the
			// image's preferred base goes with the RVA.
			head := []string{strings.ToUpper(sev.String()), f.Rule.ID, f.Rule.Name, "at", "RVA", hex(uint64(f.Site))}
			if r.Image != nil {
				head = append(head, "(VA "+hex(r.Image.VA(f.Site))+")")
			}
			if src := shortSource(r, f.Site); src != "" {
				head = append(head, "("+src+")")
			}
			o.para("  ", "    ", head, map[int]string{0: severityColor(sev)})
			o.text("    ", "    ", f.Message)
			if calls := sourcePath(r, &f); calls != "" {
				o.text("    ", "      ", "calls: "+calls)
			}
		}
	}
}
