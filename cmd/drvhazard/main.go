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

func main() {
	tuneGC(os.Getenv)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// tuneGC trades memory for time where the user has not chosen: the
// analysis makes many small objects that live as long as one file, and
// the collector's default (a cycle whenever the heap doubles) spends a
// third of the time on them. A cycle every fivefold growth, with a soft
// limit that makes the collector work harder near it: a scan of the real
// corpus on two workers peaks at 175 MB (225 MB with a limit of 512 MB, for
// 3% less time). A driver whose analysis needs more goes past the limit,
// more slowly.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// memoryLimit is the soft memory limit tuneGC sets.
const memoryLimit = 160 << 20

const usage = `drvhazard: static analysis of x64 Windows kernel drivers (.sys)

Usage:
  drvhazard scan [flags] FILE|DIR...   analyse drivers (directories: every .sys below them,
                                       or what --include says)
  drvhazard correlate [flags] CRASH... --driver FILE.sys
                                       match crash stacks (WinDbg text, kernel dumps)
                                       to the findings of drivers
  drvhazard rules                      list the rules
  drvhazard apis [PATTERN]             list the kernel routines the rules know: IRQL, hazard
                                       class, where that comes from
  drvhazard explain RULE               explain a rule: why it matters, how to fix, sources
  drvhazard version                    print the version
  drvhazard help [COMMAND]             show help

Run 'drvhazard help scan' or 'drvhazard help correlate' for their flags.
`

// Usage lines of the commands other than scan, for their --help.
const (
	rulesUsage   = "Usage: drvhazard rules\n\nLists the rules: id, default severity, name and summary.\n'drvhazard explain RULE' explains one.\n"
	explainUsage = "Usage: drvhazard explain RULE\n\nExplains a rule, by id or name: why it matters, how to fix it, the sources.\nExample: drvhazard explain MF2001\n"
	versionUsage = "Usage: drvhazard version\n\nPrints the version of drvhazard, with the commit and date it was built from when\nthe build recorded them.\n"
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "scan":
		return runScan(rest, stdout, stderr)
	case "correlate":
		return runCorrelate(rest, stdout, stderr)
	case "rules":
		if code, done := simpleArgs("rules", rulesUsage, rest, 0, stdout, stderr); done {
			return code
		}
		return runRules(stdout)
	case "apis":
		return runAPIs(rest, stdout, stderr)
	case "explain":
		if code, done := simpleArgs("explain", explainUsage, rest, 1, stdout, stderr); done {
			return code
		}
		return runExplain(rest, stdout, stderr)
	case "version", "--version", "-version":
		if code, done := simpleArgs("version", versionUsage, rest, 0, stdout, stderr); done {
			return code
		}
		fmt.Fprintf(stdout, "drvhazard %s\n", currentVersion())
		return exitOK
	case "help", "-h", "--help", "-help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		switch rest[0] {
		case "scan", "correlate", "rules", "apis", "explain", "version":
			return run([]string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprintf(stderr, "drvhazard help: unknown command %q\n\n%s", rest[0], usage)
		return exitError
	default:
		fmt.Fprintf(stderr, "drvhazard: unknown command %q\n\n%s", cmd, usage)
		return exitError
	}
}

// simpleArgs checks the arguments of a command without flags: -h or --help
// prints its usage (exit 0); anything but n arguments is a usage error. done
// says whether the command should stop with code.
func simpleArgs(cmd, usage string, args []string, n int, stdout, stderr io.Writer) (code int, done bool) {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return exitOK, true
		}
	}
	if len(args) == n {
		return exitOK, false
	}
	var msg string
	switch {
	case len(args) > 0 && strings.HasPrefix(args[0], "-"):
		msg = "unknown flag " + args[0]
	case n == 0:
		msg = fmt.Sprintf("takes no arguments, got %q", strings.Join(args, " "))
	case len(args) == 0:
		msg = "no RULE given"
	default:
		msg = fmt.Sprintf("one RULE at a time, got %d", len(args))
	}
	fmt.Fprintf(stderr, "drvhazard %s: %s\n\n%s", cmd, msg, usage)
	return exitError, true
}

func runRules(stdout io.Writer) int {
	for _, r := range rules.All() {
		fmt.Fprintf(stdout, "%s  %-8s %-34s %s\n", r.ID, r.Severity, r.Name, r.Short)
	}
	return exitOK
}

func runExplain(args []string, stdout, stderr io.Writer) int {
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
	if strings.HasPrefix(r.ID, "MF2") || strings.HasPrefix(r.ID, "MF3") {
		fmt.Fprintf(stdout, "\nWhich routines are which: 'drvhazard apis [PATTERN]' lists each with its IRQL, class and source.\n")
	}
	return exitOK
}
