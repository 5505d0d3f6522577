// Package rules turns a program into findings: the driver model (kind,
// minifilter registrations recovered at every FltRegisterFilter call, pool
// tags), the API catalogue of kernel routines as data, the paging-path walk
// with its guard detection, and the rules of the catalogue in DOMAIN.md §4.
//
// Rules are values (Rule): the list, `drvhazard rules`, `drvhazard
// explain`, docs/rules.md and the SARIF rule metadata all come from them.
// Analyze runs the pipeline for one image; a Pass is what one rule sees.
//
// The walk from a pre-operation callback follows the callback data (and a
// paging boolean made from it) through call arguments, follows only the
// branches on Data->Iopb->MajorFunction that the callback's own major can
// take, and treats a call dominated by the "not paging I/O" edge of a test of
// IrpFlags as off the paging path. Every claim it makes is carried by a call
// path in the finding.
package rules
