package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/drvhazard/drvhazard/rules"
)

// MarkdownLimit bounds the Markdown report, in bytes. GitHub refuses a
// comment of more than 65,536 characters (a character is at least a byte);
// the rest is room for what a CI step adds around the report.
const MarkdownLimit = 60000

// Bounds of the parts of a Markdown report that are not finding sections,
// so that those always fit beside the findings.
const (
	maxFailedListed = 25  // files that could not be analysed, listed by name
	maxCleanListed  = 30  // files without findings, listed by name
	maxMDText       = 300 // runes of a path or an error message
	maxMermaidSteps = 16  // steps a call-path diagram draws; longer paths keep both ends
	maxMermaidLabel = 80  // runes of a diagram node label
)

// rulesDocURL is where a rule's documentation lives: docs/rules.md, generated
// from the rule values, with an anchor per rule id in lower case.
const rulesDocURL = InformationURI + "/blob/main/docs/rules.md"

// severitiesDown lists the severities, most severe first.
var severitiesDown = []rules.Severity{rules.Error, rules.Warning, rules.Note}

// WriteMarkdown writes a report for a pull-request comment: a one-line
// verdict and the counts, then a section per finding, grouped by file and
// most severe first, with the rule and its documentation, the message, the
// registration that makes the callback a hazard, the call path as a Mermaid
// flowchart and the rule's fix; then the files that could not be analysed.
//
// The report stays under MarkdownLimit: when the finding sections would
// not fit, the least severe are left out, whole, and the report says how
// many. It is deterministic: no times, results in the order given.
func WriteMarkdown(w io.Writer, results []*rules.Result, opt Options) error {
	return Write(w, Markdown, results, opt)
}

// markdownWriter collects the report: its counts come first and its length
// is capped, so nothing can be written before the last file. It keeps the
// rendered text of each file, never the result.
type markdownWriter struct {
	w      io.Writer
	opt    Options
	report mdReport
}

func newMarkdownWriter(w io.Writer, opt Options) *markdownWriter {
	return &markdownWriter{w: w, opt: opt, report: mdReport{tally: mdTally{bySeverity: map[rules.Severity]int{}}}}
}

func (m *markdownWriter) Render(r *rules.Result) Part { return renderMD(r) }

func (m *markdownWriter) Add(p Part) error {
	mp, ok := p.(mdPart)
	if !ok {
		return wrongPart(p)
	}
	m.report.add(mp)
	return nil
}

func (m *markdownWriter) Close() error {
	text := m.report.render(m.opt, MarkdownLimit)
	if n := m.report.suppressed; n > 0 {
		text += fmt.Sprintf("\n_%s accepted by the configuration or the baseline are not shown (they are in the JSON and SARIF output)._\n", plural(n, "suppressed finding"))
	}
	_, err := io.WriteString(m.w, text)
	return err
}

// mdFile is a file with findings, rendered, its sections in the order they
// are shown (most severe first).
type mdFile struct {
	sevs   []rules.Severity // the severity of each section
	worst  rules.Severity
	header string   // the file's heading and counts, without the shown/left-out note
	blind  string   // the list of blind spots (unresolved indirect calls), "" if none
	parts  []string // finding sections, in order
}

// mdTally counts what a report covers.
type mdTally struct {
	files, failed, withFindings int
	bySeverity                  map[rules.Severity]int
}

func (t mdTally) findings() int {
	n := 0
	for _, c := range t.bySeverity {
		n += c
	}
	return n
}

// mdReport is what a Markdown report needs of the files added so far: the
// failed and clean files are kept by path and error alone.
type mdReport struct {
	tally         mdTally
	files         []*mdFile
	failed, clean []*rules.Result
	suppressed    int
}

// mdPart is what a file contributes to the report: its rendered sections
// when it has findings, else its path (and error).
type mdPart struct {
	file       *mdFile
	stub       *rules.Result // Path and Err only
	counts     map[rules.Severity]int
	suppressed int
}

