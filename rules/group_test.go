package rules

import (
	"strings"
	"testing"
)

// pathFinding is a finding of rule r from callback cb (nil: none) along the
// functions at rvas, the last calling sink at site.
func pathFinding(r *Rule, cb *CallbackRef, sink string, site uint32, fp string, rvas ...uint32) Finding {
	var path []Step
	for i, rva := range rvas {
		call := rva + 0x10
		if i == len(rvas)-1 {
			call = site
		}
		path = append(path, Step{RVA: rva, Name: "f" + strings.Repeat("x", i), Call: call})
	}
	return Finding{Rule: r, Severity: r.Severity, Callback: cb, Sink: sink, Site: site, Path: path,
		Message: "reaches " + sink, Fingerprint: fp}
}

func TestGroupOneFindingPerCause(t *testing.T) {
	grouped := &Rule{ID: "MF2001", Grouped: true}
	alone := &Rule{ID: "KD5002"}
	read := &CallbackRef{Major: "IRP_MJ_READ", Kind: "pre", RVA: 0x1000, Name: "PreRead"}
	write := &CallbackRef{Major: "IRP_MJ_WRITE", Kind: "pre", RVA: 0x1000, Name: "PreRead"}
	in := []Finding{
		pathFinding(grouped, read, "ntoskrnl.exe!PsLookupProcessByProcessId", 0x2050, "fp-c", 0x1000, 0x2000),
		pathFinding(grouped, read, "ntoskrnl.exe!ZwQueryInformationFile", 0x2080, "fp-a", 0x1000, 0x2000),
		pathFinding(grouped, read, "ntoskrnl.exe!ZwQueryInformationFile", 0x2080, "fp-b", 0x1000, 0x2000), // another path, same sink
		pathFinding(grouped, write, "ntoskrnl.exe!ZwQueryInformationFile", 0x2080, "fp-w", 0x1000, 0x2000),
		pathFinding(alone, nil, "ntoskrnl.exe!ExAllocatePoolWithTag", 0x3010, "fp-k1", 0x3000),
		pathFinding(alone, nil, "ntoskrnl.exe!ExAllocatePoolWithTag", 0x3020, "fp-k2", 0x3000),
	}
	out := group(in)
	if len(out) != 4 {
		t.Fatalf("got %d findings, want 4 (read, write, and the two allocations apart)", len(out))
	}
	g := out[0]
	if len(g.Traces) != 3 {
		t.Fatalf("the read callback's finding has %d traces, want 3", len(g.Traces))
	}
	// Both sinks are reached from 0x2000, called from 0x1010: the finding
	// points at that call, the last every path makes, where one change
	// (at it, or at the start of the function it calls) removes all.
	if g.Site != 0x1010 || g.Sink != "ntoskrnl.exe!PsLookupProcessByProcessId" {
		t.Errorf("site %#x sink %s, want 0x1010 PsLookupProcessByProcessId", g.Site, g.Sink)
	}
	if !strings.Contains(g.Message, "; also reaches ZwQueryInformationFile (2 call sites on 3 paths in all, all through fx)") {
		t.Errorf("message does not summarise the other sinks: %s", g.Message)
	}
	if want := fingerprint("group", "fp-a"); g.Fingerprint != want {
		t.Errorf("group fingerprint %s, want the one made from the least trace fingerprint %s", g.Fingerprint, want)
	}
	// A finding of one trace keeps the fingerprint it had before grouping.
	if w := out[1]; len(w.Traces) != 1 || w.Fingerprint != "fp-w" || w.Message != "reaches ntoskrnl.exe!ZwQueryInformationFile" {
		t.Errorf("single-trace finding changed: %+v", w)
	}
	if out[2].Fingerprint != "fp-k1" || out[3].Fingerprint != "fp-k2" {
		t.Errorf("ungrouped rule's findings merged or renamed: %s %s", out[2].Fingerprint, out[3].Fingerprint)
	}
}

