package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/rules"
)

// WriteTable writes a human-readable summary of each file.
func WriteTable(w io.Writer, results []*rules.Result, opt Options) error {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if r.Err != nil {
			fmt.Fprintf(w, "%s: error: %v\n", r.Path, unprefixed(r))
			continue
		}
		if err := fileTable(w, r, opt); err != nil {
			return err
		}
	}
	return nil
}

// unprefixed drops the path the loader puts in front of its errors, since
// the table already names the file.
func unprefixed(r *rules.Result) string {
	return strings.TrimPrefix(r.Err.Error(), r.Path+": ")
}

func fileTable(w io.Writer, r *rules.Result, opt Options) error {
	img, p := r.Image, r.Program
	fmt.Fprintf(w, "%s\n  kind %s, machine %s, %d bytes, sha256 %s\n", r.Path, r.Kind, img.Machine, r.Size, r.SHA256)
	if cv := img.CodeView; cv != nil {
		fmt.Fprintf(w, "  pdb %s (guid %s, age %d)\n", cv.Path, cv.GUIDString(), cv.Age)
	}
	unresolved, sites := 0, 0
	for _, f := range p.Funcs {
		sites += len(f.Calls)
		for _, c := range f.Calls {
			if c.Kind == cfg.CallUnresolved {
				unresolved++
			}
		}
	}
	fmt.Fprintf(w, "  %d functions, %d call sites (%d unresolved), %d bytes of code decoded\n\n",
		len(p.Funcs), sites, unresolved, p.CodeBytes())

	t := tablewriter.NewWriter(w)
	t.Header("Section", "RVA", "Size", "Attributes")
	for i := range img.Sections {
		s := &img.Sections[i]
		var attrs []string
		for _, a := range []struct {
			on   bool
			name string
		}{{s.Executable(), "exec"}, {s.Writable(), "write"}, {s.Pageable(), "pageable"}, {s.Discardable(), "discardable"}} {
			if a.on {
				attrs = append(attrs, a.name)
			}
		}
		if err := t.Append(s.Name, hex(uint64(s.RVA)), hex(uint64(s.Size())), strings.Join(attrs, " ")); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}

	byMod := map[string][]string{}
	var mods []string
	for i := range img.Imports {
		imp := &img.Imports[i]
		if _, ok := byMod[imp.Module]; !ok {
			mods = append(mods, imp.Module)
		}
		name := imp.Name
		if imp.ByOrdinal {
			name = fmt.Sprintf("#%d", imp.Ordinal)
		}
		byMod[imp.Module] = append(byMod[imp.Module], name)
	}
	sort.Strings(mods)
	fmt.Fprintln(w)
	for _, m := range mods {
		names := byMod[m]
		sort.Strings(names)
		fmt.Fprintf(w, "  imports %s (%d): %s\n", m, len(names), strings.Join(names, ", "))
	}
	if len(img.Warnings) > 0 {
		fmt.Fprintln(w)
		for _, warn := range img.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
	}
	if !opt.Functions {
		return nil
	}
	fmt.Fprintln(w)
	ft := tablewriter.NewWriter(w)
	ft.Header("Function", "RVA", "Blocks", "Frame", "Calls")
	for _, f := range p.Funcs {
		var callees []string
		for _, ce := range p.Callees(f) {
			if ce.Import == nil {
				if cf := p.Func(ce.Func); cf != nil {
					callees = append(callees, cf.DisplayName())
					continue
				}
			}
			callees = append(callees, calleeName(p, ce))
		}
		name := f.DisplayName()
		switch {
		case f.Entry == img.EntryRVA:
			name += " (entry point)"
		case f.Thunk != nil:
			name += " (thunk)"
		}
		// One callee per line keeps the table near 80 columns.
		if err := ft.Append(name, hex(uint64(f.Entry)), fmt.Sprint(len(f.Blocks)), fmt.Sprint(f.FrameSize),
			strings.Join(callees, "\n")); err != nil {
			return err
		}
	}
	return ft.Render()
}
