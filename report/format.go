package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/drvhazard/drvhazard/rules"
)

// Format names an output format.
type Format string

// Output formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	SARIF Format = "sarif"
)

// Formats lists the formats in the order help shows them.
var Formats = []Format{Table, JSON, SARIF}

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
}

// Write formats results in f to w.
func Write(w io.Writer, f Format, results []*rules.Result, opt Options) error {
	switch f {
	case JSON:
		return WriteJSON(w, results, opt)
	case Table:
		return WriteTable(w, results, opt)
	case SARIF:
		return WriteSARIF(w, results, opt)
	}
	return fmt.Errorf("unknown format %q", f)
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }
