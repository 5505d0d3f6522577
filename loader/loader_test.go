package loader

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtures returns the committed x64 fixture drivers (built from our own C
// sources by testdata/build.sh).
func fixtures(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob("../testdata/bin/*.sys")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		if !strings.HasPrefix(filepath.Base(p), "bad_") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no fixture drivers in ../testdata/bin: run testdata/build.sh")
	}
	return out
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/bin", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadFixtures(t *testing.T) {
	for _, path := range fixtures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			img, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if img.Machine != MachineAMD64 {
				t.Errorf("machine = %v", img.Machine)
			}
			if !img.Executable(img.EntryRVA) {
				t.Errorf("entry point %#x is not in an executable section", img.EntryRVA)
			}
			if len(img.Imports) == 0 {
				t.Error("no imports")
			}
			for _, imp := range img.Imports {
				if imp.Module == "" || (imp.Name == "" && !imp.ByOrdinal) {
					t.Errorf("import %+v lacks a module or name", imp)
				}
				if got, ok := img.ImportAt(imp.Slot); !ok || got.Name != imp.Name {
					t.Errorf("ImportAt(%#x) = %v, %v", imp.Slot, got, ok)
				}
			}
			if len(img.RuntimeFunctions) == 0 {
				t.Error("no .pdata entries")
			}
			for i := 1; i < len(img.Relocs); i++ {
				if img.Relocs[i-1] >= img.Relocs[i] {
					t.Fatalf("relocations not sorted/unique at %d", i)
				}
			}
			if len(img.Warnings) > 0 {
				t.Errorf("warnings on a clean fixture: %v", img.Warnings)
			}
			// lld-link images (NAME.clang.sys, NAME.clang-O0.sys, ...) have no symbol table.
			stripped := strings.Contains(path, ".stripped.") || strings.Contains(path, ".clang")
			if hasFuncSym := hasFunctionSymbol(img); hasFuncSym == stripped {
				t.Errorf("function symbols present = %v, want %v", hasFuncSym, !stripped)
			}
		})
	}
}

func hasFunctionSymbol(img *Image) bool {
	for _, s := range img.Symbols {
		if s.Function {
			return true
		}
	}
	return false
}

// layout locates the header fields a mutation patches.
type layout struct {
	lfanew, coff, opt, sections int
	nsec                        int
}

func layoutOf(b []byte) layout {
	var l layout
	l.lfanew = int(binary.LittleEndian.Uint32(b[0x3c:]))
	l.coff = l.lfanew + 4
	l.nsec = int(binary.LittleEndian.Uint16(b[l.coff+2:]))
	l.opt = l.coff + 20
	l.sections = l.opt + int(binary.LittleEndian.Uint16(b[l.coff+16:]))
	return l
}

