package dumpcorr

import (
	"fmt"
	"strings"
	"testing"
)

// Stack text as people paste it, in the formats WinDbg and other tools print
// and that arrive without the rest of the session. Each text is ours,
// modelled on what WinDbg prints.
func TestParseTextPastedFormats(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		frames     []string // module!symbol+offset, innermost first
		bugcheck   uint32   // 0: none
		inferred   string
		source     string // frame 1's source line, where the text gives it
	}{
		{
			name: "kf: the Memory column before Child-SP, blank in the first row",
			text: `0: kd> kf
 #   Memory  Child-SP          RetAddr               Call Site
00           fffff800` + "`" + `0ea2fe88 fffff800` + "`" + `0c21d9e9     nt!KeBugCheckEx
01         8 fffff800` + "`" + `0ea2fe90 fffff800` + "`" + `0c2180c5     nt!KiBugCheckDispatch+0x69
02       140 fffff800` + "`" + `0ea2ffd0 fffff800` + "`" + `0c1fc2ee     nt!KiDoubleFaultAbort+0x2c5
03        50 ffffb30c` + "`" + `7a1c6050 fffff806` + "`" + `1a2b1234     nt!MmAccessFault+0x1f5
04       1b0 ffffb30c` + "`" + `7a1c6200 fffff806` + "`" + `1a2b5678     mydrv!PreRead+0x44
05        70 ffffb30c` + "`" + `7a1c6270 fffff806` + "`" + `1a0c7e5d     mydrv!ProcessXid+0x1b
`,
			frames:   []string{"nt!KeBugCheckEx+0x0", "nt!KiBugCheckDispatch+0x69", "nt!KiDoubleFaultAbort+0x2c5", "nt!MmAccessFault+0x1f5", "mydrv!PreRead+0x44", "mydrv!ProcessXid+0x1b"},
			bugcheck: 0x7F, inferred: "nt!KiDoubleFaultAbort",
		},
		{
			name: "kP: each parameter on a line of its own",
			text: "0: kd> kP\n # Child-SP          RetAddr               Call Site\n" +
				"00 ffffb30c`7a1c61d8 fffff806`1a2b5678     mydrv!ProcessXid(\n" +
				"\t\t\tstruct _FLT_CALLBACK_DATA * Data = 0xffffb30c`7a1c6300)+0x1b [c:\\src\\mydrv\\read.c @ 31]\n" +
				"01 ffffb30c`7a1c61e0 fffff806`1a0c7e5d     mydrv!PreRead(\n" +
				"\t\t\tstruct _FLT_CALLBACK_DATA * Data = 0xffffb30c`7a1c6300, \n" +
				"\t\t\tstruct _FLT_RELATED_OBJECTS * FltObjects = 0xffffb30c`7a1c6400, \n" +
				"\t\t\tvoid ** CompletionContext = 0xffffb30c`7a1c6410)+0x44 [c:\\src\\mydrv\\read.c @ 44]\n" +
				"02 ffffb30c`7a1c6270 fffff806`1a0c7a2c     FLTMGR!FltpPerformPreCallbacksWorker+0x36d\n" +
				// cut inside the parameters: the frame keeps its function
				"03 ffffb30c`7a1c6380 fffff806`1a0c6b1a     mydrv!Helper(\n" +
				"\t\t\tvoid * Context = 0x00000000`00000000, \n" +
				"04 ffffb30c`7a1c6400 fffff806`1a0c6c00     FLTMGR!FltpPassThroughInternal+0xca\n",
			frames: []string{"mydrv!ProcessXid+0x1b", "mydrv!PreRead+0x44", "FLTMGR!FltpPerformPreCallbacksWorker+0x36d",
				"mydrv!Helper+0x0", "FLTMGR!FltpPassThroughInternal+0xca"},
			source: "c:\\src\\mydrv\\read.c @ 44",
		},
		{
			name:   "a bare list of frames, as copied from a mail, CRLF",
			text:   "The machine died with:\r\n\r\nnt!KiPageFault+0x2ee\r\nnt!MmAccessFault+0x1f5\r\nmydrv!ProcessXid+0x1b\r\nmydrv!PreRead+0x44\r\nFLTMGR!FltpPerformPreCallbacksWorker+0x36d\r\n\r\nAny idea?\r\n",
			frames: []string{"nt!KiPageFault+0x2ee", "nt!MmAccessFault+0x1f5", "mydrv!ProcessXid+0x1b", "mydrv!PreRead+0x44", "FLTMGR!FltpPerformPreCallbacksWorker+0x36d"},
		},
		{
			name:   "a numbered list with unsymbolised frames",
			text:   "0 nt!KeBugCheckEx\n1 mydrv+0x1a2b\n2 mydrv+0x1040\n3 FLTMGR!FltpPassThroughInternal+0xca\n",
			frames: []string{"nt!KeBugCheckEx+0x0", "mydrv!+0x1a2b", "mydrv!+0x1040", "FLTMGR!FltpPassThroughInternal+0xca"},
		},
		{
			name: "Visual Studio's call stack window",
			text: "mydrv.sys!ProcessXid(_FLT_CALLBACK_DATA * Data=0xffffb30c7a1c6300) Line 31\tC\n" +
				"mydrv.sys!PreRead(_FLT_CALLBACK_DATA * Data=0xffffb30c7a1c6300, const _FLT_RELATED_OBJECTS * FltObjects=0x0, void * * CompletionContext=0x0) Line 44\tC\n" +
				"FLTMGR.SYS!FltpPerformPreCallbacksWorker()\tUnknown\n",
			frames: []string{"mydrv!ProcessXid+0x0", "mydrv!PreRead+0x0", "FLTMGR!FltpPerformPreCallbacksWorker+0x0"},
		},
		{
			name:     "a double fault pasted as a bare list: the bugcheck is inferred",
			text:     "nt!KiDoubleFaultAbort+0x2c5\nnt!KiPageFault+0x2ee\nmydrv!PreRead+0x44\n",
			frames:   []string{"nt!KiDoubleFaultAbort+0x2c5", "nt!KiPageFault+0x2ee", "mydrv!PreRead+0x44"},
			bugcheck: 0x7F, inferred: "nt!KiDoubleFaultAbort",
		},
		{
			name: "prose naming routines is not a stack",
			text: "The fault is in nt!KiPageFault as usual.\nSee mydrv!PreRead for the caller.\nmydrv!PreRead+0x44\n\nthanks\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := ParseText("paste.txt", []byte(tc.text))
			if len(tc.frames) == 0 {
				if err == nil || len(cs) > 0 && len(cs[0].Frames) > 0 {
					t.Errorf("prose read as crash evidence: %+v, %v", cs, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var c Crash
			if len(cs) > 0 {
				c = cs[0]
			}
			for _, f := range c.Frames {
				got = append(got, fmt.Sprintf("%s!%s+%#x", f.Module, f.Symbol, f.Offset))
			}
			if strings.Join(got, " ") != strings.Join(tc.frames, " ") {
				t.Errorf("frames\n  %v\nwant\n  %v", got, tc.frames)
			}
			if tc.source != "" && (len(c.Frames) < 2 || c.Frames[1].SourceLine != tc.source) {
				t.Errorf("frame 1's source line %q, want %q", c.Frames[1].SourceLine, tc.source)
			}
			if tc.bugcheck == 0 {
				if c.HasBugCheck {
					t.Errorf("bugcheck %#x, want none", c.BugCheck)
				}
				return
			}
			if !c.HasBugCheck || c.BugCheck != tc.bugcheck || c.BugCheckInferredFrom != tc.inferred || len(c.Args) == 0 || c.Args[0] != 8 {
				t.Errorf("bugcheck %v %#x args %v inferred from %q; want %#x arg1 8 from %q",
					c.HasBugCheck, c.BugCheck, c.Args, c.BugCheckInferredFrom, tc.bugcheck, tc.inferred)
			}
		})
	}
}

// A STACK_TEXT of unsymbolised kernel frames does not show the driver that
// faulted; FAULTING_IP names it: it becomes the innermost frame, and
// crashes group by it.
func TestCulpritFromFaultingIP(t *testing.T) {
	text := "FAULTING_IP: \nmydrv!PreRead+44\nfffff806`1a2b1234 488b01          mov     rax,qword ptr [rcx]\n\n" +
		"STACK_TEXT:  \nffffb30c`7a1c6050 fffff800`0c1fc2ee : 00000000`00000050 : nt+0x70e00\n" +
		"ffffb30c`7a1c6100 fffff800`0c0d2b35 : 00000000`00000000 : nt+0x5c2ee\n"
	cs := textParseOK(t, "unsymbolised.txt", []byte(text))
	if len(cs) != 1 || cs[0].FaultingModule != "mydrv" || cs[0].Culprit() != "mydrv" {
		t.Fatalf("faulting module %q, culprit %q; want mydrv", cs[0].FaultingModule, cs[0].Culprit())
	}
	fr := cs[0].Frames
	if len(fr) != 3 || fr[0].Module != "mydrv" || fr[0].Symbol != "PreRead" || fr[0].Offset != 0x44 ||
		!fr[0].HasAddress || fr[0].Address != 0xfffff8061a2b1234 || fr[1].Index != 1 {
		t.Fatalf("frames %+v, want FAULTING_IP (with its address) innermost before the two nt frames", fr)
	}
	g := GroupCrashes([]Correlation{{Crash: &cs[0]}})
	if len(g) != 1 || !strings.Contains(g[0].Key, "in mydrv") {
		t.Errorf("group %+v, want it keyed by the faulting module", g)
	}
	// A numbered listing keeps its numbers: a note instead.
	numbered := strings.Replace(strings.Replace(text, "\nffffb30c`7a1c6050", "\n00 ffffb30c`7a1c6050", 1), "\nffffb30c`7a1c6100", "\n01 ffffb30c`7a1c6100", 1)
	cs = textParseOK(t, "numbered.txt", []byte(numbered))
	if len(cs[0].Frames) != 2 || !strings.Contains(strings.Join(cs[0].Notes, "\n"), "FAULTING_IP mydrv!PreRead+0x44 is not among the frames") {
		t.Errorf("numbered: frames %+v notes %v", cs[0].Frames, cs[0].Notes)
	}
}

// A kv listing cut above nt!KeBugCheckEx still has the bugcheck in the
// arguments of nt!KiBugCheckDispatch (the page-fault path's call); a value
// there that is no bugcheck WinDbg names is a stale home slot.
func TestBugCheckFromKiBugCheckDispatch(t *testing.T) {
	row := func(code string) string {
		return "0: kd> kv\n # Child-SP          RetAddr           : Args to Child                                                           : Call Site\n" +
			"00 fffff800`0ea2fe90 fffff800`0c2180c5 : " + code + " ffffc50f`6a8b7000 00000000`00000002 00000000`00000000 : nt!KiBugCheckDispatch+0x69\n" +
			"01 fffff800`0ea2ffd0 fffff806`1a2b1234 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : nt!KiPageFault+0x469\n" +
			"02 ffffb30c`7a1c6200 fffff806`1a2b5678 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : mydrv!PreRead+0x44\n"
	}
	cs := textParseOK(t, "kv.txt", []byte(row("00000000`000000d1")))
	if c := cs[0]; !c.HasBugCheck || c.BugCheck != 0xD1 || len(c.Args) < 1 || c.Args[0] != 0xffffc50f6a8b7000 {
		t.Errorf("bugcheck %v %#x args %x, want 0xD1 from the KiBugCheckDispatch row", c.HasBugCheck, c.BugCheck, c.Args)
	}
	cs = textParseOK(t, "stale.txt", []byte(row("00000000`00001234")))
	if c := cs[0]; c.HasBugCheck {
		t.Errorf("a stale home slot read as bugcheck %#x", c.BugCheck)
	}
}
