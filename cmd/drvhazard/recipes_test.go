package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/drvhazard/drvhazard/internal/winpath"
)

// The CI recipes of docs/ci and the repository's own workflow are checked
// here: each parses, and each drvhazard command line it holds is run
// through the CLI, its paths replaced by a fixture driver and a temporary
// directory, as the CI system would run it.

// recipeFixture is the driver a recipe's scan is pointed at.
const recipeFixture = "../../testdata/bin/mf_rdata.gcc.sys"

// scanValueFlags are the flags of scan that take a value.
var scanValueFlags = map[string]bool{"format": true, "fail-on": true, "source-root": true, "config": true,
	"baseline": true, "include": true, "pdb": true, "pdb-dir": true, "j": true, "stack-budget": true}

// splitWords splits a shell or cmd.exe command line into words: quotes
// (double, or single as the shell has them) group, and are dropped.
func splitWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// scanCommand is a drvhazard scan command line of a recipe.
type scanCommand struct {
	args []string // after the program name, up to the redirection
	out  string   // the file standard output is redirected to
}

// findScans returns the drvhazard scan command lines of a script.
func findScans(script string) []scanCommand {
	var cmds []scanCommand
	for _, line := range strings.Split(script, "\n") {
		words := splitWords(strings.TrimSpace(line))
		for i := 0; i+1 < len(words); i++ {
			if strings.TrimSuffix(strings.ToLower(winpath.Base(words[i])), ".exe") != "drvhazard" || words[i+1] != "scan" {
				continue
			}
			c := scanCommand{}
			rest := words[i+1:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == ">" && j+1 < len(rest) {
					c.out = rest[j+1]
					break
				}
				c.args = append(c.args, rest[j])
			}
			cmds = append(cmds, c)
			break
		}
	}
	return cmds
}

// runScanCommand runs c as the CI system would, with its operands replaced
// by the fixture and its directories by temporary ones, and checks that
// the CLI accepts it (exit 0 or 1, not 2) and writes a SARIF log.
func runScanCommand(t *testing.T, recipe string, c scanCommand) {
	t.Helper()
	if c.out == "" {
		t.Errorf("%s: %q does not redirect its output to a file", recipe, c.args)
		return
	}
	args := []string{"scan"}
	format := ""
	for i := 1; i < len(c.args); i++ {
		a := c.args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !strings.HasPrefix(a, "-"):
			args = append(args, recipeFixture) // an operand: the drivers to scan
			continue
		case !scanValueFlags[name]:
			args = append(args, a)
			continue
		case !hasValue:
			if i+1 >= len(c.args) {
				t.Errorf("%s: %s without its value", recipe, a)
				return
			}
			i++
			value = c.args[i]
		}
		switch name {
		case "source-root", "pdb-dir":
			value = t.TempDir()
		case "format":
			format = value
		}
		args = append(args, "--"+name, value)
	}
	if format != "sarif" {
		t.Errorf("%s: --format %q, want sarif", recipe, format)
	}
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	if code != exitOK && code != exitFindings {
		t.Errorf("%s: drvhazard %q: exit %d, stderr:\n%s", recipe, args, code, stderr.String())
		return
	}
	out := filepath.Join(t.TempDir(), winpath.Base(c.out))
	if err := os.WriteFile(out, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string            `json:"version"`
		Runs    []json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(mustRead(t, out), &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Errorf("%s: %s is not a SARIF 2.1.0 log of one run (%v)", recipe, c.out, err)
	}
}

