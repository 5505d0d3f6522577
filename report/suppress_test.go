package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/rules"
)

// A suppressed finding stays in JSON and SARIF, marked with its reason, and
// leaves the table (which says how many it left out).
func TestSuppressedFindings(t *testing.T) {
	img, err := loader.Load("../testdata/bin/mf_rdata.gcc.sys")
	if err != nil {
		t.Fatal(err)
	}
	opt := rules.Options{Suppress: []rules.Suppress{{Rule: "KD5002", Function: "LeakSome", Reason: "test pool only"}}}
	results := []*rules.Result{rules.Analyze("mf_rdata.gcc.sys", "", img, opt)}

	var js bytes.Buffer
	if err := WriteJSON(&js, results, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files []struct {
			Findings []struct {
				Rule       string
				Suppressed *struct{ Kind, Reason string }
			}
		}
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, f := range doc.Files[0].Findings {
		if f.Suppressed != nil {
			marked++
			if f.Rule != "KD5002" || f.Suppressed.Kind != "config" || f.Suppressed.Reason != "test pool only" {
				t.Errorf("JSON suppression %+v on %s", f.Suppressed, f.Rule)
			}
		}
	}
	if marked != 1 {
		t.Errorf("%d suppressed findings in JSON, want 1", marked)
	}

	var sf bytes.Buffer
	if err := WriteSARIF(&sf, results, Options{SourceRoot: ".."}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(sf.String(), `"justification": "config: test pool only"`); n != 1 {
		t.Errorf("%d SARIF suppressions, want 1", n)
	}

	var tb bytes.Buffer
	if err := WriteTable(&tb, results, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tb.String(), "KD5002") || !strings.Contains(tb.String(), "1 suppressed finding") {
		t.Errorf("table shows the suppressed finding or no count:\n%s", tb.String())
	}
}
