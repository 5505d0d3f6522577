package lift

import (
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/loader"
)

// In a call cycle, a function whose IRQL change comes round through the
// cycle changes it too: f calls g and then KfRaiseIrql, g calls f back.
// (Deciding f first once left g false for good.)
func TestChangesIRQLThroughCycle(t *testing.T) {
	f := &cfg.Func{Entry: 0x1000}
	g := &cfg.Func{Entry: 0x2000}
	h := &cfg.Func{Entry: 0x3000} // calls nothing
	raise := &loader.Import{Module: "ntoskrnl.exe", Name: "KfRaiseIrql"}
	f.Calls = []*cfg.CallSite{{Site: 0x1010, Callees: []cfg.Callee{{Func: g.Entry}}}, {Site: 0x1020, Callees: []cfg.Callee{{Import: raise}}}}
	g.Calls = []*cfg.CallSite{{Site: 0x2010, Callees: []cfg.Callee{{Func: f.Entry}}}}
	p := &Program{Program: cfg.NewProgram(nil, []*cfg.Func{f, g, h}), facts: map[*cfg.Func]*facts{}}
	if !p.changesIRQL(f) || !p.changesIRQL(g) || p.changesIRQL(h) {
		t.Errorf("changesIRQL f %v g %v h %v, want true true false", p.changesIRQL(f), p.changesIRQL(g), p.changesIRQL(h))
	}
}
