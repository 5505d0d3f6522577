package report

import (
	"fmt"
	"strings"

	"github.com/drvhazard/drvhazard/rules"
)

// Format names an output format.
type Format string

// Output formats.
const (
	Table    Format = "table"
	JSON     Format = "json"
	SARIF    Format = "sarif"
	Markdown Format = "markdown"
)

// Formats lists the formats in the order help shows them.
var Formats = []Format{Table, JSON, SARIF, Markdown}

// ParseFormat validates a format name; an unknown one is an error, never a
// silent fallback.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (want one of: %s)", s, strings.Join(names, ", "))
}

// Options tune what a writer includes.
type Options struct {
	ToolVersion string
	// Functions lists every function in the table output (JSON always does).
	Functions bool
	// SourceRoot is the directory SARIF artifact URIs are relative to, the
	// repository root for GitHub code scanning; "" is the current directory.
	SourceRoot string
	// Color marks severities in the table output with ANSI colours (error
	// red, warning yellow, note cyan). The CLI sets it only when stdout is a
	// terminal and NO_COLOR is unset; without it the output has no escape
	// codes at all.
	Color bool
	// Stacks are crash stacks that show findings (drvhazard correlate):
	// SARIF results carry them as result.stacks.
	Stacks map[*rules.Finding][]Stack
}

// Stack is a crash's stack as evidence for a finding.
type Stack struct {
	Message string // where the crash comes from and what it is
	Frames  []StackFrame
}

// StackFrame is one frame of a Stack. Function is "" for a frame without
// symbols; Offset is then from the module base.
type StackFrame struct {
	Module, Function string
	Offset           uint64
	Address          uint64
	HasAddress       bool
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }

// unsuppressed returns shallow copies of the results holding only the
// findings that count: the table and Markdown show what needs attention,
// while JSON and SARIF keep suppressed findings, marked. It also returns
// how many findings of each copy were suppressed.
func unsuppressed(results []*rules.Result) ([]*rules.Result, map[*rules.Result]int) {
	out := make([]*rules.Result, len(results))
	hidden := map[*rules.Result]int{}
	for i, r := range results {
		c := *r
		c.Findings = nil
		for _, f := range r.Findings {
			if f.Active() {
				c.Findings = append(c.Findings, f)
			}
		}
		if n := len(r.Findings) - len(c.Findings); n > 0 {
			hidden[&c] = n
		}
		out[i] = &c
	}
	return out, hidden
}
