package rules

import (
	"path/filepath"
	"testing"
)

// Fingerprints are unique within a file, in every build, stripped ones
// included: a baseline or a suppression by fingerprint accepts exactly one
// finding.
func TestFingerprintsUnique(t *testing.T) {
	for _, fx := range fixtures(t) {
		r := analyse(t, fx)
		seen := map[string]string{}
		for _, f := range r.Findings {
			if prev, dup := seen[f.Fingerprint]; dup {
				t.Errorf("%s: %s and %s share fingerprint %s", filepath.Base(fx.bin), prev, f.Message, f.Fingerprint)
			}
			seen[f.Fingerprint] = f.Message
		}
	}
}
