package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// maxEntry caps what Verify reads of one archive entry, so that a lying
// size cannot make it allocate without bound.
const maxEntry = 512 << 20

// Verify checks a release directory: checksums.txt lists every other file
// with its right SHA-256; there is one archive for each of targets; each
// holds the binary for its platform (for Windows a PE32+ console program
// for the right machine, elsewhere an ELF or Mach-O executable for the
// right CPU) and README.md, flat, with one time on every entry.
func Verify(dir string, targets []Target) error {
	f, err := os.Open(filepath.Join(dir, ChecksumsFile))
	if err != nil {
		return err
	}
	sums, err := readChecksums(f)
	f.Close()
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if _, listed := sums[e.Name()]; !listed && e.Name() != ChecksumsFile {
			return fmt.Errorf("%s is not listed in %s", e.Name(), ChecksumsFile)
		}
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	found := map[Target]string{}
	for _, name := range names {
		path := filepath.Join(dir, name)
		got, err := fileSHA256(path)
		if err != nil {
			return err
		}
		if got != sums[name] {
			return fmt.Errorf("%s: SHA-256 %s, but %s says %s", name, got, ChecksumsFile, sums[name])
		}
		t, isZip, ok := parseArchiveName(name)
		if !ok {
			return fmt.Errorf("%s is not named as an archive of a target (%s_<version>_<os>_<arch>.zip for windows, .tar.gz for the others)", name, Program)
		}
		if prev, dup := found[t]; dup {
			return fmt.Errorf("%s and %s are both for %s", prev, name, t)
		}
		found[t] = name
		entries, err := readArchive(path, isZip)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := checkEntries(t, entries); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, t := range targets {
		if found[t] == "" {
			return fmt.Errorf("no archive for %s in %s", t, dir)
		}
	}
	return nil
}

// archived is an entry as read back, with its time.
type archived struct {
	Entry
	mtime time.Time
}

func readArchive(path string, isZip bool) ([]archived, error) {
	if isZip {
		return readZip(path)
	}
	return readTarGz(path)
}

func readZip(path string) ([]archived, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out []archived
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		data, err := readCapped(rc, f.Name)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, archived{Entry{Name: f.Name, Mode: f.Mode(), Data: data}, f.Modified})
	}
	return out, nil
}

func readTarGz(path string) ([]archived, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	var out []archived
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%s: not a regular file (type %q)", h.Name, h.Typeflag)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			return nil, fmt.Errorf("%s: owner %d:%d (%q:%q), want 0:0 and no names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		data, err := readCapped(tr, h.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, archived{Entry{Name: h.Name, Mode: h.FileInfo().Mode(), Data: data}, h.ModTime})
	}
}

func readCapped(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxEntry+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxEntry {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxEntry)
	}
	return data, nil
}

// checkEntries checks an archive's entries for target t.
func checkEntries(t Target, entries []archived) error {
	var bin *archived
	readme := false
	for i, e := range entries {
		if strings.ContainsAny(e.Name, `/\`) || e.Name == ".." {
			return fmt.Errorf("entry %q is not at the top of the archive", e.Name)
		}
		if i > 0 && !e.mtime.Equal(entries[0].mtime) {
			return fmt.Errorf("entry %s has time %s, %s has %s: a reproducible archive has one", e.Name,
				e.mtime.UTC().Format(time.RFC3339), entries[0].Name, entries[0].mtime.UTC().Format(time.RFC3339))
		}
		if i > 0 && entries[i-1].Name >= e.Name {
			return fmt.Errorf("entries %s and %s are not in sorted order", entries[i-1].Name, e.Name)
		}
		switch e.Name {
		case t.binary():
			bin = &entries[i]
		case "README.md":
			readme = true
		}
	}
	if bin == nil {
		return fmt.Errorf("no %s", t.binary())
	}
	if !readme {
		return errors.New("no README.md")
	}
	if t.GOOS != "windows" && bin.Mode.Perm()&0o111 == 0 {
		return fmt.Errorf("%s has mode %v: not executable", bin.Name, bin.Mode.Perm())
	}
	if err := checkExecutable(t, bin.Data); err != nil {
		return fmt.Errorf("%s: %w", bin.Name, err)
	}
	return nil
}

// The machine each GOARCH is in the headers of PE
// (https://learn.microsoft.com/windows/win32/debug/pe-format), ELF and
// Mach-O files.
var (
	peMachine  = map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}
	elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	machoCPU   = map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}
)

// checkExecutable checks that data is an executable for t.
func checkExecutable(t Target, data []byte) error {
	r := bytes.NewReader(data)
	switch t.GOOS {
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			return fmt.Errorf("not a PE image: %w", err)
		}
		oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
		if !ok {
			return errors.New("not PE32+: no 64-bit optional header")
		}
		if f.Machine != peMachine[t.GOARCH] {
			return fmt.Errorf("machine %#x, want %#x for %s", f.Machine, peMachine[t.GOARCH], t.GOARCH)
		}
		if oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_CUI {
			return fmt.Errorf("subsystem %d, want %d (a console program)", oh.Subsystem, pe.IMAGE_SUBSYSTEM_WINDOWS_CUI)
		}
	case "linux":
		f, err := elf.NewFile(r)
		if err != nil {
			return fmt.Errorf("not an ELF file: %w", err)
		}
		if f.Class != elf.ELFCLASS64 || f.Machine != elfMachine[t.GOARCH] || f.Type != elf.ET_EXEC {
			return fmt.Errorf("%v %v %v, want a 64-bit %v executable", f.Class, f.Machine, f.Type, elfMachine[t.GOARCH])
		}
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			return fmt.Errorf("not a Mach-O file: %w", err)
		}
		if f.Cpu != machoCPU[t.GOARCH] || f.Type != macho.TypeExec {
			return fmt.Errorf("%v %v, want a %v executable", f.Cpu, f.Type, machoCPU[t.GOARCH])
		}
	default:
		return fmt.Errorf("no check for %s", t.GOOS)
	}
	return nil
}
