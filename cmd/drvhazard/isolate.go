package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/rules"
)

// Each file is analysed in isolation: a panic in its load, analysis or
// report part becomes that file's error, and its time and the size of its
// control-flow graph are bounded, so that one hostile or unexpected driver
// never costs the report of the others.

// internalError is a panic inside one file's analysis or report, kept as
// that file's error. The stack is printed only under --debug.
type internalError struct {
	file  string
	value any
	stack []byte
}

func (e *internalError) Error() string {
	return fmt.Sprintf("internal error analysing %s: %v; please report it", e.file, e.value)
}

// guard runs fn and turns a panic into an *internalError naming file.
func guard[T any](file string, fn func() T) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &internalError{file: file, value: r, stack: debug.Stack()}
		}
	}()
	return fn(), nil
}

// budgets are the per-file limits of a scan.
type budgets struct {
	timeout time.Duration // 0: none
	limits  cfg.Limits
}

// watchdogGrace is how long past its time budget an analysis may run before
// the scan stops waiting for it. The analysis checks its deadline at every
// function and walk step, so it normally stops within milliseconds; the
// watchdog only catches a loop that never checks.
const watchdogGrace = 10 * time.Second

// testHook, when set, runs at the start of every file's analysis (stage
// "analyse") and rendering ("render"): tests inject faults with it.
var testHook func(stage, path string)

// analyseIsolated analyses one file within its budgets. It always returns
// a result: a panic, an exceeded limit or the time budget become its Err.
func analyseIsolated(path string, opt rules.Options, sym symbolOptions, b budgets) *rules.Result {
	ctx := context.Background()
	if b.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	opt.Limits = b.limits
	done := make(chan *rules.Result, 1)
	go func() {
		r, err := guard(path, func() *rules.Result {
			if testHook != nil {
				testHook("analyse", path)
			}
			return analyse(ctx, path, opt, sym)
		})
		if err != nil {
			r = failedResult(path, err)
		}
		done <- r
	}()
	var r *rules.Result
	if b.timeout == 0 {
		r = <-done
	} else {
		select {
		case r = <-done:
		case <-time.After(b.timeout + watchdogGrace):
			// The goroutine is abandoned; its result, if it ever comes, is
			// dropped.
			r = failedResult(path, fmt.Errorf("the analysis did not stop within its time budget of %v; raise it with --file-timeout (0 for none)", b.timeout))
		}
	}
	if r.Err != nil {
		r.Err = explainBudget(r.Err, b)
	}
	return r
}

// failedResult is the result of a file that could not be analysed.
func failedResult(path string, err error) *rules.Result {
	sum, size := fileDigest(path)
	return &rules.Result{Path: path, SHA256: sum, Size: size, Err: err}
}

// explainBudget says which budget an error exceeded and how to raise it.
func explainBudget(err error, b budgets) error {
	var lim *cfg.LimitError
	switch {
	case errors.As(err, &lim):
		flag := map[string]string{"instructions": "--max-instructions", "functions": "--max-functions", "blocks": "--max-blocks"}[lim.Limit]
		return fmt.Errorf("%w; raise it with %s", err, flag)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the analysis exceeded its time budget of %v; raise it with --file-timeout (0 for none)", b.timeout)
	}
	return err
}

// renderIsolated renders a result with render; a panic while rendering
// makes the part that of the file's internal error instead.
func renderIsolated[P any](r *rules.Result, render func(*rules.Result) P) (P, *rules.Result) {
	p, err := guard(r.Path, func() P {
		if testHook != nil {
			testHook("render", r.Path)
		}
		return render(r)
	})
	if err == nil {
		return p, r
	}
	failed := &rules.Result{Path: r.Path, SHA256: r.SHA256, Size: r.Size, Err: err}
	return render(failed), failed
}

// panicStack returns the stack of an internal error, for --debug.
func panicStack(err error) []byte {
	var ie *internalError
	if errors.As(err, &ie) {
		return ie.stack
	}
	return nil
}

// defaultFileTimeout is the per-file time budget: real drivers take well
// under a second each (README.md), so a minute means something is wrong.
const defaultFileTimeout = 60 * time.Second

// budgetFlags adds the per-file budget flags to fs; the function it returns
// reads them after parsing.
func budgetFlags(fs *flag.FlagSet) func() budgets {
	timeout := fs.Duration("file-timeout", defaultFileTimeout, "time budget for analysing one file (e.g. 30s, 5m; 0 for none); a file over it is reported as not analysed")
	lim := cfg.DefaultLimits
	insts := fs.Int("max-instructions", lim.Instructions, "limit on the instructions decoded in one file (0 for none)")
	funcs := fs.Int("max-functions", lim.Functions, "limit on the functions found in one file (0 for none)")
	blocks := fs.Int("max-blocks", lim.Blocks, "limit on the basic blocks found in one file (0 for none)")
	return func() budgets {
		return budgets{timeout: *timeout, limits: cfg.Limits{Instructions: *insts, Functions: *funcs, Blocks: *blocks}}
	}
}

// checkBudgets rejects negative budgets.
func checkBudgets(b budgets) error {
	switch {
	case b.timeout < 0:
		return fmt.Errorf("--file-timeout must not be negative, got %v", b.timeout)
	case b.limits.Instructions < 0 || b.limits.Functions < 0 || b.limits.Blocks < 0:
		return errors.New("--max-instructions, --max-functions and --max-blocks must not be negative")
	}
	return nil
}
