package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/drvhazard/drvhazard/config"
	"github.com/drvhazard/drvhazard/dumpcorr"
	"github.com/drvhazard/drvhazard/report"
	"github.com/drvhazard/drvhazard/rules"
)

const correlateUsage = `Usage: drvhazard correlate [flags] CRASH|DIR... [--driver FILE.sys|DIR ...]

Reads crash evidence, recognises what kind of crash each is, and points at
the finding of the given drivers (and the call path) that explains it.

A CRASH is pasted WinDbg text (k, kn, kv, kb, kp, kc, .cxr; k, !thread,
!analyze -v, lm, !poolused; several crashes in one file are split) or a
kernel dump file (MEMORY.DMP, a minidump: PAGEDU64 full, bitmap or triage).
Directories are searched recursively for files matching --include
(default *.txt, *.log, *.dmp).

Each --driver is analysed as 'drvhazard scan' would. Crash frames are
placed in a driver by module name (WinDbg names mydrv.sys "mydrv") or by
address inside the driver's range in the module list; frames of a dump are
recovered by unwinding with the driver's .pdata where the driver is given,
by a return-address scan otherwise (the output says which). A crash
matches a finding when its stack shows the finding's call path; the call
to the sink right above a kernel or FltMgr frame ranks first. !poolused
tags are attributed to the code that allocates with them.

Signatures: paging-recursion, paging-io-through-filter, double-fault,
fltmgr-file-system, paging-io-failure, irql-fault.

--format sarif writes the drivers' findings as 'scan' does, each carrying
the stacks of the crashes that match it (result.stacks).

At fleet scale: --format jsonl writes one JSON line per crash as soon as it
is read (the shape of the JSON output's crashes[], with the group it falls
in), keeping memory flat however many crashes stream through; "-" reads
crash file paths from standard input, one a line (or, when its first line
is not a file, a crash text); a driver given under several names is
analysed once. --group reads such JSON Lines back (files, or - for standard
input) and counts the crashes of each group, so that many machines can
correlate and one can group.

--output FILE (-o) writes the report to FILE in UTF-8 instead of standard
output.

Exit status: 0 every crash input was read, 2 usage errors, crash files or
drivers that could not be read.

Examples:
  drvhazard correlate crash.txt --driver build/mydrv.sys
  drvhazard correlate --format json MEMORY.DMP --driver mydrv.sys
  drvhazard correlate crashes/ --driver drivers/
  find crashes -name '*.txt' | drvhazard correlate --format jsonl - --driver drivers/ > part1.jsonl
  drvhazard correlate --group part1.jsonl part2.jsonl

Flags:
`

const correlateHint = "usage: drvhazard correlate [flags] CRASH|DIR... --driver FILE.sys ('drvhazard correlate --help' lists the flags)\n"

// listValue is a repeatable flag.
type listValue []string

func (v *listValue) String() string     { return strings.Join(*v, ", ") }
func (v *listValue) Set(s string) error { *v = append(*v, s); return nil }

// defaultCrashInclude is what crash directories are searched for.
var defaultCrashInclude = []string{"*.txt", "*.log", "*.dmp"}

// maxCrashText bounds a crash text read into memory; dumps are read in
// place.
const maxCrashText = 64 << 20

