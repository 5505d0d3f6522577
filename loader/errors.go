package loader

import (
	"errors"
	"fmt"
)

// Kinds of refusal. Every error returned by Load and LoadBytes wraps exactly
// one of them, so callers can sort bad inputs with errors.Is.
var (
	// ErrNotPE: the bytes are not a PE image at all (no MZ or PE signature,
	// too short to hold the headers).
	ErrNotPE = errors.New("not a PE image")
	// ErrUnsupportedMachine: a well-formed PE image for a machine other than
	// x64 (AMD64), such as a 32-bit x86 (PE32) or an ARM64 driver.
	ErrUnsupportedMachine = errors.New("unsupported machine")
	// ErrMalformed: a PE image whose headers contradict themselves or the
	// file (truncated raw data, overlapping sections, sizes past the image).
	ErrMalformed = errors.New("malformed PE image")
	// ErrTooLarge: the file is larger than MaxFileSize.
	ErrTooLarge = errors.New("file too large")
)

// A FormatError locates a refusal: which kind it is, where in the file it
// was found and what was read there.
type FormatError struct {
	Kind error  // one of ErrNotPE, ErrUnsupportedMachine, ErrMalformed, ErrTooLarge
	Off  int64  // file offset of the offending field, or -1 when it has none
	Msg  string // what is wrong, with the offending value
}

func (e *FormatError) Error() string {
	if e.Off >= 0 {
		return fmt.Sprintf("%v: %s (at file offset %#x)", e.Kind, e.Msg, e.Off)
	}
	return fmt.Sprintf("%v: %s", e.Kind, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Kind }

func formatErr(kind error, off int64, format string, args ...any) error {
	return &FormatError{Kind: kind, Off: off, Msg: fmt.Sprintf(format, args...)}
}
