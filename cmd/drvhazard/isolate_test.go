package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// A panic while one file is analysed or rendered costs that file only: the
// report is a valid document with every other file's results and that
// file's error, and the exit status says a file could not be analysed.
func TestPanicInOneFileIsThatFilesError(t *testing.T) {
	bin := "../../testdata/bin/"
	files := []string{bin + "mf_rdata.gcc.sys", bin + "mf_variants.clang.sys", bin + "thunks.clang.sys"}
	for _, stage := range []string{"analyse", "render"} {
		for _, format := range []string{"json", "sarif", "markdown", "table"} {
			t.Run(stage+"/"+format, func(t *testing.T) {
				testHook = func(s, path string) {
					if s == stage && filepath.Base(path) == "mf_variants.clang.sys" {
						panic("injected fault")
					}
				}
				defer func() { testHook = nil }()
				code, out, errs := runCLI(t, append([]string{"scan", "--format", format}, files...)...)
				if code != exitError {
					t.Errorf("exit %d, want %d", code, exitError)
				}
				want := "internal error analysing " + files[1] + ": injected fault; please report it"
				if !strings.Contains(errs, want) || strings.Contains(errs, "goroutine") {
					t.Errorf("stderr %q: want %q and no stack without --debug", errs, want)
				}
				switch format {
				case "json":
					var doc scanDoc
					if err := json.Unmarshal([]byte(out), &doc); err != nil {
						t.Fatalf("not JSON: %v\n%s", err, out)
					}
					if len(doc.Files) != 3 || doc.Files[0].Error != nil || doc.Files[2].Error != nil ||
						doc.Files[1].Error == nil || !strings.Contains(*doc.Files[1].Error, "injected fault") ||
						doc.Files[0].Image == nil || doc.Files[2].Image == nil {
						t.Errorf("files %+v: want the other two analysed and the faulty one's error", doc.Files)
					}
				case "sarif":
					var log struct {
						Runs []struct {
							Results     []struct{ RuleID string }
							Invocations []struct {
								ToolExecutionNotifications []struct{ Message struct{ Text string } }
							}
						}
					}
					if err := json.Unmarshal([]byte(out), &log); err != nil {
						t.Fatalf("not JSON: %v", err)
					}
					if len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 || len(log.Runs[0].Invocations) != 1 ||
						!strings.Contains(out, "injected fault") {
						t.Errorf("SARIF log lacks the other files' results or the fault's notification:\n%s", out)
					}
				default:
					if !strings.Contains(out, "mf_rdata.gcc.sys") || !strings.Contains(out, "thunks.clang.sys") ||
						!strings.Contains(out, "injected fault") {
						t.Errorf("%s report lacks a file or the error:\n%s", format, out)
					}
				}
			})
		}
	}
}

func TestDebugPrintsTheStack(t *testing.T) {
	testHook = func(s, path string) { panic("injected fault") }
	defer func() { testHook = nil }()
	code, _, errs := runCLI(t, "scan", "--debug", "--format", "json", "../../testdata/bin/thunks.clang.sys")
	if code != exitError || !strings.Contains(errs, "goroutine") || !strings.Contains(errs, "isolate.go") {
		t.Errorf("exit %d, stderr %q: want the panic's stack under --debug", code, errs)
	}
}

// Each budget refuses the file with an error that names it and the flag
// that raises it.
func TestBudgetsRefuseTheFile(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--max-blocks", "10"}, "limit of 10 basic blocks; raise it with --max-blocks"},
		{[]string{"--max-functions", "2"}, "limit of 2 functions; raise it with --max-functions"},
		{[]string{"--max-instructions", "50"}, "limit of 50 instructions decoded; raise it with --max-instructions"},
		{[]string{"--file-timeout", "1ns"}, "time budget of 1ns; raise it with --file-timeout (0 for none)"},
	} {
		args := append([]string{"scan", "--format", "json"}, tc.flags...)
		code, out, errs := runCLI(t, append(args, "../../testdata/bin/mf_rdata.gcc.sys", "../../testdata/bin/thunks.clang.sys")...)
		var doc scanDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v: not JSON: %v", tc.flags, err)
		}
		if code != exitError || len(doc.Files) != 2 || doc.Files[0].Error == nil || !strings.Contains(*doc.Files[0].Error, tc.want) ||
			!strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, files %+v, stderr %q; want %q", tc.flags, code, doc.Files, errs, tc.want)
		}
	}
	if code, _, errs := runCLI(t, "scan", "--file-timeout", "-1s", "x.sys"); code != exitError || !strings.Contains(errs, "must not be negative") {
		t.Errorf("negative budget: exit %d, stderr %q", code, errs)
	}
}

// correlate: a panic reading one crash file costs that file only.
func TestPanicInOneCrashFile(t *testing.T) {
	testHook = func(s, path string) {
		if s == "crash" && strings.HasSuffix(path, "mf_rdata_kv.txt") {
			panic("injected fault")
		}
	}
	defer func() { testHook = nil }()
	code, out, errs := runCLI(t, "correlate", "--format", "json", "--driver", "../../testdata/bin/mf_rdata.gcc.sys",
		"../../testdata/crash/mf_rdata_kn.txt", "../../testdata/crash/mf_rdata_kv.txt")
	var doc struct {
		Crashes []struct{ Source string }
		Errors  []struct{ Source, Error string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if code != exitError || len(doc.Crashes) != 1 || len(doc.Errors) != 1 || !strings.Contains(doc.Errors[0].Error, "internal error") ||
		!strings.Contains(errs, "injected fault") {
		t.Errorf("exit %d, doc %+v, stderr %q: want the other crash read and the faulty one's error", code, doc, errs)
	}
}
