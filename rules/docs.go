package rules

import (
	"fmt"
	"strings"
)

// Markdown renders the rule catalogue as the reference page docs/rules.md.
// The page is generated from the rule values, like `drvhazard rules`,
// `drvhazard explain` and the SARIF rule metadata, so they cannot disagree.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# drvhazard rules\n\n")
	b.WriteString("<!-- Generated from the rule values in rules/rules.go by `go test ./rules -run TestDocs -update`. Do not edit. -->\n\n")
	b.WriteString("Rule ids are stable: rules are added, never renumbered or reused.\n\n")
	b.WriteString("| id | name | severity | precision | what it finds |\n|---|---|---|---|---|\n")
	for _, r := range All() {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), r.Name, r.Severity, r.Precision, r.Short)
	}
	for _, r := range All() {
		fmt.Fprintf(&b, "\n## %s\n\n**%s** (%s)\n\n%s\n\n%s\n", r.ID, r.Name, r.Severity, r.Short, r.Help)
	}
	return b.String()
}
