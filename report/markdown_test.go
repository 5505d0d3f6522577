package report

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/rules"
)

// The fixtures of the Markdown tests: between them every rule family, sinks
// of every kind (imports, returned statuses, PAGE code, stack depth), a
// registration on the stack, and findings without a path (KD5001).
var markdownFixtures = []string{
	"mf_rdata.gcc.sys", "mf_hazards.clang.sys", "mf_init.gcc.sys", "mf_locks.gcc.sys", "mf_stack.gcc.sys",
	"mf_variants.gcc.sys", "mf_malformed.gcc.sys", "hvci_wx.gcc.sys", "large.gcc.sys",
}

func writeMarkdown(t *testing.T, results []*rules.Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, results, Options{ToolVersion: "v1.2.3"}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMarkdownIsAFormat(t *testing.T) {
	t.Parallel()
	if f, err := ParseFormat("markdown"); err != nil || f != Markdown {
		t.Fatalf("ParseFormat(markdown) = %q, %v", f, err)
	}
	var b bytes.Buffer
	if err := Write(&b, Markdown, nil, Options{}); err != nil || !strings.Contains(b.String(), "no file analysed") {
		t.Errorf("Write(Markdown, nil) = %v\n%s", err, b.String())
	}
}

var (
	mermaidEdgeRE = regexp.MustCompile(`^  (\w+)(?:\[.*\])? (-->|-\.->)(?:\|([^|]*)\|)? (\w+)`)
	mermaidNodeRE = regexp.MustCompile(`\b(\w+)(\["|\(\[")`)
)

// checkMergedDiagram checks the diagram of a finding with several traces:
// each function and each sink is one node, declared once, and every call
// of every trace is an edge between its functions' nodes.
func checkMergedDiagram(t *testing.T, what string, f *rules.Finding, diagram string) {
	t.Helper()
	ids := map[string]string{} // label -> node id
	for _, m := range regexp.MustCompile(`\b(\w+)(?:\["|\(\[")([^"]*)"`).FindAllStringSubmatch(diagram, -1) {
		if _, dup := ids[m[2]]; dup {
			t.Errorf("%s: %s declared twice", what, m[2])
		}
		ids[m[2]] = m[1]
	}
	edges := map[string]bool{}
	for _, l := range strings.Split(diagram, "\n")[1:] {
		if m := mermaidEdgeRE.FindStringSubmatch(l); m != nil {
			edges[m[1]+" "+m[3]+" "+m[4]] = true
		}
	}
	for _, tr := range f.Traces {
		for i := 0; i+1 < len(tr.Path); i++ {
			from, to := ids[stepName(tr.Path[i].RVA, tr.Path[i].Name)], ids[stepName(tr.Path[i+1].RVA, tr.Path[i+1].Name)]
			if e := fmt.Sprintf("%s call %#x %s", from, tr.Path[i].Call, to); !edges[e] {
				t.Errorf("%s: no edge %q in\n%s", what, e, diagram)
			}
		}
		last := ids[stepName(tr.Path[len(tr.Path)-1].RVA, tr.Path[len(tr.Path)-1].Name)]
		found := false
		for e := range edges {
			found = found || strings.HasPrefix(e, last+" ") && strings.Contains(e, " sink")
		}
		if !found {
			t.Errorf("%s: %s has no edge to a sink in\n%s", what, last, diagram)
		}
	}
}

// mermaidBlocks returns the bodies of the mermaid code blocks of md.
func mermaidBlocks(md string) []string {
	var out []string
	for _, part := range strings.Split(md, "```mermaid\n")[1:] {
		body, _, ok := strings.Cut(part, "```\n")
		if !ok {
			return append(out, "unterminated: "+part)
		}
		out = append(out, body)
	}
	return out
}

// TestMarkdownMermaidPaths checks each finding's diagram: one edge per step
// of its path, in order, labelled with the step's call where it is one, and
// the sink as the last node; long paths keep both ends.
func TestMarkdownMermaidPaths(t *testing.T) {
	t.Parallel()
	results := analyseFixtures(t, markdownFixtures...)
	long, merged := 0, 0
	for _, r := range results {
		for i := range r.Findings {
			f := &r.Findings[i]
			blocks := mermaidBlocks(mdFinding(r, f))
			if len(f.Path) == 0 {
				if len(blocks) != 0 {
					t.Errorf("%s %s: no path but a diagram", r.Path, f.Rule.ID)
				}
				continue
			}
			if len(blocks) != 1 {
				t.Fatalf("%s %s: %d diagrams, want 1", r.Path, f.Rule.ID, len(blocks))
			}
			lines := strings.Split(strings.TrimSuffix(blocks[0], "\n"), "\n")
			if lines[0] != "flowchart LR" {
				t.Errorf("%s %s: diagram starts %q", r.Path, f.Rule.ID, lines[0])
			}
			if len(f.Traces) > 1 {
				merged++
				checkMergedDiagram(t, r.Path+" "+f.Rule.ID, f, blocks[0])
				continue
			}
			var edges [][]string
			for _, l := range lines[1:] {
				m := mermaidEdgeRE.FindStringSubmatch(l)
				if m == nil {
					t.Errorf("%s %s: not an edge: %q", r.Path, f.Rule.ID, l)
					continue
				}
				edges = append(edges, m[1:])
			}
			n := len(f.Path)
			if n > maxMermaidSteps {
				long++
				if len(edges) != maxMermaidSteps+1 || !strings.Contains(blocks[0], fmt.Sprintf("%d more calls", n-maxMermaidSteps)) {
					t.Errorf("%s %s: %d steps drawn as %d edges:\n%s", r.Path, f.Rule.ID, n, len(edges), blocks[0])
				}
				continue
			}
			if len(edges) != n {
				t.Errorf("%s %s: %d edges for %d steps:\n%s", r.Path, f.Rule.ID, len(edges), n, blocks[0])
				continue
			}
			for k, e := range edges {
				from, label, to := e[0], e[2], e[3]
				want := "sink"
				if k+1 < n {
					want = fmt.Sprintf("n%d", k+1)
					if c := f.Path[k].Call; c != 0 && label != fmt.Sprintf("call %#x", c) {
						t.Errorf("%s %s: edge %d label %q, want call %#x", r.Path, f.Rule.ID, k, label, c)
					}
				}
				if from != fmt.Sprintf("n%d", k) || to != want {
					t.Errorf("%s %s: edge %d is %s -> %s, want n%d -> %s", r.Path, f.Rule.ID, k, from, to, k, want)
				}
			}
			// Each node is declared, with its label, once.
			declared := map[string]int{}
			for _, m := range mermaidNodeRE.FindAllStringSubmatch(blocks[0], -1) {
				declared[m[1]]++
			}
			for id, c := range declared {
				if c != 1 {
					t.Errorf("%s %s: node %s declared %d times", r.Path, f.Rule.ID, id, c)
				}
			}
			if len(declared) != n+1 {
				t.Errorf("%s %s: %d nodes for %d steps and the sink", r.Path, f.Rule.ID, len(declared), n)
			}
		}
	}
	if merged == 0 {
		t.Error("no finding with several traces among the fixtures: the merged diagram is not checked")
	}
	if long == 0 {
		t.Error("no fixture has a path long enough to be elided (large.gcc.sys should)")
	}
}

func TestMarkdownFinding(t *testing.T) {
	t.Parallel()
	results := analyseFixtures(t, "mf_rdata.gcc.sys", "mf_stack.gcc.sys", "mf_variants.gcc.sys")
	md := writeMarkdown(t, results)
	for _, want := range []string{
		"## :x: drvhazard: 6 findings in 3 files (3 errors, 3 warnings)\n",
		"| 3 | 3 | 0 | 3 | 3 | 0 |\n",
		"#### :x: [MF2001 PagingPathCallsPageableRoutine](https://github.com/drvhazard/drvhazard/blob/main/docs/rules.md#mf2001)\n",
		"**Registration:** `IRP_MJ_READ` registered with flags 0x0 (no FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO) in FLT_REGISTRATION at 0x2020 (.rdata), " +
			"passed to FltRegisterFilter by `DriverEntry` at 0x1182; pre-operation `PreRead`, post-operation none.\n",
		"registered with flags 0x0 (no FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO) in a FLT_REGISTRATION built on the stack, passed to FltRegisterFilter by `DriverEntry`",
		// FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO is named when set, and its absence is not news for
		// operations other than reads and writes.
		"`IRP_MJ_ACQUIRE_FOR_CC_FLUSH` registered with flags 0x1 (FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO) in FLT_REGISTRATION",
		"`IRP_MJ_CLEANUP` registered with flags 0x0 in FLT_REGISTRATION",
		"n0[\"PreCleanupWantsPost\"] -->|ret 0x",
		"sink([\"FLT_PREOP_SUCCESS_WITH_CALLBACK\"])",
		// The fix is the rule's, on one line.
		"\n**Fix:** register the operation with FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO if the filter does not need paging I/O, or",
		"IRQL \\<= APC_LEVEL) on the paging path via PreRead -> ProcessXid",
		"<sub>drvhazard v1.2.3 · [rules]",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "<details>") {
		// Three files, all with findings: none is listed as clean.
		t.Errorf("files without findings listed:\n%s", md)
	}
	// Files most severe first: mf_stack has warnings only.
	if strings.Index(md, "mf_stack.gcc.sys") < strings.Index(md, "mf_variants.gcc.sys") {
		t.Error("mf_stack.gcc.sys (warnings) comes before mf_variants.gcc.sys (an error)")
	}
	for _, r := range results {
		for _, f := range r.Findings {
			if fix := fixParagraph(f.Rule.Help); fix == "" || !strings.Contains(md, fix) {
				t.Errorf("%s: fix %q missing", f.Rule.ID, fix)
			}
		}
	}
	if md != writeMarkdown(t, results) {
		t.Error("two reports of the same results differ")
	}
}

// TestMarkdownFailedFile: files that cannot be analysed are listed with
// their error, turn the verdict red, and a long list is cut short.
func TestMarkdownFailedFile(t *testing.T) {
	t.Parallel()
	bad := filepath.Join("..", "testdata", "bin", "bad_arm64.clang.sys")
	_, err := loader.Load(bad)
	if err == nil {
		t.Fatal("bad_arm64.clang.sys loads")
	}
	results := analyseFixtures(t, "callforms.gcc.sys")
	results = append(results, &rules.Result{Path: bad, Err: err},
		&rules.Result{Path: "drivers/`odd` *name*.sys", Err: errors.New("open: <permission denied>")})
	md := writeMarkdown(t, results)
	for _, want := range []string{
		"## :x: drvhazard: no findings in 1 file; 2 files could not be analysed\n",
		"| 3 | 1 | 2 | 0 | 0 | 0 |\n",
		"### Files that could not be analysed\n\n",
		"- `../testdata/bin/bad_arm64.clang.sys`: unsupported machine: arm64 image: drvhazard analyses x64 (AMD64) drivers only (at file offset 0x7c)\n",
		"- `` drivers/`odd` *name*.sys ``: open: \\<permission denied>\n",
		"<details><summary>1 file without findings</summary>\n\n- `../testdata/bin/callforms.gcc.sys`\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}

	var many []*rules.Result
	for i := range maxFailedListed + 5 {
		many = append(many, &rules.Result{Path: fmt.Sprintf("f%02d.sys", i), Err: errors.New("truncated")})
	}
	md = writeMarkdown(t, many)
	if got := strings.Count(md, ": truncated\n"); got != maxFailedListed || !strings.Contains(md, "- and 5 more\n") {
		t.Errorf("%d failed files listed of %d:\n%s", got, len(many), md)
	}
}

// TestMarkdownTruncation: a report that would pass the limit keeps the
// most severe findings, whole, and says how many it left out and which.
func TestMarkdownTruncation(t *testing.T) {
	t.Parallel()
	base := analyseFixtures(t, "mf_hazards.clang.sys", "mf_malformed.gcc.sys", "mf_stack.gcc.sys")
	var results []*rules.Result
	total, bySev := 0, map[rules.Severity]int{}
	for i := range 9 {
		for _, r := range base {
			c := *r
			c.Path = fmt.Sprintf("drivers/%02d/%s", i, filepath.Base(r.Path))
			results = append(results, &c)
			total += len(c.Findings)
			for _, f := range c.Findings {
				bySev[f.Severity]++
			}
		}
	}
	results = append(results, &rules.Result{Path: "broken.sys", Err: errors.New("not a PE file")})

	full := markdownReport(results, Options{}, 1<<30)
	if len(full) <= MarkdownLimit {
		t.Fatalf("the test needs more findings: the whole report is %d bytes", len(full))
	}
	if strings.Contains(full, "not shown") || strings.Count(full, "\n#### ") != total {
		t.Fatalf("without a limit: %d sections of %d findings", strings.Count(full, "\n#### "), total)
	}
	md := writeMarkdown(t, results)
	if len(md) > MarkdownLimit {
		t.Fatalf("report is %d bytes, over the limit of %d", len(md), MarkdownLimit)
	}
	shown := strings.Count(md, "\n#### ")
	if shown == 0 || shown >= total {
		t.Fatalf("%d of %d findings shown", shown, total)
	}
	notice := fmt.Sprintf("> %d of %d findings (", total-shown, total)
	if !strings.Contains(md, notice) {
		t.Errorf("no notice %q", notice)
	}
	// The most severe first: a severity is shown only when all the more
	// severe findings are.
	shownBy := map[rules.Severity]int{}
	for _, s := range severitiesDown {
		shownBy[s] = strings.Count(md, "\n#### "+severityIcon(s)+" ")
	}
	for i, s := range severitiesDown {
		for _, less := range severitiesDown[i+1:] {
			if shownBy[less] > 0 && shownBy[s] != bySev[s] {
				t.Errorf("%d %ss shown while %d of %d %ss are left out", shownBy[less], less, bySev[s]-shownBy[s], bySev[s], s)
			}
		}
	}
	if shownBy[rules.Error] != bySev[rules.Error] || shownBy[rules.Note] == bySev[rules.Note] {
		t.Errorf("shown %v of %v; want every error and not every note", shownBy, bySev)
	}
	// Sections are whole: every one ends with its fix, every diagram closes.
	for _, sec := range strings.Split(md, "\n#### ")[1:] {
		body, _, _ := strings.Cut(sec, "\n---\n")
		if strings.Count(body, "```mermaid\n") != strings.Count(body, "\n```\n") || !strings.Contains(body, "\n**Fix:** ") {
			t.Errorf("a section is cut:\n%s", body)
			break
		}
	}
	// The parts after the findings are still there.
	for _, want := range []string{"- `broken.sys`: not a PE file\n", "<sub>drvhazard v1.2.3"} {
		if !strings.Contains(md, want) {
			t.Errorf("truncated report lacks %q", want)
		}
	}
	// Files whose findings are partly shown say so.
	if !regexp.MustCompile(`findings: .* \(\d+ not shown\)\.\n`).MatchString(md) {
		t.Error("no file says how many of its findings are not shown")
	}

	// Any limit: the report fits whenever its fixed parts do.
	for _, limit := range []int{3000, 5000, 20000} {
		if got := markdownReport(results, Options{}, limit); len(got) > limit {
			t.Errorf("limit %d: report is %d bytes", limit, len(got))
		}
	}
}

// TestMarkdownEscaping: names from the binary (hostile input) cannot break
// the Markdown or the Mermaid diagram.
func TestMarkdownEscaping(t *testing.T) {
	t.Parallel()
	hostile := []string{
		`a"]-->b`, "end", "x`y```z", "<script>alert(1)</script>", "ünï©ode", "%%comment", "A@{ shape: circle }",
		"#quot;", "a|b", "line\nbreak", "\x00ctl", "click n0 call alert()", strings.Repeat("L", 500),
	}
	safe := regexp.MustCompile(`^[A-Za-z0-9 _.!:()+,/=?#;-]*$`)
	for _, s := range hostile {
		l := mermaidLabel(s)
		if !safe.MatchString(l) || strings.Contains(l, `"`) || utf8Len(l) > 8*maxMermaidLabel {
			t.Errorf("mermaidLabel(%q) = %q", s, l)
		}
	}
	if got := mermaidLabel(`a"<b>#`); got != "a#34;#60;b#62;#35;" {
		t.Errorf("mermaidLabel = %q", got)
	}
	for in, want := range map[string]string{
		"plain":       "`plain`",
		"a`b":         "`` a`b ``",
		"x``y`":       "``` x``y` ```",
		"two\nlines":  "`two lines`",
		"":            "` `",
		"IRP_MJ_READ": "`IRP_MJ_READ`",
	} {
		if got := codeSpan(in); got != want {
			t.Errorf("codeSpan(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"IRQL <= APC_LEVEL via A -> B":   `IRQL \<= APC_LEVEL via A -> B`,
		"_emph_ *bold* [link](x) `code`": "\\_emph\\_ \\*bold\\* \\[link\\](x) \\`code\\`",
		"@someone #12 ~~gone~~":          `\@someone \#12 \~\~gone\~\~`,
		"- item":                         `\- item`,
		"> quote":                        `\> quote`,
		"1. first":                       `1\. first`,
		"a & b &amp; &#60;":              `a & b \&amp; \&\#60;`,
		"two\nlines":                     "two lines",
	} {
		if got := mdText(in); got != want {
			t.Errorf("mdText(%q) = %q, want %q", in, got, want)
		}
	}

	// A finding whose every name is hostile still makes one well-formed
	// section with one diagram.
	var path []rules.Step
	for i, s := range hostile {
		path = append(path, rules.Step{RVA: uint32(0x1000 + 0x10*i), Name: s, Call: uint32(0x1008 + 0x10*i)})
	}
	r := &rules.Result{Path: "```evil\n.sys", Kind: "minifilter", Findings: []rules.Finding{{
		Rule: rules.ByID("MF2001"), Severity: rules.Error, Message: "```\n# heading <img src=x>",
		Sink: "ntoskrnl.exe!\"]); click", Path: path,
	}}}
	md := writeMarkdown(t, []*rules.Result{r})
	blocks := mermaidBlocks(md)
	if len(blocks) != 1 || strings.Count(blocks[0], "\n") != len(path)+1 {
		t.Fatalf("diagram broken:\n%s", md)
	}
	fences := 0
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "```") {
			fences++
		}
	}
	if fences != 2 {
		t.Errorf("%d lines open or close a code block, want the diagram's 2:\n%s", fences, md)
	}
	if strings.Contains(md, "\n# ") || !strings.Contains(md, "\\<img") {
		t.Errorf("message not escaped:\n%s", md)
	}
}

func utf8Len(s string) int { return len([]rune(s)) }

func TestOperationFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op   rules.Operation
		want string
	}{
		{rules.Operation{Major: 0x03}, "flags 0x0 (no FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO)"},
		{rules.Operation{Major: 0x04, Flags: 0x1}, "flags 0x1 (FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO)"},
		{rules.Operation{Major: 0x03, Flags: 0x6}, "flags 0x6 (FLTFL_OPERATION_REGISTRATION_SKIP_CACHED_IO | FLTFL_OPERATION_REGISTRATION_SKIP_NON_DASD_IO; no FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO)"},
		{rules.Operation{Major: 0x12}, "flags 0x0"},
		{rules.Operation{Major: 0x12, Flags: 0x18}, "flags 0x18 (FLTFL_OPERATION_REGISTRATION_SKIP_NON_CACHED_NON_PAGING_IO | 0x10)"},
	} {
		if got := operationFlags(tc.op); got != tc.want {
			t.Errorf("operationFlags(%+v) = %q, want %q", tc.op, got, tc.want)
		}
	}
}
