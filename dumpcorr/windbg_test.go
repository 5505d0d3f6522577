package dumpcorr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The real WinDbg text lives in ../../shared (beside the repository), read in
// place: shared/windbg/*.txt (field crashes from public issues, each with a
// "#" header saying what it holds) and shared/seeds/*.txt (articles with
// WinDbg sessions).

func textSharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared WinDbg text not found at %s (it lives beside the repository, not in it): %v", dir, err)
	}
	return dir
}

// textSharedFile is one shared/windbg file: its "#" header lines by key, and
// the text as posted (what follows the "---" line).
type textSharedFile struct {
	name   string
	header map[string]string
	text   []byte
}

func textReadShared(t testing.TB, path string) textSharedFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, text, ok := strings.Cut(string(data), "\n---\n")
	if !ok {
		t.Fatalf("%s: no --- line after the header", path)
	}
	f := textSharedFile{name: filepath.Base(path), header: map[string]string{}, text: []byte(text)}
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "# "), ": "); ok {
			f.header[k] = v
		}
	}
	return f
}

func textSharedWindbg(t testing.TB) []textSharedFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(textSharedDir(t, "windbg"), "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Skipf("no shared/windbg/*.txt: %v", err)
	}
	var files []textSharedFile
	for _, p := range paths {
		files = append(files, textReadShared(t, p))
	}
	return files
}

func textParseOK(t *testing.T, source string, data []byte) []Crash {
	t.Helper()
	cs, err := ParseText(source, data)
	if err != nil {
		t.Fatalf("ParseText(%s): %v", source, err)
	}
	return cs
}

var (
	// "0x3B SYSTEM_SERVICE_EXCEPTION": a code the header says the text holds.
	textHeaderCode = regexp.MustCompile(`0x([0-9A-Fa-f]+) [A-Z][A-Z0-9_]+`)
	// Headers that say the bugcheck is not in the text as posted.
	textHeaderNone   = regexp.MustCompile(`not in excerpt|not stated|^none|per title`)
	textHeaderArg1   = regexp.MustCompile(`\bArg1 =? ?([0-9a-fA-F]+)\b`)
	textHeaderStatus = regexp.MustCompile(`\b(c0[0-9a-f]{6})\b`)
	textHeaderSys    = regexp.MustCompile(`[A-Za-z0-9_-]+\.sys\b`)
)

// textModuleExceptions are third-party modules a header names that the text
// as posted does not hold, with the header's own reason. A stale entry (the
// module is found after all) fails the test.
var textModuleExceptions = map[string]map[string]string{
	"dokany_issue176_0x3B_fltmgr_FltpDoInstanceSetupNotification.txt": {
		"dokan1.sys": "named from the issue's context; the text says only \"Dokany 1.0\" in prose"},
	"dokany_issue272_0x7F_double_fault.txt": {
		"dokan1.sys": "the header: the excerpt stops before the module lines",
		"dokan.sys":  "the header: the excerpt stops before the module lines"},
	"dokany_issue761_0x50_360FsFlt.txt": {
		"360FsFlt.sys": "named in the maintainer's prose only; the header: stack not included in the excerpt",
		"dokan1.sys":   "named from the issue's context, not in the excerpt"},
	"npcap_issue245_0x133_dpc_watchdog.txt": {
		"npcap.sys": "the header: not visible in this part of the stack"},
	"windivert_issue280_0x1E_FwppInjectComplete.txt": {
		"WinDivert64.sys": "named from the issue title; the header: faulting frame cut off"},
	"winfsp_issue392_0x50_rclone_Server2008.txt": {
		"winfsp-x64.sys": "named from the issue title; the header: no stack in excerpt"},
}

// textModuleExtras are third-party modules a header names without a .sys
// file name, which the text holds.
var textModuleExtras = map[string][]string{
	"winfsp_issue587_bmsfile2drv_fltmgr_kc.txt": {"bmsfile2drv"},
}

func textNormModule(s string) string {
	s = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(s, "<Unloaded_"), ">"))
	return strings.TrimSuffix(s, ".sys")
}

// textModulesSeen is every module a crash names, in frames or modules.
func textModulesSeen(cs []Crash) map[string]bool {
	seen := map[string]bool{}
	for _, c := range cs {
		for _, f := range c.Frames {
			seen[textNormModule(f.Module)] = true
		}
		for _, m := range c.Modules {
			seen[textNormModule(m.Name)] = true
			seen[textNormModule(m.Image)] = true
		}
	}
	return seen
}

// TestParseTextSharedHeaders checks every shared/windbg file against its own
// header: the bugcheck(s) it names (or their absence), Arg1 and the exception
// status where it gives them, and the third-party modules it names.
func TestParseTextSharedHeaders(t *testing.T) {
	for _, f := range textSharedWindbg(t) {
		t.Run(f.name, func(t *testing.T) {
			cs := textParseOK(t, f.name, f.text)
			textCheckHeaderBugCheck(t, f, cs)
			textCheckHeaderModules(t, f, cs)
		})
	}
}

func textCheckHeaderBugCheck(t *testing.T, f textSharedFile, cs []Crash) {
	line, ok := f.header["bugcheck"]
	if !ok {
		t.Fatal("header has no bugcheck line")
	}
	if textHeaderNone.MatchString(line) {
		for _, c := range cs {
			if c.HasBugCheck {
				t.Errorf("%s: bugcheck %#x found, but the header says it is not in the text (%q)", c.Source, c.BugCheck, line)
			}
		}
		return
	}
	codes := textHeaderCode.FindAllStringSubmatch(line, -1)
	if len(codes) == 0 {
		t.Fatalf("cannot read the header's bugcheck line %q", line)
	}
	if len(cs) != len(codes) {
		t.Fatalf("%d crashes, the header names %d bugchecks (%q)", len(cs), len(codes), line)
	}
	for i, m := range codes {
		want, _ := strconv.ParseUint(m[1], 16, 32)
		if !cs[i].HasBugCheck || uint64(cs[i].BugCheck) != want {
			t.Errorf("%s: bugcheck %v %#x, the header says %#x", cs[i].Source, cs[i].HasBugCheck, cs[i].BugCheck, want)
		}
	}
	if m := textHeaderArg1.FindStringSubmatch(line); m != nil {
		want, _ := strconv.ParseUint(m[1], 16, 64)
		if len(cs[0].Args) == 0 || cs[0].Args[0] != want {
			t.Errorf("args %x, the header says Arg1 %#x", cs[0].Args, want)
		}
	}
	if m := textHeaderStatus.FindStringSubmatch(line); m != nil {
		want, _ := strconv.ParseUint(m[1], 16, 32)
		if len(cs[0].Args) == 0 || uint32(cs[0].Args[0]) != uint32(want) {
			t.Errorf("args %x, the header says the exception status is %#x", cs[0].Args, want)
		}
	}
}

func textCheckHeaderModules(t *testing.T, f textSharedFile, cs []Crash) {
	line := f.header["third-party module(s)"]
	names := append(textHeaderSys.FindAllString(line, -1), textModuleExtras[f.name]...)
	seen := textModulesSeen(cs)
	for _, name := range names {
		if !strings.Contains(line, name) {
			t.Fatalf("test table names %s, which the header does not", name)
		}
		reason, excepted := textModuleExceptions[f.name][name]
		switch found := seen[textNormModule(name)]; {
		case excepted && found:
			t.Errorf("%s is found in the text, but the exception table says: %s", name, reason)
		case !excepted && !found:
			t.Errorf("the header names %s, which is in no frame or module (modules seen: %v)", name, seen)
		}
	}
	for name := range textModuleExceptions[f.name] {
		if !strings.Contains(line, name) {
			t.Errorf("exception for %s, which the header does not name", name)
		}
	}
}

// textFrameString prints a frame as WinDbg would: mod!Func+0x51, mod+0x1a2b,
// 0xADDR for a frame without a module (a raw address, or a row cut before its
// call site), "?" for one without an address either.
func textFrameString(f Frame) string {
	switch {
	case f.Module == "" && f.HasAddress:
		return fmt.Sprintf("0x%x", f.Address)
	case f.Module == "":
		return "?"
	case f.Symbol == "":
		return fmt.Sprintf("%s+0x%x", f.Module, f.Offset)
	}
	return fmt.Sprintf("%s!%s+0x%x", f.Module, f.Symbol, f.Offset)
}

// textWantFrame pins one frame: its position in Frames, Index, text, address
// ("" for none) and source line.
type textWantFrame struct {
	pos, index int
	text, addr string
	src        string
}

func textCheckFrames(t *testing.T, c Crash, n int, want []textWantFrame) {
	t.Helper()
	if len(c.Frames) != n {
		t.Errorf("%s: %d frames, want %d", c.Source, len(c.Frames), n)
	}
	for _, w := range want {
		if w.pos >= len(c.Frames) {
			t.Errorf("%s: no frame at position %d", c.Source, w.pos)
			continue
		}
		f := c.Frames[w.pos]
		addr := ""
		if f.HasAddress {
			addr = fmt.Sprintf("%x", f.Address)
		}
		if got := textFrameString(f); got != w.text || f.Index != w.index || addr != w.addr || f.SourceLine != w.src {
			t.Errorf("%s: frame at %d = #%x %s addr %q src %q, want #%x %s addr %q src %q", c.Source, w.pos,
				f.Index, got, addr, f.SourceLine, w.index, w.text, w.addr, w.src)
		}
	}
}

// TestParseTextSharedFrames pins frames of the shared texts that have stacks.
func TestParseTextSharedFrames(t *testing.T) {
	files := map[string]textSharedFile{}
	for _, f := range textSharedWindbg(t) {
		files[f.name] = f
	}
	cases := []struct {
		file  string
		crash int
		n     int
		want  []textWantFrame
	}{
		{"dokany_issue1172_1310_DokanDeleteFcb_oplock_FLTMGR.txt", 0, 19, []textWantFrame{
			{0, 0, "nt!IopGetFileObjectExtension+0x18", "", ""},
			{1, 1, "nt!IoGetOplockFullFoExt+0x15", "fffff8014c4647f1", ""},
			{4, 4, "dokan2!DokanDeleteFcb+0x10e", "fffff801c2ba7382", `D:\code\dokany\sys\util\fcb.c @ 231`},
			{8, 8, "0xfffff801c2b95c31", "fffff801c2b95c31", ""}, // cut after its RetAddr at the end of excerpt 1
			// excerpt 2 continues the stack: no address across the join
			{9, 9, "FLTMGR!FltpLegacyProcessingAfterPreCallbacksCompleted+0x28f", "", ""},
			{11, 11, "nt!IofCallDriver+0x55", "fffff8014c410665", ""},
		}},
		{"slavaim_windows-notes__FltCreateFile.txt", 0, 15, []textWantFrame{
			{0, 0, "FLTMGR!FltpCreate+0x0", "", ""},
			{1, 1, "nt!IopParseDevice+0x7f0", "fffff80192125200", ""},
			{8, 8, "avscan!AvPreCreate+0x378", "fffff8084b6a79f8", `d:\work\avscan\filter\avscan.c @ 2106`},
			{9, 9, "FLTMGR!FltpPerformPreCallbacks+0x2ec", "fffff808484f4b4c", ""},
			{14, 14, "nt!ObOpenObjectByNameEx+0x1e0", "fffff801921340c0", ""},
		}},
		{"winfsp_issue587_bmsfile2drv_fltmgr_kc.txt", 0, 25, []textWantFrame{
			{0, 0, "nt!KeBugCheckEx+0x0", "", ""},
			{0x0c, 0x0c, "winfsp_x64!FspPosixSetUidMap+0x0", "", ""},
			{0x10, 0x10, "FLTMGR!FltpLegacyProcessingAfterPreCallbacksCompleted+0x0", "", ""},
			{0x13, 0x13, "bmsfile2drv+0x0", "", ""},
			{0x18, 0x18, "nt!ObfDereferenc+0x0", "", ""},
		}},
		{"openzfs_issue520_spl_panic_list_remove.txt", 0, 8, []textWantFrame{
			{0, 7, "nt!KiBreakpointTrap+0x35b", "", ""},
			{3, 0xa, "OpenZFS!list_remove+0x72", "fffff80073480072", `C:\src\openzfs\module\os\windows\spl\spl-list.c @ 117`},
			{7, 0xe, "OpenZFS!zfsdev_ioctl+0x27d", "fffff800737c0a5d", ""}, // source suffix cut
		}},
		{"windivert_issue129_0x1E_webfilter.txt", 0, 9, []textWantFrame{
			{0, 0, "nt!KeBugCheckEx+0x0", "", ""},
			{2, 2, "nt!?? ::FNODOBFM::`string'+0xb6", "fffff802699d3f66", ""},
			{8, 8, "nt!KiGeneralProt+0x0", "fffff802699cdafe", ""},
		}},
		{"windivert_issue280_0x1E_FwppInjectComplete.txt", 0, 9, []textWantFrame{
			{6, 6, "nt!KiExceptionDispatchOnExceptionStackContinue+0x0", "fffff8054e1f7a80", ""},
			{8, 8, "0xfffff8054e2049e0", "fffff8054e2049e0", ""}, // cut after its RetAddr
		}},
		{"hyperplatform_issue89_0x1E.txt", 0, 10, []textWantFrame{
			{3, 3, "nt!KeBugCheckEx+0x107", "fffff803779f5b87", ""},
			{5, 5, "nt!KeExpandKernelStackAndCalloutInternal$filt$0+0x16", "fffff80377a11c86", ""},
		}},
		{"npcap_issue245_0x133_dpc_watchdog.txt", 0, 10, []textWantFrame{
			{0, 0, "nt!KiExecuteAllDpcs+0x1b0", "", ""},
			{8, 8, "Ntfs!NtfsAccessCheck+0x1a4", "fffff8014270af84", ""},
		}},
		{"dokany_issue230_0x3B_fltmgr_FltpFastIoDeviceControl.txt", 0, 1, []textWantFrame{
			{0, 0, "0x75672e09", "75672e09", ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			f, ok := files[tc.file]
			if !ok {
				t.Skipf("%s not in shared/windbg", tc.file)
			}
			cs := textParseOK(t, f.name, f.text)
			textCheckFrames(t, cs[tc.crash], tc.n, tc.want)
		})
	}
}

// TestParseTextSharedDetails checks what the headers do not cover: inferred
// bugchecks and their arguments, the analysis fields, modules.
func TestParseTextSharedDetails(t *testing.T) {
	files := map[string]textSharedFile{}
	for _, f := range textSharedWindbg(t) {
		files[f.name] = f
	}
	parse := func(t *testing.T, name string) []Crash {
		f, ok := files[name]
		if !ok {
			t.Skipf("%s not in shared/windbg", name)
		}
		return textParseOK(t, f.name, f.text)
	}
	t.Run("KeBugCheckEx row gives the bugcheck", func(t *testing.T) {
		c := parse(t, "hyperplatform_issue89_0x1E.txt")[0]
		textCheckBugCheck(t, c, 0x1E, "KMODE_EXCEPTION_NOT_HANDLED", 0xffffffffc000001d, 0xfffff80373680000, 0xffffbb074d8281f8)
		c = parse(t, "windivert_issue280_0x1E_FwppInjectComplete.txt")[0]
		textCheckBugCheck(t, c, 0x1E, "KMODE_EXCEPTION_NOT_HANDLED", 0xffffffffc0000005, 0xfffff8055001a378, 0)
	})
	t.Run("name line without code, arguments from the KeBugCheckEx row", func(t *testing.T) {
		c := parse(t, "windivert_issue129_0x1E_webfilter.txt")[0]
		textCheckBugCheck(t, c, 0x1E, "KMODE_EXCEPTION_NOT_HANDLED", 0xffffffffc0000005, 0xfffff802699ca629, 0xffffd000209be5f8)
		if c.ProcessName != "webfilter.exe" {
			t.Errorf("PROCESS_NAME %q", c.ProcessName)
		}
	})
	t.Run("bucket id gives the bugcheck", func(t *testing.T) {
		cs := parse(t, "dokany_issue230_0x3B_fltmgr_FltpFastIoDeviceControl.txt")
		if len(cs) != 1 {
			t.Fatalf("%d crashes: the second debugger session holds no evidence", len(cs))
		}
		c := cs[0]
		textCheckBugCheck(t, c, 0x3B, "SYSTEM_SERVICE_EXCEPTION")
		if c.SymbolName != "fltmgr!FltpFastIoDeviceControl+7f" || c.ModuleName != "fltmgr" || c.ImageName != "fltmgr.sys" ||
			c.BucketID != "X64_0x3B_fltmgr!FltpFastIoDeviceControl+7f" {
			t.Errorf("fields %q %q %q %q", c.SymbolName, c.ModuleName, c.ImageName, c.BucketID)
		}
		want := Module{Name: "fltmgr", Image: "fltmgr.sys", Timestamp: 0x4ce7929c}
		if len(c.Modules) != 1 || c.Modules[0] != want {
			t.Errorf("modules %+v, want %+v", c.Modules, want)
		}
	})
	t.Run("two analyses", func(t *testing.T) {
		cs := parse(t, "dokany_issue176_0x3B_fltmgr_FltpDoInstanceSetupNotification.txt")
		if len(cs) != 2 || cs[1].Source != "dokany_issue176_0x3B_fltmgr_FltpDoInstanceSetupNotification.txt#2" {
			t.Fatalf("%d crashes", len(cs))
		}
		textCheckBugCheck(t, cs[0], 0x3B, "SYSTEM_SERVICE_EXCEPTION", 0xc0000005, 0xfffff88001bd9106, 0xfffff880211de8d0, 0)
		textCheckBugCheck(t, cs[1], 0xA, "IRQL_NOT_LESS_OR_EQUAL", 0x800000080, 2, 1, 0xfffff800036d88e8)
	})
	t.Run("FAULTING_IP module with markdown bold", func(t *testing.T) {
		c := parse(t, "sysinternals_issue223_0xD4_sysmon_psav3cld.txt")[0]
		if len(c.Modules) != 1 || c.Modules[0].Name != "psav3cld.sys" {
			t.Errorf("modules %+v", c.Modules)
		}
	})
	t.Run("Unable to load image names a module", func(t *testing.T) {
		c := parse(t, "npcap_issue819_0xD1.txt")[0]
		if len(c.Modules) != 1 || c.Modules[0] != (Module{Name: "npcap", Image: "npcap.sys"}) {
			t.Errorf("modules %+v", c.Modules)
		}
	})
}

func textCheckBugCheck(t *testing.T, c Crash, code uint32, name string, args ...uint64) {
	t.Helper()
	if !c.HasBugCheck || c.BugCheck != code || c.BugCheckName != name {
		t.Errorf("%s: bugcheck %v %#x %q, want %#x %q", c.Source, c.HasBugCheck, c.BugCheck, c.BugCheckName, code, name)
	}
	if args != nil && fmt.Sprint(c.Args) != fmt.Sprint(args) {
		t.Errorf("%s: args %x, want %x", c.Source, c.Args, args)
	}
}

func textReadSeed(t *testing.T, prefix string) []byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(textSharedDir(t, "seeds"), prefix+"_*.txt"))
	if len(paths) != 1 {
		t.Skipf("seed %s not found", prefix)
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestParseTextSeeds checks the four seed articles (DOMAIN.md §1).
func TestParseTextSeeds(t *testing.T) {
	t.Run("000 memory compression in-page error", func(t *testing.T) {
		cs := textParseOK(t, "seed000", textReadSeed(t, "000"))
		if len(cs) != 1 {
			t.Fatalf("%d crashes", len(cs))
		}
		c := cs[0]
		textCheckBugCheck(t, c, 0x154, "UNEXPECTED_STORE_EXCEPTION", 0xffffb402b9851000, 0xffffe607bc53df30, 2, 0)
		// Frames come from ".cxr; k" (the exception context); the !thread
		// listing of the bugcheck thread is left out, with a note.
		textCheckFrames(t, c, 19, []textWantFrame{
			{0, 0, "nt!RtlDecompressBufferXpressLz+0x50", "fffff80025b04bd0", ""}, // rip of the .cxr context
			{2, 2, "nt!ST_STORE<SM_TRAITS>::StDmSinglePageCopy+0x150", "fffff80025a5bb14", ""},
			{0x0d, 0x0d, "nt!SmPageRead+0x33", "fffff80025b2b94b", ""},
			{0x11, 0x11, "nt!KiPageFault+0x358", "fffff80025c0b6d8", ""},
			{0x12, 0x12, "0x7ff8c3089fa2", "7ff8c3089fa2", ""},
		})
		if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "!thread listing of 4 frames") {
			t.Errorf("notes %q", c.Notes)
		}
	})
	t.Run("001 double fault 0x1000007F", func(t *testing.T) {
		data := textReadSeed(t, "001")
		c := textParseOK(t, "seed001", data)[0]
		// The article gives the name line only: the faulting
		// nt!PspReferenceCidTableEntry+0x51 is named in its prose and a u
		// listing, and it holds neither a stack nor the arguments.
		textCheckBugCheck(t, c, 0x1000007F, "UNEXPECTED_KERNEL_MODE_TRAP_M")
		if len(c.Args) != 0 || len(c.Frames) != 0 || strings.Contains(string(data), "Arg1") {
			t.Errorf("args %x, %d frames: the article has none; update this test if it now has them", c.Args, len(c.Frames))
		}
		if BugCheckName(c.BugCheck) != "UNEXPECTED_KERNEL_MODE_TRAP" {
			t.Errorf("BugCheckName(%#x) = %q", c.BugCheck, BugCheckName(c.BugCheck))
		}
	})
	t.Run("002 three stacks of three captures", func(t *testing.T) {
		cs := textParseOK(t, "seed002", textReadSeed(t, "002"))
		if len(cs) != 3 {
			t.Fatalf("%d crashes, want 3 (a user stack and two kernel stacks of different dumps)", len(cs))
		}
		textCheckFrames(t, cs[0], 3, []textWantFrame{
			{0, 0, "ntdll!NtReadFile+0x14", "", ""},
			{2, 2, "0x7ffd50724782", "7ffd50724782", ""}})
		textCheckFrames(t, cs[1], 10, []textWantFrame{{7, 7, "nt!NtReadFile+0x8a8", "fffff80052ff9ae8", ""}})
		textCheckFrames(t, cs[2], 10, []textWantFrame{
			// the disassembly line printed when the dump was opened gives frame 0
			{0, 0, "nt!DbgkpLkmdSnapThreadInContext+0x95", "fffff8045e688b51", ""},
			{7, 7, "nt!NtReadFile+0x599", "fffff8045e411fe9", ""}})
		for _, c := range cs {
			if c.HasBugCheck {
				t.Errorf("%s: bugcheck %#x: the article has none", c.Source, c.BugCheck)
			}
		}
	})
	t.Run("003 pool leak by tag", func(t *testing.T) {
		cs := textParseOK(t, "seed003", textReadSeed(t, "003"))
		if len(cs) != 1 {
			t.Fatalf("%d crashes", len(cs))
		}
		c := cs[0]
		if len(c.PoolUsage) != 9 {
			t.Errorf("%d pool rows, want 9", len(c.PoolUsage))
		}
		if len(c.PoolUsage) > 0 && c.PoolUsage[0] != (PoolUse{Tag: "Leak", NonPagedAllocs: 119, NonPagedBytes: 4991221760}) {
			t.Errorf("first pool row %+v", c.PoolUsage[0])
		}
		pools := map[string]PoolUse{}
		for _, p := range c.PoolUsage {
			pools[p.Tag] = p
		}
		if p := pools["EtwB"]; p != (PoolUse{Tag: "EtwB", NonPagedAllocs: 196, NonPagedBytes: 7565568, PagedAllocs: 2,
			PagedBytes: 131072, Binary: "nt!etw"}) {
			t.Errorf("EtwB %+v", p)
		}
		if _, ok := pools["2872"]; !ok {
			t.Errorf("numeric tag 2872 missing")
		}
		want := Module{Name: "myfault", Image: "myfault.sys", Base: 0xfffff80747f50000, Size: 0x9000,
			Timestamp: 0x6335C51B, Checksum: 0x10CED}
		var names []string
		for _, m := range c.Modules {
			names = append(names, m.Name)
			if m.Name == "myfault" && m != want {
				t.Errorf("myfault %+v, want %+v", m, want)
			}
		}
		if strings.Join(names, " ") != "win32kbase win32kfull nt clipsp monitor myfault" {
			t.Errorf("modules %v", names)
		}
	})
}

// ---- synthetic texts: one per command form ----

// textBT writes a backtick: Go raw strings cannot hold one.
func textBT(s string) string { return strings.ReplaceAll(s, "'", "`") }

var textSynthetic = map[string]string{
	"kn": textBT(`0: kd> kn
 # Child-SP          RetAddr               Call Site
00 ffffc50f'6a8b6f28 fffff801'2a3b4c5d     nt!KeBugCheckEx
01 ffffc50f'6a8b6f30 fffff801'2a3b1234     nt!KiBugCheckDispatch+0x69
02 ffffc50f'6a8b7070 fffff806'11221a2b     nt!KiPageFault+0x358
03 ffffc50f'6a8b7200 fffff806'1122105c     mydrv+0x1a2b
04 ffffc50f'6a8b7250 fffff806'0f10610b     mydrv!CFilter::PreRead+0x10 [d:\src\mydrv\filter.cpp @ 88]
05 ffffc50f'6a8b72a0 fffff806'0f10610b     0xfffff806'0f10610b
06 ffffc50f'6a8b72f0 fffff801'2a3b4c5d     FLTMGR!FltpPerformPreCallbacks+0x2ec
07 ffffc50f'6a8b7340 00000000'00000000     fffff801'2a3b4c5d
`),
	"k": textBT(`kd> k
Child-SP          RetAddr           Call Site
fffff880'0335f8a8 fffff800'02ab6ee9 nt!KeBugCheckEx
fffff880'0335f8b0 fffff800'02ab3f60 nt!KiBugCheckDispatch+0x69
fffff880'0335f9f0 fffff880'04859e8e nt!KiPageFault+0x260
fffff880'0335fb80 fffff880'0485a5c8 mydrv!ReadWorker+0x1e
`),
	"kv": textBT(`0: kd> kv
 # Child-SP          RetAddr           : Args to Child                                                           : Call Site
00 fffff880'0335e8a8 fffff800'02ab6ee9 : 00000000'0000007f 00000000'00000008 00000000'80050033 00000000'000406f8 : nt!KeBugCheckEx
01 fffff880'0335e8b0 fffff800'02ab4e72 : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!KiBugCheckDispatch+0x69
02 fffff880'0335e9f0 fffff880'01234567 : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!KiDoubleFaultAbort+0x2b2 (TrapFrame @ fffff880'0335e9f0)
03 fffff880'0335eb80 fffff880'01234888 : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!PspReferenceCidTableEntry+0x51
`),
	"kb without Child-SP": textBT(`RetAddr           : Args to Child                                                           : Call Site
fffff800'02ab6ee9 : 00000000'0000001e ffffffff'c0000005 fffff880'01234567 00000000'00000000 : nt!KeBugCheckEx
fffff800'02ab3f60 : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!KiBugCheckDispatch+0x69
fffff880'01234600 : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : mydrv+0x4567
`),
	"kp": textBT(` # Child-SP          RetAddr           Call Site
00 fffff880'0335f8a8 fffff800'02ab6ee9 nt!KeBugCheckEx
01 fffff880'0335f9f0 fffff880'04859e8e mydrv!MyRead(struct _DEVICE_OBJECT * DeviceObject = 0xfffffa80'04a5b060, struct _IRP * Irp = 0xfffffa80'05a3d010)+0x48 [c:\src\mydrv.c @ 120]
02 fffff880'0335fa40 fffff800'02d8a6ba mydrv!Worker::operator()(void)+0x10
`),
	"kc": ` # Call Site
00 nt!KeBugCheckEx
01 nt!KiPageFault
02 mydrv
03 mydrv!PreRead
`,
	"kc without numbers": `Call Site
nt!KeBugCheckEx
nt!KiPageFault
mydrv!PreRead
`,
	".cxr; k": textBT(`0: kd> .cxr 0xffffd000209bdf00 ; k
rax=0000000000000000 rbx=ffffc3812a3b0000 rcx=0000000000000004
rip=fffff8066d4bf461 rsp=ffffd000209be4c8 rbp=0000000000000000
nt!PspReferenceCidTableEntry+0x51:
fffff806'6d4bf461 488b08          mov     rcx,qword ptr [rax] ds:002b:ffffc381'2a3b0000=????????????????
  *** Stack trace for last set context - .thread/.cxr resets it
 # Child-SP          RetAddr               Call Site
00 ffffd000'209be4c8 fffff806'6d4bf2a1     nt!PspReferenceCidTableEntry+0x51
01 ffffd000'209be500 fffff806'0f10105c     nt!PsLookupProcessByProcessId+0x41
02 ffffd000'209be550 fffff806'0f0a610b     mydrv!PreRead+0x5c
`),
	"!thread": textBT(`0: kd> !thread
THREAD ffffb402be04a080  Cid 0594.2228  Teb: 000000674c5b8000 Win32Thread: 0000000000000000 RUNNING on processor 2
Not impersonating
Owning Process            ffffb402b8d58080       Image:         System
Stack Init ffffe607bc53fb90 Current ffffe607bc53e800
Child-SP          RetAddr               : Args to Child                                                           : Call Site
ffffe607'bc53de78 fffff800'25d9856e     : 00000000'00000154 ffffb402'b9851000 ffffe607'bc53df30 00000000'00000002 : nt!KeBugCheckEx
ffffe607'bc53de80 fffff800'25c189db     : ffffb402'b9851000 ffffe607'bc53df30 ffffe607'00000002 ffffe607'bc53dfe0 : nt!SMKM_STORE<SM_TRAITS>::SmStUnhandledExceptionFilter+0x7e
`),
	"!analyze -v": textBT(`2: kd> !analyze -v
*******************************************************************************
*                                                                             *
*                        Bugcheck Analysis                                    *
*                                                                             *
*******************************************************************************

UNEXPECTED_KERNEL_MODE_TRAP_M (1000007f)
This means a trap occurred in kernel mode, and it's a trap of a kind
that the kernel isn't allowed to have/catch (bound trap) or that
is always instant death (double fault).
Arguments:
Arg1: 0000000000000008, EXCEPTION_DOUBLE_FAULT
Arg2: ffffd000209c0e70
Arg3: ffffd000209bdf00
Arg4: fffff8066d4bf461

Debugging Details:
------------------

KEY_VALUES_STRING: 1

    Key  : Bugcheck.Code.LegacyAPI
    Value: 0x1000007f

BUGCHECK_CODE:  7f

BUGCHECK_P1: 8

BUGCHECK_P2: ffffd000209c0e70

BUGCHECK_P3: ffffd000209bdf00

BUGCHECK_P4: fffff8066d4bf461

PROCESS_NAME:  System

STACK_TEXT:  
ffffd000'209c0e28 fffff806'6d6a1169     : 00000000'0000007f 00000000'00000008 ffffd000'209c0e70 ffffd000'209bdf00 : nt!KeBugCheckEx
ffffd000'209c0e30 fffff806'6d69c0c5     : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!KiBugCheckDispatch+0x69
ffffd000'209c0f70 fffff806'6d4bf461     : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!KiDoubleFaultAbort+0x2c5
ffffd000'209be4c8 fffff806'6d4bf2a1     : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!PspReferenceCidTableEntry+0x51
ffffd000'209be500 fffff806'0f10105c     : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : nt!PsLookupProcessByProcessId+0x41
ffffd000'209be550 fffff806'0f0a610b     : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : mydrv!PreRead+0x5c


SYMBOL_NAME:  mydrv!PreRead+5c

MODULE_NAME: mydrv

IMAGE_NAME:  mydrv.sys

STACK_COMMAND:  .cxr 0xffffd000209bdf00 ; kb

FAILURE_BUCKET_ID:  0x7f_8_mydrv!PreRead

Followup:     MachineOwner
---------
`),
	"old analyze with BugCheck line": textBT(`Loading Dump File [C:\Windows\MEMORY.DMP]
Kernel Bitmap Dump File: Kernel address space is available
BugCheck 1000007E, {ffffffffc0000005, fffff88001234567, fffff88006337738, fffff88006336f90}

*** ERROR: Module load completed but symbols could not be loaded for mydrv.sys
Probably caused by : mydrv.sys ( mydrv+4567 )

Followup: MachineOwner
---------

0: kd> !analyze -v
*******************************************************************************
*                        Bugcheck Analysis                                    *
*******************************************************************************

SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (1000007e)
Arguments:
Arg1: ffffffffc0000005, The exception code that was not handled
Arg2: fffff88001234567, The address that the exception occurred at
Arg3: fffff88006337738, Exception Record Address
Arg4: fffff88006336f90, Context Record Address

FAULTING_IP: 
mydrv+4567
fffff880'01234567 488b08          mov     rcx,qword ptr [rax]

DEFAULT_BUCKET_ID:  NULL_CLASS_PTR_READ

BUGCHECK_STR:  0x7E

STACK_TEXT:  
fffff880'06337f70 fffff800'02d8a6ba : fffffa80'0cd3e1a0 00000000'00000080 fffffa80'0cd3c040 fffffa80'0cd3e1a0 : mydrv+0x4567
fffff880'06337fb0 fffff800'02ade196 : fffff880'009e6180 fffffa80'0cd3e1a0 fffff880'009f0fc0 00000000'00000000 : nt!PspSystemThreadStartup+0x5a

MODULE_NAME: mydrv

IMAGE_NAME:  mydrv.sys

DEBUG_FLR_IMAGE_TIMESTAMP:  5ff2e3a0

FAILURE_BUCKET_ID:  X64_0x7E_mydrv+4567
`),
	"lm": textBT(`0: kd> lm
start             end                 module name
fffff801'2a200000 fffff801'2ac5c000   nt         (pdb symbols)          c:\symbols\ntkrnlmp.pdb\0123\ntkrnlmp.pdb
fffff806'0f100000 fffff806'0f10b000   mydrv      (deferred)
fffff806'0f000000 fffff806'0f0a3000   FLTMGR     (pdb symbols)          c:\symbols\fltMgr.pdb\abc\fltMgr.pdb

Unloaded modules:
fffff806'10000000 fffff806'10010000   oldfilt.sys
0: kd> lm t n
start             end                 module name
fffff801'2a200000 fffff801'2ac5c000   nt       ntkrnlmp.exe Wed Jun 10 07:01:17 2015 (557841CD)
fffff806'0f200000 fffff806'0f21b000   amdppm   amdppm.sys   Sat Dec 19 09:02:21 2020 (5FDDB28D)
0: kd> lmvm mydrv
Browse full module list
start             end                 module name
fffff806'0f100000 fffff806'0f10b000   mydrv      (deferred)
    Image path: \SystemRoot\system32\drivers\mydrv.sys
    Image name: mydrv.sys
    Browse all global symbols  functions  data
    Timestamp:        Mon Jan  4 10:00:00 2021 (5FF2E3A0)
    CheckSum:         0001A2B3
    ImageSize:        0000B000
    Translations:     0000.04b0 0000.04e4 0409.04b0 0409.04e4
`),
	"!poolused": `3: kd> !poolused 2
....
 Sorting by  NonPaged Pool Consumed

               NonPaged                  Paged
 Tag     Allocs         Used     Allocs         Used

 Leak       119   4991221760          0            0	UNKNOWN pooltag 'Leak', please update pooltag.txt
 EtwB       196      7565568          2       131072	Etw Buffer , Binary: nt!etw
 Io          12         4096          3          768	general IO allocations , Binary: nt!io

TOTAL     52731   5047803968      95423    231145232
`,
	"markdown escaped": "STACK\\_TEXT:  \n" +
		"ffff9d09\\`380c7098 fffff801\\`4c4647f1     : ffffd18d\\`f214a690 fffff801\\`4c4c76df ffffd18d\\`f214a040 ffffd18e\\`2a9705e0 : nt\\!IopGetFileObjectExtension+0x18\n" +
		"ffff9d09\\`380c70a0 fffff801\\`4c464788     : ffffd18e\\`24fd1e10 fffff801\\`4c548919 ffffbf0e\\`aa3356e0 ffffd18e\\`24fd1d30 : **nt!IoGetOplockFullFoExt+0x15**\n" +
		"ffff9d09\\`380c7170 fffff801\\`c2ba76a1     : ffffd18d\\`f214a040 ffffd18e\\`1a34c600 ffffd18e\\`13984960 ffffd18e\\`24fd1c80 : dokan2\\!DokanDeleteFcb+0x10e \\[D:\\code\\dokany\\sys\\util\\fcb.c @ 231\\]\n",
	"cut at both ends": textBT(`fffff880'0335f9 ... : 00000000'00000000 : nt!Ki
ffffd001'24186be0 fffff802'636a45f7 : 00000000'00000000 00000000'00000010 ffffd001'24147180 ffffd001'24147180 : nt!KiExecuteAllDpcs+0x1b0
ffffd001'24186d30 fffff802'637b75b5 : 00000000'00000000 ffffd001'24147180 ffffd001'26a0b800 ffffe801'ab19b030 : nt!KiRetireDpcList+0xd7
ffffd001'24186fb0 fffff802'637b73b9 : 00000000'00000000 00000000'000
[... excerpt ends ...]
`),
	"two analyses": textBT(`*** Bugcheck Analysis ***
PAGE_FAULT_IN_NONPAGED_AREA (50)
Arguments:
Arg1: fffff880087cbd90, memory referenced.
Arg2: 0000000000000000, value 0 = read operation, 1 = write operation.
STACK_TEXT:
fffff880'0335f8a8 fffff800'02ab6ee9 : 00000000'00000050 fffff880'087cbd90 00000000'00000000 fffff800'05e7b061 : nt!KeBugCheckEx
fffff880'0335f8b0 fffff800'02ab3f60 : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : mydrv!Read+0x10

*** Bugcheck Analysis ***
PAGE_FAULT_IN_NONPAGED_AREA (50)
Arguments:
Arg1: fffff880087cbd90, memory referenced.
Arg2: 0000000000000000, value 0 = read operation, 1 = write operation.
STACK_TEXT:
fffff880'0335f8a8 fffff800'02ab6ee9 : 00000000'00000050 fffff880'087cbd90 00000000'00000000 fffff800'05e7b061 : nt!KeBugCheckEx
fffff880'0335f8b0 fffff800'02ab3f60 : 00000000'00000000 00000000'00000000 00000000'00000000 00000000'00000000 : mydrv!Read+0x10
`),
	"two BugCheck lines": textBT(`BugCheck 7F, {8, 80050033, 406f8, fffff800028a2e2e}
 # Child-SP          RetAddr           Call Site
00 fffff880'0335f8a8 fffff800'02ab6ee9 nt!KiDoubleFaultAbort+0x2c7
01 fffff880'0335f8b0 fffff800'02ab3f60 mydrv!PreRead+0x51
BugCheck 7F, {8, 80050033, 406f8, fffff800028a2e2e}
 # Child-SP          RetAddr           Call Site
00 fffff880'0445f8a8 fffff800'02ab6ee9 nt!KiDoubleFaultAbort+0x2c7
01 fffff880'0445f8b0 fffff800'02ab3f60 otherdrv!Write+0x22
`),
	"inline frames": textBT(` # Child-SP          RetAddr               Call Site
00 ffffd000'209be4c8 fffff806'6d4bf2a1     nt!KiPageFault+0x358
01 (Inline Function) --------'--------     mydrv!GetXid+0x12 [d:\src\xid.h @ 40]
02 ffffd000'209be500 fffff806'0f10105c     mydrv!PreRead+0x5c [d:\src\read.c @ 77]
03 ffffd000'209be550 fffff806'0f0a610b     FLTMGR!FltpPerformPreCallbacks+0x2ec
`),
	"x86 kb": `ChildEBP RetAddr  Args to Child              
8078ae84 80a1dd4b 0000007f 00000008 8080f000 nt!KeBugCheckEx+0x1b
8078ae9c 80a1e1e2 00000000 00000000 00000000 nt!KiTrap08+0x4b
`,
	"!process 0 7": textBT(`0: kd> !process 0 7 System
PROCESS ffffb402b8d58080
    Image: System
        THREAD ffffb402b8d5e040  Cid 0004.000c  Teb: 0000000000000000 Win32Thread: 0000000000000000 WAIT
        Child-SP          RetAddr               Call Site
        ffffe607'bc4f7a30 fffff800'25a1c9c0     nt!KiSwapContext+0x76
        ffffe607'bc4f7b70 fffff800'25a1beef     nt!KiSwapThread+0x500

        THREAD ffffb402b8d5f080  Cid 0004.0010  Teb: 0000000000000000 Win32Thread: 0000000000000000 WAIT
        Child-SP          RetAddr               Call Site
        ffffe607'bc4ffa30 fffff800'25a1c9c0     nt!KiSwapContext+0x76
        ffffe607'bc4ffb70 fffff800'25a1beef     nt!KiSwapThread+0x500
        ffffe607'bc4ffc10 fffff806'0f10105c     mydrv!WorkerThread+0x40
`),
	"memory dumps are not stacks": textBT(`0: kd> dq ffff948c'6226f1b0
ffff948c'6226f1b0  00000000'00000000 00000000'00000000
ffff948c'6226f1c0  ffff948c'60dff0d0 00000000'00000000
0: kd> dps ffffe607'bc53de78
ffffe607'bc53de78  fffff800'25d9856e nt!SMKM_STORE<SM_TRAITS>::SmStUnhandledExceptionFilter+0x7e
0: kd> u nt!KeBugCheckEx
nt!KeBugCheckEx:
fffff806'47a16b40 48894c2408      mov     qword ptr [rsp+8],rcx
0: kd> k
 # Child-SP          RetAddr           Call Site
00 fffff880'0335f8a8 fffff800'02ab6ee9 nt!KeBugCheckEx
`),
}

// TestParseTextSynthetic checks each command form on a text of our own.
func TestParseTextSynthetic(t *testing.T) {
	one := func(t *testing.T, name string) Crash {
		t.Helper()
		cs := textParseOK(t, name, []byte(textSynthetic[name]))
		if len(cs) != 1 {
			t.Fatalf("%d crashes, want 1", len(cs))
		}
		return cs[0]
	}
	t.Run("kn", func(t *testing.T) {
		c := one(t, "kn")
		if c.HasBugCheck || c.FramesFrom != "text" {
			t.Errorf("bugcheck %v (kn shows no arguments), frames from %q", c.HasBugCheck, c.FramesFrom)
		}
		textCheckFrames(t, c, 8, []textWantFrame{
			{0, 0, "nt!KeBugCheckEx+0x0", "", ""},
			{1, 1, "nt!KiBugCheckDispatch+0x69", "fffff8012a3b4c5d", ""},
			{3, 3, "mydrv+0x1a2b", "fffff80611221a2b", ""},
			{4, 4, "mydrv!CFilter::PreRead+0x10", "fffff8061122105c", `d:\src\mydrv\filter.cpp @ 88`},
			{5, 5, "0xfffff8060f10610b", "fffff8060f10610b", ""},
			{6, 6, "FLTMGR!FltpPerformPreCallbacks+0x2ec", "fffff8060f10610b", ""},
			{7, 7, "0xfffff8012a3b4c5d", "fffff8012a3b4c5d", ""},
		})
	})
	t.Run("k", func(t *testing.T) {
		textCheckFrames(t, one(t, "k"), 4, []textWantFrame{
			{0, 0, "nt!KeBugCheckEx+0x0", "", ""},
			{3, 3, "mydrv!ReadWorker+0x1e", "fffff88004859e8e", ""}})
	})
	t.Run("kv", func(t *testing.T) {
		c := one(t, "kv")
		textCheckBugCheck(t, c, 0x7F, "UNEXPECTED_KERNEL_MODE_TRAP", 8, 0x80050033, 0x406f8)
		textCheckFrames(t, c, 4, []textWantFrame{
			{2, 2, "nt!KiDoubleFaultAbort+0x2b2", "fffff80002ab4e72", ""}, // (TrapFrame @ ...) dropped
			{3, 3, "nt!PspReferenceCidTableEntry+0x51", "fffff88001234567", ""}})
		if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "nt!KeBugCheckEx row") {
			t.Errorf("notes %q", c.Notes)
		}
	})
	t.Run("kb without Child-SP", func(t *testing.T) {
		c := one(t, "kb without Child-SP")
		textCheckBugCheck(t, c, 0x1E, "KMODE_EXCEPTION_NOT_HANDLED", 0xffffffffc0000005, 0xfffff88001234567, 0)
		textCheckFrames(t, c, 3, []textWantFrame{{2, 2, "mydrv+0x4567", "fffff80002ab3f60", ""}})
	})
	t.Run("kp", func(t *testing.T) {
		textCheckFrames(t, one(t, "kp"), 3, []textWantFrame{
			{1, 1, "mydrv!MyRead+0x48", "fffff80002ab6ee9", `c:\src\mydrv.c @ 120`},
			{2, 2, "mydrv!Worker::operator()+0x10", "fffff88004859e8e", ""}})
	})
	t.Run("kc", func(t *testing.T) {
		c := one(t, "kc")
		textCheckFrames(t, c, 4, []textWantFrame{
			{1, 1, "nt!KiPageFault+0x0", "", ""},
			{2, 2, "mydrv+0x0", "", ""},
			{3, 3, "mydrv!PreRead+0x0", "", ""}})
		if len(c.Notes) == 0 || !strings.Contains(c.Notes[0], "no offsets") {
			t.Errorf("notes %q", c.Notes)
		}
		textCheckFrames(t, one(t, "kc without numbers"), 3, []textWantFrame{{2, 2, "mydrv!PreRead+0x0", "", ""}})
	})
	t.Run(".cxr; k", func(t *testing.T) {
		textCheckFrames(t, one(t, ".cxr; k"), 3, []textWantFrame{
			{0, 0, "nt!PspReferenceCidTableEntry+0x51", "fffff8066d4bf461", ""}, // rip, as rsp is frame 0's Child-SP
			{2, 2, "mydrv!PreRead+0x5c", "fffff8060f10105c", ""}})
	})
	t.Run("!thread", func(t *testing.T) {
		c := one(t, "!thread")
		textCheckBugCheck(t, c, 0x154, "UNEXPECTED_STORE_EXCEPTION", 0xffffb402b9851000, 0xffffe607bc53df30, 2)
		textCheckFrames(t, c, 2, []textWantFrame{
			{1, 1, "nt!SMKM_STORE<SM_TRAITS>::SmStUnhandledExceptionFilter+0x7e", "fffff80025d9856e", ""}})
	})
	t.Run("!analyze -v", func(t *testing.T) {
		c := one(t, "!analyze -v")
		textCheckBugCheck(t, c, 0x1000007F, "UNEXPECTED_KERNEL_MODE_TRAP_M", 8, 0xffffd000209c0e70, 0xffffd000209bdf00,
			0xfffff8066d4bf461)
		textCheckFrames(t, c, 6, []textWantFrame{
			{0, 0, "nt!KeBugCheckEx+0x0", "", ""},
			{3, 3, "nt!PspReferenceCidTableEntry+0x51", "fffff8066d4bf461", ""},
			{5, 5, "mydrv!PreRead+0x5c", "fffff8060f10105c", ""}})
		if c.SymbolName != "mydrv!PreRead+5c" || c.ModuleName != "mydrv" || c.ImageName != "mydrv.sys" ||
			c.BucketID != "0x7f_8_mydrv!PreRead" || c.ProcessName != "System" {
			t.Errorf("fields %q %q %q %q %q", c.SymbolName, c.ModuleName, c.ImageName, c.BucketID, c.ProcessName)
		}
		if len(c.Modules) != 1 || c.Modules[0] != (Module{Name: "mydrv", Image: "mydrv.sys"}) {
			t.Errorf("modules %+v", c.Modules)
		}
		if len(c.Notes) != 0 {
			t.Errorf("notes %q", c.Notes)
		}
	})
	t.Run("old analyze with BugCheck line", func(t *testing.T) {
		c := one(t, "old analyze with BugCheck line")
		textCheckBugCheck(t, c, 0x1000007E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M", 0xffffffffc0000005,
			0xfffff88001234567, 0xfffff88006337738, 0xfffff88006336f90)
		textCheckFrames(t, c, 2, []textWantFrame{
			{0, 0, "mydrv+0x4567", "fffff88001234567", ""}, // from FAULTING_IP
			{1, 1, "nt!PspSystemThreadStartup+0x5a", "fffff80002d8a6ba", ""}})
		want := Module{Name: "mydrv", Image: "mydrv.sys", Timestamp: 0x5ff2e3a0}
		if len(c.Modules) != 1 || c.Modules[0] != want {
			t.Errorf("modules %+v, want %+v", c.Modules, want)
		}
		if c.BucketID != "X64_0x7E_mydrv+4567" {
			t.Errorf("bucket %q", c.BucketID)
		}
	})
	t.Run("lm", func(t *testing.T) {
		c := one(t, "lm")
		want := []Module{
			{Name: "nt", Image: "ntkrnlmp.exe", Base: 0xfffff8012a200000, Size: 0xa5c000, Timestamp: 0x557841CD},
			{Name: "mydrv", Image: "mydrv.sys", Base: 0xfffff8060f100000, Size: 0xb000, Timestamp: 0x5FF2E3A0,
				Checksum: 0x1A2B3},
			{Name: "FLTMGR", Base: 0xfffff8060f000000, Size: 0xa3000},
			{Name: "amdppm", Image: "amdppm.sys", Base: 0xfffff8060f200000, Size: 0x1b000, Timestamp: 0x5FDDB28D},
		}
		if fmt.Sprint(c.Modules) != fmt.Sprint(want) {
			t.Errorf("modules\n%+v\nwant\n%+v", c.Modules, want)
		}
		if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "1 unloaded") {
			t.Errorf("notes %q", c.Notes)
		}
	})
	t.Run("!poolused", func(t *testing.T) {
		c := one(t, "!poolused")
		want := []PoolUse{
			{Tag: "Leak", NonPagedAllocs: 119, NonPagedBytes: 4991221760},
			{Tag: "EtwB", NonPagedAllocs: 196, NonPagedBytes: 7565568, PagedAllocs: 2, PagedBytes: 131072, Binary: "nt!etw"},
			{Tag: "Io", NonPagedAllocs: 12, NonPagedBytes: 4096, PagedAllocs: 3, PagedBytes: 768, Binary: "nt!io"},
		}
		if fmt.Sprint(c.PoolUsage) != fmt.Sprint(want) {
			t.Errorf("pool\n%+v\nwant\n%+v", c.PoolUsage, want)
		}
	})
	t.Run("markdown escaped", func(t *testing.T) {
		textCheckFrames(t, one(t, "markdown escaped"), 3, []textWantFrame{
			{0, 0, "nt!IopGetFileObjectExtension+0x18", "", ""},
			{1, 1, "nt!IoGetOplockFullFoExt+0x15", "fffff8014c4647f1", ""},
			{2, 2, "dokan2!DokanDeleteFcb+0x10e", "fffff8014c464788", `D:\code\dokany\sys\util\fcb.c @ 231`}})
	})
	t.Run("cut at both ends", func(t *testing.T) {
		c := one(t, "cut at both ends")
		textCheckFrames(t, c, 3, []textWantFrame{
			{0, 0, "nt!KiExecuteAllDpcs+0x1b0", "", ""},
			{2, 2, "0xfffff802637b75b5", "fffff802637b75b5", ""}})
		if !strings.Contains(strings.Join(c.Notes, "\n"), "cut before its call site") {
			t.Errorf("notes %q", c.Notes)
		}
	})
	t.Run("two analyses", func(t *testing.T) {
		cs := textParseOK(t, "two.txt", []byte(textSynthetic["two analyses"]))
		if len(cs) != 2 || cs[0].Source != "two.txt" || cs[1].Source != "two.txt#2" {
			t.Fatalf("%d crashes", len(cs))
		}
		for _, c := range cs {
			textCheckBugCheck(t, c, 0x50, "PAGE_FAULT_IN_NONPAGED_AREA", 0xfffff880087cbd90, 0)
			textCheckFrames(t, c, 2, []textWantFrame{{1, 1, "mydrv!Read+0x10", "fffff80002ab6ee9", ""}})
		}
	})
	t.Run("two BugCheck lines", func(t *testing.T) {
		cs := textParseOK(t, "two.txt", []byte(textSynthetic["two BugCheck lines"]))
		if len(cs) != 2 {
			t.Fatalf("%d crashes", len(cs))
		}
		textCheckBugCheck(t, cs[1], 0x7F, "UNEXPECTED_KERNEL_MODE_TRAP", 8, 0x80050033, 0x406f8, 0xfffff800028a2e2e)
		textCheckFrames(t, cs[0], 2, []textWantFrame{{1, 1, "mydrv!PreRead+0x51", "fffff80002ab6ee9", ""}})
		textCheckFrames(t, cs[1], 2, []textWantFrame{{1, 1, "otherdrv!Write+0x22", "fffff80002ab6ee9", ""}})
	})
	t.Run("inline frames", func(t *testing.T) {
		textCheckFrames(t, one(t, "inline frames"), 4, []textWantFrame{
			{1, 1, "mydrv!GetXid+0x12", "fffff8066d4bf2a1", `d:\src\xid.h @ 40`},
			{2, 2, "mydrv!PreRead+0x5c", "fffff8066d4bf2a1", `d:\src\read.c @ 77`}, // the frame the inline code is in
			{3, 3, "FLTMGR!FltpPerformPreCallbacks+0x2ec", "fffff8060f10105c", ""}})
	})
	t.Run("x86 kb", func(t *testing.T) {
		c := one(t, "x86 kb")
		textCheckBugCheck(t, c, 0x7F, "UNEXPECTED_KERNEL_MODE_TRAP", 8, 0x8080f000)
		textCheckFrames(t, c, 2, []textWantFrame{{1, 1, "nt!KiTrap08+0x4b", "80a1dd4b", ""}})
	})
	t.Run("!process 0 7", func(t *testing.T) {
		// one dump's threads: one crash, the longest listing in Frames
		c := one(t, "!process 0 7")
		textCheckFrames(t, c, 3, []textWantFrame{{2, 2, "mydrv!WorkerThread+0x40", "fffff80025a1beef", ""}})
	})
	t.Run("memory dumps are not stacks", func(t *testing.T) {
		c := one(t, "memory dumps are not stacks")
		// the u listing's label gives frame 0's address
		textCheckFrames(t, c, 1, []textWantFrame{{0, 0, "nt!KeBugCheckEx+0x0", "fffff80647a16b40", ""}})
	})
}

func TestParseTextErrors(t *testing.T) {
	for name, text := range map[string]string{
		"empty":          "",
		"prose":          "The machine crashed after I installed the driver.\nAny idea?\n",
		"dq only":        "0: kd> dq ffff948c`6226f1b0\nffff948c`6226f1b0  00000000`00000000 00000000`00000000\n",
		"disassembly":    "fffff802`6d4bf457 4c8b35fa756400  mov     r14,qword ptr [nt!PspCidTable]\n",
		"lone address":   "fffff802`6d4bf457\n",
		"numbered prose": "3 drivers\n2 0x10\n10 GB of memory\n",
		"dq without prompt": "ffff948c`6226f1b0  00000000`00000000 00000000`00000000\n" +
			"ffff948c`6226f1c0  ffff948c`60dff0d0 00000000`00000000\n",
	} {
		t.Run(name, func(t *testing.T) {
			cs, err := ParseText("crash.txt", []byte(text))
			if !errors.Is(err, ErrNoCrashEvidence) || !strings.HasPrefix(err.Error(), "crash.txt: ") || cs != nil {
				t.Errorf("got %d crashes, error %v; want ErrNoCrashEvidence naming crash.txt", len(cs), err)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := ParseText("big.txt", make([]byte, MaxTextSize+1))
		if !errors.Is(err, ErrTextTooLarge) || !strings.HasPrefix(err.Error(), "big.txt: ") {
			t.Errorf("error %v, want ErrTextTooLarge naming big.txt", err)
		}
	})
}

// TestParseTextBudget feeds more stack rows than the parser keeps: it stops
// reading with a note instead of growing without bound.
func TestParseTextBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large text")
	}
	var b strings.Builder
	for i := range textMaxItems + 10 {
		fmt.Fprintf(&b, "%02x fffff880`%08x fffff800`02ab6ee9 nt!KiPageFault+0x%x\n", i%256, 0x335f8a8+16*i, i)
	}
	cs := textParseOK(t, "big.txt", []byte(b.String()))
	last := cs[len(cs)-1]
	if !strings.Contains(strings.Join(last.Notes, "\n"), "read only up to line") {
		t.Errorf("no note about the budget: %q", last.Notes)
	}
	total := 0
	for _, c := range cs {
		total += len(c.Frames)
	}
	if total > textMaxItems {
		t.Errorf("%d frames kept, more than %d", total, textMaxItems)
	}
}

func TestBugCheckName(t *testing.T) {
	for code, want := range map[uint32]string{
		0x7F:       "UNEXPECTED_KERNEL_MODE_TRAP",
		0x1000007F: "UNEXPECTED_KERNEL_MODE_TRAP",
		0x1000007E: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
		0x154:      "UNEXPECTED_STORE_EXCEPTION",
		0x133:      "DPC_WATCHDOG_VIOLATION",
		0xF5:       "FLTMGR_FILE_SYSTEM",
		0xC000021A: "WINLOGON_FATAL_ERROR",
		0xDEADDEAD: "MANUALLY_INITIATED_CRASH1",
		0x4000008A: "THREAD_TERMINATE_HELD_MUTEX",
		0:          "",
		0x12345:    "",
		0x10012345: "",
		0x2000007F: "",
	} {
		if got := BugCheckName(code); got != want {
			t.Errorf("BugCheckName(%#x) = %q, want %q", code, got, want)
		}
	}
	for code, name := range bugCheckNames {
		if back, ok := textCodeOfName(name); !ok || back != code {
			t.Errorf("%s: code %#x maps back to %#x", name, code, back)
		}
	}
	if code, ok := textCodeOfName("UNEXPECTED_KERNEL_MODE_TRAP_M"); !ok || code != 0x1000007F {
		t.Errorf("UNEXPECTED_KERNEL_MODE_TRAP_M -> %#x", code)
	}
}

func TestTextImageModule(t *testing.T) {
	for path, want := range map[string]Module{
		`\SystemRoot\system32\DRIVERS\npcap.sys`: {Name: "npcap", Image: "npcap.sys"},
		"ntkrnlmp.exe":                           {Name: "nt", Image: "ntkrnlmp.exe"},
		"hal.dll":                                {Name: "hal", Image: "hal.dll"},
		`\??\C:\drivers\360FsFlt.sys`:            {Name: "360FsFlt", Image: "360FsFlt.sys"},
	} {
		if got, ok := textImageModule(path); !ok || got != want {
			t.Errorf("textImageModule(%q) = %+v, %v; want %+v", path, got, ok, want)
		}
	}
	for _, path := range []string{"memory_corruption", "readme.txt", ".sys", `C:\x\`} {
		if m, ok := textImageModule(path); ok {
			t.Errorf("textImageModule(%q) = %+v, want none", path, m)
		}
	}
}

// textSharedFrames is how many frames each shared/windbg text gave when it
// was last measured: parsing must not lose any (more is fine; raise the
// number after checking the new frames by eye).
var textSharedFrames = map[string]int{
	"ddi-docs_issue254_0x7E_FltGetFileNameInformationUnsafe.txt":      0,
	"dokany_issue1172_1310_DokanDeleteFcb_oplock_FLTMGR.txt":          19,
	"dokany_issue176_0x3B_fltmgr_FltpDoInstanceSetupNotification.txt": 0,
	"dokany_issue230_0x3B_fltmgr_FltpFastIoDeviceControl.txt":         1,
	"dokany_issue272_0x7F_double_fault.txt":                           0,
	"dokany_issue761_0x50_360FsFlt.txt":                               0,
	"hyperplatform_issue89_0x1E.txt":                                  10,
	"npcap_issue245_0x133_dpc_watchdog.txt":                           10,
	"npcap_issue819_0xD1.txt":                                         0,
	"openzfs_issue520_spl_panic_list_remove.txt":                      8,
	"slavaim_windows-notes__FltCreateFile.txt":                        15,
	"sysinternals_issue223_0xD4_sysmon_psav3cld.txt":                  0,
	"windivert_issue129_0x1E_webfilter.txt":                           9,
	"windivert_issue280_0x1E_FwppInjectComplete.txt":                  9,
	"winfsp_issue392_0x50_rclone_Server2008.txt":                      0,
	"winfsp_issue492_0x1E_McAfee.txt":                                 0,
	"winfsp_issue587_bmsfile2drv_fltmgr_kc.txt":                       25,
}

func TestParseTextSharedFrameCounts(t *testing.T) {
	for _, f := range textSharedWindbg(t) {
		cs := textParseOK(t, f.name, f.text)
		n := 0
		for _, c := range cs {
			n += len(c.Frames)
		}
		want, ok := textSharedFrames[f.name]
		switch {
		case !ok:
			t.Errorf("%s: %d frames; a new file: add it to textSharedFrames", f.name, n)
		case n < want:
			t.Errorf("%s: %d frames, was %d", f.name, n, want)
		case n > want:
			t.Logf("%s: %d frames, more than the %d recorded", f.name, n, want)
		}
	}
}
