package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/loader/pdb"
)

// symbolOptions say where to look for a driver's PDB.
type symbolOptions struct {
	pdb  string   // --pdb: this file, for the one driver given
	dirs []string // --pdb-dir, then the local directories of _NT_SYMBOL_PATH
}

// symbolPathDirs returns the local directories of an _NT_SYMBOL_PATH value,
// in order, as the debuggers read it
// (https://learn.microsoft.com/windows-hardware/drivers/debugger/advanced-symsrv-use):
// elements separated by ";"; a plain element is a directory or a share;
// srv*STORE*...*SERVER and symsrv*DLL*STORE*...*SERVER give their stores,
// and a server that is a share, not a URL; cache*DIR gives DIR. Remote
// servers (URLs) are never contacted, and an empty store (srv**URL, "the
// default store") names no directory. Quotes around an element, which the
// syntax does not have but cmd's set keeps, are dropped, around a store too.
func symbolPathDirs(value string) []string {
	var dirs []string
	for _, elem := range strings.Split(value, ";") {
		elem = strings.Trim(strings.TrimSpace(elem), `"`)
		prefix, rest, starred := strings.Cut(elem, "*")
		var parts []string
		switch lower := strings.ToLower(prefix); {
		case elem == "":
		case !starred:
			parts = []string{elem}
		case lower == "srv" || lower == "cache":
			parts = strings.Split(rest, "*")
		case lower == "symsrv":
			parts = strings.Split(rest, "*")[1:] // after the DLL that serves them
		}
		for _, p := range parts {
			if p = strings.Trim(strings.TrimSpace(p), `"`); p != "" && !strings.Contains(p, "://") {
				dirs = append(dirs, p)
			}
		}
	}
	return dirs
}

// loadSymbols finds and reads the PDB of the image at path. No PDB found is
// not an error unless one was named with --pdb; a PDB that does not match
// the image is.
func loadSymbols(path string, img *loader.Image, opt symbolOptions) (*pdb.File, string, error) {
	if img.CodeView == nil {
		if opt.pdb != "" {
			return nil, "", fmt.Errorf("--pdb %s: the image has no CodeView record naming a PDB", opt.pdb)
		}
		return nil, "", nil
	}
	found, err := pdb.Find(path, *img.CodeView, opt.pdb, opt.dirs)
	if err != nil {
		if opt.pdb != "" {
			return nil, "", err
		}
		return nil, "", nil
	}
	f, err := pdb.Open(found)
	if err == nil {
		err = f.Matches(*img.CodeView)
	}
	if err != nil {
		return nil, "", err
	}
	return f, found, nil
}

// pdbLines adapts a PDB's line tables to rules.SourceLines.
type pdbLines struct{ f *pdb.File }

func (l pdbLines) LineAt(rva uint32) (string, int, bool) {
	ln, ok := l.f.LineAt(rva)
	return ln.File, ln.Line, ok
}

// symbolFlags defines --pdb and --pdb-dir on fs; the function it returns
// checks them against the operands and adds _NT_SYMBOL_PATH.
func symbolFlags(fs *flag.FlagSet) func(operands []string) (symbolOptions, error) {
	file := fs.String("pdb", "", "the PDB of the one driver `FILE` given (default: found by --pdb-dir, _NT_SYMBOL_PATH or next to the driver)")
	var dirs listValue
	fs.Var(&dirs, "pdb-dir", "`DIR` of PDBs, flat (DIR/name.pdb) or a symbol store (DIR/name.pdb/GUIDAGE/name.pdb); repeatable")
	return func(operands []string) (symbolOptions, error) {
		opt := symbolOptions{pdb: *file, dirs: append(dirs, symbolPathDirs(os.Getenv("_NT_SYMBOL_PATH"))...)}
		return opt, checkPDBFlag(opt, operands)
	}
}

// checkPDBFlag: --pdb names the PDB of one driver file.
func checkPDBFlag(opt symbolOptions, operands []string) error {
	if opt.pdb == "" {
		return nil
	}
	if len(operands) != 1 {
		return fmt.Errorf("--pdb names the PDB of one driver; for several, use --pdb-dir")
	}
	if st, err := os.Stat(operands[0]); err == nil && st.IsDir() {
		return fmt.Errorf("--pdb names the PDB of one driver file, not of %s; use --pdb-dir", filepath.Clean(operands[0]))
	}
	if _, err := os.Stat(opt.pdb); err != nil {
		return fmt.Errorf("--pdb %s: %v", opt.pdb, unwrapPath(err))
	}
	return nil
}
