// Package ddi reads the pages of Microsoft's kernel DDI reference
// (MicrosoftDocs/windows-driver-docs-ddi, wdk-ddi-src/content/**.md): the
// front matter of a routine's page names it, the module that exports it and
// the IRQL it may be called at, in free text ("<= APC_LEVEL", "Any level",
// "PASSIVE_LEVEL (see Remarks section)"). Level reads that text as the
// highest IRQL, where it settles it.
package ddi

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
)

// A Page is what the front matter of one reference page says of a routine.
type Page struct {
	UID     string   // NF:fltkernel.FltQueryInformationFile
	Names   []string // api_name
	Types   []string // api_type: DllExport, HeaderDef, ...
	Modules []string // api_location, req.dll, req.lib and req.header, as written
	IRQL    string   // req.irql, as written
}

// Parse reads the front matter (between the first two "---" lines) of a
// page. ok is false when the text has none.
func Parse(text []byte) (p Page, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "---" {
		return Page{}, false
	}
	var list *[]string // the list the "- item" lines belong to
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "---" {
			return p, true
		}
		if item, isItem := strings.CutPrefix(strings.TrimLeft(line, " \t"), "- "); isItem && list != nil {
			*list = append(*list, strings.TrimSpace(item))
			continue
		}
		key, value, found := strings.Cut(line, ":")
		if !found || strings.HasPrefix(line, " ") {
			continue
		}
		value = strings.TrimSpace(value)
		list = nil
		switch key {
		case "UID":
			p.UID = value
		case "req.irql":
			p.IRQL = value
		case "req.dll", "req.lib", "req.header":
			if value != "" {
				p.Modules = append(p.Modules, value)
			}
		case "api_name":
			list = &p.Names
		case "api_type":
			list = &p.Types
		case "api_location":
			list = &p.Modules
		}
	}
	return Page{}, false
}

// Exported reports whether the page documents a routine a module exports:
// api_type DllExport, or LibDef with the module's import library (FltMgr's
// pages say FltMgr.lib), not a macro, an inline function or a callback.
func (p Page) Exported() bool {
	for _, t := range p.Types {
		switch {
		case strings.EqualFold(t, "DllExport"):
			return true
		case strings.EqualFold(t, "LibDef"):
			if m := p.Module(); m != "" && m != AnyKernel {
				return true
			}
		}
	}
	return false
}

// modules maps what pages write for the kernel's modules (the DLL or its
// import library) to the module name in an import table.
var modules = map[string]string{
	"ntoskrnl.exe": "ntoskrnl.exe", "ntoskrnl.lib": "ntoskrnl.exe",
	"fltmgr.sys": "fltmgr.sys", "fltmgr.lib": "fltmgr.sys", "fltmgr.dll": "fltmgr.sys",
	"hal.dll": "hal.dll", "hal.lib": "hal.dll",
}

// kernelHeaders are the headers of routines the kernel exports. A page that
// names one of them but no module documents a routine of ntoskrnl.exe or
// hal.dll, which one it does not say: Module returns AnyKernel.
var kernelHeaders = map[string]bool{"wdm.h": true, "ntddk.h": true, "ntifs.h": true, "fltkernel.h": true}

// AnyKernel is the module of a routine a kernel header declares without
// naming its module: an import of that name from any module.
const AnyKernel = "*"

// Module returns the kernel module that exports the routine (ntoskrnl.exe,
// fltmgr.sys or hal.dll), AnyKernel when the page names only a kernel
// header, "" when it names neither.
func (p Page) Module() string {
	header := false
	for _, m := range p.Modules {
		if mod := modules[strings.ToLower(m)]; mod != "" {
			return mod
		}
		header = header || kernelHeaders[strings.ToLower(m)]
	}
	if header {
		return AnyKernel
	}
	return ""
}

// Levels of IRQL, as Level returns them.
const (
	Passive  = "passive"  // PASSIVE_LEVEL only
	APC      = "apc"      // at most APC_LEVEL
	Dispatch = "dispatch" // at most DISPATCH_LEVEL
	Any      = "any"      // any level, or above DISPATCH_LEVEL (DIRQL, HIGH_LEVEL)
)

var (
	// remarks is the pointer to the prose most texts end with.
	remarks = regexp.MustCompile(`(?i)(\(\s*see [^()]*\)|see (the )?(remarks|comments)( section)?)\s*\.?$`)
	// aside is a parenthetical of prose after the level (words, not
	// "(APC_LEVEL)").
	aside = regexp.MustCompile(`\s*\([^()]*\s[^()]*\)\s*\.?$`)
	// annotation is the SAL form, _IRQL_requires_max_(APC_LEVEL).
	annotation = regexp.MustCompile(`^_IRQL_requires_(max_|)\((\w+)\)$`)
	levelNames = map[string]int{"PASSIVE_LEVEL": 0, "APC_LEVEL": 1, "DISPATCH_LEVEL": 2, "DIRQL": 3, "HIGH_LEVEL": 4,
		"PASSIVE": 0, "APC": 1, "DISPATCH": 2, "DPC_LEVEL": 2}
	// relation is "<= APC_LEVEL", "< DISPATCH_LEVEL", "= PASSIVE_LEVEL",
	// ">= DISPATCH_LEVEL" or a bare level.
	relation = regexp.MustCompile(`^(<=|<|=|==|>=)?\s*([A-Z_]+)$`)
)

// Level reads a req.irql text as the highest IRQL the routine may be
// called at; ok is false when the text does not settle it (empty, "See
// Remarks section", a sentence).
func Level(text string) (level string, ok bool) {
	t := strings.TrimSpace(strings.ReplaceAll(text, "\u00a0", " "))
	t = strings.TrimSpace(remarks.ReplaceAllString(t, ""))
	t = strings.TrimSpace(aside.ReplaceAllString(t, "")) // "<= APC_LEVEL (non-paging IO ...)"
	if !annotation.MatchString(t) {
		t = strings.NewReplacer("(", "", ")", "").Replace(t) // "<=(APC_LEVEL)"
	}
	t = strings.TrimSuffix(strings.TrimSpace(t), ".")
	for _, prefix := range []string{"Called at", "called at", "IRQL", "Irql"} {
		t = strings.TrimSpace(strings.TrimPrefix(t, prefix))
	}
	if m := annotation.FindStringSubmatch(t); m != nil {
		t = "<= " + m[2]
		if m[1] == "" {
			t = m[2]
		}
	}
	switch strings.ToLower(t) {
	case "any", "any level", "any irql":
		return Any, true
	case "passive_level or apc_level", "apc_level or passive_level":
		return APC, true
	}
	m := relation.FindStringSubmatch(t)
	if m == nil {
		return "", false
	}
	n, known := levelNames[m[2]]
	if !known {
		return "", false
	}
	switch m[1] {
	case "<":
		n--
	case ">=":
		n = 4 // at least that level: no upper bound that matters here
	}
	switch {
	case n < 0:
		return "", false
	case n == 0:
		return Passive, true
	case n == 1:
		return APC, true
	case n == 2:
		return Dispatch, true
	}
	return Any, true
}
