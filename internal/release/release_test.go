package release

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var epoch = time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)

// peImage is the headers of a PE image: enough for debug/pe, nothing to run.
func peImage(machine uint16, plus bool, subsystem uint16) []byte {
	var b bytes.Buffer
	dos := make([]byte, 0x40)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], 0x40)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	var opt any = &pe.OptionalHeader64{Magic: 0x20b, Subsystem: subsystem, NumberOfRvaAndSizes: 16}
	if !plus {
		opt = &pe.OptionalHeader32{Magic: 0x10b, Subsystem: subsystem, NumberOfRvaAndSizes: 16}
	}
	fh := pe.FileHeader{Machine: machine, SizeOfOptionalHeader: uint16(binary.Size(opt)), Characteristics: 0x22}
	binary.Write(&b, binary.LittleEndian, fh)
	binary.Write(&b, binary.LittleEndian, opt)
	return b.Bytes()
}

// elfImage is the header of a 64-bit little-endian ELF file.
func elfImage(machine elf.Machine, typ elf.Type) []byte {
	h := elf.Header64{Type: uint16(typ), Machine: uint16(machine), Version: 1, Ehsize: 64, Phentsize: 56, Shentsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	return b.Bytes()
}

// machoImage is the header of a 64-bit Mach-O file with no load commands.
func machoImage(cpu macho.Cpu, typ macho.Type) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, macho.FileHeader{Magic: macho.Magic64, Cpu: cpu, Type: typ})
	b.Write(make([]byte, 4)) // the 64-bit header's reserved word
	return b.Bytes()
}

// goodBinary is a binary Verify accepts for t.
func goodBinary(t Target) []byte {
	switch t.GOOS {
	case "windows":
		return peImage(peMachine[t.GOARCH], true, pe.IMAGE_SUBSYSTEM_WINDOWS_CUI)
	case "linux":
		return elfImage(elfMachine[t.GOARCH], elf.ET_EXEC)
	}
	return machoImage(machoCPU[t.GOARCH], macho.TypeExec)
}

