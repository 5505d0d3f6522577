package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/rules"
)

// The fixtures of the SARIF tests: findings with call paths (mf_hazards),
// with named functions (mf_rdata.gcc), and image-wide ones without a path
// (hvci_wx: KD5001).
var sarifFixtures = []string{"mf_hazards.clang.sys", "mf_rdata.gcc.sys", "hvci_wx.gcc.sys"}

func analyseFixtures(t *testing.T, names ...string) []*rules.Result {
	t.Helper()
	var out []*rules.Result
	for _, n := range names {
		p := filepath.Join("..", "testdata", "bin", n)
		img, err := loader.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rules.Analyze(p, "", img, rules.Options{}))
	}
	return out
}

// writeSARIF writes the log with the repository root as source root and
// reads it back with go-sarif, a reader we did not write. (Not with its
// Validate: that checks go-sarif's re-encoding of what it read, which adds
// values of its own, such as an empty threadFlowLocation.importance, that
// the schema rejects. .ci/validate-sarif checks the bytes with the schema
// and GitHub's rules.)
func writeSARIF(t *testing.T, results []*rules.Result) ([]byte, *sarif.Report) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSARIF(&b, results, Options{ToolVersion: "v1.2.3", SourceRoot: ".."}); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b.Bytes()) {
		t.Fatalf("not JSON:\n%s", b.String())
	}
	log, err := sarif.FromBytes(b.Bytes(), sarif.WithStrictValidation())
	if err != nil {
		t.Fatalf("go-sarif cannot read the log: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %q, %d runs; want 2.1.0 and one run", log.Version, len(log.Runs))
	}
	return b.Bytes(), log
}

