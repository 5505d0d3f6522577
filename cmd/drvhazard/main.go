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
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `drvhazard: static analysis of x64 Windows kernel drivers (.sys)

Usage:
  drvhazard scan [flags] FILE|DIR...   analyse drivers (directories: every .sys below them)
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
