package rules

import (
	"bytes"
	"fmt"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// Routines whose hazard depends on the arguments of the call: the DbgPrint
// family converts Unicode arguments only at PASSIVE_LEVEL ("Unicode format
// codes (%C, %S, %lc, %ls, %wc, %ws, and %wZ) can only be used with IRQL =
// PASSIVE_LEVEL"), though the routines themselves run at any IRQL.

const srcDbgPrint = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-dbgprintex (Unicode format codes only at PASSIVE_LEVEL)"

// formatArg is the argument of each DbgPrint-family routine that holds the
// format string.
var formatArg = map[string]int{"DbgPrint": 0, "DbgPrintEx": 2, "vDbgPrintEx": 2, "vDbgPrintExWithPrefix": 3}

// maxFormat bounds the bytes of a format string read from the image.
const maxFormat = 4096

// timeoutArg is the argument of each wait routine that points at its
// timeout: a zero timeout does not wait, which is allowed at
// DISPATCH_LEVEL ("callers ... at DISPATCH_LEVEL must specify a Timeout of
// zero").
var timeoutArg = map[string]int{"KeWaitForSingleObject": 4, "KeWaitForMultipleObjects": 6, "KeWaitForMutexObject": 4}

// At is Lookup for one call with its arguments (mem reads the memory an
// argument points at just before the call, nil when unknown): a DbgPrint
// whose constant format converts a Unicode argument is passive-only, and a
// wait with a zero timeout is no hazard, whatever the routine is
// otherwise.
func (c *Catalogue) At(imp *loader.Import, args []*ir.Expr, img *loader.Image, mem func(a *ir.Expr, w int) *ir.Expr) *API {
	a := c.Lookup(imp)
	if imp == nil {
		return a
	}
	if i, ok := timeoutArg[imp.Name]; ok && a != nil && a.Class == ClassAPCOnly && mem != nil {
		if t := argAt(args, i); t != nil {
			if v, isConst := mem(t, 8).IsConst(); isConst && v == 0 {
				return nil // does not wait
			}
		}
		return a
	}
	if a != nil && a.Class != "" {
		return a
	}
	i, ok := formatArg[imp.Name]
	if !ok {
		return a
	}
	if s, ok := constString(img, argAt(args, i)); ok && unicodeFormat(s) {
		return &API{Module: imp.Module, Name: imp.Name, Class: ClassPassiveOnly, IRQL: Passive, Source: srcDbgPrint,
			Note: "format " + quoteFormat(s) + " converts a Unicode argument, only at PASSIVE_LEVEL"}
	}
	return a
}

// constString reads the NUL-terminated string an argument points at in the
// image.
func constString(img *loader.Image, e *ir.Expr) ([]byte, bool) {
	if img == nil || e == nil || e.Op != ir.OpAddr || e.V <= 0 || e.V > 0xffffffff {
		return nil, false
	}
	raw := img.Bytes(uint32(e.V), maxFormat)
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return raw[:i], true
	}
	return nil, false
}

// unicodeFormat reports whether a printf format has a conversion of a
// Unicode argument: %C, %S, %lc, %ls, %wc, %ws or %wZ.
func unicodeFormat(f []byte) bool {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && bytes.IndexByte([]byte("-+ #0123456789.*"), f[i]) >= 0 {
			i++ // flags, width, precision
		}
		wide := false
		for i < len(f) && bytes.IndexByte([]byte("hlwIzjt3264"), f[i]) >= 0 {
			wide = wide || f[i] == 'l' || f[i] == 'w'
			i++ // length modifiers
		}
		if i == len(f) {
			return false
		}
		switch f[i] {
		case 'C', 'S':
			return true
		case 'c', 's', 'Z':
			if wide {
				return true
			}
		}
	}
	return false
}

// quoteFormat renders a format string for a message, clipped.
func quoteFormat(f []byte) string {
	const max = 60
	s := string(f)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// memoryAt reads memory just before call c of f, as far as its block says.
func (p *Pass) memoryAt(f *cfg.Func, c *cfg.CallSite) func(a *ir.Expr, w int) *ir.Expr {
	return func(a *ir.Expr, w int) *ir.Expr { return p.Program.MemoryAt(f, c, a, w) }
}