func TestCIRecipes(t *testing.T) {
	t.Run("azure-pipelines.yml", func(t *testing.T) {
		var p struct {
			Pool struct {
				VMImage string `yaml:"vmImage"`
			} `yaml:"pool"`
			Steps []struct {
				Task      string            `yaml:"task"`
				Script    string            `yaml:"script"`
				Condition string            `yaml:"condition"`
				Inputs    map[string]string `yaml:"inputs"`
			} `yaml:"steps"`
		}
		if err := yaml.Unmarshal(mustRead(t, "../../docs/ci/azure-pipelines.yml"), &p); err != nil {
			t.Fatal(err)
		}
		var scans []scanCommand
		publish := ""
		for _, s := range p.Steps {
			scans = append(scans, findScans(s.Script)...)
			if s.Task == "PublishBuildArtifacts@1" && s.Inputs["ArtifactName"] == "CodeAnalysisLogs" {
				publish = s.Inputs["PathtoPublish"]
				if s.Condition != "succeededOrFailed()" {
					t.Errorf("the publish step runs on %q; want succeededOrFailed(), so that a failed scan's log is published", s.Condition)
				}
			}
		}
		if publish == "" {
			t.Error("no PublishBuildArtifacts@1 step publishes an artifact named CodeAnalysisLogs")
		}
		if len(scans) != 1 {
			t.Fatalf("%d drvhazard scan command lines, want 1", len(scans))
		}
		if !strings.HasPrefix(scans[0].out, publish+`\`) {
			t.Errorf("the SARIF log %s is not in the published folder %s", scans[0].out, publish)
		}
		runScanCommand(t, "azure-pipelines.yml", scans[0])
	})

	t.Run("Jenkinsfile", func(t *testing.T) {
		text := string(mustRead(t, "../../docs/ci/Jenkinsfile"))
		var scans []scanCommand
		// bat '...' and sh '...' steps, in Groovy's single-quoted strings.
		for _, m := range regexp.MustCompile(`\b(?:bat|sh)\s+'((?:[^'\\]|\\.)*)'`).FindAllStringSubmatch(text, -1) {
			scans = append(scans, findScans(strings.NewReplacer(`\\`, `\`, `\'`, `'`).Replace(m[1]))...)
		}
		if len(scans) != 1 {
			t.Fatalf("%d drvhazard scan command lines, want 1", len(scans))
		}
		m := regexp.MustCompile(`recordIssues\(\s*tools:\s*\[\s*sarif\(pattern:\s*'([^']*)'`).FindStringSubmatch(text)
		if m == nil || m[1] != scans[0].out {
			t.Errorf("recordIssues(tools: [sarif(pattern: ...)]) reads %v; want the scan's log %s", m, scans[0].out)
		}
		runScanCommand(t, "Jenkinsfile", scans[0])
	})

	t.Run("drvhazard.targets", func(t *testing.T) {
		var p struct {
			XMLName       xml.Name `xml:"Project"`
			PropertyGroup []struct {
				Props []struct {
					XMLName xml.Name
					Value   string `xml:",chardata"`
				} `xml:",any"`
			} `xml:"PropertyGroup"`
			Targets []struct {
				Name         string `xml:"Name,attr"`
				AfterTargets string `xml:"AfterTargets,attr"`
				Exec         []struct {
					Command string `xml:"Command,attr"`
				} `xml:"Exec"`
			} `xml:"Target"`
		}
		if err := xml.Unmarshal(mustRead(t, "../../docs/ci/drvhazard.targets"), &p); err != nil {
			t.Fatal(err)
		}
		// What MSBuild gives a WDK project's x64 Release build.
		props := map[string]string{"SolutionDir": `C:\src\drv\`, "TargetPath": `C:\src\drv\x64\Release\drv.sys`,
			"TargetDir": `C:\src\drv\x64\Release\`, "TargetName": "drv"}
		expand := func(s string) string {
			return regexp.MustCompile(`\$\(([A-Za-z]+)\)`).ReplaceAllStringFunc(s, func(ref string) string {
				if v, ok := props[ref[2:len(ref)-1]]; ok {
					return v
				}
				return ref
			})
		}
		for _, g := range p.PropertyGroup {
			for _, prop := range g.Props {
				props[prop.XMLName.Local] = expand(prop.Value)
			}
		}
		var scans []scanCommand
		for _, tg := range p.Targets {
			if tg.AfterTargets != "Build" {
				t.Errorf("target %s runs after %q, want Build", tg.Name, tg.AfterTargets)
			}
			for _, e := range tg.Exec {
				cmd := expand(e.Command)
				if strings.Contains(cmd, "$(") {
					t.Errorf("%s: a property that is not defined: %s", tg.Name, cmd)
				}
				// Windows' rules for a command line make \" a quote
				// inside the argument: a directory's trailing backslash
				// would swallow the closing quote.
				if strings.Contains(cmd, `\"`) {
					t.Errorf("%s: a quoted argument ends with a backslash: %s", tg.Name, cmd)
				}
				scans = append(scans, findScans(cmd)...)
			}
		}
		if len(scans) != 1 {
			t.Fatalf("%d drvhazard scan command lines, want 1", len(scans))
		}
		runScanCommand(t, "drvhazard.targets", scans[0])
	})
}

