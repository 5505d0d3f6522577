package rules

import (
	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/loader"
)

// Result is everything drvhazard learned about one file. Exactly one of Err
// and Program is set: a file that cannot be analysed keeps its error and the
// rest of a scan goes on.
type Result struct {
	Path    string
	SHA256  string // hex digest of the file bytes, empty when it could not be read
	Size    int64
	Err     error
	Image   *loader.Image
	Program *cfg.Program
	Kind    Kind
}

// Analyze builds the result for a loaded image.
func Analyze(path, sha string, img *loader.Image) *Result {
	prog := cfg.Build(img)
	return &Result{Path: path, SHA256: sha, Image: img, Program: prog, Kind: DriverKind(img)}
}
