// Command drvhazard finds paging and reentrancy hazards in x64 Windows kernel
// drivers, from the .sys file alone.
//
// Results go to standard output; errors and progress to standard error.
// Exit codes: 0 success, 1 findings at or above --fail-on, 2 usage or I/O
// errors (including files that could not be analysed).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/drvhazard/drvhazard/rules"
)

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1
	exitError    = 2
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise
// the module version from the build info is used.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `drvhazard: static analysis of x64 Windows kernel drivers (.sys)

Usage:
  drvhazard scan [flags] FILE|DIR...   analyse drivers (directories: every .sys below them)
  drvhazard rules                      list the rules
  drvhazard explain RULE               explain a rule: why it matters, how to fix, sources
  drvhazard version                    print the version
  drvhazard help [COMMAND]             show help

Run 'drvhazard help scan' for the flags of scan.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "scan":
		return runScan(rest, stdout, stderr)
	case "rules":
		return runRules(stdout)
	case "explain":
		return runExplain(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "drvhazard %s\n", toolVersion())
		return exitOK
	case "help", "-h", "--help", "-help":
		if len(rest) > 0 && rest[0] == "scan" {
			return runScan([]string{"--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "drvhazard: unknown command %q\n\n%s", cmd, usage)
		return exitError
	}
}

func runRules(stdout io.Writer) int {
	for _, r := range rules.All() {
		fmt.Fprintf(stdout, "%s  %-8s %-34s %s\n", r.ID, r.Severity, r.Name, r.Short)
	}
	return exitOK
}

func runExplain(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: drvhazard explain RULE (e.g. drvhazard explain MF2001; 'drvhazard rules' lists them)")
		return exitError
	}
	r := rules.ByID(args[0])
	if r == nil {
		for _, c := range rules.All() {
			if strings.EqualFold(c.Name, args[0]) {
				r = c
			}
		}
	}
	if r == nil {
		fmt.Fprintf(stderr, "drvhazard explain: no rule %q; 'drvhazard rules' lists them\n", args[0])
		return exitError
	}
	fmt.Fprintf(stdout, "%s %s (%s)\n\n%s\n\n%s\n", r.ID, r.Name, r.Severity, r.Short, r.Help)
	return exitOK
}
