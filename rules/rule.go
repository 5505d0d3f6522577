package rules

import (
	"context"
	"fmt"
	"strings"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// Severity orders findings; --fail-on compares against it.
type Severity int

// Severities, lowest first.
const (
	Note Severity = iota
	Warning
	Error
)

var severityNames = [...]string{"note", "warning", "error"}

func (s Severity) String() string { return severityNames[s] }

// ParseSeverity reads a severity name.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of: %s)", s, strings.Join(severityNames[:], ", "))
}

// Rule is one check. Rules are values: the list, `drvhazard rules`,
// `drvhazard explain` and the SARIF rule metadata all come from them.
type Rule struct {
	ID       string // stable, never reused: "MF2001"
	Name     string // "PagingPathCallsPageableRoutine"
	Short    string // one line
	Help     string // markdown: why it matters, how to fix, sources
	Severity Severity
	// Precision is how often a finding is a true hazard, for SARIF:
	// "very-high", "high", "medium" or "low".
	Precision string
	// Grouped rules report one finding per cause (see group): their
	// findings of one callback, or of one function outside callbacks,
	// become one.
	Grouped bool
	// Run reports the rule's findings, one per path to a sink; it receives
	// its own Rule so the findings can point at it.
	Run func(p *Pass, r *Rule) []Finding
}

// Pass is what a rule sees of one file.
type Pass struct {
	Image     *loader.Image
	Program   *lift.Program
	Model     *Model
	Catalogue *Catalogue
	// Budget is the stack budget of MF4001 in bytes.
	Budget uint32

	paging []pagingHit // the paging-path walk, shared by the MF20xx rules
	walked bool

	// Reachability under facts (reach.go): the situations, the rewriting
	// of each node's expressions into its callback's terms, the feasible
	// blocks of each node under each situation, and the call sites by
	// address.
	facts    map[factsKey]*ir.Facts
	substs   map[node]*ir.Substituter
	feas     map[feasKey][]bool
	sites    map[uint32]*cfg.CallSite
	rel      map[*cfg.Func]uint64 // what each function's behaviour depends on
	bindings map[*cfg.Func]map[node]bool

	postVisits []postVisit // the post-operation walk, shared by MF3001 and MF3002
	postWalked bool
	// postReasons says, per post-operation callback walked, why it may
	// run at DISPATCH_LEVEL (postWhy).
	postReasons map[CallbackRef]string

	// ctx bounds the time of the walks; once it is done they stop early
	// and Analyze reports ctx.Err() instead of findings.
	ctx context.Context
}

// stopped reports whether the pass's context is done; long walks ask it at
// every step.
func (p *Pass) stopped() bool { return p.ctx != nil && p.ctx.Err() != nil }

// CallbackRef names the registered callback a finding starts from.
type CallbackRef struct {
	Major string // "IRP_MJ_READ"
	Kind  string // "pre" or "post"
	RVA   uint32
	Name  string // "" when the image does not name it
}

// Step is one function on a finding's call path, with the call it makes to
// the next step (or to the sink).
type Step struct {
	RVA  uint32 // function entry
	Name string // "" when unknown
	Call uint32 // RVA of the call instruction taken
}

// Finding is one hazard cause. Sink, Site's call and Path are its first
// trace's; Site is where its traces part (the line to change), the sink's
// call when it has one trace.
type Finding struct {
	Rule     *Rule
	Severity Severity
	Message  string
	Callback *CallbackRef // nil for image-wide findings (KD5001)
	Sink     string       // the routine reached, e.g. "ntoskrnl.exe!PsLookupProcessByProcessId"
	Site     uint32       // RVA of the call to the sink (or of the offending code)
	Path     []Step
	// Fingerprint identifies the finding across rebuilds that do not change
	// the code path: it hashes names and structure, not addresses.
	Fingerprint string
	// Traces are the paths of the cause to its sinks, each with its own
	// fingerprint and suppression; at least one.
	Traces []Trace
	// Suppressed is set when the project accepted the finding, every one
	// of its traces: it stays in JSON and SARIF (marked), but does not
	// count for --fail-on.
	Suppressed *Suppression
	// cause, when set, tells this path's cause from the others of its
	// callback (see group).
	cause string
	// guard is the IRQL test the message says is missing (irqlGuard), so
	// that a group names the strictest its paths need.
	guard string
}

// Suppression says why a finding is accepted.
type Suppression struct {
	Kind   string // "config" (a suppression in .drvhazard.yaml) or "baseline" (in an earlier run)
	Reason string
}

// Suppress matches findings to accept, from the configuration. At least
// one of Fingerprint and Function is set; Rule narrows either.
type Suppress struct {
	Rule        string // a rule id, or empty for any
	Fingerprint string // a finding's fingerprint
	Function    string // a function on the finding's path, or its callback, by name
	Reason      string // required: why the finding is accepted
}

// matches reports whether s accepts trace t of f: by the finding's
// fingerprint or the trace's, by the finding's callback or a function on
// the trace's path.
func (s *Suppress) matches(f *Finding, t *Trace) bool {
	if s.Rule != "" && !strings.EqualFold(s.Rule, f.Rule.ID) {
		return false
	}
	if s.Fingerprint != "" && s.Fingerprint != f.Fingerprint && s.Fingerprint != t.Fingerprint {
		return false
	}
	if s.Function != "" {
		on := f.Callback != nil && f.Callback.Name == s.Function
		for _, st := range t.Path {
			on = on || st.Name == s.Function
		}
		if !on {
			return false
		}
	}
	return s.Fingerprint != "" || s.Function != ""
}

// Active reports whether the finding counts: it is not suppressed.
func (f *Finding) Active() bool { return f.Suppressed == nil }
