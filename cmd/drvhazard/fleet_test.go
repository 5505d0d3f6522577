package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fleetTexts writes n crash texts into dir, made from our fixture's own
// stacks (testdata/crash) with the noise field reports have: another
// driver's frames, CRLF, a cut end, the bugcheck header dropped, unrelated
// crashes. seed makes them reproducible.
func fleetTexts(t testing.TB, dir string, n int, seed int64) []string {
	t.Helper()
	var bases []string
	for _, name := range []string{"mf_rdata_kn.txt", "mf_rdata_kv.txt", "mf_rdata_analyze.txt", "mf_rdata_kn_nosymbols.txt"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/crash", name))
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, string(b))
	}
	unrelated := "0: kd> kn\n # Child-SP          RetAddr               Call Site\n" +
		"00 fffff800`0ea2fe88 fffff800`0c21d9e9     nt!KeBugCheckEx\n" +
		"01 fffff800`0ea2fe90 fffff800`0c2180c5     nt!KiBugCheckDispatch+0x69\n" +
		"02 fffff800`0ea2ffd0 fffff806`2a0c7e5d     nt!KiPageFault+0x%x\n" +
		"03 fffff800`0ea30100 fffff806`2a0c7a2c     otherdrv!Work+0x%x\n"
	rng := rand.New(rand.NewSource(seed))
	var paths []string
	for i := range n {
		var text string
		switch k := rng.Intn(10); {
		case k < 2:
			text = fmt.Sprintf(unrelated, rng.Intn(0x400), rng.Intn(0x100))
		default:
			text = bases[rng.Intn(len(bases))]
			lines := strings.Split(text, "\n")
			if rng.Intn(3) == 0 { // cut
				lines = lines[:len(lines)/2+rng.Intn(len(lines)/2)]
			}
			text = strings.Join(lines, "\n")
			if rng.Intn(2) == 0 {
				text = strings.ReplaceAll(text, "\n", "\r\n")
			}
		}
		p := filepath.Join(dir, "crash"+strconv.Itoa(i)+".txt")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// Crash paths on standard input, one JSON line per crash, and the lines
// grouped back: every crash is in a group, the fixture's crashes in the
// MF2001 one, each JSON line standing alone.
func TestCorrelateLinesAndGroups(t *testing.T) {
	dir := t.TempDir()
	paths := fleetTexts(t, dir, 40, 1)
	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("nothing to see here\n"), 0o644)
	stdin = strings.NewReader(strings.Join(append(paths, bad), "\n") + "\n")
	defer func() { stdin = os.Stdin }()
	code, out, errs := runCLI(t, "correlate", "--format", "jsonl", "-", "--driver", "../../testdata/bin/mf_rdata.gcc.sys")
	if code != exitError || !strings.Contains(errs, "notes.txt") {
		t.Fatalf("exit %d, want %d for the text without a crash: %s", code, exitError, errs)
	}
	var lines int
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), `{"source":`) {
			t.Fatalf("line %d is not a crash record: %.80s", lines+1, sc.Text())
		}
		lines++
	}
	if lines != len(paths)+1 || !strings.Contains(out, `{"source":"`+bad+`","error":`) {
		t.Fatalf("%d lines for %d crash texts and one without a crash", lines, len(paths))
	}
	jsonl := filepath.Join(dir, "part.jsonl")
	os.WriteFile(jsonl, []byte(out), 0o644)
	stdin = strings.NewReader(out) // the same lines again, from standard input
	code, groups, errs := runCLI(t, "correlate", "--group", jsonl, "-")
	if code != exitOK || !strings.HasPrefix(groups, fmt.Sprintf("%d crashes in ", 2*len(paths))) ||
		!strings.Contains(groups, "(and 2 inputs that could not be read)") ||
		!strings.Contains(groups, "MF2001 PsLookupProcessByProcessId in PreRead (mf_rdata.gcc.sys)") {
		t.Errorf("exit %d:\n%s%s", code, groups, errs)
	}
	// Not JSON Lines: a clear error naming the input.
	code, _, errs = runCLI(t, "correlate", "--group", "../../testdata/crash/mf_rdata_kn.txt")
	if code != exitError || !strings.Contains(errs, "mf_rdata_kn.txt") || !strings.Contains(errs, "record 1") {
		t.Errorf("a text given to --group: exit %d, %s", code, errs)
	}
}

// A crash text on standard input; a driver given under two names is
// analysed once and answers to both module names.
func TestCorrelateStdinTextAndDuplicateDriver(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../testdata/bin/mf_rdata.gcc.sys")
	if err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(dir, "renamed.sys")
	os.WriteFile(alias, data, 0o644)
	text, _ := os.ReadFile("../../testdata/crash/mf_rdata_kn.txt")
	renamed := strings.ReplaceAll(string(text), "mf_rdata_gcc!", "renamed!")
	stdin = strings.NewReader(renamed)
	var analysed []string
	testHook = func(stage, path string) {
		if stage == "analyse" {
			analysed = append(analysed, path)
		}
	}
	defer func() { stdin, testHook = os.Stdin, nil }()
	code, out, errs := runCLI(t, "correlate", "--format", "jsonl", "-",
		"--driver", "../../testdata/bin/mf_rdata.gcc.sys", "--driver", alias)
	if code != exitOK || !strings.Contains(out, `"source":"<stdin>"`) || !strings.Contains(out, "(renamed.sys)") {
		t.Errorf("exit %d: %.300s %s", code, out, errs)
	}
	if len(analysed) != 1 {
		t.Errorf("analysed %v: the same build twice", analysed)
	}
}

// BenchmarkCorrelateFleet correlates generated crash texts (b.N of them,
// paths on standard input) against 20 fixture drivers in JSON Lines.
// Measured for the note: `go test ./cmd/drvhazard -run '^$' -bench
// CorrelateFleet -benchtime 10000x`, and the binary's peak RSS on 1,000 and
// 10,000 texts with /usr/bin/time.
func BenchmarkCorrelateFleet(b *testing.B) {
	drivers, _ := filepath.Glob("../../testdata/bin/*.gcc.sys")
	if len(drivers) > 20 {
		drivers = drivers[:20]
	}
	paths := fleetTexts(b, b.TempDir(), b.N, 1)
	args := []string{"correlate", "--format", "jsonl", "-"}
	for _, d := range drivers {
		args = append(args, "--driver", d)
	}
	stdin = strings.NewReader(strings.Join(paths, "\n"))
	defer func() { stdin = os.Stdin }()
	b.ResetTimer()
	var errs strings.Builder
	if code := run(args, io.Discard, &errs); code != exitOK {
		b.Fatalf("exit %d: %s", code, errs.String())
	}
}
