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
	fmt.Fprintf(w, "  %d functions, %d call sites (%d unresolved), %d bytes of code decoded\n",
		len(p.Funcs), sites, unresolved, p.CodeBytes())
	writeFindings(w, r)
	fmt.Fprintln(w)

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
	writeModel(w, r)
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

// writeModel prints the recovered registrations and pool tags.
func writeModel(w io.Writer, r *rules.Result) {
	p := r.Program
	name := func(rva uint32) string {
		if rva == 0 {
			return "-"
		}
		if f := p.Func(rva); f != nil {
			return f.DisplayName()
		}
		return hex(uint64(rva))
	}
	for _, reg := range r.Model.Registrations {
		fmt.Fprintf(w, "\n  FLT_REGISTRATION (%s", reg.Where)
		if reg.RVA != 0 {
			fmt.Fprintf(w, " at %s", hex(uint64(reg.RVA)))
		}
		fmt.Fprintf(w, ") size %#x version 0x%04x flags %#x, passed by %s at %s\n",
			reg.Size, reg.Version, reg.Flags, reg.Caller.DisplayName(), hex(uint64(reg.Site)))
		for _, op := range reg.Operations {
			fmt.Fprintf(w, "    %-42s flags %#x  pre %-22s post %s\n", rules.MajorName(op.Major), op.Flags, name(op.Pre), name(op.Post))
		}
		for _, c := range reg.Contexts {
			fmt.Fprintf(w, "    context type %#x size %#x tag %s\n", c.Type, c.Size, rules.TagString(c.PoolTag))
		}
		for _, prob := range reg.Problems {
			fmt.Fprintf(w, "    problem: %s\n", prob)
		}
	}
	if len(r.Model.PoolTags) > 0 {
		fmt.Fprintln(w)
		for _, t := range r.Model.PoolTags {
			attrs := ""
			switch {
			case t.Executable():
				attrs = " (executable)"
			case t.Paged():
				attrs = " (paged)"
			}
			fmt.Fprintf(w, "  pool tag %s  %s in %s at %s%s\n", rules.TagString(t.Tag), t.API.Name, t.Func.DisplayName(), hex(uint64(t.Site)), attrs)
		}
	}
}

// writeFindings prints the findings, most severe first.
func writeFindings(w io.Writer, r *rules.Result) {
	fmt.Fprintln(w)
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "  no findings")
		return
	}
	counts := map[rules.Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	fmt.Fprintf(w, "  %d findings: %d error, %d warning, %d note\n", len(r.Findings), counts[rules.Error], counts[rules.Warning], counts[rules.Note])
	for _, f := range r.Findings {
		fmt.Fprintf(w, "\n  %s %s %s at %s\n", strings.ToUpper(f.Severity.String()), f.Rule.ID, f.Rule.Name, hex(uint64(f.Site)))
		fmt.Fprintf(w, "    %s\n", f.Message)
	}
}
