package dumpcorr

import (
	"reflect"
	"strings"
	"testing"
)

func frames(specs ...string) []Frame {
	var out []Frame
	for i, s := range specs {
		f := Frame{Index: i}
		mod, sym, _ := strings.Cut(s, "!")
		f.Module, f.Symbol = mod, sym
		out = append(out, f)
	}
	return out
}

func names(sigs []Signature) []string {
	var out []string
	for _, s := range sigs {
		out = append(out, s.Name)
	}
	return out
}

func TestSignatures(t *testing.T) {
	level := []string{"drv!Helper", "drv!PreRead", "FLTMGR!FltpPerformPreCallbacksWorker", "FLTMGR!FltpDispatch",
		"nt!IofCallDriver", "nt!IoPageReadEx", "nt!MiIssueHardFault", "nt!MmAccessFault", "nt!KiPageFault"}
	twice := append(append([]string{"nt!PsLookupProcessByProcessId"}, level...), level...)
	tests := []struct {
		name  string
		crash Crash
		want  []string
	}{
		{"recursion", Crash{Frames: frames(twice...)}, []string{SigPagingRecursion}},
		{"one level", Crash{Frames: frames(level...)}, []string{SigPagingThroughFilter}},
		// Without FltMgr between the repeats it is plain recursion, not
		// the paging path through a filter.
		{"repeat without filter", Crash{Frames: frames("drv!F", "nt!KiPageFault", "drv!F", "nt!KiPageFault")}, nil},
		// A filter frame below the driver but no page fault further out.
		{"filter without fault", Crash{Frames: frames("drv!PreRead", "FLTMGR!FltpDispatch", "nt!NtReadFile")}, nil},
		{"double fault", Crash{HasBugCheck: true, BugCheck: 0x1000007F, Args: []uint64{8, 0, 0, 0}}, []string{SigDoubleFault}},
		{"0x7F other trap", Crash{HasBugCheck: true, BugCheck: 0x7F, Args: []uint64{0, 0, 0, 0}}, nil},
		{"fltmgr", Crash{HasBugCheck: true, BugCheck: 0xF5, Args: []uint64{0x6C}}, []string{SigFltMgr}},
		{"in-page", Crash{HasBugCheck: true, BugCheck: 0x7A, Args: []uint64{1, 0xc0000185, 0, 0}}, []string{SigInPageError}},
		{"store", Crash{HasBugCheck: true, BugCheck: 0x154}, []string{SigInPageError}},
		{"irql", Crash{HasBugCheck: true, BugCheck: 0xD1, Args: []uint64{0, 2, 0, 0}}, []string{SigIRQL}},
		{"access violation", Crash{HasBugCheck: true, BugCheck: 0x1000007E}, nil},
	}
	for _, tc := range tests {
		got := Signatures(&tc.crash)
		if !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	got := Signatures(&Crash{Frames: frames(twice...)})
	if want := "drv!Helper+0x0 repeats 2 times with page faults and FltMgr pre-callbacks between"; got[0].Detail != want {
		t.Errorf("detail %q, want %q", got[0].Detail, want)
	}
	got = Signatures(&Crash{HasBugCheck: true, BugCheck: 0x7A, Args: []uint64{1, 0xc0000185, 0, 0}})
	if want := "0x7A KERNEL_DATA_INPAGE_ERROR, status 0xc0000185"; got[0].Detail != want {
		t.Errorf("detail %q, want %q", got[0].Detail, want)
	}
}