func (mdPart) part() {}

func renderMD(r *rules.Result) mdPart {
	shown, hidden := unsuppressed([]*rules.Result{r})
	r = shown[0]
	p := mdPart{suppressed: sumValues(hidden), counts: map[rules.Severity]int{}}
	if r.Err != nil || len(r.Findings) == 0 {
		p.stub = &rules.Result{Path: r.Path, Err: r.Err}
		return p
	}
	p.file = newMDFile(r)
	for _, f := range r.Findings {
		p.counts[f.Severity]++
	}
	return p
}

func (m *mdReport) add(p mdPart) {
	m.suppressed += p.suppressed
	m.tally.files++
	switch {
	case p.file != nil:
		m.tally.withFindings++
		m.files = append(m.files, p.file)
		for sev, n := range p.counts {
			m.tally.bySeverity[sev] += n
		}
	case p.stub.Err != nil:
		m.tally.failed++
		m.failed = append(m.failed, p.stub)
	default:
		m.clean = append(m.clean, p.stub)
	}
}

// markdownReport renders results as one report of at most limit bytes.
func markdownReport(results []*rules.Result, opt Options, limit int) string {
	m := mdReport{tally: mdTally{bySeverity: map[rules.Severity]int{}}}
	for _, r := range results {
		m.add(renderMD(r))
	}
	return m.render(opt, limit)
}

func (m *mdReport) render(opt Options, limit int) string {
	t, files := m.tally, append([]*mdFile(nil), m.files...)
	// Files with the most severe findings first; the order given otherwise.
	sort.SliceStable(files, func(i, j int) bool { return files[i].worst > files[j].worst })

	head := mdHead(t)
	tail := mdFailed(m.failed) + mdClean(m.clean) + mdFooter(opt)

	// Which findings are shown: all if they fit, else the most severe that
	// fit, whole sections, so that what is left out is the tail of the
	// order (severity, then file, then finding).
	type pick struct{ file, part int }
	var order []pick
	for _, sev := range severitiesDown {
		for fi, mf := range files {
			for pi, s := range mf.sevs {
				if s == sev {
					order = append(order, pick{fi, pi})
				}
			}
		}
	}
	cost := func(p pick, started bool) int {
		n := len(files[p.file].parts[p.part])
		if !started {
			n += len(files[p.file].header) + len(files[p.file].blind) + len(" (10000000 not shown).\n")
		}
		return n
	}
	shown := make([][]bool, len(files))
	for i := range files {
		shown[i] = make([]bool, len(files[i].parts))
	}
	budget := limit - len(head) - len(tail)
	total, started := 0, map[int]bool{}
	for _, p := range order {
		total += cost(p, started[p.file])
		started[p.file] = true
	}
	left, leftOut := 0, map[rules.Severity]int{}
	if total > budget {
		budget -= mdNoticeReserve
		started = map[int]bool{}
		for k, p := range order {
			c := cost(p, started[p.file])
			if c > budget {
				left = len(order) - k
				for _, q := range order[k:] {
					mf := files[q.file]
					leftOut[mf.sevs[q.part]]++
				}
				break
			}
			budget -= c
			started[p.file] = true
			shown[p.file][p.part] = true
		}
	} else {
		for _, p := range order {
			shown[p.file][p.part] = true
		}
	}

	var b strings.Builder
	b.WriteString(head)
	if left > 0 {
		b.WriteString(mdNotice(left, len(order), leftOut))
	}
	for fi, mf := range files {
		n := 0
		for _, s := range shown[fi] {
			if s {
				n++
			}
		}
		if n == 0 {
			continue
		}
		b.WriteString(mf.header)
		b.WriteString(mdShownNote(n, len(mf.parts)))
		b.WriteString(mf.blind)
		for pi, part := range mf.parts {
			if shown[fi][pi] {
				b.WriteString(part)
			}
		}
	}
	b.WriteString(tail)
	return b.String()
}

