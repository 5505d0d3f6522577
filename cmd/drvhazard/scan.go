package main

import (
	"context"
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
Directories are walked recursively for files whose name matches an
--include pattern (default *.sys; case-insensitive, e.g. --include '*.sys'
--include '*.dll'); symbolic links to files are followed, to directories
not. Files named on the command line are analysed whatever their name.
Files are analysed on -j workers; on a terminal, a progress bar on standard
error shows files done and the file being analysed. A file that cannot be
analysed is reported with its error and the scan goes on.

With the driver's PDB (--pdb, --pdb-dir DIR: flat or a symbol store
DIR/name.pdb/GUIDAGE/name.pdb, the local directories of _NT_SYMBOL_PATH,
or next to the .sys), functions are named from it and every call on a
finding's path gets its source file and line. A PDB whose GUID and age do
not match the image is refused.

--format sarif writes a SARIF 2.1.0 log for GitHub code scanning: one run,
each finding located at its source line when the PDB gives it and the
source file is found under --source-root, else in its .sys file (line 1),
with the RVA, the function and the call path. File URIs are relative to
--source-root (the repository root; default the current directory). Files
that cannot be analysed become error notifications.

--output FILE (-o) writes the report to FILE in UTF-8 instead of standard
output: in Windows PowerShell 5.1, > would write UTF-16, which SARIF
readers refuse.

Exit status: 0 no finding at or above --fail-on, 1 such findings, 2 usage
errors or files that could not be analysed. In CI, the default fails the job
on errors; --fail-on never reports without failing (a first look, or a job
that only uploads SARIF).

A configuration file (.drvhazard.yaml in the current directory, or
--config FILE) adds your own routines to the API catalogue ('drvhazard apis'
lists it) and tunes rules:

  apis:
    - name: GetProcessKey        # your wrapper (by symbol name) or an import
      class: pageable            # pageable | passive-only | name-query | posting | reentrant-io | apc-only
      irql: apc                  # passive | apc | dispatch
    - name: AllocTracked         # your pool allocator: where its pool type and tag are
      class: pool-alloc
      irql: dispatch
      type_arg: 0
      tag_arg: 2
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
  drvhazard scan --pdb build/mydriver.pdb build/mydriver.sys
  drvhazard scan --include '*.sys' --include '*.dll' build/

