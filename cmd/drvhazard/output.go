package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// outputFlag adds --output FILE (and -o) to a command that writes a report.
// Redirecting standard output is not enough on Windows: PowerShell 5.1's >
// writes UTF-16, which SARIF readers and GitHub's upload refuse.
func outputFlag(fs *flag.FlagSet) *string {
	p := fs.String("output", "", "write the report to `FILE` (created, or emptied) instead of standard output, in UTF-8")
	fs.StringVar(p, "o", "", "short for --output `FILE`")
	return p
}

// openOutput creates the --output file before any work is done, so that a
// path that cannot be written fails at once. done closes it: the command's
// exit code, or exitError when the file could not be written out.
func openOutput(path, command string, stdout, stderr io.Writer) (w io.Writer, done func(code int) int, ok bool) {
	if path == "" {
		return stdout, func(code int) int { return code }, true
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard %s: --output: %v\n", command, err)
		return nil, nil, false
	}
	return f, func(code int) int {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "drvhazard %s: writing %s: %v\n", command, path, err)
			return exitError
		}
		return code
	}, true
}