func newMDFile(r *rules.Result) *mdFile {
	mf := &mdFile{worst: rules.Note}
	order := make([]int, len(r.Findings))
	for i, f := range r.Findings {
		order[i] = i
		if f.Severity > mf.worst {
			mf.worst = f.Severity
		}
	}
	// rules.Run sorts already; results built otherwise get the same order.
	sort.SliceStable(order, func(a, b int) bool {
		return r.Findings[order[a]].Severity > r.Findings[order[b]].Severity
	})
	counts := map[rules.Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	var h strings.Builder
	fmt.Fprintf(&h, "\n---\n\n### %s\n\n", codeSpan(clip(r.Path, maxMDText)))
	if r.Kind != "" {
		fmt.Fprintf(&h, "Driver kind %s; ", mdText(string(r.Kind)))
	}
	fmt.Fprintf(&h, "%s: %s", plural(len(r.Findings), "finding"), severityCounts(counts))
	mf.header = h.String()
	if len(r.Unresolved) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "\n<details><summary>%s on callback paths not resolved: what they reach is not analysed</summary>\n\n",
			plural(len(r.Unresolved), "indirect call"))
		for i, u := range r.Unresolved {
			if i == maxMDBlindSpots {
				fmt.Fprintf(&b, "- and %d more (all in JSON and SARIF)\n", len(r.Unresolved)-i)
				break
			}
			fmt.Fprintf(&b, "- %s %s-operation %s: the call at `%#x` via %s\n", mdText(majorsText(u)), u.Callback.Kind,
				codeSpan(stepName(u.Callback.RVA, u.Callback.Name)), u.Site, mdText(clip(stepsText(u.Path), maxMDText)))
		}
		b.WriteString("\n</details>\n")
		mf.blind = b.String()
	}
	for _, i := range order {
		mf.sevs = append(mf.sevs, r.Findings[i].Severity)
		mf.parts = append(mf.parts, mdFinding(r, &r.Findings[i]))
	}
	return mf
}

// maxMDBlindSpots bounds the unresolved calls a file's section lists.
const maxMDBlindSpots = 10

// mdShownNote ends a file's counts line, saying how many of its findings
// are left out, if any.
func mdShownNote(shown, all int) string {
	if shown == all {
		return ".\n"
	}
	return fmt.Sprintf(" (%d not shown).\n", all-shown)
}

// mdNoticeReserve is room kept for the notice of findings left out.
const mdNoticeReserve = 400

// mdNotice says how many findings, of which severities, are left out.
func mdNotice(left, all int, counts map[rules.Severity]int) string {
	return fmt.Sprintf("\n> [!WARNING]\n> %d of %s (%s) are not shown: the comment would pass GitHub's limit of "+
		"65,536 characters. `drvhazard scan --format json` or `--format sarif` lists them all.\n",
		left, plural(all, "finding"), severityCounts(counts))
}

