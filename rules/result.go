package rules

import (
	"context"
	"fmt"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// Result is everything drvhazard learned about one file. Exactly one of Err
// and Program is set: a file that cannot be analysed keeps its error and the
// rest of a scan goes on.
type Result struct {
	Path     string
	SHA256   string // hex digest of the file bytes, empty when it could not be read
	Size     int64
	Err      error
	Image    *loader.Image
	Program  *cfg.Program
	Kind     Kind
	Model    *Model
	Findings []Finding
	// Unresolved lists the indirect calls on callbacks' paths whose targets
	// are unknown: where the analysis cannot see.
	Unresolved []Unresolved
	// Symbols is the symbol file the names and lines come from (a PDB),
	// "" when there is none; Lines then is nil.
	Symbols string
	Lines   SourceLines
}

// SourceLines maps code addresses to source lines, from a PDB's line
// tables. File is as the compiler recorded it (C:\src\drv\read.c).
type SourceLines interface {
	LineAt(rva uint32) (file string, line int, ok bool)
}

// Options configure an analysis.
type Options struct {
	Rules     []*Rule    // nil: All()
	Catalogue *Catalogue // nil: the built-in catalogue
	Budget    uint32     // MF4001 stack budget; 0: DefaultBudget
	// Suppress accepts findings the project reviewed (from .drvhazard.yaml).
	Suppress []Suppress
	// Baseline holds the fingerprints of an earlier run's findings: only
	// new findings count.
	Baseline map[string]bool
	// Limits bound the control-flow graph (lift.BuildWithin); the zero
	// value means none.
	Limits cfg.Limits
}

// Analyze runs the pipeline on a loaded image: CFG, model, rules.
func Analyze(path, sha string, img *loader.Image, opt Options) *Result {
	return AnalyzeContext(context.Background(), path, sha, img, opt)
}

// AnalyzeContext is Analyze bounded by ctx and opt.Limits: when ctx is done
// or the CFG outgrows its limits, the Result carries the error (a
// *cfg.LimitError, or ctx.Err()) and no findings.
func AnalyzeContext(ctx context.Context, path, sha string, img *loader.Image, opt Options) *Result {
	prog, err := lift.BuildWithin(ctx, img, opt.Limits)
	if err != nil {
		return &Result{Path: path, SHA256: sha, Err: fmt.Errorf("control-flow graph: %w", err)}
	}
	model := BuildModel(prog)
	cat := opt.Catalogue
	if cat == nil {
		cat = NewCatalogue()
	}
	rs := opt.Rules
	if rs == nil {
		rs = All()
	}
	pass := &Pass{Image: img, Program: prog, Model: model, Catalogue: cat, Budget: opt.Budget, ctx: ctx}
	findings := Run(pass, rs)
	if err := ctx.Err(); err != nil {
		return &Result{Path: path, SHA256: sha, Err: fmt.Errorf("rules: %w", err)}
	}
	suppress(findings, opt)
	blind := pass.blindSpots()
	if err := ctx.Err(); err != nil {
		return &Result{Path: path, SHA256: sha, Err: fmt.Errorf("rules: %w", err)}
	}
	return &Result{
		Path: path, SHA256: sha, Image: img, Program: prog.Program, Kind: model.Kind, Model: model,
		Findings: findings, Unresolved: blind,
	}
}

// suppress marks the traces the configuration or the baseline accepts,
// and the findings all of whose traces are accepted.
func suppress(findings []Finding, opt Options) {
	for i := range findings {
		f := &findings[i]
		f.Suppressed = nil
		all := len(f.Traces) > 0
		for j := range f.Traces {
			t := &f.Traces[j]
			t.Suppressed = traceSuppression(f, t, opt)
			all = all && t.Suppressed != nil
		}
		if all {
			f.Suppressed = f.Traces[0].Suppressed
		}
	}
}

// traceSuppression is why trace t of f is accepted, nil when it is not.
func traceSuppression(f *Finding, t *Trace, opt Options) *Suppression {
	if opt.Baseline[t.Fingerprint] {
		return &Suppression{Kind: "baseline", Reason: "present in the baseline"}
	}
	for j := range opt.Suppress {
		if s := &opt.Suppress[j]; s.matches(f, t) {
			return &Suppression{Kind: "config", Reason: s.Reason}
		}
	}
	return nil
}