// writeRelease writes a release of synthetic binaries into a new
// directory, each archive's entries changed by edit when it is not nil.
func writeRelease(t *testing.T, edit func(Target, []Entry) []Entry) string {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for _, tg := range Targets {
		entries := []Entry{{Name: "README.md", Mode: 0o644, Data: []byte("# drvhazard\n")},
			{Name: tg.binary(), Mode: 0o755, Data: goodBinary(tg)}}
		if edit != nil {
			entries = edit(tg, entries)
		}
		name := tg.ArchiveName("v1.2.3")
		if err := writeArchive(filepath.Join(dir, name), tg, entries, epoch); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := WriteChecksums(dir, names); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVerify(t *testing.T) {
	win64 := Target{"windows", "amd64"}
	replaceBinary := func(only Target, data []byte) func(Target, []Entry) []Entry {
		return func(tg Target, e []Entry) []Entry {
			if tg == only {
				e[1].Data = data
			}
			return e
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(Target, []Entry) []Entry
		after func(t *testing.T, dir string)
		want  string // "" for none
	}{
		{name: "good release"},
		{name: "with a LICENSE", edit: func(_ Target, e []Entry) []Entry {
			return append(e, Entry{Name: "LICENSE", Mode: 0o644, Data: []byte("MIT")})
		}},
		{name: "windows/arm64 archive holds an amd64 PE", edit: replaceBinary(Target{"windows", "arm64"},
			peImage(pe.IMAGE_FILE_MACHINE_AMD64, true, pe.IMAGE_SUBSYSTEM_WINDOWS_CUI)), want: "machine 0x8664, want 0xaa64"},
		{name: "GUI program", edit: replaceBinary(win64, peImage(pe.IMAGE_FILE_MACHINE_AMD64, true, pe.IMAGE_SUBSYSTEM_WINDOWS_GUI)),
			want: "subsystem 2, want 3"},
		{name: "PE32", edit: replaceBinary(win64, peImage(pe.IMAGE_FILE_MACHINE_AMD64, false, pe.IMAGE_SUBSYSTEM_WINDOWS_CUI)),
			want: "not PE32+"},
		{name: "not a PE", edit: replaceBinary(win64, []byte("#!/bin/sh\n")), want: "not a PE image"},
		{name: "ELF for the wrong CPU", edit: replaceBinary(Target{"linux", "arm64"}, elfImage(elf.EM_X86_64, elf.ET_EXEC)),
			want: "want a 64-bit EM_AARCH64 executable"},
		{name: "ELF shared object", edit: replaceBinary(Target{"linux", "amd64"}, elfImage(elf.EM_X86_64, elf.ET_DYN)),
			want: "ET_DYN"},
		{name: "Mach-O for amd64", edit: replaceBinary(Target{"darwin", "arm64"}, machoImage(macho.CpuAmd64, macho.TypeExec)),
			want: "want a CpuArm64 executable"},
		{name: "linux binary not executable", edit: func(tg Target, e []Entry) []Entry {
			if tg.GOOS == "linux" {
				e[1].Mode = 0o644
			}
			return e
		}, want: "not executable"},
		{name: "no README", edit: func(_ Target, e []Entry) []Entry { return e[1:] }, want: "no README.md"},
		{name: "no binary", edit: func(_ Target, e []Entry) []Entry { return e[:1] }, want: "no drvhazard"},
		{name: "entry in a folder", edit: func(_ Target, e []Entry) []Entry {
			return append(e, Entry{Name: "docs/x.md", Mode: 0o644})
		}, want: `entry "docs/x.md" is not at the top`},
		{name: "archive changed after the checksums", after: func(t *testing.T, dir string) {
			appendTo(t, filepath.Join(dir, Target{"linux", "amd64"}.ArchiveName("v1.2.3")), "x")
		}, want: "SHA-256"},
		{name: "file not listed", after: func(t *testing.T, dir string) {
			appendTo(t, filepath.Join(dir, "notes.txt"), "x")
		}, want: "notes.txt is not listed"},
		{name: "listed file missing", after: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, win64.ArchiveName("v1.2.3"))); err != nil {
				t.Fatal(err)
			}
		}, want: "no such file"},
		{name: "archive missing from the list too", after: func(t *testing.T, dir string) {
			name := win64.ArchiveName("v1.2.3")
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			sums, _ := os.ReadFile(filepath.Join(dir, ChecksumsFile))
			var keep []string
			for _, l := range strings.SplitAfter(string(sums), "\n") {
				if !strings.Contains(l, name) {
					keep = append(keep, l)
				}
			}
			writeFile(t, filepath.Join(dir, ChecksumsFile), strings.Join(keep, ""))
		}, want: "no archive for windows/amd64"},
		{name: "no checksums", after: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, ChecksumsFile)); err != nil {
				t.Fatal(err)
			}
		}, want: "checksums.txt: no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRelease(t, tc.edit)
			if tc.after != nil {
				tc.after(t, dir)
			}
			err := Verify(dir, Targets)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Verify: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Verify: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestArchivesReproducible: the same entries in another order, at another