func mdHead(t mdTally) string {
	icon := ":white_check_mark:"
	switch {
	case t.bySeverity[rules.Error] > 0 || t.failed > 0:
		icon = ":x:"
	case t.bySeverity[rules.Warning] > 0:
		icon = ":warning:"
	case t.bySeverity[rules.Note] > 0:
		icon = ":information_source:"
	}
	var verdict string
	switch analysed := t.files - t.failed; {
	case t.findings() > 0:
		verdict = fmt.Sprintf("%s in %s (%s)", plural(t.findings(), "finding"), plural(t.withFindings, "file"),
			severityCounts(t.bySeverity))
	case analysed > 0:
		verdict = "no findings in " + plural(analysed, "file")
	default:
		verdict = "no file analysed"
	}
	if t.failed > 0 {
		verdict += fmt.Sprintf("; %s could not be analysed", plural(t.failed, "file"))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## %s drvhazard: %s\n\n", icon, verdict)
	b.WriteString("| files | analysed | failed | errors | warnings | notes |\n|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d |\n", t.files, t.files-t.failed, t.failed,
		t.bySeverity[rules.Error], t.bySeverity[rules.Warning], t.bySeverity[rules.Note])
	return b.String()
}

// severityCounts says "2 errors, 1 warning", most severe first, leaving
// out the severities with none.
func severityCounts(counts map[rules.Severity]int) string {
	var parts []string
	for _, s := range severitiesDown {
		if n := counts[s]; n > 0 {
			parts = append(parts, plural(n, s.String()))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "sh") || strings.HasSuffix(word, "ch") || strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word) // crashes, matches
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func severityIcon(s rules.Severity) string {
	switch s {
	case rules.Error:
		return ":x:"
	case rules.Warning:
		return ":warning:"
	}
	return ":information_source:"
}

// mdFinding is the section of one finding.
func mdFinding(r *rules.Result, f *rules.Finding) string {
	var b strings.Builder
	id, name, help := "(no rule)", "", ""
	if f.Rule != nil {
		id, name, help = f.Rule.ID, f.Rule.Name, f.Rule.Help
	}
	fmt.Fprintf(&b, "\n#### %s [%s %s](%s#%s)\n\n", severityIcon(f.Severity), mdText(id), mdText(name),
		rulesDocURL, strings.ToLower(id))
	at := fmt.Sprintf("RVA `%#x`", f.Site)
	if r.Image != nil {
		at += fmt.Sprintf(", VA `%#x`", r.Image.VA(f.Site))
	}
	if src := shortSource(r, f.Site); src != "" {
		fmt.Fprintf(&b, "Severity **%s**, at %s (%s).\n\n", f.Severity, at, codeSpan(src))
	} else {
		fmt.Fprintf(&b, "Severity **%s**, at %s.\n\n", f.Severity, at)
	}
	fmt.Fprintf(&b, "%s\n", mdText(sentence(f.Message)))
	for _, reg := range mdRegistrations(r, f.Callback) {
		fmt.Fprintf(&b, "\n**Registration:** %s.\n", reg)
	}
	if len(f.Path) > 0 {
		b.WriteString("\n**Call path:**\n\n")
		b.WriteString(mermaidPath(r, f))
	}
	if fix := fixParagraph(help); fix != "" {
		fmt.Fprintf(&b, "\n%s\n", fix)
	}
	return b.String()
}

// fixParagraph is the "**Fix:**" paragraph of a rule's help, on one line
// (GitHub comments break lines where the source does).
func fixParagraph(help string) string {
	for _, p := range strings.Split(help, "\n\n") {
		if p = strings.TrimSpace(p); strings.HasPrefix(p, "**Fix:**") {
			return strings.Join(strings.Fields(p), " ")
		}
	}
	return ""
}

// operationFlagNames are the FLTFL_OPERATION_REGISTRATION_* flags of
// fltKernel.h, by the names a developer greps for.
var operationFlagNames = []struct {
	bit  uint32
	name string
}{
	{0x1, "FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO"}, {0x2, "FLTFL_OPERATION_REGISTRATION_SKIP_CACHED_IO"},
	{0x4, "FLTFL_OPERATION_REGISTRATION_SKIP_NON_DASD_IO"}, {0x8, "FLTFL_OPERATION_REGISTRATION_SKIP_NON_CACHED_NON_PAGING_IO"},
}

// operationFlags says "flags 0x0 (no FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO)": the flags by name,
// and for reads and writes, the only operations that carry paging I/O,
// whether SKIP_PAGING_IO is missing.
func operationFlags(op rules.Operation) string {
	var parts []string
	rest := op.Flags
	for _, f := range operationFlagNames {
		if op.Flags&f.bit != 0 {
			parts = append(parts, f.name)
			rest &^= f.bit
		}
	}
	if rest != 0 {
		parts = append(parts, hex(uint64(rest)))
	}
	names := strings.Join(parts, " | ")
	if pagingMajor(op.Major) && op.Flags&0x1 == 0 {
		if names != "" {
			names += "; "
		}
		names += "no FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO"
	}
	if names == "" {
		return "flags " + hex(uint64(op.Flags))
	}
	return fmt.Sprintf("flags %#x (%s)", op.Flags, names)
}

func pagingMajor(m uint8) bool {
	n := rules.MajorName(m)
	return n == "IRP_MJ_READ" || n == "IRP_MJ_WRITE"
}

// mdRegistrations finds the operation registrations of a finding's
// callback: same major, the callback as its pre- or post-operation routine.
func mdRegistrations(r *rules.Result, cb *rules.CallbackRef) []string {
	if cb == nil || r.Model == nil {
		return nil
	}
	var out []string
	for _, reg := range r.Model.Registrations {
		for _, op := range reg.Operations {
			if rules.MajorName(op.Major) != cb.Major {
				continue
			}
			if (cb.Kind == "pre" && op.Pre == cb.RVA) || (cb.Kind == "post" && op.Post == cb.RVA) {
				out = append(out, registrationText(r, reg, op))
			}
		}
	}
	return out
}

// registrationText: "`IRP_MJ_READ` registered with flags 0x0 (no
// FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO) in FLT_REGISTRATION at 0x2020 (.rdata), passed to
// FltRegisterFilter by `DriverEntry` at 0x1182; pre-operation `PreRead`,
// post-operation none".
func registrationText(r *rules.Result, reg *rules.Registration, op rules.Operation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s registered with %s", codeSpan(rules.MajorName(op.Major)), operationFlags(op))
	switch {
	case reg.Where == "stack":
		b.WriteString(" in a FLT_REGISTRATION built on the stack")
	case reg.RVA != 0:
		where := reg.Where
		if r.Image != nil {
			if s := r.Image.Section(reg.RVA); s != nil {
				where = s.Name
			}
		}
		fmt.Fprintf(&b, " in FLT_REGISTRATION at %#x (%s)", reg.RVA, mdText(where))
	default:
		b.WriteString(" in a FLT_REGISTRATION")
	}
	if reg.Caller != nil {
		fmt.Fprintf(&b, ", passed to FltRegisterFilter by %s at %#x", codeSpan(reg.Caller.DisplayName()), reg.Site)
	}
	fmt.Fprintf(&b, "; pre-operation %s, post-operation %s", callbackName(r, op.Pre), callbackName(r, op.Post))
	return b.String()
}

func callbackName(r *rules.Result, rva uint32) string {
	if rva == 0 {
		return "none"
	}
	name := ""
	if r.Program != nil {
		if f := r.Program.Func(rva); f != nil {
			name = f.Name
		}
	}
	return codeSpan(stepName(rva, name))
}

// mermaidPath draws a finding's call paths as one Mermaid flowchart: its
// only path as mermaidTrace draws it, or all its traces merged, a node per
// function and per sink, so that the function where they part shows.
func mermaidPath(r *rules.Result, f *rules.Finding) string {
	long := false
	for _, t := range f.Traces {
		long = long || len(t.Path) > maxMermaidSteps
	}
	if len(f.Traces) <= 1 || long || len(f.Traces) > maxMermaidTraces {
		return mermaidTrace(r, f.Path, f.Sink)
	}
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	ids := map[uint32]string{}
	node := func(s rules.Step) string {
		if id, ok := ids[s.RVA]; ok {
			return id
		}
		id := fmt.Sprintf("n%d", len(ids))
		ids[s.RVA] = id
		return fmt.Sprintf("%s[\"%s\"]", id, mermaidLabel(stepName(s.RVA, s.Name)))
	}
	sinks := map[string]string{}
	drawn := map[string]bool{}
	line := func(l string) {
		if !drawn[l] {
			drawn[l] = true
			b.WriteString(l)
		}
	}
	for _, t := range f.Traces {
		for i := 0; i+1 < len(t.Path); i++ {
			from := node(t.Path[i])
			line(fmt.Sprintf("  %s %s %s\n", from, mermaidEdge("call", t.Path[i].Call, shortSource(r, t.Path[i].Call)), node(t.Path[i+1])))
		}
		edge, label := mermaidSink(r, t.Path, t.Sink)
		id, ok := sinks[label]
		target := id
		if !ok {
			id = fmt.Sprintf("sink%d", len(sinks))
			sinks[label] = id
			target = fmt.Sprintf("%s([\"%s\"])", id, mermaidLabel(label))
		}
		line(fmt.Sprintf("  %s %s %s\n", node(t.Path[len(t.Path)-1]), edge, target))
	}
	b.WriteString("```\n")
	return b.String()
}

// maxMermaidTraces is the most paths one flowchart merges; past it the
// first is drawn (the JSON output has them all).
const maxMermaidTraces = 12

// mermaidTrace draws one call path as a Mermaid flowchart: a node
// per step, an edge per call labelled with the RVA of the call, and the
// sink as the last node, so one edge per step. Paths of more than
// maxMermaidSteps steps keep both ends and say how many calls are left out.
func mermaidTrace(r *rules.Result, path []rules.Step, sinkName string) string {
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	n := len(path)
	half := maxMermaidSteps / 2
	declared := map[int]bool{}
	node := func(i int) string {
		id := fmt.Sprintf("n%d", i)
		if declared[i] {
			return id
		}
		declared[i] = true
		s := path[i]
		return fmt.Sprintf("%s[\"%s\"]", id, mermaidLabel(stepName(s.RVA, s.Name)))
	}
	for i := 0; i < n-1; i++ {
		if n > maxMermaidSteps && i >= half-1 && i < n-half {
			if i == half-1 {
				fmt.Fprintf(&b, "  %s %s gap[\"%s\"]\n", node(i), mermaidEdge("call", path[i].Call, shortSource(r, path[i].Call)),
					mermaidLabel(fmt.Sprintf("... %d more calls ...", n-maxMermaidSteps)))
				fmt.Fprintf(&b, "  gap -.-> %s\n", node(n-half))
			}
			continue
		}
		fmt.Fprintf(&b, "  %s %s %s\n", node(i), mermaidEdge("call", path[i].Call, shortSource(r, path[i].Call)), node(i+1))
	}
	edge, label := mermaidSink(r, path, sinkName)
	fmt.Fprintf(&b, "  %s %s sink([\"%s\"])\n", node(n-1), edge, mermaidLabel(label))
	b.WriteString("```\n")
	return b.String()
}

// mermaidEdge is an arrow labelled with what the step does at an RVA.
// mermaidEdge labels an edge with the call's address and, when known, its
// source line.
func mermaidEdge(verb string, rva uint32, src string) string {
	if rva == 0 {
		return "-->"
	}
	if src != "" {
		return fmt.Sprintf("-->|\"%s %#x, %s\"|", verb, rva, mermaidLabel(src))
	}
	return fmt.Sprintf("-->|%s %#x|", verb, rva)
}

// mermaidSink is the edge from the last step to the sink and the sink's
// label, from the finding's sink (see sinkText): an import it calls, a
// status it returns, the pageable section it lies in, the stack depth its
// call chain reaches.
func mermaidSink(r *rules.Result, path []rules.Step, sink string) (edge, label string) {
	last := path[len(path)-1]
	switch {
	case strings.HasPrefix(sink, "PAGE:"):
		section := "PAGE"
		if r.Image != nil {
			if s := r.Image.Section(last.RVA); s != nil {
				section = s.Name
			}
		}
		return "-.->|lies in|", "pageable section " + section
	case strings.HasPrefix(sink, "stack:"):
		return "-.->|reaches|", strings.TrimPrefix(sink, "stack:") + " bytes of stack"
	case strings.HasPrefix(sink, "FLT_PREOP_"):
		return mermaidEdge("ret", last.Call, ""), sink
	case sink == "":
		return mermaidEdge("call", last.Call, shortSource(r, last.Call)), "sink"
	default:
		return mermaidEdge("call", last.Call, shortSource(r, last.Call)), sink
	}
}

// mermaidLabel makes text safe inside a quoted Mermaid label and a Markdown
// code fence: letters, digits and a few harmless marks stay, every other
// character becomes a Mermaid entity code (#35; for "#"), so that a name
// from a hostile binary cannot end the label, the fence or the diagram, or
// inject HTML. Long labels are cut.
func mermaidLabel(s string) string {
	s = clip(s, maxMermaidLabel)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" _.!:()+,/-=?", r):
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			b.WriteString("#65533;")
		default:
			fmt.Fprintf(&b, "#%d;", r)
		}
	}
	return b.String()
}

