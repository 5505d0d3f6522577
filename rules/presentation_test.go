package rules

import (
	"strings"
	"testing"
)

// MF1001 splits by what the problem does: FltMgr reading past an operation
// array without its terminator is an error, a Size/Version pair it rejects
// a note.
func TestMF1001Severities(t *testing.T) {
	n := 0
	for _, fx := range fixtures(t) {
		if fx.name != "mf_malformed" {
			continue
		}
		for _, f := range analyse(t, fx).Findings {
			if f.Rule.ID != "MF1001" {
				continue
			}
			n++
			want := Note
			if strings.Contains(f.Message, "no IRP_MJ_OPERATION_END") {
				want = Error
			}
			if f.Severity != want {
				t.Errorf("%s: %s, want %s", f.Message, f.Severity, want)
			}
		}
	}
	if n < 2 {
		t.Fatalf("%d MF1001 findings on mf_malformed, want its missing terminator and its version", n)
	}
}

// MF4001 points at the call into the frame that takes most of the stack
// (CheckRequestName's two name buffers), lists every frame's size, and its
// path's last step points at the deepest function's entry, not at 0.
func TestMF4001AtLargestFrame(t *testing.T) {
	n := 0
	for _, fx := range fixtures(t) {
		if fx.name != "mf_deepstack" {
			continue
		}
		for _, f := range analyse(t, fx).Findings {
			if f.Rule.ID != "MF4001" {
				continue
			}
			n++
			if len(f.Path) != 3 || fx.label(f.Path[1].RVA) != "CheckRequestName" {
				t.Errorf("%s: path %v, want PreReadD -> CheckRequestName -> CompareToPolicy", fx.bin, f.Path)
				continue
			}
			if f.Site != f.Path[0].Call {
				t.Errorf("%s: site %#x, want the call of CheckRequestName at %#x", fx.bin, f.Site, f.Path[0].Call)
			}
			if last := f.Path[2]; last.Call != last.RVA {
				t.Errorf("%s: last step's call %#x, want its entry %#x", fx.bin, last.Call, last.RVA)
			}
			if !strings.Contains(f.Message, "; frames: ") || strings.Count(f.Message, " + ") != 2 {
				t.Errorf("%s: the message does not list the three frames: %s", fx.bin, f.Message)
			}
		}
	}
	if n == 0 {
		t.Fatal("no MF4001 finding on mf_deepstack: nothing checked")
	}
}

// A post-operation finding says why the callback may run at DISPATCH_LEVEL:
// which pre-operation callback asks for it from I/O completion, or that
// there is none, and that no IRQL test guards it.
func TestPostOperationFindingsSayWhy(t *testing.T) {
	forms := map[string]int{}
	for _, fx := range fixtures(t) {
		if !fx.Build.Reference() {
			continue
		}
		for _, f := range analyse(t, fx).Findings {
			if f.Callback == nil || f.Callback.Kind != "post" {
				continue
			}
			switch {
			case strings.Contains(f.Message, "returns FLT_PREOP_SUCCESS_WITH_CALLBACK, so the post-operation callback runs from I/O completion"):
				forms["with-callback"]++
			case strings.Contains(f.Message, "the operation has no pre-operation callback"):
				forms["no-pre"]++
			case strings.Contains(f.Message, "returns a status not known to be FLT_PREOP_SYNCHRONIZE"):
				forms["unknown"]++
			default:
				t.Errorf("%s %s: the message does not say why it may run at DISPATCH_LEVEL: %s", fx.bin, f.Rule.ID, f.Message)
			}
			if !strings.Contains(f.Message, "no test that KeGetCurrentIrql() <= APC_LEVEL guards the call") &&
				!strings.Contains(f.Message, "no test that KeGetCurrentIrql() == PASSIVE_LEVEL guards the call") {
				t.Errorf("%s %s: the message does not say no IRQL test was seen: %s", fx.bin, f.Rule.ID, f.Message)
			}
		}
	}
	if forms["with-callback"] == 0 || forms["no-pre"] == 0 {
		t.Errorf("forms seen %v: the fixtures should show a pre-operation callback asking for the post and an operation without one", forms)
	}
}

// A call made under a spin lock its own function holds is too high at any
// IRQL the post-operation callback runs at: a finding of its own, apart from
// the callback's other MF3002 paths, which deferring the work would fix.
func TestMF3002UnderLockIsItsOwnCause(t *testing.T) {
	n := 0
	for _, fx := range fixtures(t) {
		if fx.name != "mf_postirql" {
			continue
		}
		var dir []Finding
		for _, f := range analyse(t, fx).Findings {
			if f.Rule.ID == "MF3002" && f.Callback != nil && fx.label(f.Callback.RVA) == "PostDirCtrlP" {
				dir = append(dir, f)
			}
		}
		if len(dir) != 2 {
			t.Errorf("%s: %d MF3002 findings for PostDirCtrlP, want 2 (FltSendMessage; FltGetStreamContext under the lock)", fx.bin, len(dir))
			continue
		}
		for _, f := range dir {
			under := strings.HasSuffix(f.Sink, "!FltGetStreamContext")
			last := f.Path[len(f.Path)-1]
			said := strings.Contains(f.Message, "besides, "+stepName(last)+" makes the call at IRQL 2")
			if under != said || under && fx.label(last.RVA) != "PeekUnderLock" || len(f.Traces) != 1 {
				t.Errorf("%s: %s: %s", fx.bin, f.Sink, f.Message)
			}
		}
		n++
	}
	if n == 0 {
		t.Fatal("no mf_postirql image: nothing checked")
	}
}

// A fast mutex raises to APC_LEVEL: a PASSIVE_LEVEL routine called under
// it is wrong at any IRQL the callback runs at, a cause of its own.
func TestMF3002UnderFastMutexIsItsOwnCause(t *testing.T) {
	n := 0
	for _, fx := range fixtures(t) {
		if fx.name != "mf_catalog" {
			continue
		}
		found := false
		for _, f := range analyse(t, fx).Findings {
			if f.Rule.ID != "MF3002" || !strings.HasSuffix(f.Sink, "!RtlCompareUnicodeString") {
				continue
			}
			found = true
			last := f.Path[len(f.Path)-1]
			if len(f.Traces) != 1 || fx.label(last.RVA) != "CompareUnderLock" ||
				!strings.Contains(f.Message, "besides, "+stepName(last)+" makes the call at IRQL 1") ||
				!strings.Contains(f.Message, "no test that KeGetCurrentIrql() == PASSIVE_LEVEL guards the call") {
				t.Errorf("%s: %d traces: %s", fx.bin, len(f.Traces), f.Message)
			}
		}
		if !found {
			t.Errorf("%s: no MF3002 finding for RtlCompareUnicodeString under the fast mutex", fx.bin)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no mf_catalog image: nothing checked")
	}
}
