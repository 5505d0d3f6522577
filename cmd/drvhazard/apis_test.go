package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPIs(t *testing.T) {
	run1 := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append([]string{"apis"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	out, _, code := run1("KeWaitForSingleObject")
	if code != exitOK || !strings.Contains(out, "apc-only") || !strings.Contains(out, "override") {
		t.Errorf("apis KeWaitForSingleObject: %d %q", code, out)
	}
	out, _, _ = run1("FltQueryInformationFile")
	if !strings.Contains(out, "pageable") || !strings.Contains(out, "learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel") ||
		!strings.Contains(out, "pageable section of 3/3 builds examined") {
		t.Errorf("apis FltQueryInformationFile: %q", out)
	}
	out, _, _ = run1("Flt*Context")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if name := strings.Fields(line)[0]; !strings.HasPrefix(name, "Flt") || !strings.HasSuffix(name, "Context") {
			t.Errorf("apis Flt*Context listed %q", line)
		}
	}
	if _, errs, code := run1("NoSuchRoutineAnywhere"); code != exitError || !strings.Contains(errs, "no routine matches") {
		t.Errorf("an unmatched pattern: %d %q", code, errs)
	}
	// A user's entry wins and says so.
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("apis:\n  - name: FltQueryInformationFile\n    class: reentrant-io\n    irql: apc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ = run1("--config", cfg, "FltQueryInformationFile")
	if !strings.Contains(out, "reentrant-io") || !strings.Contains(out, "configuration") {
		t.Errorf("apis with a configuration: %q", out)
	}
}