Flags:
`

// scanHint follows a usage error.
const scanHint = "usage: drvhazard scan [flags] FILE|DIR... ('drvhazard scan --help' lists the flags)\n"

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

// severityValue is a flag.Value for --fail-on: a severity, or never.
type severityValue struct {
	s     rules.Severity
	never bool // no finding fails the scan
}

func (v *severityValue) String() string {
	if v.never {
		return "never"
	}
	return v.s.String()
}

func (v *severityValue) Set(s string) error {
	if s == "never" {
		v.never = true
		return nil
	}
	sev, err := rules.ParseSeverity(s)
	if err != nil {
		return fmt.Errorf("%w, or never", err)
	}
	v.s, v.never = sev, false
	return nil
}

// fails reports whether a finding of severity sev fails the scan.
func (v *severityValue) fails(sev rules.Severity) bool { return !v.never && sev >= v.s }

// includeValue is the repeatable --include flag: glob patterns matched
// case-insensitively against the base names of files found in directories.
// The first --include replaces the default.
type includeValue struct {
	globs []string // as given, for messages
	set   bool
}

// defaultInclude is what directories are searched for without --include.
const defaultInclude = "*.sys"

func (v *includeValue) String() string { return strings.Join(v.globs, ", ") }
func (v *includeValue) Set(s string) error {
	if err := checkGlob(s); err != nil {
		return err
	}
	if !v.set {
		v.globs, v.set = nil, true
	}
	v.globs = append(v.globs, s)
	return nil
}

// checkGlob rejects what filepath.Match cannot match: a malformed pattern,
// or one with a separator (patterns see base names only).
func checkGlob(g string) error {
	if g == "" {
		return errors.New("empty pattern")
	}
	if strings.ContainsRune(g, '/') || (filepath.Separator != '/' && strings.ContainsRune(g, filepath.Separator)) {
		return fmt.Errorf("pattern %q has a path separator; patterns match file names, not paths (directories are searched recursively)", g)
	}
	if _, err := filepath.Match(strings.ToLower(g), ""); err != nil {
		return fmt.Errorf("pattern %q: %w", g, err)
	}
	return nil
}

// matcher reports whether a file name matches one of the patterns, ignoring
// case as Windows does.
type matcher []string

func newMatcher(globs []string) matcher {
	m := make(matcher, len(globs))
	for i, g := range globs {
		m[i] = strings.ToLower(g)
	}
	return m
}

func (m matcher) match(name string) bool {
	name = strings.ToLower(name)
	for _, g := range m {
		if ok, _ := filepath.Match(g, name); ok { // patterns were checked by checkGlob
			return true
		}
	}
	return false
}

func formatNames() string {
	var names []string
	for _, f := range report.Formats {
		names = append(names, string(f))
	}
	return strings.Join(names, "|")
}

func runScan(args []string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	format := &formatValue{report.Table}
	fs.Var(format, "format", "output format: "+formatNames())
	functions := fs.Bool("functions", false, "list every function in table output (JSON always lists them)")
	jobs := fs.Int("j", runtime.NumCPU(), "files analysed in parallel")
	failOn := &severityValue{s: rules.Error}
	fs.Var(failOn, "fail-on", "exit 1 when a finding has at least this severity: note|warning|error, or never (exit 0 whatever is found)")
	stackBudget := fs.Uint("stack-budget", 0, "MF4001: bytes of stack a paging-path call chain may use (default 4096, or the config's stack_budget)")
	configPath := fs.String("config", "", "configuration file (default: "+config.DefaultFile+" in the current directory, if present)")
	sourceRoot := fs.String("source-root", ".", "SARIF: the repository root; file URIs are made relative to it")
	baseline := fs.String("baseline", "", "an earlier run's JSON or SARIF output: its findings are marked suppressed and only new ones count")
	include := &includeValue{globs: []string{defaultInclude}}
	fs.Var(include, "include", "`GLOB` for the files to analyse in directories, matched against the file name ignoring case; repeatable")
	sym := symbolFlags(fs)
	budget := budgetFlags(fs)
	debugFlag := fs.Bool("debug", false, "print the Go stack of an internal error (for a bug report)")
	outputPath := outputFlag(fs)
	operands, code, done := parseCommand(fs, args, scanUsage, scanHint, "no FILE or DIR given", stdout, stderr)
	if done {
		return code
	}
	stdout, closeOutput, ok := openOutput(*outputPath, "scan", stdout, stderr)
	if !ok {
		return exitError
	}
	defer func() { code = closeOutput(code) }()
	if *jobs < 1 {
		fmt.Fprintf(stderr, "drvhazard scan: -j must be at least 1, got %d\n", *jobs)
		return exitError
	}
	budgets := budget()
	if err := checkBudgets(budgets); err != nil {
		fmt.Fprintf(stderr, "drvhazard scan: %v\n", err)
		return exitError
	}
	if st, err := os.Stat(*sourceRoot); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "drvhazard scan: --source-root %s is not a directory\n", *sourceRoot)
		return exitError
	}

	opt, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard scan: config: %v\n", err)
		return exitError
	}
	if *stackBudget != 0 {
		opt.Budget = uint32(*stackBudget)
	}
	symbols, err := sym(operands)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard scan: %v\n", err)
		return exitError
	}
	if *baseline != "" {
		fps, err := config.LoadBaseline(*baseline)
		if err != nil {
			fmt.Fprintf(stderr, "drvhazard scan: baseline: %v\n", err)
			return exitError
		}
		opt.Baseline = fps
	}

	ropt := report.Options{ToolVersion: toolVersion(), Functions: *functions, SourceRoot: *sourceRoot,
		Color: useColor(stdout, os.Getenv)}
	out, err := report.NewWriter(stdout, format.f, ropt)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard scan: %v\n", err)
		return exitError
	}
	// Each result is rendered by the worker that analysed it, then dropped;
	// the parts are written in path order as soon as each and those before
	// it are ready. Errors are listed on standard error after the report.
	type scanned struct {
		part    report.Part
		hit     bool   // an active finding at or above --fail-on
		errLine string // the file could not be analysed
		stack   []byte // of an internal error, for --debug
	}
	files := 0
	var failed []string
	err = scan(operands, scanOptions{
		include:  newMatcher(include.globs),
		jobs:     *jobs,
		analysis: opt,
		symbols:  symbols,
		budgets:  budgets,
		progress: newProgress(stderr, os.Getenv),
	}, func(r *rules.Result) scanned {
		var s scanned
		s.part, r = renderIsolated(r, out.Render)
		for _, f := range r.Findings {
			// Suppressed findings (config, baseline) do not count.
			s.hit = s.hit || (f.Active() && failOn.fails(f.Severity))
		}
		if r.Err != nil {
			s.errLine = errorLine(r)
			if *debugFlag {
				s.stack = panicStack(r.Err)
			}
		}
		return s
	}, func(s scanned) error {
		files++
		if s.hit {
			code = exitFindings
		}
		if s.errLine != "" {
			failed = append(failed, "drvhazard: "+s.errLine+"\n")
		}
		if len(s.stack) > 0 {
			failed = append(failed, string(s.stack))
		}
		return out.Add(s.part)
	})
	if err == nil {
		err = out.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard scan: writing output: %v\n", err)
		return exitError
	}
	for _, text := range failed {
		fmt.Fprint(stderr, text)
		code = exitError
	}
	if files == 0 {
		fmt.Fprintf(stderr, "drvhazard scan: no files matching %s found in %s\n",
			strings.Join(include.globs, " or "), strings.Join(operands, ", "))
		code = exitError
	}
	return code
}

// parseCommand parses a command's flags and operands. The flag package
// prints its error and then the usage; the usage is long, so a mistake gets
// the error and a pointer to --help instead (exit 2), and --help gets the
// usage on standard output (exit 0). done says whether the command is over.
func parseCommand(fs *flag.FlagSet, args []string, usage, hint, noOperands string, stdout, stderr io.Writer) (operands []string, code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	operands, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil, exitOK, true
	case err != nil:
		fmt.Fprintf(stderr, "drvhazard %s: %v\n%s", fs.Name(), err, hint)
		return nil, exitError, true
	case len(operands) == 0:
		fmt.Fprintf(stderr, "drvhazard %s: %s\n%s", fs.Name(), noOperands, hint)
		return nil, exitError, true
	}
	return operands, exitOK, false
}

// loadConfig reads --config FILE, or .drvhazard.yaml in the current
// directory when there is one.
func loadConfig(path string) (rules.Options, error) {
	explicit := path != ""
	if !explicit {
		path = config.DefaultFile
	}
	opt, _, err := config.Load(path, explicit)
	return opt, err
}

// parseInterspersed parses flags before, between and after the operands
// (drvhazard scan drivers/ --format json), as users of other tools expect;
// the flag package alone stops at the first operand. After "--" everything
// is an operand.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(operands, rest...), nil
		}
		if len(rest) == 0 {
			return operands, nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

func errorLine(r *rules.Result) string {
	msg := r.Err.Error()
	var ie *internalError
	if strings.HasPrefix(msg, r.Path+":") || errors.As(r.Err, &ie) {
		return msg
	}
	return r.Path + ": " + msg
}

// scanOptions configure scan.
type scanOptions struct {
	include  matcher // files to analyse in directories
	jobs     int     // workers, at least 1
	analysis rules.Options
	symbols  symbolOptions
	budgets  budgets
	progress progress // nil: none
}

// scan analyses the files named by args (files, or directories searched for
// files matching the include patterns). Each result goes to process on the
// worker that made it, and what process returns goes to emit, in path
// order, as soon as it and all before it are ready: process should keep
// what emit needs and let the result go. Files that could not be found or
// read are results with Err set. An error from emit stops the scan.
func scan[T any](args []string, opt scanOptions, process func(*rules.Result) T, emit func(T) error) error {
	files, failed := collect(args, opt.include)
	items := make([]scanItem[T], 0, len(files)+len(failed))
	for _, f := range files {
		items = append(items, scanItem[T]{file: f})
	}
	for _, r := range failed {
		items = append(items, scanItem[T]{file: file{path: r.Path}, started: true, done: true, value: process(r)})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].path < items[j].path })
	s := newScheduler(items, pendingBudget)
	p := opt.progress
	if p == nil {
		p = noProgress{}
	}
	p.begin(len(files))
	var wg sync.WaitGroup
	for w := 0; w < opt.jobs && w < len(files); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s.take(); i >= 0; i = s.take() {
				p.start(items[i].path)
				s.finish(i, process(analyseIsolated(items[i].path, opt.analysis, opt.symbols, opt.budgets)))
				p.done()
			}
		}()
	}
	var err error
	for v, ok := s.next(); ok; v, ok = s.next() {
		if err = emit(v); err != nil {
			s.stop()
			break
		}
	}
	wg.Wait()
	p.end()
	return err
}

// pendingBudget bounds the bytes of the files started but not yet emitted
// (but the one whose turn it is, which may always start). What waits is
// what process kept of a result (for a report, its rendered part, about
// the size of the file), so the budget bounds memory, while leaving the
// workers room to run ahead of a large file.
const pendingBudget = 16 << 20

// lookahead is how many files past the first one not started the scheduler
// considers when it picks the largest to start next.
const lookahead = 256

// scanItem is a file to analyse, or a failure found while collecting.
type scanItem[T any] struct {
	file
	started, done bool
	value         T // what process returned, until emitted
}

// scheduler hands files to the workers and their values back in path
// order. Workers get the largest file that fits in the pending budget among
// the next ones, so that a big file met last does not leave the other
// workers idle while it is analysed alone.
type scheduler[T any] struct {
	mu      sync.Mutex
	cond    *sync.Cond
	items   []scanItem[T]
	cursor  int   // the first item not yet emitted
	first   int   // the first item not yet started
	pending int64 // bytes of the files started and not yet emitted
	budget  int64
	stopped bool
}

func newScheduler[T any](items []scanItem[T], budget int64) *scheduler[T] {
	s := &scheduler[T]{items: items, budget: budget}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// take returns the next file to analyse, waiting while the budget is
// spent, or -1 when no file is left to start.
func (s *scheduler[T]) take() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for s.first < len(s.items) && s.items[s.first].started {
			s.first++
		}
		if s.stopped || s.first == len(s.items) {
			return -1
		}
		best := -1
		for i := s.first; i < len(s.items) && i < s.first+lookahead; i++ {
			it := &s.items[i]
			if it.started || (i != s.cursor && s.pending+it.size > s.budget) {
				continue
			}
			if best < 0 || it.size > s.items[best].size {
				best = i
			}
		}
		if best >= 0 {
			s.items[best].started = true
			s.pending += s.items[best].size
			return best
		}
		s.cond.Wait()
	}
}

// finish records the value of item i.
func (s *scheduler[T]) finish(i int, v T) {
	s.mu.Lock()
	s.items[i].value, s.items[i].done = v, true
	s.mu.Unlock()
	s.cond.Broadcast()
}

// next waits for the value at the cursor and returns it; ok is false after
// the last one.
func (s *scheduler[T]) next() (v T, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cursor == len(s.items) {
		return v, false
	}
	it := &s.items[s.cursor]
	for !it.done {
		s.cond.Wait()
	}
	v = it.value
	it.value = *new(T) // let it go
	s.pending -= it.size
	s.cursor++
	s.cond.Broadcast()
	return v, true
}

// stop makes take return -1 from now on.
func (s *scheduler[T]) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

// file is a file to analyse.
type file struct {
	path string
	size int64
}

// collect expands the arguments into files. Errors (a missing path, an
// unreadable directory, a pipe or a broken link where a driver was expected)
// become results so they are reported in order with the others.
func collect(args []string, include matcher) ([]file, []*rules.Result) {
	var files []file
	var errs []*rules.Result
	seen := map[string]bool{}
	add := func(p string, size int64) {
		if key := filepath.Clean(p); !seen[key] {
			seen[key] = true
			files = append(files, file{p, size})
		}
	}
	fail := func(p string, err error) {
		errs = append(errs, &rules.Result{Path: p, Err: err})
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			fail(arg, statError(arg, err))
			continue
		}
		if !st.IsDir() {
			if !st.Mode().IsRegular() {
				fail(arg, notRegular(st.Mode()))
				continue
			}
			add(arg, st.Size())
			continue
		}
		root := arg
		if lst, err := os.Lstat(arg); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
			// WalkDir does not follow a link given as the root; with a
			// trailing separator the system resolves it.
			root = arg + string(filepath.Separator)
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fail(p, unwrapPath(err))
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !include.match(d.Name()) {
				return nil
			}
			mode := d.Type()
			if mode&fs.ModeSymlink != 0 {
				// A link to a file is followed; one to a directory is not
				// (it could loop), and a broken one is an error.
				st, err := os.Stat(p)
				switch {
				case err != nil:
					fail(p, statError(p, err))
				case st.Mode().IsRegular():
					add(p, st.Size())
				case !st.IsDir():
					fail(p, notRegular(st.Mode()))
				}
				return nil
			}
			if !mode.IsRegular() {
				fail(p, notRegular(mode))
				return nil
			}
			var size int64
			if info, err := d.Info(); err == nil {
				size = info.Size()
			}
			add(p, size)
			return nil
		})
		if err != nil {
			fail(arg, unwrapPath(err))
		}
	}
	return files, errs
}

// statError says why a path cannot be analysed, without repeating the path
// (the report names the file): "broken symbolic link" rather than the
// "no such file or directory" of the link's target.
func statError(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		if lst, lerr := os.Lstat(p); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
			if target, rerr := os.Readlink(p); rerr == nil {
				return fmt.Errorf("broken symbolic link (to %s)", target)
			}
			return errors.New("broken symbolic link")
		}
	}
	return unwrapPath(err)
}

// unwrapPath drops the "stat PATH: " of an *fs.PathError.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// notRegular is the error for a pipe, socket or device where a driver file
// was expected; opening a pipe would block the scan.
func notRegular(m fs.FileMode) error {
	kind := "special file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		kind = "named pipe"
	case m&fs.ModeSocket != 0:
		kind = "socket"
	case m&fs.ModeCharDevice != 0:
		kind = "character device"
	case m&fs.ModeDevice != 0:
		kind = "device"
	}
	return fmt.Errorf("not a regular file (a %s)", kind)
}

func analyse(ctx context.Context, path string, opt rules.Options, sym symbolOptions) *rules.Result {
	img, err := loader.Load(path)
	sum, size := fileDigest(path)
	if err != nil {
		return &rules.Result{Path: path, SHA256: sum, Size: size, Err: err}
	}
	symbols, symPath, err := loadSymbols(path, img, sym)
	if err != nil {
		return &rules.Result{Path: path, SHA256: sum, Size: size, Err: err}
	}
	if symbols != nil {
		symbols.AddTo(img)
	}
	r := rules.AnalyzeContext(ctx, path, sum, img, opt)
	r.Size = size
	if symbols != nil {
		r.Symbols, r.Lines = symPath, pdbLines{symbols}
	}
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
