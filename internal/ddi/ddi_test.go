package ddi

import "testing"

func TestLevel(t *testing.T) {
	for _, c := range []struct {
		text, want string
		ok         bool
	}{
		{"PASSIVE_LEVEL", Passive, true},
		{"PASSIVE_LEVEL (see Remarks section)", Passive, true},
		{"Called at PASSIVE_LEVEL (see Remarks section).", Passive, true},
		{"= PASSIVE_LEVEL", Passive, true},
		{"<= APC_LEVEL", APC, true},
		{"<=APC_LEVEL", APC, true},
		{"IRQL <= APC_LEVEL", APC, true},
		{"< DISPATCH_LEVEL", APC, true},
		{"IRQL < DISPATCH_LEVEL (see Remarks section)", APC, true},
		{"APC_LEVEL", APC, true},
		{"PASSIVE_LEVEL or APC_LEVEL", APC, true},
		{"_IRQL_requires_max_(APC_LEVEL)", APC, true},
		{"<= DISPATCH_LEVEL", Dispatch, true},
		{"Called at IRQL <= DISPATCH_LEVEL.", Dispatch, true},
		{"IRQL = DISPATCH_LEVEL", Dispatch, true},
		{"DISPATCH_LEVEL (see Remarks section)", Dispatch, true},
		{"<= DISPATCH_LEVEL (see Remarks)", Dispatch, true},
		{"<= APC_LEVEL (See Return Value)", APC, true},
		{"<= APC_LEVEL (non-paging IO can only be reissued at PASSIVE_LEVEL)", APC, true},
		{"PASSIVE", Passive, true},
		{"<=(APC_LEVEL)", APC, true},
		{"IRQL >= DISPATCH_LEVEL", Any, true},
		{"<= DIRQL (see Comments section)", Any, true},
		{"<= HIGH_LEVEL", Any, true},
		{"Any level", Any, true},
		{"Any level (See Remarks section)", Any, true},
		{"Any", Any, true},
		{"", "", false},
		{"See Remarks section.", "", false},
		{"Depends on the caller; see Remarks.", "", false},
		{"< PASSIVE_LEVEL", "", false},
	} {
		got, ok := Level(c.text)
		if got != c.want || ok != c.ok {
			t.Errorf("Level(%q) = %q, %v; want %q, %v", c.text, got, ok, c.want, c.ok)
		}
	}
}

func TestParse(t *testing.T) {
	page := []byte("---\nUID: NF:fltkernel.FltQueryInformationFile\ntitle: x\nreq.lib: FltMgr.lib\nreq.dll: Fltmgr.sys\n" +
		"req.irql: PASSIVE_LEVEL (see Remarks section)\ntopic_type:\n - apiref\napi_type:\n - DllExport\napi_location:\n" +
		" - fltmgr.sys\napi_name:\n - FltQueryInformationFile\nf1_keywords:\n - fltkernel/FltQueryInformationFile\n---\n\n## -description\n")
	p, ok := Parse(page)
	if !ok {
		t.Fatal("no front matter")
	}
	if p.UID != "NF:fltkernel.FltQueryInformationFile" || len(p.Names) != 1 || p.Names[0] != "FltQueryInformationFile" ||
		!p.Exported() || p.Module() != "fltmgr.sys" || p.IRQL != "PASSIVE_LEVEL (see Remarks section)" {
		t.Errorf("Parse = %+v", p)
	}
	wdm := []byte("---\nreq.header: wdm.h\nreq.irql: <= APC_LEVEL\napi_type:\n - DLLExport\napi_location:\n - wdm.h\napi_name:\n - ExAcquireFastMutex\n---\n")
	if p, ok := Parse(wdm); !ok || p.Module() != AnyKernel || !p.Exported() {
		t.Errorf("a routine of wdm.h: %+v, module %q", p, p.Module())
	}
	lib := []byte("---\nreq.lib: FltMgr.lib\nreq.dll: \nreq.irql: PASSIVE_LEVEL\napi_type:\n - LibDef\napi_location:\n - FltMgr.lib\n - FltMgr.dll\napi_name:\n - FltFlushBuffers\n---\n")
	if p, ok := Parse(lib); !ok || !p.Exported() || p.Module() != "fltmgr.sys" {
		t.Errorf("a routine FltMgr.lib defines: %+v, exported %v, module %q", p, p.Exported(), p.Module())
	}
	static := []byte("---\nreq.header: ntstrsafe.h\napi_type:\n - LibDef\napi_location:\n - ntstrsafe.h\napi_name:\n - RtlStringCchCopyW\n---\n")
	if p, _ := Parse(static); p.Exported() {
		t.Error("a routine of a static library counted as exported")
	}
	if _, ok := Parse([]byte("# no front matter\n")); ok {
		t.Error("a page without front matter parsed")
	}
	if _, ok := Parse([]byte("---\nUID: x\n")); ok {
		t.Error("an unterminated front matter parsed")
	}
}