func mdFailed(failed []*rules.Result) string {
	if len(failed) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n---\n\n### Files that could not be analysed\n\n")
	for i, r := range failed {
		if i == maxFailedListed {
			fmt.Fprintf(&b, "- and %d more\n", len(failed)-i)
			break
		}
		fmt.Fprintf(&b, "- %s: %s\n", codeSpan(clip(r.Path, maxMDText)), mdText(clip(unprefixed(r), maxMDText)))
	}
	return b.String()
}

func mdClean(clean []*rules.Result) string {
	if len(clean) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n<details><summary>%s without findings</summary>\n\n", plural(len(clean), "file"))
	for i, r := range clean {
		if i == maxCleanListed {
			fmt.Fprintf(&b, "- and %d more\n", len(clean)-i)
			break
		}
		fmt.Fprintf(&b, "- %s\n", codeSpan(clip(r.Path, maxMDText)))
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

func mdFooter(opt Options) string {
	v := opt.ToolVersion
	if v == "" {
		v = "devel"
	}
	return fmt.Sprintf("\n<sub>drvhazard %s · [rules](%s)</sub>\n", mdText(clip(v, 40)), rulesDocURL)
}

// clip cuts s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-3]) + "..."
}

// oneLine turns line breaks and tabs into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' || r == '\v' || r == '\f' {
			return ' '
		}
		return r
	}, s)
}