func runCorrelate(args []string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("correlate", flag.ContinueOnError)
	format := &correlateFormat{formatValue: formatValue{report.Table}}
	fs.Var(format, "format", "output format: "+formatNames()+"|jsonl (one JSON line per crash, as it is read)")
	groupLines := fs.Bool("group", false, "the operands are JSON Lines of --format jsonl runs (- for standard input): print their groups")
	var drivers listValue
	fs.Var(&drivers, "driver", "`FILE.sys` or DIR of drivers to match crashes against; repeatable")
	include := &includeValue{globs: defaultCrashInclude}
	fs.Var(include, "include", "`GLOB` for the crash files to read in directories; repeatable")
	configPath := fs.String("config", "", "configuration file (default: "+config.DefaultFile+" in the current directory, if present)")
	sourceRoot := fs.String("source-root", ".", "SARIF: the repository root; file URIs are made relative to it")
	sym := symbolFlags(fs)
	budget := budgetFlags(fs)
	debugFlag := fs.Bool("debug", false, "print the Go stack of an internal error (for a bug report)")
	outputPath := outputFlag(fs)
	operands, code, done := parseCommand(fs, args, correlateUsage, correlateHint, "no CRASH file or DIR given", stdout, stderr)
	if done {
		return code
	}
	stdout, closeOutput, ok := openOutput(*outputPath, "correlate", stdout, stderr)
	if !ok {
		return exitError
	}
	defer func() { code = closeOutput(code) }()
	if *groupLines {
		return runGroups(operands, format.f, stdout, stderr)
	}
	budgets := budget()
	if err := checkBudgets(budgets); err != nil {
		fmt.Fprintf(stderr, "drvhazard correlate: %v\n", err)
		return exitError
	}
	// "-": crash paths, one a line, or a crash text on standard input.
	var stdinText []byte
	for i := 0; i < len(operands); i++ {
		if operands[i] != "-" {
			continue
		}
		paths, text, err := stdinCrashes()
		if err != nil {
			fmt.Fprintf(stderr, "drvhazard correlate: %v\n", err)
			return exitError
		}
		stdinText = text
		operands = append(append(operands[:i:i], paths...), operands[i+1:]...)
		i += len(paths) - 1
	}
	// debugStack prints the stack of an internal error under --debug.
	debugStack := func(err error) {
		if st := panicStack(err); *debugFlag && len(st) > 0 {
			stderr.Write(st)
		}
	}
	opt, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard correlate: config: %v\n", err)
		return exitError
	}

	symbols, err := sym(drivers)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard correlate: %v\n", err)
		return exitError
	}
	var results []*rules.Result
	var driverDups []driverAlias // driver paths whose build an earlier path has
	if len(drivers) > 0 {
		// Each build once, however many paths name it.
		files, failed := collect(drivers, newMatcher([]string{defaultInclude}))
		paths := make([]string, 0, len(files)+len(failed))
		for _, f := range files {
			paths = append(paths, f.path)
		}
		for _, r := range failed {
			paths = append(paths, r.Path)
		}
		unique, dups := uniqueDrivers(paths)
		driverDups = dups
		drivers = unique
		// The results are kept whole: matching needs their call graphs.
		keep := func(r *rules.Result) *rules.Result { return r }
		err = scan(drivers, scanOptions{include: newMatcher([]string{defaultInclude}), jobs: runtime.NumCPU(), analysis: opt,
			symbols: symbols, budgets: budgets},
			keep, func(r *rules.Result) error {
				if r.Err != nil {
					fmt.Fprintf(stderr, "drvhazard: %s\n", errorLine(r))
					debugStack(r.Err)
					code = exitError
				}
				results = append(results, r)
				return nil
			})
		if err != nil {
			fmt.Fprintf(stderr, "drvhazard correlate: %v\n", err)
			return exitError
		}
	}

	// A build given under several names answers to each (frames name
	// drivers by module name), analysed once.
	byPath := map[string]*rules.Result{}
	for _, r := range results {
		byPath[r.Path] = r
	}
	for _, d := range driverDups {
		if r := byPath[d.first]; r != nil {
			alias := *r
			alias.Path = d.path
			results = append(results, &alias)
		}
	}

	c := &report.Correlation{Drivers: results}
	var lines *report.CrashLines
	if format.lines {
		lines = report.NewCrashLines(stdout, results)
	}
	// fail records an input that could not be read: in the report, or
	// at once as a line of its own.
	fail := func(source string, err error) {
		c.Failed = append(c.Failed, report.InputError{Source: source, Err: err})
		if lines != nil {
			lines.Error(source, err)
		}
	}
	files, failed := collect(operands, newMatcher(include.globs))
	files = slices.DeleteFunc(files, func(f file) bool { return isOutput(f.path, *outputPath) })
	for _, r := range failed {
		fail(r.Path, r.Err)
	}
	images := moduleImages(results)
	// correlate reads the crashes of one input and matches them; with
	// --format jsonl each is written at once and not kept, so memory
	// stays flat in the number of crashes.
	correlate := func(source string, read func() ([]dumpcorr.Crash, error)) {
		// A panic reading or matching one crash file costs that file only.
		type outcome struct {
			matched []dumpcorr.Correlation
			err     error
		}
		res, err := guard(source, func() outcome {
			if testHook != nil {
				testHook("crash", source)
			}
			crashes, err := read()
			if err != nil {
				// The report names the file: drop the parsers' own prefix.
				return outcome{err: errors.New(strings.TrimPrefix(err.Error(), source+": "))}
			}
			var out []dumpcorr.Correlation
			for i := range crashes {
				out = append(out, dumpcorr.Correlate(&crashes[i], results))
			}
			return outcome{matched: out}
		})
		if err != nil {
			debugStack(err)
			res.err = err
		}
		if res.err != nil {
			fail(source, res.err)
			return
		}
		if lines == nil {
			c.Crashes = append(c.Crashes, res.matched...)
			return
		}
		for i := range res.matched {
			if err := lines.Write(&res.matched[i]); err != nil {
				fail(source, fmt.Errorf("writing output: %v", err))
				return
			}
		}
	}
	if stdinText != nil {
		correlate(stdinSource, func() ([]dumpcorr.Crash, error) { return dumpcorr.ParseText(stdinSource, stdinText) })
	}
	for _, f := range files {
		correlate(f.path, func() ([]dumpcorr.Crash, error) { return readCrashes(f.path, images) })
	}
	// With --format jsonl every crash has been written already.
	if lines == nil {
		c.Groups = dumpcorr.GroupCrashes(c.Crashes)
		ropt := report.Options{ToolVersion: toolVersion(), SourceRoot: *sourceRoot, Color: useColor(stdout, os.Getenv)}
		if err := report.WriteCorrelation(stdout, format.f, c, ropt); err != nil {
			fmt.Fprintf(stderr, "drvhazard correlate: writing output: %v\n", err)
			return exitError
		}
	}
	for _, e := range c.Failed {
		fmt.Fprintf(stderr, "drvhazard: %s: %v\n", e.Source, e.Err)
		code = exitError
	}
	if len(files)+len(failed) == 0 && stdinText == nil {
		fmt.Fprintf(stderr, "drvhazard correlate: no files matching %s found in %s\n",
			strings.Join(include.globs, " or "), strings.Join(operands, ", "))
		code = exitError
	}
	return code
}

// stdinSource names a crash text read from standard input.
const stdinSource = "<stdin>"

// moduleImages are the analysed drivers a dump's frames can be unwound in.
func moduleImages(results []*rules.Result) []dumpcorr.ModuleImage {
	var out []dumpcorr.ModuleImage
	for _, r := range results {
		if r.Err == nil && r.Image != nil {
			out = append(out, dumpcorr.ModuleImage{Name: filepath.Base(r.Path), Image: r.Image})
		}
	}
	return out
}

// readCrashes reads one crash file: a kernel dump, or WinDbg text.
func readCrashes(path string, images []dumpcorr.ModuleImage) ([]dumpcorr.Crash, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, unwrapPath(err)
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	if dumpcorr.IsDump(head[:n]) {
		c, err := dumpcorr.ParseDump(path, f, st.Size(), images)
		if err != nil {
			return nil, err
		}
		return []dumpcorr.Crash{c}, nil
	}
	if st.Size() > maxCrashText {
		return nil, fmt.Errorf("%d bytes: too large for crash text (at most %d MiB); a kernel dump starts with PAGEDU64",
			st.Size(), maxCrashText>>20)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCrashText+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	return dumpcorr.ParseText(path, data)
}
