package rules

import (
	"fmt"
	"strings"

	"github.com/drvhazard/drvhazard/cfg"
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
	// Run reports the rule's findings; it receives its own Rule so the
	// findings can point at it.
	Run func(p *Pass, r *Rule) []Finding
}

// Pass is what a rule sees of one file.
type Pass struct {
	Image     *loader.Image
	Program   *cfg.Program
	Model     *Model
	Catalogue *Catalogue
	// Budget is the stack budget of MF4001 in bytes.
	Budget uint32

	paging []pagingHit // the paging-path walk, shared by the MF20xx rules
	walked bool
	evals  map[*cfg.Func]*cfg.Evaluation // memory-tracking evaluations, by function
}

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

// Finding is one hazard.
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
}