// local time zone, give the same bytes, and read back with the fixed time,
// modes and order.
func TestArchivesReproducible(t *testing.T) {
	entries := []Entry{
		{Name: "drvhazard.exe", Mode: 0o755, Data: bytes.Repeat([]byte("MZ"), 1000)},
		{Name: "README.md", Mode: 0o644, Data: []byte("# drvhazard\n")},
		{Name: "LICENSE", Mode: 0o644, Data: []byte("license\n")},
	}
	reversed := []Entry{entries[2], entries[1], entries[0]}
	elsewhere := epoch.In(time.FixedZone("UTC+9", 9*3600))
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, []Entry, time.Time) error
		zip   bool
	}{
		{"zip", func(b *bytes.Buffer, e []Entry, t time.Time) error { return WriteZip(b, e, t) }, true},
		{"tar.gz", func(b *bytes.Buffer, e []Entry, t time.Time) error { return WriteTarGz(b, e, t) }, false},
	} {
		var a, b bytes.Buffer
		if err := tc.write(&a, entries, epoch); err != nil {
			t.Fatal(err)
		}
		if err := tc.write(&b, reversed, elsewhere); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two writes of the same entries differ", tc.name)
		}
		path := filepath.Join(t.TempDir(), "a")
		writeFile(t, path, a.String())
		got, err := readArchive(path, tc.zip)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range got {
			names = append(names, e.Name)
			if !e.mtime.Equal(epoch) {
				t.Errorf("%s: %s has time %v, want %v", tc.name, e.Name, e.mtime, epoch)
			}
			want := os.FileMode(0o644)
			if e.Name == "drvhazard.exe" {
				want = 0o755
			}
			if e.Mode.Perm() != want {
				t.Errorf("%s: %s has mode %v, want %v", tc.name, e.Name, e.Mode.Perm(), want)
			}
		}
		if strings.Join(names, " ") != "LICENSE README.md drvhazard.exe" {
			t.Errorf("%s: entries %v, want them sorted", tc.name, names)
		}
	}
}

func TestReadChecksums(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		text string
		want string // an error's text, or "" for none
	}{
		{sum + "  a.zip\n" + sum + "  b.tar.gz\n", ""},
		{sum + "  a.zip\r\n", ""}, // written on Windows
		{"", "lists no file"},
		{sum + " a.zip\n", "line 1"},                   // one space
		{strings.ToUpper(sum) + "  a.zip\n", "line 1"}, // sha256sum writes lower case
		{sum[:60] + "  a.zip\n", "line 1"},
		{sum + "  \n", "line 1"},
		{sum + "  ../a.zip\n", "line 1"},
		{sum + "  a.zip\n" + sum + "  a.zip\n", "line 2: a.zip listed twice"},
	} {
		_, err := readChecksums(strings.NewReader(tc.text))
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestNamesAndVersions(t *testing.T) {
	for _, tc := range []struct{ tag, commit, want string }{
		{"", "1a2b3c4d5e6f", "v0.0.0-SNAPSHOT-1a2b3c4"},
		{"v0.3.0", "1a2b3c4d5e6f", "v0.3.0-SNAPSHOT-1a2b3c4"},
		{"v0.3.0", "1a2", "v0.3.0-SNAPSHOT-1a2"},
	} {
		if got := SnapshotVersion(tc.tag, tc.commit); got != tc.want {
			t.Errorf("SnapshotVersion(%q, %q) = %q, want %q", tc.tag, tc.commit, got, tc.want)
		}
	}
	for _, tg := range Targets {
		name := tg.ArchiveName("v0.3.0")
		got, isZip, ok := parseArchiveName(name)
		if !ok || got != tg || isZip != (tg.GOOS == "windows") {
			t.Errorf("parseArchiveName(%s) = %v %v %v", name, got, isZip, ok)
		}
	}
	if got := (Target{"windows", "arm64"}).ArchiveName("v0.3.0"); got != "drvhazard_0.3.0_windows_arm64.zip" {
		t.Errorf("windows/arm64 archive %s", got)
	}
	for _, name := range []string{"drvhazard_0.3.0_windows_amd64.tar.gz", "drvhazard_0.3.0_linux_amd64.zip",
		"drvhazard_0.3.0_plan9_amd64.tar.gz", "other_0.3.0_linux_amd64.tar.gz", "checksums.txt"} {
		if _, _, ok := parseArchiveName(name); ok {
			t.Errorf("parseArchiveName(%s) accepted", name)
		}
	}
}

func TestParseTargets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // targets joined by spaces, or an error's text
	}{
		{"windows/amd64", "windows/amd64"},
		{"windows/amd64, darwin/arm64", "windows/amd64 darwin/arm64"},
		{"windows/386", `target "windows/386" is not one of`},
		{"", `target "" is not one of`},
	} {
		ts, err := ParseTargets(tc.in)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			for _, tg := range ts {
				got += " " + tg.String()
			}
			got = strings.TrimSpace(got)
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("ParseTargets(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
