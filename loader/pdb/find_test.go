package pdb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

func TestFind(t *testing.T) {
	img, err := loader.Load(filepath.Join(binDir, "mf_rdata.clang.sys"))
	if err != nil {
		t.Fatal(err)
	}
	cv := *img.CodeView
	right := readFixture(t, "mf_rdata.clang.pdb")
	wrong := readFixture(t, "mf_hazards.clang.pdb")
	storeDir := cv.GUIDString() + "1" // age 1, in hex

	// The committed layout: the PDB beside the image, same base name.
	if got, err := Find(filepath.Join(binDir, "mf_rdata.clang.sys"), cv, "", nil); err != nil || got != filepath.Join(binDir, "mf_rdata.clang.pdb") {
		t.Errorf("fixture: %q, %v", got, err)
	}

	for _, c := range []struct {
		name     string
		files    map[string][]byte // relative to the temporary root
		explicit string
		dirs     []string
		want     string // relative path, "" for an error
		wantErr  string
	}{
		{name: "explicit", files: map[string][]byte{"other/any.pdb": wrong, "drv/mf_rdata.clang.pdb": right},
			explicit: "other/any.pdb", want: "other/any.pdb"},
		{name: "explicit missing", files: map[string][]byte{"drv/mf_rdata.clang.pdb": right},
			explicit: "other/none.pdb", wantErr: "none.pdb"},
		{name: "flat directory", files: map[string][]byte{"syms/mf_rdata.clang.pdb": right, "drv/driver.pdb": right},
			dirs: []string{"empty", "syms"}, want: "syms/mf_rdata.clang.pdb"},
		{name: "symbol store", files: map[string][]byte{"store/mf_rdata.clang.pdb/" + storeDir + "/mf_rdata.clang.pdb": right},
			dirs: []string{"store"}, want: "store/mf_rdata.clang.pdb/" + storeDir + "/mf_rdata.clang.pdb"},
		{name: "stale flat copy skipped", files: map[string][]byte{
			"store/mf_rdata.clang.pdb":                                      wrong,
			"store/mf_rdata.clang.pdb.bak":                                  right,
			"store2/mf_rdata.clang.pdb/" + storeDir + "/mf_rdata.clang.pdb": right,
		}, dirs: []string{"store", "store2"}, want: "store2/mf_rdata.clang.pdb/" + storeDir + "/mf_rdata.clang.pdb"},
		{name: "beside the image, its base name", files: map[string][]byte{"drv/driver.pdb": right, "drv/mf_rdata.clang.pdb": right},
			want: "drv/driver.pdb"},
		{name: "beside the image, the CodeView name", files: map[string][]byte{"drv/mf_rdata.clang.pdb": right},
			want: "drv/mf_rdata.clang.pdb"},
		{name: "only wrong ones", files: map[string][]byte{"drv/driver.pdb": wrong, "syms/mf_rdata.clang.pdb": []byte("junk")},
			dirs: []string{"syms"}, wantErr: "no PDB found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for rel, data := range c.files {
				p := filepath.Join(root, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var dirs []string
			for _, d := range c.dirs {
				dirs = append(dirs, filepath.Join(root, d))
			}
			explicit := ""
			if c.explicit != "" {
				explicit = filepath.Join(root, c.explicit)
			}
			got, err := Find(filepath.Join(root, "drv", "driver.sys"), cv, explicit, dirs)
			if c.want != "" {
				if err != nil || got != filepath.Join(root, c.want) {
					t.Errorf("%q, %v; want %s", got, err, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q, %v; want an error with %q", got, err, c.wantErr)
			}
		})
	}
}

func TestFindNotFound(t *testing.T) {
	img, err := loader.Load(filepath.Join(binDir, "mf_rdata.clang.sys"))
	if err != nil {
		t.Fatal(err)
	}
	cv := *img.CodeView
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "driver.pdb"), readFixture(t, "mf_hazards.clang.pdb"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Find(filepath.Join(root, "driver.sys"), cv, "", []string{filepath.Join(root, "syms")})
	msg := func() string {
		if err == nil {
			return ""
		}
		return err.Error()
	}()
	for _, want := range []string{
		"no PDB found for " + filepath.Join(root, "driver.sys"),
		cv.GUIDString(),
		filepath.Join(root, "syms", "mf_rdata.clang.pdb") + " (absent)",
		filepath.Join(root, "syms", "mf_rdata.clang.pdb", cv.GUIDString()+"1", "mf_rdata.clang.pdb") + " (absent)",
		filepath.Join(root, "driver.pdb") + " (PDB does not match the image",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("%v\nwant %q in it", err, want)
		}
	}
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%v does not wrap ErrNotFound", err)
	}

	if _, err := Find("x.sys", loader.CodeView{}, "", []string{root}); !errors.Is(err, ErrNotFound) {
		t.Errorf("no CodeView record: %v", err)
	}
	if _, err := Find("x.sys", cv, filepath.Join(root, "nope.pdb"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing explicit PDB: %v", err)
	}
}

func TestSymbolStoreKey(t *testing.T) {
	cv := loader.CodeView{Age: 0x1a, Path: `D:\build\x64\Release\drv.pdb`,
		GUID: [16]byte{0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8}}
	root := t.TempDir()
	_, err := Find(filepath.Join(root, "drv.sys"), cv, "", []string{root})
	want := filepath.Join(root, "drv.pdb", "12345678"+"9ABC"+"DEF0"+"0102030405060708"+"1A", "drv.pdb")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v\nwant the symbol store path %s", err, want)
	}
}

// TestCodeViewPathName: the PDB's file name is read from the CodeView
// record's path by Windows rules on every system, so a driver built on
// Windows finds drv.pdb in a symbol directory on Linux too.
func TestCodeViewPathName(t *testing.T) {
	for _, p := range []string{
		`C:\build\x64\Release\drv.pdb`,
		`c:/build/x64/Release/drv.pdb`,
		`C:\build/x64\Release/drv.pdb`,
		`\\buildsrv\drops\x64\drv.pdb`,
		`\\?\C:\very\long\drv.pdb`,
		`C:drv.pdb`,
		`/home/ci/out/drv.pdb`,
		`drv.pdb`,
	} {
		cv := loader.CodeView{Age: 1, Path: p, GUID: [16]byte{1}}
		root := t.TempDir()
		_, err := Find(filepath.Join(root, "other.sys"), cv, "", []string{root})
		if want := filepath.Join(root, "drv.pdb") + " (absent)"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CodeView path %s: %v\nwant %s tried", p, err, want)
		}
	}
}