func TestGroupAnchorsWherePathsPart(t *testing.T) {
	r := &Rule{ID: "MF3002", Grouped: true}
	cb := &CallbackRef{Major: "IRP_MJ_CREATE", Kind: "post", RVA: 0x1000}
	// One call through a pointer reaches two functions: the anchor is that
	// call, and no one function is "all through".
	out := group([]Finding{
		pathFinding(r, cb, "ntoskrnl.exe!A", 0x2050, "1", 0x1000, 0x2000),
		pathFinding(r, cb, "ntoskrnl.exe!B", 0x3050, "2", 0x1000, 0x3000),
	})
	if len(out) != 1 || out[0].Site != 0x1010 || strings.Contains(out[0].Message, "all through") {
		t.Fatalf("want one finding at the callback's call where the paths part (0x1010), got %d at %#x: %s", len(out), out[0].Site, out[0].Message)
	}
	// Two calls in the callback itself: they part at once, and the anchor
	// is the callback's entry.
	b := pathFinding(r, cb, "ntoskrnl.exe!B", 0x3050, "2", 0x1000, 0x3000)
	b.Path[0].Call = 0x1020
	out = group([]Finding{pathFinding(r, cb, "ntoskrnl.exe!A", 0x2050, "1", 0x1000, 0x2000), b})
	if len(out) != 1 || out[0].Site != 0x1000 || out[0].Sink != "ntoskrnl.exe!A" {
		t.Fatalf("want one finding at the callback's entry (0x1000) headed by the first call's sink, got %d at %#x %s", len(out), out[0].Site, out[0].Sink)
	}
}

// A baseline written before findings were grouped lists one fingerprint a
// path: it accepts a grouped finding only when it lists all of its paths.
func TestBaselineAcceptsGroupOnlyWhole(t *testing.T) {
	r := &Rule{ID: "MF2001", Grouped: true}
	cb := &CallbackRef{Major: "IRP_MJ_READ", Kind: "pre", RVA: 0x1000}
	fs := group([]Finding{
		pathFinding(r, cb, "ntoskrnl.exe!A", 0x2050, "old-1", 0x1000, 0x2000),
		pathFinding(r, cb, "ntoskrnl.exe!B", 0x2060, "new-2", 0x1000, 0x2000),
	})
	suppress(fs, Options{Baseline: map[string]bool{"old-1": true}})
	if fs[0].Suppressed != nil {
		t.Fatal("a finding with a path the baseline does not hold was accepted")
	}
	if fs[0].Traces[0].Suppressed == nil || fs[0].Traces[1].Suppressed != nil {
		t.Errorf("traces' marks: the old path should be accepted, the new one not: %+v", fs[0].Traces)
	}
	suppress(fs, Options{Baseline: map[string]bool{"old-1": true, "new-2": true}})
	if fs[0].Suppressed == nil || fs[0].Suppressed.Kind != "baseline" {
		t.Errorf("a finding whose every path is in the baseline counts: %+v", fs[0].Suppressed)
	}
	// The configuration accepts a whole finding by its own fingerprint.
	suppress(fs, Options{Suppress: []Suppress{{Fingerprint: fs[0].Fingerprint, Reason: "reviewed"}}})
	if fs[0].Suppressed == nil || fs[0].Suppressed.Reason != "reviewed" {
		t.Errorf("suppressing a grouped finding by its fingerprint did not accept it")
	}
}

// On the fixtures, a grouped rule reports at most one finding per
// registered callback, and every finding has traces.
func TestFixturesOneFindingPerCallback(t *testing.T) {
	n := 0
	for _, fx := range fixtures(t) {
		if fx.Build.Name != "gcc-O2" && fx.Build.Name != "clang-O0" {
			continue
		}
		r := analyse(t, fx)
		seen := map[string]bool{}
		for _, f := range r.Findings {
			if len(f.Traces) == 0 {
				t.Errorf("%s: %s finding without traces", fx.name, f.Rule.ID)
			}
			n += len(f.Traces)
			if k := groupKey(&f); k != "" {
				if seen[k] {
					t.Errorf("%s: two %s findings for one cause %s", fx.name, f.Rule.ID, k)
				}
				seen[k] = true
			}
		}
	}
	if n == 0 {
		t.Fatal("no findings on the fixtures: nothing checked")
	}
}

// A group names the strictest IRQL test its calls need: one call that
// must run at PASSIVE_LEVEL makes the whole group's "== PASSIVE_LEVEL".
func TestGroupNamesStrictestGuard(t *testing.T) {
	r := &Rule{ID: "MF3002", Grouped: true}
	cb := &CallbackRef{Major: "IRP_MJ_READ", Kind: "post", RVA: 0x1000}
	a := pathFinding(r, cb, "FLTMGR.SYS!FltGetStreamContext", 0x2050, "1", 0x1000, 0x2000)
	a.guard, a.Message = irqlGuard(APC), "calls FltGetStreamContext; "+irqlGuard(APC)
	b := pathFinding(r, cb, "ntoskrnl.exe!ZwClose", 0x2060, "2", 0x1000, 0x2000)
	b.guard, b.Message = irqlGuard(Passive), "calls ZwClose; "+irqlGuard(Passive)
	out := group([]Finding{a, b})
	if len(out) != 1 || !strings.Contains(out[0].Message, irqlGuard(Passive)) || strings.Contains(out[0].Message, irqlGuard(APC)) {
		t.Errorf("%s", out[0].Message)
	}
}
