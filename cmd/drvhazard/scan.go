package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/drvhazard/drvhazard/config"
	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/report"
	"github.com/drvhazard/drvhazard/rules"
)

const scanUsage = `Usage: drvhazard scan [flags] FILE|DIR...

Analyses each driver: loads the PE image, recovers its functions and call
graph and its minifilter registrations, runs the rules ('drvhazard rules'),
and reports the findings with the call path that proves each one, then the
driver's kind, registrations, pool tags, sections and imports.
Directories are walked recursively for *.sys files; files named on the
command line are analysed whatever their extension. A file that cannot be
analysed is reported with its error and the scan goes on.

--format sarif writes a SARIF 2.1.0 log for GitHub code scanning: one run,
each finding located in its .sys file (line 1) with the RVA, the function
and the call path. File URIs are relative to --source-root (the repository
root; default the current directory). Files that cannot be analysed become
error notifications.

Exit status: 0 no finding at or above --fail-on, 1 such findings, 2 usage
errors or files that could not be analysed.

A configuration file (.drvhazard.yaml in the current directory, or
--config FILE) adds your own routines to the API catalogue and tunes rules:

  apis:
    - name: GetProcessKey        # your wrapper (by symbol name) or an import
      class: pageable            # pageable | passive-only | name-query | posting | reentrant-io | apc-only
      irql: apc                  # passive | apc | dispatch
  rules:
    KD5002: {enabled: false}
    MF4001: {severity: error}
  stack_budget: 8192

Examples:
  drvhazard scan testdata/bin/mf_rdata.clang.sys
  drvhazard scan --fail-on warning drivers/
  drvhazard scan --format json drivers/ > scan.json
  drvhazard scan --format sarif --source-root . drivers/ > drvhazard.sarif
  drvhazard scan --functions mydriver.sys

Flags:
`

// formatValue is a flag.Value whose allowed values come from report.Formats,
// so help and validation cannot disagree.
type formatValue struct{ f report.Format }

func (v *formatValue) String() string { return string(v.f) }
func (v *formatValue) Set(s string) error {
	f, err := report.ParseFormat(s)
	if err != nil {
		return err
	}
	v.f = f
	return nil
}

// severityValue is a flag.Value for --fail-on.
type severityValue struct{ s rules.Severity }

func (v *severityValue) String() string { return v.s.String() }
func (v *severityValue) Set(s string) error {
	sev, err := rules.ParseSeverity(s)
	if err != nil {
		return err
	}
	v.s = sev
	return nil
}

func formatNames() string {
	var names []string
	for _, f := range report.Formats {
		names = append(names, string(f))
	}
	return strings.Join(names, "|")
}

func runScan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := &formatValue{report.Table}
	fs.Var(format, "format", "output format: "+formatNames())
	functions := fs.Bool("functions", false, "list every function in table output (JSON always lists them)")
	jobs := fs.Int("j", runtime.NumCPU(), "files analysed in parallel")
	failOn := &severityValue{rules.Error}
	fs.Var(failOn, "fail-on", "exit 1 when a finding has at least this severity: note|warning|error")
	budget := fs.Uint("stack-budget", 0, "MF4001: bytes of stack a paging-path call chain may use (default 4096, or the config's stack_budget)")
	configPath := fs.String("config", "", "configuration file (default: "+config.DefaultFile+" in the current directory, if present)")
	sourceRoot := fs.String("source-root", ".", "SARIF: the repository root; file URIs are made relative to it")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), scanUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		return exitError
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "drvhazard scan: no FILE or DIR given")
		fs.Usage()
		return exitError
	}
	if *jobs < 1 {
		fmt.Fprintf(stderr, "drvhazard scan: -j must be at least 1, got %d\n", *jobs)
		return exitError
	}
	if st, err := os.Stat(*sourceRoot); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "drvhazard scan: --source-root %s is not a directory\n", *sourceRoot)
		return exitError
	}

	path, explicit := *configPath, *configPath != ""
	if !explicit {
		path = config.DefaultFile
	}
	opt, _, err := config.Load(path, explicit)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard scan: config: %v\n", err)
		return exitError
	}
	if *budget != 0 {
		opt.Budget = uint32(*budget)
	}

	paths, walkErrs := collect(fs.Args())
	results := analyseAll(paths, *jobs, opt)
	results = append(results, walkErrs...)
	sort.SliceStable(results, func(i, j int) bool { return results[i].Path < results[j].Path })

	if err := report.Write(stdout, format.f, results, report.Options{ToolVersion: toolVersion(), Functions: *functions, SourceRoot: *sourceRoot}); err != nil {
		fmt.Fprintf(stderr, "drvhazard scan: writing output: %v\n", err)
		return exitError
	}
	code := exitOK
	for _, r := range results {
		for _, f := range r.Findings {
			if f.Severity >= failOn.s && code == exitOK {
				code = exitFindings
			}
		}
	}
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(stderr, "drvhazard: %s\n", errorLine(r))
			code = exitError
		}
	}
	if len(results) == 0 {
		fmt.Fprintln(stderr, "drvhazard scan: no .sys files found")
		code = exitError
	}
	return code
}

func errorLine(r *rules.Result) string {
	msg := r.Err.Error()
	if strings.HasPrefix(msg, r.Path+":") {
		return msg
	}
	return r.Path + ": " + msg
}

// collect expands the arguments into files. Errors (a missing path, an
// unreadable directory) become results so they are reported in order.
func collect(args []string) ([]string, []*rules.Result) {
	var paths []string
	var errs []*rules.Result
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, &rules.Result{Path: arg, Err: err})
			continue
		}
		if !st.IsDir() {
			add(arg)
			continue
		}
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, &rules.Result{Path: p, Err: err})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(p), ".sys") {
				add(p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, &rules.Result{Path: arg, Err: err})
		}
	}
	return paths, errs
}

// analyseAll analyses files on up to jobs goroutines.
func analyseAll(paths []string, jobs int, opt rules.Options) []*rules.Result {
	results := make([]*rules.Result, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < jobs && w < len(paths); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = analyse(paths[i], opt)
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

func analyse(path string, opt rules.Options) *rules.Result {
	img, err := loader.Load(path)
	sum, size := fileDigest(path)
	if err != nil {
		return &rules.Result{Path: path, SHA256: sum, Size: size, Err: err}
	}
	r := rules.Analyze(path, sum, img, opt)
	r.Size = size
	return r
}

// fileDigest hashes the file; the loader has its own bounded read.
func fileDigest(path string) (string, int64) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, loader.MaxFileSize+1))
	if err != nil {
		return "", n
	}
	return hex.EncodeToString(h.Sum(nil)), n
}
