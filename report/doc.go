// Package report writes scan results for people and for machines: a table
// for the terminal and the JSON document whose shape is the contract in
// DESIGN.md. A writer never decides what a finding is; it formats what the
// rules produced.
package report
