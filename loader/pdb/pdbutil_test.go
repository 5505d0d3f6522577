package pdb

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestAgainstPdbutil compares what this package reads from every fixture
// PDB with LLVM's reference dumper: sections, publics, procedures and
// thunks, and every line table entry. It is skipped when llvm-pdbutil is
// not installed (Debian package llvm).
func TestAgainstPdbutil(t *testing.T) {
	tool, err := exec.LookPath("llvm-pdbutil")
	if err != nil {
		t.Skip("llvm-pdbutil is not installed: the comparison with LLVM's dumper is skipped")
	}
	for _, name := range fixtures(t) {
		if name == "large" && testing.Short() {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(binDir, name+".clang.pdb")
			out, err := exec.Command(tool, "dump", "-modules", "-symbols", "-l", "-publics", "-section-headers", path).Output()
			if err != nil {
				t.Fatalf("llvm-pdbutil: %v", err)
			}
			want := parsePdbutil(t, out)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			comparePdbutil(t, f, want)
		})
	}
}

type pdbutilDump struct {
	sections []uint32 // virtual addresses, by section number - 1
	names    []string
	publics  map[sym]bool
	procs    map[Function]bool // with seg:off still to convert: RVA holds the offset, Kind the segment
	lines    []pdbutilLine
}

type pdbutilLine struct {
	file      string
	seg       uint16
	off, line uint32
	end       uint32 // end of the fragment (offset in the section)
}

var (
	reSecName  = regexp.MustCompile(`^\s+(\S+) name$`)
	reSecVA    = regexp.MustCompile(`^\s+([0-9A-F]+) virtual address$`)
	reRecord   = regexp.MustCompile("^\\s+\\d+ \\| (S_\\w+) \\[size = \\d+\\] `(.*)`$")
	reAddr     = regexp.MustCompile(`addr = (\d{4}):(\d+)`)
	reCodeSize = regexp.MustCompile(`code size = (\d+)`)
	reThunk    = regexp.MustCompile(`kind = \w+, size = (\d+), addr = (\d{4}):(\d+)`)
	reFile     = regexp.MustCompile(`^(\S.*) \((?:MD5|SHA1|SHA256|None)`)
	reFragment = regexp.MustCompile(`^\s+([0-9A-F]{4}):([0-9A-F]{8})-([0-9A-F]{8}), line/addr entries = \d+`)
	reLine     = regexp.MustCompile(`(\d+) ([0-9A-F]{8}) `)
)

