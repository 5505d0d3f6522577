package rules

import (
	"regexp"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// The rule catalogue is a contract: ids are unique and well formed, every
// rule can explain itself and says where its facts come from.
func TestCatalogueIsValid(t *testing.T) {
	id := regexp.MustCompile(`^(MF|KD)[0-9]{4}$`)
	name := regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	seen := map[string]bool{}
	prev := ""
	for _, r := range All() {
		if !id.MatchString(r.ID) || !name.MatchString(r.Name) {
			t.Errorf("rule %q / %q: malformed id or name", r.ID, r.Name)
		}
		if seen[r.ID] || seen[r.Name] {
			t.Errorf("rule %s: duplicate id or name", r.ID)
		}
		seen[r.ID], seen[r.Name] = true, true
		if r.ID < prev && r.ID[:2] == prev[:2] {
			t.Errorf("rule %s out of order after %s", r.ID, prev)
		}
		prev = r.ID
		if r.Short == "" || r.Help == "" || r.Run == nil {
			t.Errorf("rule %s lacks Short, Help or Run", r.ID)
		}
		if !regexp.MustCompile(`Sources: \S`).MatchString(r.Help) {
			t.Errorf("rule %s: help names no sources", r.ID)
		}
		switch r.Precision {
		case "very-high", "high", "medium", "low":
		default:
			t.Errorf("rule %s: precision %q", r.ID, r.Precision)
		}
		if ByID(r.ID) != r {
			t.Errorf("ByID(%s) does not find it", r.ID)
		}
	}
}

func TestCatalogueLookup(t *testing.T) {
	c := NewCatalogue(API{Module: "mydrv.sys", Name: "MyLookupProcess", Class: ClassPageable, Source: "our wrapper"})
	for _, tc := range []struct {
		module, name string
		want         Class
	}{
		{"ntoskrnl.exe", "PsLookupProcessByProcessId", ClassPageable},
		{"NTOSKRNL.EXE", "ZwQueryInformationProcess", ClassPassiveOnly}, // by the Zw* prefix
		{"ntoskrnl.exe", "ZwReadFile", ClassReentrantIO},                // exact entry beats the prefix
		{"FLTMGR.SYS", "FltGetFileNameInformation", ClassNameQuery},
		{"mydrv.sys", "MyLookupProcess", ClassPageable},
		{"ntoskrnl.exe", "KeGetCurrentIrql", ""},
	} {
		api := c.Lookup(loaderImport{tc.module, tc.name}.imp())
		got := Class("")
		if api != nil {
			got = api.Class
		}
		if got != tc.want {
			t.Errorf("%s!%s: class %q, want %q", tc.module, tc.name, got, tc.want)
		}
	}
}

func TestTagString(t *testing.T) {
	if got := TagString(0x6b61654c); got != "Leak" { // 'kaeL' in C
		t.Errorf("TagString = %q", got)
	}
	if got := TagString(0x00410042); got != "B.A." {
		t.Errorf("unprintable bytes: %q", got)
	}
}

type loaderImport struct{ module, name string }

func (l loaderImport) imp() *loader.Import { return &loader.Import{Module: l.module, Name: l.name} }