// mdText escapes text for a Markdown paragraph on one line: the marks that
// start emphasis, code, links, HTML, mentions and issue references get a
// backslash (CommonMark lets any ASCII punctuation be escaped), as do a
// leading list, quote or heading marker and an "&" that could start an
// entity; "_" only where it could start or end emphasis, so that
// IRP_MJ_READ and "A -> B" stay as they are.
func mdText(s string) string {
	rs := []rune(oneLine(s))
	word := func(i int) bool {
		if i < 0 || i >= len(rs) {
			return false
		}
		r := rs[i]
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	var b strings.Builder
	for i, r := range rs {
		switch {
		case strings.ContainsRune("\\`*[]<~#@", r),
			r == '_' && !(word(i-1) && word(i+1)),
			r == '&' && (word(i+1) || i+1 < len(rs) && rs[i+1] == '#'),
			i == 0 && strings.ContainsRune("-+=>", r),
			(r == '.' || r == ')') && leadingNumber(rs[:i]):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// leadingNumber reports whether rs is all digits (an ordered-list marker
// would follow).
func leadingNumber(rs []rune) bool {
	if len(rs) == 0 {
		return false
	}
	for _, r := range rs {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// codeSpan puts text in a Markdown code span, with a fence longer than any
// run of backticks in it.
func codeSpan(s string) string {
	s = oneLine(s)
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func sumValues(m map[*rules.Result]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
