package rules

import (
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// The routines the built-in table does not name are classified from their
// documented IRQL; a user's entries and the built-in table win.
func TestDocumentedClasses(t *testing.T) {
	cat := NewCatalogue(API{Name: "FltIsDirectory", Class: ClassReentrantIO, IRQL: Passive, Source: "mine"})
	for _, c := range []struct {
		module, name string
		class        Class
		irql         IRQL
	}{
		{"ntoskrnl.exe", "ExAcquireFastMutex", ClassAPCOnly, APC},              // wdm.h only: any module
		{"HAL.dll", "ExAcquireFastMutex", ClassAPCOnly, APC},                   // the same by name
		{"FLTMGR.SYS", "FltQueryInformationFile", ClassPassiveOnly, Passive},   // PASSIVE_LEVEL beats its PAGE section: the stricter
		{"FLTMGR.SYS", "FltReleaseFileNameInformation", ClassPageable, APC},    // <= APC_LEVEL, and in FltMgr's PAGE section
		{"ntoskrnl.exe", "PsReferencePrimaryToken", ClassPassiveOnly, Passive}, // named by issue 12
		{"ntoskrnl.exe", "SeQueryInformationToken", ClassPassiveOnly, Passive}, // named by issue 12
		{"ntoskrnl.exe", "ExAcquireResourceExclusiveLite", ClassAPCOnly, APC},  // named by issue 12
		{"ntoskrnl.exe", "KeWaitForSingleObject", ClassAPCOnly, APC},           // an override
		{"ntoskrnl.exe", "PsLookupProcessByProcessId", ClassPageable, APC},     // the built-in table wins
		{"FLTMGR.SYS", "FltIsDirectory", ClassReentrantIO, Passive},            // the user's entry wins
	} {
		a := cat.Lookup(&loader.Import{Module: c.module, Name: c.name})
		if a == nil || a.Class != c.class || a.IRQL != c.irql {
			t.Errorf("%s!%s: %+v, want class %s at IRQL %d", c.module, c.name, a, c.class, c.irql)
		}
	}
	for _, name := range []string{"KeSetEvent", "ExAllocatePoolWithTag", "DbgPrint", "RtlInitUnicodeString", "KeQueryPerformanceCounter"} {
		if a := cat.Lookup(&loader.Import{Module: "ntoskrnl.exe", Name: name}); a != nil && a.Class != ClassPoolAlloc {
			t.Errorf("%s is allowed at DISPATCH_LEVEL or above, but classified %s", name, a.Class)
		}
	}
	// A routine documented for another module is not that import.
	if a := cat.Lookup(&loader.Import{Module: "ntoskrnl.exe", Name: "FltQueryInformationFile"}); a != nil {
		t.Errorf("ntoskrnl.exe!FltQueryInformationFile classified %+v", a)
	}
	a := cat.Lookup(&loader.Import{Module: "FLTMGR.SYS", Name: "FltQueryInformationFile"})
	if !strings.Contains(a.Source, "learn.microsoft.com/windows-hardware/drivers/ddi/fltkernel/nf-fltkernel-fltqueryinformationfile") {
		t.Errorf("source %q does not link the routine's page", a.Source)
	}
}

// The tables parse, and the generated one covers the three modules.
func TestDocumentedTables(t *testing.T) {
	d, err := documented()
	if err != nil {
		t.Fatal(err)
	}
	perModule := map[string]int{}
	for _, doc := range d {
		perModule[doc.Module]++
	}
	for _, m := range []string{"ntoskrnl.exe", "fltmgr.sys", "hal.dll"} {
		if perModule[m] == 0 {
			t.Errorf("no documented routine of %s", m)
		}
	}
	if len(d) < 1000 {
		t.Errorf("%d documented routines, want the reference's (over 1,000)", len(d))
	}
}

// A malformed override row is an error naming the table, not a panic.
func TestDocumentedOverrideRowErrors(t *testing.T) {
	saved := ddiOverrides
	defer func() { ddiOverrides = saved }()
	for _, row := range []string{"KeWaitForSingleObject\n", "KeWaitForSingleObject\tlow\tbecause\n"} {
		ddiOverrides = row
		if _, err := documented(); err == nil || !strings.Contains(err.Error(), "ddi_overrides.tsv") {
			t.Errorf("row %q: %v", row, err)
		}
	}
}
