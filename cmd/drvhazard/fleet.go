package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/drvhazard/drvhazard/report"
)

// Crash correlation at fleet scale: crash paths (or a crash text) on
// standard input, drivers analysed once however many paths name the same
// build, one JSON line per crash written as soon as it is read, and the
// grouping of such lines as a step of its own (a distributed map step
// writes the lines; --group reduces them).

// stdin is what "-" reads; tests replace it.
var stdin io.Reader = os.Stdin

// stdinCrashes reads the "-" operand: a list of crash files, one path a
// line (when its first line names a file), or else one crash text.
func stdinCrashes() (paths []string, text []byte, err error) {
	data, err := io.ReadAll(io.LimitReader(stdin, maxCrashText+1))
	if err != nil {
		return nil, nil, fmt.Errorf("standard input: %v", err)
	}
	if len(data) > maxCrashText {
		return nil, nil, fmt.Errorf("standard input: more than %d MiB", maxCrashText>>20)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	first := true
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		if first {
			first = false
			if _, err := os.Stat(l); err != nil {
				return nil, data, nil // not a path: the text of a crash
			}
		}
		paths = append(paths, l)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("standard input: a list of crash files with a line of %d KiB or more: %v", 64, err)
	}
	if first {
		return nil, nil, fmt.Errorf("standard input is empty: give crash file paths, one a line, or a crash text")
	}
	return paths, nil, nil
}

// driverAlias is a driver file with the same contents as an earlier one.
type driverAlias struct{ path, first string }

// uniqueDrivers drops the driver files whose contents an earlier one has
// (the same build under several names): each is analysed once.
func uniqueDrivers(paths []string) (unique []string, dups []driverAlias) {
	seen := map[string]string{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			unique = append(unique, p) // the scan reports it
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			unique = append(unique, p)
			continue
		}
		sum := hex.EncodeToString(h.Sum(nil))
		if first, ok := seen[sum]; ok {
			dups = append(dups, driverAlias{p, first})
			continue
		}
		seen[sum] = p
		unique = append(unique, p)
	}
	return unique, dups
}

// correlateFormat is --format of correlate: a report format, or jsonl.
type correlateFormat struct {
	formatValue
	lines bool
}

func (v *correlateFormat) String() string {
	if v.lines {
		return "jsonl"
	}
	return v.formatValue.String()
}

func (v *correlateFormat) Set(s string) error {
	v.lines = s == "jsonl"
	if v.lines {
		return nil
	}
	return v.formatValue.Set(s)
}

// runGroups groups the JSON Lines of earlier runs (--group): the crashes of
// a fleet counted by explanation, in memory flat in their number.
func runGroups(operands []string, format report.Format, stdout, stderr io.Writer) int {
	var readers []io.Reader
	for _, p := range operands {
		if p == "-" {
			readers = append(readers, stdin)
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintf(stderr, "drvhazard correlate: %v\n", err)
			return exitError
		}
		defer f.Close()
		readers = append(readers, f)
	}
	groups, failed, err := report.ReadGroups(io.MultiReader(readers...))
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard correlate --group: %s: %v\n", strings.Join(operands, ", "), err)
		return exitError
	}
	total := 0
	for _, g := range groups {
		total += g.Count
	}
	switch format {
	case report.JSON:
		type jg struct {
			Key      string   `json:"key"`
			Count    int      `json:"count"`
			Examples []string `json:"examples"`
		}
		doc := struct {
			Crashes int  `json:"crashes"`
			Failed  int  `json:"failed"`
			Groups  []jg `json:"groups"`
		}{Crashes: total, Failed: failed, Groups: []jg{}}
		for _, g := range groups {
			doc.Groups = append(doc.Groups, jg{g.Key, g.Count, g.Examples})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return exitError
		}
	default:
		fmt.Fprintf(stdout, "%d %s in %d %s", total, pluralWord(total, "crash", "crashes"), len(groups), pluralWord(len(groups), "group", "groups"))
		if failed > 0 {
			fmt.Fprintf(stdout, " (and %d %s that could not be read)", failed, pluralWord(failed, "input", "inputs"))
		}
		fmt.Fprintln(stdout, ":")
		for _, g := range groups {
			fmt.Fprintf(stdout, "%7d  %s\n         e.g. %s\n", g.Count, g.Key, strings.Join(g.Examples, ", "))
		}
	}
	return exitOK
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