func TestSARIFResults(t *testing.T) {
	results := analyseFixtures(t, sarifFixtures...)
	raw, log := writeSARIF(t, results)
	run := log.Runs[0]

	if d := run.AutomationDetails; d == nil || d.ID == nil || *d.ID != SARIFCategory {
		t.Errorf("automationDetails = %+v, want id %q", d, SARIFCategory)
	}
	drv := run.Tool.Driver
	if *drv.Name != "drvhazard" || *drv.Version != "1.2.3" || *drv.InformationURI != InformationURI {
		t.Errorf("driver %q %q %q", *drv.Name, *drv.Version, *drv.InformationURI)
	}
	if len(drv.Rules) != len(rules.All()) {
		t.Fatalf("%d rules, want every rule (%d)", len(drv.Rules), len(rules.All()))
	}
	if inv := run.Invocations; len(inv) != 1 || inv[0].ExecutionSuccessful == nil || !*inv[0].ExecutionSuccessful || len(inv[0].ToolExecutionNotifications) != 0 {
		t.Errorf("invocations %+v, want one successful without notifications", inv)
	}

	// The results are the findings, in order, one file after the other.
	var findings []*rules.Finding
	files := map[*rules.Finding]*rules.Result{}
	for _, r := range results {
		for i := range r.Findings {
			findings = append(findings, &r.Findings[i])
			files[&r.Findings[i]] = r
		}
	}
	if len(run.Results) != len(findings) || len(findings) < 10 {
		t.Fatalf("%d results for %d findings", len(run.Results), len(findings))
	}
	withPath, multi := 0, 0
	for i, res := range run.Results {
		f, r := findings[i], files[findings[i]]
		// ruleId is in rules[], and ruleIndex points at it.
		if res.RuleID == nil || *res.RuleID != f.Rule.ID {
			t.Fatalf("result %d: ruleId %v, want %s", i, res.RuleID, f.Rule.ID)
		}
		if res.RuleIndex < 0 || res.RuleIndex >= len(drv.Rules) || *drv.Rules[res.RuleIndex].ID != *res.RuleID {
			t.Errorf("result %d (%s): ruleIndex %d does not point at its rule", i, *res.RuleID, res.RuleIndex)
		}
		if res.Level != f.Severity.String() || res.Message == nil || !strings.HasPrefix(*res.Message.Text, f.Message) {
			t.Errorf("result %d: level %q message %v", i, res.Level, res.Message)
		}
		if got := res.PartialFingerprints[FingerprintKey]; got == "" || got != f.Fingerprint {
			t.Errorf("result %d: partialFingerprints %v, want %s: %s", i, res.PartialFingerprints, FingerprintKey, f.Fingerprint)
		}

		// The location: the .sys relative to the source root, line 1, the
		// RVA in the file's module, and the function.
		if len(res.Locations) != 1 {
			t.Fatalf("result %d: %d locations", i, len(res.Locations))
		}
		base := filepath.Base(r.Path)
		checkLocation(t, run, res.Locations[0], "testdata/bin/"+base, base, f.Site)
		ll := res.Locations[0].LogicalLocations
		if len(ll) != 1 || ll[0].FullyQualifiedName == nil || !strings.HasPrefix(*ll[0].FullyQualifiedName, base) {
			t.Errorf("result %d: logicalLocations %+v", i, ll)
		}

		// The code flow: one location per step of the path, at the call the
		// step makes.
		if len(f.Path) == 0 {
			if len(res.CodeFlows) != 0 {
				t.Errorf("result %d: a code flow without a path", i)
			}
			continue
		}
		withPath++
		// One code flow per trace, each one thread flow: one location
		// per step of the trace's path, at the call the step makes.
		if len(res.CodeFlows) != len(f.Traces) {
			t.Fatalf("result %d: %d code flows for %d traces", i, len(res.CodeFlows), len(f.Traces))
		}
		if len(f.Traces) > 1 {
			multi++
			if res.PartialFingerprints[TracesFingerprintKey] == "" {
				t.Errorf("result %d: %d traces but no %s", i, len(f.Traces), TracesFingerprintKey)
			}
		}
		for k, cf := range res.CodeFlows {
			path := f.Traces[k].Path
			if len(cf.ThreadFlows) != 1 {
				t.Fatalf("result %d flow %d: %d thread flows, want one", i, k, len(cf.ThreadFlows))
			}
			steps := cf.ThreadFlows[0].Locations
			if len(steps) != len(path) {
				t.Fatalf("result %d: %d thread flow locations for a path of %d steps", i, len(steps), len(path))
			}
			for j, s := range steps {
				want := path[j].Call
				if want == 0 {
					want = path[j].RVA
				}
				checkLocation(t, run, s.Location, "testdata/bin/"+base, base, want)
				name := stepName(path[j].RVA, path[j].Name)
				if s.Location.Message == nil || !strings.HasPrefix(*s.Location.Message.Text, name+" ") {
					t.Errorf("result %d step %d: message %v does not start with %s", i, j, s.Location.Message, name)
				}
				if j+1 < len(path) && !strings.Contains(*s.Location.Message.Text, "calls "+stepName(path[j+1].RVA, path[j+1].Name)) {
					t.Errorf("result %d step %d: message %q does not name the callee", i, j, *s.Location.Message.Text)
				}
				if s.NestingLevel == nil || *s.NestingLevel != j {
					t.Errorf("result %d step %d: nestingLevel %v", i, j, s.NestingLevel)
				}
			}
		}
	}
	if multi == 0 {
		t.Error("no finding with several traces: the fixtures should have one")
	}
	if withPath == 0 || withPath == len(findings) {
		t.Errorf("%d of %d findings have paths; the fixtures should have both kinds", withPath, len(findings))
	}

	// Nothing that SARIF defaults or GitHub ignores: no unset indexes.
	if bytes.Contains(raw, []byte(": -1")) || bytes.Contains(raw, []byte("null")) {
		t.Error("the log contains a -1 sentinel or a null")
	}
	// Deterministic: the same input gives the same bytes.
	again, _ := writeSARIF(t, results)
	if !bytes.Equal(raw, again) {
		t.Error("two writes of the same results differ")
	}
}