// parsePdbutil reads the parts of llvm-pdbutil's dump that the comparison
// needs. Addresses are seg:off, decimal in symbol records and hex in line
// tables.
func parsePdbutil(t *testing.T, out []byte) *pdbutilDump {
	t.Helper()
	d := &pdbutilDump{publics: map[sym]bool{}, procs: map[Function]bool{}}
	var pending string // the record kind whose details follow
	var pendingName string
	var file string
	var frag pdbutilLine
	inLines := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	num := func(s string, base int) uint32 {
		v, err := strconv.ParseUint(s, base, 32)
		if err != nil {
			t.Fatalf("llvm-pdbutil output: %q: %v", s, err)
		}
		return uint32(v)
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "                           Lines                            ":
			inLines = true
		case line == "                          Symbols                           " ||
			line == "                       Public Symbols                       ":
			inLines = false
		}
		if m := reSecName.FindStringSubmatch(line); m != nil {
			d.names = append(d.names, m[1])
			continue
		}
		if m := reSecVA.FindStringSubmatch(line); m != nil {
			d.sections = append(d.sections, num(m[1], 16))
			continue
		}
		if m := reRecord.FindStringSubmatch(line); m != nil {
			pending, pendingName = m[1], m[2]
			continue
		}
		switch pending {
		case "S_PUB32":
			if m := reAddr.FindStringSubmatch(line); m != nil {
				d.publics[sym{rva: num(m[1], 10)<<24 | num(m[2], 10), name: pendingName}] = true
				pending = ""
			}
		case "S_GPROC32", "S_LPROC32", "S_GPROC32_ID", "S_LPROC32_ID":
			if m := reAddr.FindStringSubmatch(line); m != nil {
				size := reCodeSize.FindStringSubmatch(line)
				d.procs[Function{Name: pendingName, RVA: num(m[2], 10), Size: num(size[1], 10), Kind: FunctionKind(num(m[1], 10))}] = true
				pending = ""
			}
		case "S_THUNK32":
			if m := reThunk.FindStringSubmatch(line); m != nil {
				d.procs[Function{Name: pendingName, RVA: num(m[3], 10), Size: num(m[1], 10), Kind: FunctionKind(num(m[2], 10))}] = true
				pending = ""
			}
		}
		if !inLines {
			continue
		}
		if m := reFile.FindStringSubmatch(line); m != nil {
			file = m[1]
			continue
		}
		if m := reFragment.FindStringSubmatch(line); m != nil {
			frag = pdbutilLine{file: file, seg: uint16(num(m[1], 16)), end: num(m[3], 16)}
			continue
		}
		if frag.seg != 0 {
			for _, m := range reLine.FindAllStringSubmatch(line, -1) {
				l := frag
				l.line, l.off = num(m[1], 10), num(m[2], 16)
				d.lines = append(d.lines, l)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(d.sections) == 0 || len(d.names) != len(d.sections) || len(d.publics) == 0 || len(d.procs) == 0 || len(d.lines) == 0 {
		t.Fatalf("llvm-pdbutil output not understood: %d sections, %d names, %d publics, %d procedures, %d lines",
			len(d.sections), len(d.names), len(d.publics), len(d.procs), len(d.lines))
	}
	return d
}

func comparePdbutil(t *testing.T, f *File, d *pdbutilDump) {
	rva := func(seg, off uint32) uint32 {
		if seg == 0 || int(seg) > len(d.sections) {
			t.Fatalf("llvm-pdbutil names section %d, there are %d", seg, len(d.sections))
		}
		return d.sections[seg-1] + off
	}
	if len(f.Sections) != len(d.sections) {
		t.Fatalf("%d sections, llvm-pdbutil %d", len(f.Sections), len(d.sections))
	}
	for i, s := range f.Sections {
		if s.Name != d.names[i] || s.RVA != d.sections[i] {
			t.Errorf("section %d: %s at %#x, llvm-pdbutil %s at %#x", i+1, s.Name, s.RVA, d.names[i], d.sections[i])
		}
	}

	pubs := map[sym]bool{}
	for p := range d.publics {
		pubs[sym{rva(p.rva>>24, p.rva&0xFFFFFF), p.name}] = true
	}
	have := map[sym]bool{}
	for _, p := range f.Publics() {
		have[sym{p.RVA, p.Name}] = true
		if !pubs[sym{p.RVA, p.Name}] {
			t.Errorf("public %s at %#x: not in llvm-pdbutil's dump", p.Name, p.RVA)
		}
	}
	for p := range pubs {
		if !have[p] {
			t.Errorf("public %s at %#x: in llvm-pdbutil's dump, not read", p.name, p.rva)
		}
	}

	procs := map[sym]uint32{}
	for p := range d.procs {
		procs[sym{rva(uint32(p.Kind), p.RVA), p.Name}] = p.Size
	}
	n := 0
	for _, fn := range f.Functions() {
		if fn.Kind == KindPublic {
			continue
		}
		n++
		if size, ok := procs[sym{fn.RVA, fn.Name}]; !ok || size != fn.Size {
			t.Errorf("%s %s at %#x size %d: llvm-pdbutil has size %d (listed: %v)", fn.Kind, fn.Name, fn.RVA, fn.Size, size, ok)
		}
	}
	if n != len(procs) {
		t.Errorf("%d procedures and thunks, llvm-pdbutil lists %d", n, len(procs))
	}

	// Each entry's line holds from its offset to the next entry's offset
	// or the end of its fragment; when two entries share an offset, the
	// last one wins.
	checked := 0
	for i, l := range d.lines {
		if i+1 < len(d.lines) && d.lines[i+1].seg == l.seg && d.lines[i+1].end == l.end && d.lines[i+1].off == l.off {
			continue
		}
		if l.off >= l.end || l.line == 0 || l.line == lineHidden1 || l.line == lineHidden2 {
			continue
		}
		at := rva(uint32(l.seg), l.off)
		got, ok := f.LineAt(at)
		if !ok || got.Line != int(l.line) || got.File != l.file {
			t.Errorf("LineAt(%#x) = %s:%d, %v; llvm-pdbutil: %s:%d", at, got.File, got.Line, ok, l.file, l.line)
			if checked > 20 {
				t.FailNow()
			}
		}
		checked++
	}
	if checked == 0 {
		t.Error("no line entries compared")
	}
}
