package rules

import (
	"github.com/drvhazard/drvhazard/cfg"
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
}

// Options configure an analysis.
type Options struct {
	Rules     []*Rule    // nil: All()
	Catalogue *Catalogue // nil: the built-in catalogue
	Budget    uint32     // MF4001 stack budget; 0: DefaultBudget
}

// Analyze runs the pipeline on a loaded image: CFG, model, rules.
func Analyze(path, sha string, img *loader.Image, opt Options) *Result {
	prog := cfg.Build(img)
	model := BuildModel(prog)
	cat := opt.Catalogue
	if cat == nil {
		cat = NewCatalogue()
	}
	rs := opt.Rules
	if rs == nil {
		rs = All()
	}
	pass := &Pass{Image: img, Program: prog, Model: model, Catalogue: cat, Budget: opt.Budget}
	return &Result{
		Path: path, SHA256: sha, Image: img, Program: prog, Kind: model.Kind, Model: model,
		Findings: Run(pass, rs),
	}
}
