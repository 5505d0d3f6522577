package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// In a stripped image the names are null, as the contract says, and each
// step's display is what the messages call the function.
func TestJSONDisplayNames(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, analyseFixtures(t, "mf_hazards.gcc.stripped.sys"), Options{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files []struct {
			Findings []struct {
				Message string  `json:"message"`
				SiteRVA string  `json:"site_rva"`
				SiteVA  *string `json:"site_va"`
				Path    []struct {
					RVA     string  `json:"rva"`
					Name    *string `json:"name"`
					Display string  `json:"display"`
				} `json:"path"`
			} `json:"findings"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	unnamed := 0
	for _, f := range doc.Files[0].Findings {
		if f.SiteVA == nil || !strings.HasSuffix(*f.SiteVA, strings.TrimPrefix(f.SiteRVA, "0x")) || len(*f.SiteVA) <= len(f.SiteRVA) {
			t.Errorf("site_va %v for site_rva %s", f.SiteVA, f.SiteRVA)
		}
		for _, s := range f.Path {
			if s.Name != nil {
				continue
			}
			unnamed++
			if want := "sub_" + strings.TrimPrefix(s.RVA, "0x"); s.Display != want {
				t.Errorf("step at %s: display %q, want %q", s.RVA, s.Display, want)
			}
			if !strings.Contains(f.Message, s.Display) {
				t.Errorf("message does not call %s what display does: %s", s.RVA, f.Message)
			}
		}
	}
	if unnamed == 0 {
		t.Fatal("no unnamed step in the stripped image: nothing checked")
	}
}
