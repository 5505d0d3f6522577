package rules

import (
	"fmt"
	"sort"
	"strings"
)

// A rule reports one finding per path to a sink; a developer fixes one
// cause: a callback registered without SKIP_PAGING_IO that reaches five
// pageable routines through two helpers is one change (the flag, or a test
// of IrpFlags at its top), not ten. group merges the findings of one cause
// into one finding whose Traces are the paths.
//
// The cause is the rule and the registered callback (majors and kinds
// apart: each is a registration of its own, with its own flags), or, for a
// finding outside any callback, the rule and the function its path starts
// in (the function holding the spin lock). A rule may tell causes of one
// callback apart (Finding.cause: MF3002's calls made under a lock their own
// function holds, which deferring the work would not fix). Findings of
// image-wide rules and of rules whose sites each need their own change
// (KD5002: each allocation its pool type) are not grouped.
//
// Fingerprints: a finding of one trace keeps the fingerprint it had before
// findings were grouped, its trace's. A finding of several takes one made
// from its traces' least fingerprint, so it keeps it as long as that trace
// stays, whatever other traces come and go. Each trace keeps its own, and a
// baseline accepts a finding only when it holds every trace's: a baseline
// written before grouping (one fingerprint a path) still accepts exactly the
// paths it listed, and a finding that reaches a new sink comes back.

// Trace is one path of a finding's cause to one sink.
type Trace struct {
	Sink    string
	Site    uint32 // the call to the sink (or the offending code)
	Path    []Step
	Message string // the path alone described
	// Fingerprint is the path's own (see group).
	Fingerprint string
	Suppressed  *Suppression
	guard       string // Finding.guard
}

// groupKey is the cause of a finding; "" for a finding that stays alone.
func groupKey(f *Finding) string {
	if !f.Rule.Grouped {
		return ""
	}
	if cb := f.Callback; cb != nil {
		return fmt.Sprintf("%s|%s|%s|%x|%s", f.Rule.ID, cb.Major, cb.Kind, cb.RVA, f.cause)
	}
	if len(f.Path) > 0 {
		return fmt.Sprintf("%s|fn|%x", f.Rule.ID, f.Path[0].RVA)
	}
	return ""
}

// group merges the findings of each cause (in the order of the first of
// each) and gives every finding its Traces.
func group(in []Finding) []Finding {
	var out []Finding
	at := map[string]int{}
	for _, f := range in {
		t := Trace{Sink: f.Sink, Site: f.Site, Path: f.Path, Message: f.Message, Fingerprint: f.Fingerprint, guard: f.guard}
		k := groupKey(&f)
		if i, ok := at[k]; ok && k != "" {
			out[i].Traces = append(out[i].Traces, t)
			continue
		}
		if k != "" {
			at[k] = len(out)
		}
		f.Traces = []Trace{t}
		out = append(out, f)
	}
	for i := range out {
		if len(out[i].Traces) > 1 {
			summarise(&out[i])
		}
	}
	return out
}

// summarise makes a finding of several traces say so: the first trace's
// description with the other sinks it reaches, anchored where one change
// removes them all.
//
// The traces are ordered as the code would reach them: by the calls along
// their paths, the callback's first call first. The anchor is the last call
// every trace makes (into the function where they part, whose start is then
// the place for the one guard); when they part in the callback itself, its
// entry.
func summarise(f *Finding) {
	ts := f.Traces
	sort.SliceStable(ts, func(i, j int) bool { return traceBefore(ts[i], ts[j]) })
	first := ts[0]
	// shared is how many steps every trace takes alike: the same function
	// making the same call.
	shared := len(first.Path)
	least := first.Fingerprint
	sites := map[uint32]bool{first.Site: true}
	for _, t := range ts[1:] {
		n := 0
		for n < shared && n < len(t.Path) && t.Path[n] == first.Path[n] {
			n++
		}
		shared = n
		least = min(least, t.Fingerprint)
		sites[t.Site] = true
	}
	// meet: the traces all enter one function after the shared steps (and
	// part inside it), which the message names.
	meet := shared < len(first.Path)
	for _, t := range ts[1:] {
		meet = meet && shared < len(t.Path) && t.Path[shared].RVA == first.Path[shared].RVA
	}
	f.Sink, f.Path = first.Sink, first.Path
	switch {
	case shared > 0:
		f.Site = first.Path[shared-1].Call
	case len(first.Path) > 0:
		f.Site = first.Path[0].RVA
	default:
		f.Site = first.Site
	}
	f.Fingerprint = fingerprint("group", least)
	var others []string
	seen := map[string]bool{sinkLabel(first): true}
	for _, t := range ts[1:] {
		if l := sinkLabel(t); !seen[l] {
			seen[l] = true
			others = append(others, l)
		}
	}
	count := plural(len(sites), "call site")
	if len(ts) != len(sites) {
		count += fmt.Sprintf(" on %d paths", len(ts))
	}
	f.Message = first.Message
	// The IRQL test a group lacks is the strictest any of its calls needs.
	for _, t := range ts[1:] {
		if strict := irqlGuard(Passive); t.guard == strict && first.guard != "" && first.guard != strict {
			f.Message = strings.Replace(f.Message, first.guard, strict, 1)
			break
		}
	}
	if len(others) > 0 {
		f.Message += fmt.Sprintf("; also reaches %s (%s in all", strings.Join(others, ", "), count)
	} else {
		f.Message += fmt.Sprintf(" (%s in all", count)
	}
	if meet && shared > 0 {
		f.Message += fmt.Sprintf(", all through %s", stepName(first.Path[shared]))
	}
	f.Message += ")"
}

// traceBefore orders traces as the code reaches them: by the calls along
// their paths, then by the sink's call.
func traceBefore(a, b Trace) bool {
	for i := 0; i < len(a.Path) && i < len(b.Path); i++ {
		if a.Path[i].Call != b.Path[i].Call {
			return a.Path[i].Call < b.Path[i].Call
		}
	}
	if len(a.Path) != len(b.Path) {
		return len(a.Path) < len(b.Path)
	}
	return a.Site < b.Site
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// sinkLabel names a trace's sink for a message: the routine without its
// module, the pageable function, the status returned.
func sinkLabel(t Trace) string {
	s := t.Sink
	if _, name, ok := strings.Cut(s, "!"); ok {
		return name
	}
	return strings.TrimPrefix(s, "PAGE:")
}
