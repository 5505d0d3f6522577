package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/rules"
)

// The blind spots of a file (unresolved indirect calls on callbacks'
// paths) are listed in every format: in JSON and the table with their
// callback and path, in SARIF as notes of the run, in Markdown in the
// file's section.
func TestUnresolvedCallsInEveryFormat(t *testing.T) {
	r := analyseFixtures(t, "mf_rdata.clang.sys")[0]
	reg := r.Model.Registrations[0]
	op := reg.Operations[1] // IRP_MJ_READ
	pre := r.Program.Func(op.Pre)
	r.Unresolved = []rules.Unresolved{{
		Callback: rules.CallbackRef{Major: rules.MajorName(op.Major), Kind: "pre", RVA: pre.Entry, Name: pre.Name},
		Majors:   []string{"IRP_MJ_READ", "IRP_MJ_WRITE", "IRP_MJ_CLEANUP"},
		Site:     pre.Entry + 4,
		Path:     []rules.Step{{RVA: pre.Entry, Name: pre.Name, Call: pre.Entry + 4}},
	}}
	site := "0x" + strings.TrimPrefix(hex(uint64(pre.Entry+4)), "0x")
	for _, f := range Formats {
		var b bytes.Buffer
		if err := Write(&b, f, []*rules.Result{r}, Options{ToolVersion: "test"}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		switch f {
		case JSON:
			var doc struct {
				Files []struct {
					Unresolved []struct {
						Callback struct{ Major, Kind string }
						Majors   []string
						SiteRVA  string `json:"site_rva"`
						Path     []struct {
							CallRVA string `json:"call_rva"`
						}
					} `json:"unresolved_calls"`
				}
			}
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			u := doc.Files[0].Unresolved
			if len(u) != 1 || u[0].SiteRVA != site || u[0].Callback.Major != "IRP_MJ_READ" || len(u[0].Majors) != 3 ||
				len(u[0].Path) != 1 || u[0].Path[0].CallRVA != site {
				t.Errorf("JSON unresolved_calls = %+v, want the call at %s from the READ pre-op", u, site)
			}
		case SARIF:
			if !strings.Contains(out, `"level": "note"`) || !strings.Contains(out, "reaches an indirect call at "+site) ||
				!strings.Contains(out, "IRP_MJ_READ and 2 more majors") {
				t.Errorf("SARIF has no note for the unresolved call at %s:\n%s", site, out)
			}
		default:
			if !strings.Contains(out, "not resolved") || !strings.Contains(out, site) || !strings.Contains(out, "IRP_MJ_READ and 2 more majors") {
				t.Errorf("%s output does not list the unresolved call at %s:\n%s", f, site, out)
			}
		}
	}
}
