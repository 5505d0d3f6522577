package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// actionFile is the part of action.yml that GitHub reads, decoded strictly
// so that a misspelt key fails the test.
type actionFile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs map[string]struct {
		Description string `yaml:"description"`
		Required    bool   `yaml:"required"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	Uses             string            `yaml:"uses"`
	With             map[string]string `yaml:"with"`
	Shell            string            `yaml:"shell"`
	WorkingDirectory string            `yaml:"working-directory"`
	Env              map[string]string `yaml:"env"`
	Run              string            `yaml:"run"`
}

func readAction(t *testing.T) actionFile {
	t.Helper()
	data := mustRead(t, "../../action.yml")
	var a actionFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a
}

// TestActionFile checks the shape of action.yml: a composite action whose
// run steps name their shell and take inputs only through the environment.
func TestActionFile(t *testing.T) {
	a := readAction(t)
	if a.Runs.Using != "composite" || a.Name == "" || a.Description == "" {
		t.Fatalf("runs.using %q, name %q", a.Runs.Using, a.Name)
	}
	for _, in := range []string{"paths", "fail-on", "config"} {
		if _, ok := a.Inputs[in]; !ok {
			t.Errorf("input %s missing", in)
		}
	}
	if a.Inputs["paths"].Default != "." || a.Inputs["fail-on"].Default != "error" {
		t.Errorf("defaults: paths %q, fail-on %q", a.Inputs["paths"].Default, a.Inputs["fail-on"].Default)
	}
	var uses []string
	for i, s := range a.Runs.Steps {
		if (s.Run == "") == (s.Uses == "") {
			t.Errorf("step %d (%s): exactly one of run and uses", i, s.Name)
		}
		if s.Run != "" && s.Shell != "bash" {
			t.Errorf("step %d (%s): shell %q, want bash", i, s.Name, s.Shell)
		}
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %d (%s): an expression in the script; pass it through env", i, s.Name)
		}
		if s.Uses != "" {
			uses = append(uses, s.Uses)
		}
	}
	if got := strings.Join(uses, " "); !strings.HasPrefix(got, "actions/setup-go@") || !strings.Contains(got, "github/codeql-action/upload-sarif@") {
		t.Errorf("uses %s", got)
	}
}

// TestActionScripts runs the action's scan and result steps with bash as
// the runner would (bash --noprofile --norc -eo pipefail), against a
// workspace of fixtures, with a drvhazard built from this tree.
func TestActionScripts(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the runner's bash on Windows is not exercised here")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if testing.Short() {
		t.Skip("builds drvhazard")
	}
	steps := map[string]actionStep{}
	for _, s := range readAction(t).Runs.Steps {
		steps[s.Name] = s
	}
	scanStep, resultStep := steps["Scan"], steps["Result"]
	if scanStep.Run == "" || resultStep.Run == "" {
		t.Fatal("no Scan or Result step")
	}
	tmp := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(tmp, "drvhazard"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ws := t.TempDir()
	for name, src := range map[string]string{
		"drivers/a.sys":     "mf_rdata.gcc.sys",   // MF2001 errors
		"drivers/sub/b.sys": "mf_stack.clang.sys", // warnings only
	} {
		p := filepath.Join(ws, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, mustRead(t, "../../testdata/bin/"+src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ws, "bad.sys"), []byte("not a driver"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ws, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	runStep := func(script string, env ...string) (int, map[string]string, string) {
		out := filepath.Join(t.TempDir(), "github_output")
		if err := os.WriteFile(out, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Dir = ws
		cmd.Env = append(os.Environ(), append(env, "RUNNER_TEMP="+tmp, "GITHUB_WORKSPACE="+ws, "GITHUB_OUTPUT="+out)...)
		log, _ := cmd.CombinedOutput()
		outputs := map[string]string{}
		b, _ := os.ReadFile(out)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				outputs[k] = v
			}
		}
		return cmd.ProcessState.ExitCode(), outputs, string(log)
	}
	for _, tc := range []struct {
		paths, failOn, config string
		scan                  int    // the Scan step's exit status
		exit                  string // drvhazard's, as the step's output
		result                int    // the Result step's exit status
		results               int    // SARIF results uploaded
	}{
		{"drivers", "error", "", 0, "1", 1, 4},
		{"drivers", "never", "", 0, "1", 0, 4},
		{"drivers/sub", "error", "", 0, "0", 0, 1},
		{"drivers/sub", "warning", "", 0, "1", 1, 1},
		{"drivers/sub\n  drivers/a.sys\n", "warning", "", 0, "1", 1, 4}, // one path a line
		{".", "never", "", 0, "2", 2, 4},                                // bad.sys: uploaded, then failed
		{"empty", "error", "", 0, "2", 2, 0},                            // nothing found
		{"drivers", "error", "missing.yaml", 2, "2", -1, 0},             // usage error: no upload
		{"drivers", "fatal", "", 2, "", -1, 0},
		{" ", "error", "", 2, "", -1, 0},
	} {
		code, outputs, log := runStep(scanStep.Run, "DRVHAZARD_PATHS="+tc.paths, "DRVHAZARD_FAIL_ON="+tc.failOn, "DRVHAZARD_CONFIG="+tc.config)
		if code != tc.scan || outputs["exit-code"] != tc.exit {
			t.Errorf("paths %q fail-on %s config %q: scan step exit %d, exit-code %q; want %d, %q\n%s",
				tc.paths, tc.failOn, tc.config, code, outputs["exit-code"], tc.scan, tc.exit, log)
			continue
		}
		if code != 0 {
			if !strings.Contains(log, "::error title=drvhazard::") {
				t.Errorf("paths %q fail-on %s: the failure has no ::error annotation:\n%s", tc.paths, tc.failOn, log)
			}
			continue
		}
		sarif := mustRead(t, outputs["sarif-file"])
		if n := bytes.Count(sarif, []byte(`"ruleId"`)); n != tc.results {
			t.Errorf("paths %q: %d results in the SARIF log, want %d", tc.paths, n, tc.results)
		}
		code, _, log = runStep(resultStep.Run, "DRVHAZARD_EXIT="+outputs["exit-code"], "DRVHAZARD_FAIL_ON="+tc.failOn)
		if code != tc.result {
			t.Errorf("paths %q fail-on %s: result step exit %d, want %d\n%s", tc.paths, tc.failOn, code, tc.result, log)
		}
	}
}
