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
// in (the function holding the spin lock). Findings of image-wide rules and
// of rules whose sites each need their own change (KD5002, each allocation
// its pool type) are not grouped.
//
// Fingerprints: a finding of one trace keeps the fingerprint it had before
// findings were grouped, the trace's; a finding of several takes a
// fingerprint of its own, made from its traces' least fingerprint, so that
// it stays while traces come and go, whichever sorts first stays. Each
// trace keeps its fingerprint, and a baseline accepts a finding only when
// it holds every trace's: a baseline written before grouping (one
// fingerprint a path) still accepts exactly the paths it listed, and a
// finding that reaches a new sink comes back.

// Trace is one path of a finding's cause to one sink.
type Trace struct {
	Sink    string
	Site    uint32 // the call to the sink (or the offending code)
	Path    []Step
	Message string // the path alone described
	// Fingerprint is the path's own (see group).
	Fingerprint string
	Suppressed  *Suppression
}

// groupKey is the cause of a finding; "" for a finding that stays alone.
func groupKey(f *Finding) string {
	if !f.Rule.Grouped {
		return ""
	}
	if cb := f.Callback; cb != nil {
		return fmt.Sprintf("%s|%s|%s|%x", f.Rule.ID, cb.Major, cb.Kind, cb.RVA)
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
		t := Trace{Sink: f.Sink, Site: f.Site, Path: f.Path, Message: f.Message, Fingerprint: f.Fingerprint}
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
// description with the other sinks it reaches, anchored at the last
// function all the paths share, where one change removes them all.
func summarise(f *Finding) {
	ts := f.Traces
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Site < ts[j].Site })
	shared := len(ts[0].Path)
	least := ts[0].Fingerprint
	for _, t := range ts[1:] {
		n := 0
		for n < shared && n < len(t.Path) && t.Path[n].RVA == ts[0].Path[n].RVA {
			n++
		}
		shared = n
		least = min(least, t.Fingerprint)
	}
	first := ts[0]
	f.Sink, f.Path = first.Sink, first.Path
	f.Site = first.Site
	if shared > 0 && shared <= len(first.Path) {
		f.Site = first.Path[shared-1].Call
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
	f.Message = first.Message
	switch {
	case len(others) > 0:
		f.Message += fmt.Sprintf("; also reaches %s (%d paths in all", strings.Join(others, ", "), len(ts))
	default:
		f.Message += fmt.Sprintf(" (%d paths in all", len(ts))
	}
	if shared > 1 { // past the first function, which the message names
		f.Message += fmt.Sprintf(", all through %s", stepName(first.Path[shared-1]))
	}
	f.Message += ")"
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