func TestRejects(t *testing.T) {
	good := readFixture(t, "mf_rdata.gcc.sys")
	l := layoutOf(good)
	mutate := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	put16 := func(b []byte, off int, v uint16) []byte { binary.LittleEndian.PutUint16(b[off:], v); return b }
	put32 := func(b []byte, off int, v uint32) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	relocDir := l.opt + 112 + 5*8
	relocRVA := binary.LittleEndian.Uint32(good[relocDir:])

	stripped := readFixture(t, "mf_rdata.gcc.stripped.sys")
	tests := []struct {
		name string
		data []byte
		kind error
		want string
	}{
		{"empty", nil, ErrNotPE, "no MZ signature"},
		{"one byte", []byte{'M'}, ErrNotPE, "no MZ signature"},
		{"text", []byte("hello, this is not a driver at all, just some text\n"), ErrNotPE, "no MZ signature"},
		{"elf", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 120)...), ErrNotPE, "no MZ signature"},
		{"dos header only", good[:0x40], ErrNotPE, "e_lfanew"},
		{"truncated in section table", good[:l.sections+20], ErrMalformed, "section table"},
		{"truncated in raw data", good[:len(good)/2], ErrMalformed, "truncated"},
		{"truncated by one byte", good[:len(good)-1], ErrMalformed, "truncated"},
		{"stripped truncated by one byte", stripped[:len(stripped)-1], ErrMalformed, "truncated"},
		{"e_lfanew huge", mutate(func(b []byte) []byte { return put32(b, 0x3c, 0xfffffff0) }), ErrNotPE, "e_lfanew"},
		{"no PE signature", mutate(func(b []byte) []byte { b[l.lfanew] = 'X'; return b }), ErrNotPE, "no PE signature"},
		{"x86 machine", mutate(func(b []byte) []byte { return put16(b, l.coff, 0x14c) }), ErrUnsupportedMachine, "x86 (32-bit)"},
		{"arm64 machine", mutate(func(b []byte) []byte { return put16(b, l.coff, 0xaa64) }), ErrUnsupportedMachine, "arm64"},
		{"PE32 magic", mutate(func(b []byte) []byte { return put16(b, l.opt, 0x10b) }), ErrMalformed, "not PE32+"},
		{"tiny optional header", mutate(func(b []byte) []byte { return put16(b, l.coff+16, 0x20) }), ErrMalformed, "SizeOfOptionalHeader"},
		{"no sections", mutate(func(b []byte) []byte { return put16(b, l.coff+2, 0) }), ErrMalformed, "NumberOfSections"},
		{"too many sections", mutate(func(b []byte) []byte { return put16(b, l.coff+2, 0xffff) }), ErrMalformed, "NumberOfSections"},
		{"huge raw size", mutate(func(b []byte) []byte { return put32(b, l.sections+16, 0xfffff000) }), ErrMalformed, "runs past the end"},
		{"huge virtual size", mutate(func(b []byte) []byte { return put32(b, l.sections+8, 0xfffff000) }), ErrMalformed, "SizeOfImage"},
		{"overlapping sections", mutate(func(b []byte) []byte {
			// Move the second section's RVA into the first.
			rva := binary.LittleEndian.Uint32(b[l.sections+12:])
			return put32(b, l.sections+40+12, rva+0x10)
		}), ErrMalformed, "overlap"},
		{"relocation outside image", mutate(func(b []byte) []byte {
			img, err := LoadBytes(good)
			if err != nil || relocRVA == 0 {
				t.Fatalf("fixture has no relocations to corrupt: %v", err)
			}
			s := img.Section(relocRVA)
			off := int(s.Offset + relocRVA - s.RVA)
			return put32(b, off, img.SizeOfImage) // first block's page RVA
		}), ErrMalformed, "outside the image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := LoadBytes(tc.data)
			if err == nil {
				t.Fatalf("loaded (%d sections), want an error", len(img.Sections))
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// The reject fixtures are real images for other machines, built by
// testdata/build.sh.
func TestRejectOtherMachines(t *testing.T) {
	for prefix, want := range map[string]string{"bad_x86": "x86 (32-bit)", "bad_arm64": "arm64"} {
		paths, _ := filepath.Glob("../testdata/bin/" + prefix + ".*.sys")
		if len(paths) == 0 {
			t.Errorf("no %s fixture", prefix)
		}
		for _, path := range paths {
			_, err := Load(path)
			if !errors.Is(err, ErrUnsupportedMachine) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: %v, want an unsupported-machine error naming the file and %q", path, err, want)
			}
		}
	}
}

func TestLoadNames(t *testing.T) {
	if _, err := Load("../testdata/bin/does-not-exist.sys"); err == nil || !strings.Contains(err.Error(), "does-not-exist.sys") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load("../testdata"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestSectionLookups(t *testing.T) {
	img, err := LoadBytes(readFixture(t, "mf_rdata.gcc.sys"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range img.Sections {
		s := &img.Sections[i]
		if s.Size() == 0 {
			continue
		}
		for _, rva := range []uint32{s.RVA, s.End() - 1} {
			if got := img.Section(rva); got != s {
				t.Errorf("Section(%#x) = %v, want %s", rva, got, s.Name)
			}
		}
	}
	if img.Section(0) != nil {
		t.Error("Section(0) (headers) should be nil")
	}
	if img.Section(img.SizeOfImage) != nil {
		t.Error("Section(SizeOfImage) should be nil")
	}
}

// FuzzLoad checks that no input panics the loader, that failures are
// one-line errors of a known kind, and that accepted images answer lookups.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"mf_rdata.gcc.sys", "mf_stack.clang.sys", "thunks.gcc.stripped.sys"} {
		if b, err := os.ReadFile(filepath.Join("../testdata/bin", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				// A panic kills the worker; the fuzzer keeps the input.
				panic("LoadBytes ran for over 5s")
			}
		}()
		img, err := LoadBytes(data)
		if err != nil {
			if !errors.Is(err, ErrNotPE) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedMachine) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		for _, imp := range img.Imports {
			img.ImportAt(imp.Slot)
		}
		for _, r := range img.Relocs {
			img.PointerAt(r)
		}
		img.Bytes(img.EntryRVA, 64)
	})
}
