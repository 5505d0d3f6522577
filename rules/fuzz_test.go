package rules

import (
	"os"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// FuzzAnalyze runs the whole pipeline (CFG, model, every rule) on mutated
// fixture images and on the packed and malformed shapes of
// testdata/hostile: no input may panic a rule.
func FuzzAnalyze(f *testing.F) {
	for _, name := range []string{"mf_rdata.gcc.stripped.sys", "mf_stack.clang.sys", "mf_variants.clang.sys"} {
		if b, err := os.ReadFile("../testdata/bin/" + name); err == nil {
			f.Add(b)
		}
	}
	for _, b := range hostileSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := loader.LoadBytes(data)
		if err != nil {
			return
		}
		r := Analyze("fuzz.sys", "", img, Options{})
		for _, fd := range r.Findings {
			if fd.Rule == nil || fd.Message == "" || fd.Fingerprint == "" {
				t.Fatalf("incomplete finding %+v", fd)
			}
		}
	})
}