// checkLocation checks a location in file uri at rva: line 1, and an
// address whose parent is the module named base.
func checkLocation(t *testing.T, run *sarif.Run, loc *sarif.Location, uri, base string, rva uint32) {
	t.Helper()
	pl := loc.PhysicalLocation
	if pl == nil || pl.ArtifactLocation == nil || pl.ArtifactLocation.URI == nil || *pl.ArtifactLocation.URI != uri {
		t.Fatalf("location %+v: want uri %s", pl, uri)
	}
	if pl.Region == nil || pl.Region.StartLine == nil || *pl.Region.StartLine != 1 {
		t.Errorf("%s: region %+v, want startLine 1", uri, pl.Region)
	}
	a := pl.Address
	if a == nil || a.RelativeAddress == nil || a.OffsetFromParent == nil {
		t.Fatalf("%s: address %+v", uri, a)
	}
	if *a.RelativeAddress != int(rva) || *a.OffsetFromParent != int(rva) {
		t.Errorf("%s: address %#x (offset %#x), want %#x", uri, *a.RelativeAddress, *a.OffsetFromParent, rva)
	}
	if a.ParentIndex < 0 || a.ParentIndex >= len(run.Addresses) || *run.Addresses[a.ParentIndex].Name != base {
		t.Errorf("%s: parentIndex %d is not the module %s", uri, a.ParentIndex, base)
	}
}

