package cfg

import (
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// In a call cycle, a function whose IRQL change comes round through the
// cycle changes it too: f calls g and then KfRaiseIrql, g calls f back.
// (Deciding f first once left g false for good.)
func TestChangesIRQLThroughCycle(t *testing.T) {
	f := &Func{Entry: 0x1000}
	g := &Func{Entry: 0x2000}
	h := &Func{Entry: 0x3000} // calls nothing
	raise := &loader.Import{Module: "ntoskrnl.exe", Name: "KfRaiseIrql"}
	f.Calls = []*CallSite{{Site: 0x1010, Callees: []Callee{{Func: g.Entry}}}, {Site: 0x1020, Callees: []Callee{{Import: raise}}}}
	g.Calls = []*CallSite{{Site: 0x2010, Callees: []Callee{{Func: f.Entry}}}}
	p := &Program{Funcs: []*Func{f, g, h}, byEntry: map[uint32]*Func{f.Entry: f, g.Entry: g, h.Entry: h}}
	if !p.changesIRQL(f) || !p.changesIRQL(g) || p.changesIRQL(h) {
		t.Errorf("changesIRQL f %v g %v h %v, want true true false", p.changesIRQL(f), p.changesIRQL(g), p.changesIRQL(h))
	}
}
