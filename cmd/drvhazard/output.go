package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// outputFlag adds --output FILE (and -o) to a command that writes a report.
// Redirecting standard output is not enough on Windows: PowerShell 5.1's >
// writes UTF-16, which SARIF readers and GitHub's upload refuse.
func outputFlag(fs *flag.FlagSet) *string {
	p := fs.String("output", "", "write the report to `FILE` (replaced once the report is written) instead of standard output, in UTF-8")
	fs.StringVar(p, "o", "", "short for --output `FILE`")
	return p
}

// outputFile is the report being written for --output: a temporary file
// beside the destination, which replaces it only once the command is done
// and has written something. So the previous report survives a command
// that fails before writing (a usage error), and can be read by this one
// (scan --baseline of the file it replaces).
type outputFile struct {
	f       *os.File
	path    string
	written bool
}

func (o *outputFile) Write(p []byte) (int, error) {
	o.written = o.written || len(p) > 0
	return o.f.Write(p)
}

// openOutput creates the temporary file for --output before any work, so
// that a directory that cannot be written fails at once. done finishes it
// and returns the command's exit code, or exitError when the report could
// not be written out. Without --output it is standard output.
func openOutput(path, command string, stdout, stderr io.Writer) (w io.Writer, done func(code int) int, ok bool) {
	if path == "" {
		return stdout, func(code int) int { return code }, true
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard %s: --output %s: %v\n", command, path, err)
		return nil, nil, false
	}
	o := &outputFile{f: f, path: path}
	return o, func(code int) int {
		err := f.Close()
		if err == nil && o.written {
			if err = os.Chmod(f.Name(), 0o644); err == nil {
				err = os.Rename(f.Name(), path)
			}
		}
		if err != nil || !o.written {
			os.Remove(f.Name())
		}
		if err != nil {
			fmt.Fprintf(stderr, "drvhazard %s: writing %s: %v\n", command, path, err)
			return exitError
		}
		return code
	}, true
}

// isOutput reports whether path is the file --output replaces, so that
// correlate does not read its own earlier report as a crash text.
func isOutput(path, output string) bool {
	if output == "" {
		return false
	}
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	b, err := os.Stat(output)
	return err == nil && os.SameFile(a, b)
}