func TestSARIFRules(t *testing.T) {
	_, log := writeSARIF(t, nil)
	run := log.Runs[0]
	if len(run.Results) != 0 || run.Results == nil {
		t.Errorf("results = %v, want [] (GitHub requires the array)", run.Results)
	}
	for i, r := range rules.All() {
		d := run.Tool.Driver.Rules[i]
		if *d.ID != r.ID || *d.Name != r.Name || *d.ShortDescription.Text != r.Short {
			t.Errorf("rule %d: %s %s, want %s %s", i, *d.ID, *d.Name, r.ID, r.Name)
		}
		if fd := *d.FullDescription.Text; fd == "" || strings.Contains(fd, "\n") || !strings.HasPrefix(r.Help, fd[:20]) {
			t.Errorf("%s: fullDescription %q is not the help's first paragraph", r.ID, fd)
		}
		if *d.Help.Markdown != r.Help || d.Help.Text == nil || strings.Contains(*d.Help.Text, "**") {
			t.Errorf("%s: help %+v", r.ID, d.Help)
		}
		if d.DefaultConfiguration.Level != r.Severity.String() {
			t.Errorf("%s: default level %q, want %s", r.ID, d.DefaultConfiguration.Level, r.Severity)
		}
		props := d.Properties.Properties
		if props["precision"] != r.Precision || props["problem.severity"] == nil || len(d.Properties.Tags) == 0 {
			t.Errorf("%s: properties %+v", r.ID, d.Properties)
		}
		_, hasSec := props["security-severity"]
		security := strings.HasPrefix(r.ID, "KD5")
		if hasSec != security || security != contains(d.Properties.Tags, "security") {
			t.Errorf("%s: security-severity %v, tags %v: want both only on security rules", r.ID, props["security-severity"], d.Properties.Tags)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSARIFFailedFile(t *testing.T) {
	results := analyseFixtures(t, "mf_rdata.gcc.sys")
	bad := filepath.Join("..", "testdata", "bin", "bad_x86.clang.sys")
	_, err := loader.Load(bad)
	if err == nil {
		t.Fatal("bad_x86 loads")
	}
	results = append(results, &rules.Result{Path: bad, Err: err},
		&rules.Result{Path: "missing.sys", Err: errors.New("open missing.sys: no such file or directory")})
	_, log := writeSARIF(t, results)
	run := log.Runs[0]
	if len(run.Results) != len(results[0].Findings) {
		t.Errorf("%d results, want the %d findings of the good file", len(run.Results), len(results[0].Findings))
	}
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful == nil || *inv.ExecutionSuccessful {
		t.Error("executionSuccessful is not false with files that failed")
	}
	n := inv.ToolExecutionNotifications
	if len(n) != 2 {
		t.Fatalf("%d notifications, want 2", len(n))
	}
	for i, want := range []struct{ uri, text string }{
		{"testdata/bin/bad_x86.clang.sys", "x86 (32-bit)"},
		{"report/missing.sys", "missing.sys: open missing.sys"},
	} {
		if n[i].Level != "error" || n[i].Message == nil || !strings.Contains(*n[i].Message.Text, want.text) {
			t.Errorf("notification %d: level %q message %v, want error mentioning %q", i, n[i].Level, n[i].Message, want.text)
		}
		if len(n[i].Locations) != 1 || *n[i].Locations[0].PhysicalLocation.ArtifactLocation.URI != want.uri {
			t.Errorf("notification %d: locations %+v, want %s", i, n[i].Locations, want.uri)
		}
	}
}

func TestArtifactURI(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Dir(wd)
	outside := filepath.Join(filepath.Dir(repo), "elsewhere", "x.sys")
	outsideURI := "file://" + filepath.ToSlash(outside)
	if !strings.HasPrefix(filepath.ToSlash(outside), "/") {
		outsideURI = "file:///" + filepath.ToSlash(outside) // file:///C:/...
	}
	for _, tc := range []struct {
		root, path, want string
	}{
		{repo, "../testdata/bin/a.sys", "testdata/bin/a.sys"},
		{repo, filepath.Join(repo, "testdata", "bin", "a.sys"), "testdata/bin/a.sys"},
		{wd, "a.sys", "a.sys"},
		{wd, "./sub/../b.sys", "b.sys"},
		{wd, "dir with space/c#1.sys", "dir%20with%20space/c%231.sys"},
		{wd, "..dots.sys", "..dots.sys"},             // inside, though it starts with ".."
		{filepath.Join(wd, "sub"), "a.sys", "a.sys"}, // outside, relative: as given
		{repo, "../../elsewhere/x.sys", "../../elsewhere/x.sys"},
		{repo, outside, outsideURI},
	} {
		if got := artifactURI(tc.root, tc.path); got != tc.want {
			t.Errorf("artifactURI(%s, %s) = %q, want %q", tc.root, tc.path, got, tc.want)
		}
	}
}

func TestSARIFVersion(t *testing.T) {
	for in, want := range map[string]string{"v1.2.3": "1.2.3", "1.0": "1.0", "devel": "0.0.0-devel", "": "0.0.0",
		"v0.0.0-20250101000000-abcdef123456": "0.0.0-20250101000000-abcdef123456"} {
		if got := sarifVersion(in); got != want {
			t.Errorf("sarifVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// A call path longer than GitHub accepts in a thread flow (100 locations)
// keeps both ends and says what it left out. MF4001's path through the
// large fixture is the deepest we have.
func TestSARIFLongPathElided(t *testing.T) {
	results := analyseFixtures(t, "large.gcc.sys")
	longest := 0
	for _, f := range results[0].Findings {
		longest = max(longest, len(f.Path))
	}
	if longest <= maxFlowLocations {
		t.Fatalf("no fixture path is longer than %d steps (longest %d): the elision is untested", maxFlowLocations, longest)
	}
	_, log := writeSARIF(t, results)
	elided := false
	for _, r := range log.Runs[0].Results {
		for _, cf := range r.CodeFlows {
			for _, tf := range cf.ThreadFlows {
				if len(tf.Locations) > maxFlowLocations+1 {
					t.Errorf("thread flow of %d locations", len(tf.Locations))
				}
				for _, l := range tf.Locations {
					if l.Location != nil && l.Location.Message != nil && l.Location.Message.Text != nil &&
						strings.Contains(*l.Location.Message.Text, "further calls are left out") {
						elided = true
					}
				}
			}
		}
	}
	if !elided {
		t.Errorf("the %d-step path was not elided", longest)
	}
}