// TestFindScans checks the reading of command lines the recipe test
// relies on.
func TestFindScans(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   []scanCommand
	}{
		{`drvhazard scan --format sarif a.sys > out.sarif`,
			[]scanCommand{{[]string{"scan", "--format", "sarif", "a.sys"}, "out.sarif"}}},
		{`"C:\Program Files\drvhazard\drvhazard.exe" scan "x64\My Release" > "C:\logs\d.sarif"`,
			[]scanCommand{{[]string{"scan", `x64\My Release`}, `C:\logs\d.sarif`}}},
		{"mkdir x\n  DRVHAZARD.EXE scan 'a b.sys'\n", []scanCommand{{[]string{"scan", "a b.sys"}, ""}}},
		{`go install github.com/drvhazard/drvhazard/cmd/drvhazard@latest`, nil},
		{`drvhazard version`, nil},
	} {
		got := findScans(tc.script)
		if len(got) != len(tc.want) {
			t.Errorf("%q: %d commands, want %d", tc.script, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if strings.Join(got[i].args, "|") != strings.Join(tc.want[i].args, "|") || got[i].out != tc.want[i].out {
				t.Errorf("%q: %q > %q, want %q > %q", tc.script, got[i].args, got[i].out, tc.want[i].args, tc.want[i].out)
			}
		}
	}
}

// TestWorkflowFile checks .github/workflows/drvhazard.yml against the
// Action it uses: it runs this repository's action.yml, with inputs the
// Action declares, on fixture paths that exist, and reads outputs the Action
// declares.
func TestWorkflowFile(t *testing.T) {
	var w struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				ID   string            `yaml:"id"`
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
				Env  map[string]string `yaml:"env"`
				Run  string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(mustRead(t, "../../.github/workflows/drvhazard.yml"), &w); err != nil {
		t.Fatal(err)
	}
	action := readAction(t)
	uses := 0
	for name, job := range w.Jobs {
		ids := map[string]bool{}
		for _, s := range job.Steps {
			if s.Uses != "./" {
				for _, v := range s.Env {
					for _, m := range regexp.MustCompile(`steps\.([\w-]+)\.outputs\.([\w-]+)`).FindAllStringSubmatch(v, -1) {
						if _, ok := action.Outputs[m[2]]; !ids[m[1]] || !ok {
							t.Errorf("job %s reads %s: not an output of the Action's step", name, m[0])
						}
					}
				}
				continue
			}
			uses++
			ids[s.ID] = s.ID != ""
			for in, v := range s.With {
				if _, ok := action.Inputs[in]; !ok {
					t.Errorf("job %s: input %q is not one action.yml declares", name, in)
				}
				switch in {
				case "paths":
					for _, p := range strings.Fields(v) {
						if _, err := os.Stat(filepath.Join("../..", p)); err != nil {
							t.Errorf("job %s: path %s: %v", name, p, err)
						}
					}
				case "fail-on":
					if !map[string]bool{"note": true, "warning": true, "error": true, "never": true}[v] {
						t.Errorf("job %s: fail-on %q", name, v)
					}
				}
			}
		}
	}
	if uses == 0 {
		t.Error("no step uses the Action of this repository (uses: ./)")
	}
	if _, ok := w.On["pull_request"]; !ok {
		t.Error("the workflow does not run on pull requests")
	}
}
