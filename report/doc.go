// Package report writes scan results for people and for machines: a table
// for the terminal, the JSON document whose shape is the contract in
// DESIGN.md, a SARIF 2.1.0 log for GitHub code scanning and other SARIF
// viewers, and Markdown for a pull-request comment. A writer never decides
// what a finding is; it formats what the rules produced.
package report
