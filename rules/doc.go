// Package rules turns a program into findings: the driver model (kind,
// minifilter registrations, pool tags), the API catalogue and the rules of
// the catalogue in DOMAIN.md §4.
//
// This first cut carries the per-file Result and the driver kind; the
// registration model and the rules build on it.
package rules
