package pdb

import (
	"errors"
	"fmt"
)

// Kinds of refusal. Every error about the contents of a file, from [Open],
// [Parse], [File.Matches] or [Find], wraps one of them, so callers can sort
// failures with errors.Is; errors of the file system (a missing file) are
// the os package's.
var (
	// ErrNotPDB: the bytes are not an MSF container at all.
	ErrNotPDB = errors.New("not a PDB file")
	// ErrUnsupported: a program database in a format this package does not
	// read, such as PDB 2.0 (Visual C++ 6.0 and older) or a DBI stream
	// older than VC 7.0.
	ErrUnsupported = errors.New("unsupported PDB format")
	// ErrMalformed: a PDB whose container or headers contradict themselves
	// or the file (sizes past the end, block indices out of range).
	ErrMalformed = errors.New("malformed PDB file")
	// ErrTooLarge: the file is larger than MaxFileSize.
	ErrTooLarge = errors.New("file too large")
	// ErrMismatch: a well-formed PDB that was not written for the image
	// (another GUID or age).
	ErrMismatch = errors.New("PDB does not match the image")
	// ErrNotFound: Find found no PDB for the image.
	ErrNotFound = errors.New("no PDB found")
)

// A FormatError locates a refusal: its kind, the stream it was found in
// and the offset of the offending field.
type FormatError struct {
	Kind error // one of ErrNotPDB, ErrUnsupported, ErrMalformed, ErrTooLarge
	// Stream is the MSF stream whose contents are wrong, or -1 when the
	// problem is in the container itself (superblock, directory).
	Stream     int
	StreamName string // "DBI", "module 2 symbols", ...; empty when Stream is -1
	// Off is the offset of the offending field: within the stream, or
	// within the file when Stream is -1; -1 when there is none.
	Off int64
	Msg string // what is wrong, with the offending value
}

func (e *FormatError) Error() string {
	switch {
	case e.Stream >= 0 && e.Off >= 0:
		return fmt.Sprintf("%v: stream %d (%s) at offset %#x: %s", e.Kind, e.Stream, e.StreamName, e.Off, e.Msg)
	case e.Stream >= 0:
		return fmt.Sprintf("%v: stream %d (%s): %s", e.Kind, e.Stream, e.StreamName, e.Msg)
	case e.Off >= 0:
		return fmt.Sprintf("%v: %s (at file offset %#x)", e.Kind, e.Msg, e.Off)
	}
	return fmt.Sprintf("%v: %s", e.Kind, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Kind }

// fileErr reports a problem of the container (no stream).
func fileErr(kind error, off int64, format string, args ...any) error {
	return &FormatError{Kind: kind, Stream: -1, Off: off, Msg: fmt.Sprintf(format, args...)}
}
