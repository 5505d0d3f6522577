package winpath

import "testing"

func TestVolumeIsAbsBase(t *testing.T) {
	for _, tc := range []struct {
		p, volume string
		abs       bool
		base      string
	}{
		{`C:\build\x64\Release\drv.pdb`, "C:", true, "drv.pdb"},
		{`c:/build/x64/Release/drv.pdb`, "c:", true, "drv.pdb"},
		{`C:\build/x64\drv.pdb`, "C:", true, "drv.pdb"}, // mixed separators
		{`C:drv.pdb`, "C:", false, "drv.pdb"},           // relative to the drive's current directory
		{`C:`, "C:", false, ""},
		{`C:\`, "C:", true, ""},
		{`\\server\share\sym\drv.pdb`, `\\server\share`, true, "drv.pdb"},
		{`//server/share/x.c`, `//server/share`, true, "x.c"},
		{`\\server\share`, `\\server\share`, true, ""},
		{`\\?\C:\very\long\drv.pdb`, "C:", true, "drv.pdb"},
		{`\\?\UNC\server\share\drv.pdb`, `\\server\share`, true, "drv.pdb"},
		{`\SystemRoot\system32\drivers\fltmgr.sys`, "", false, "fltmgr.sys"},
		{`obj\amd64\drv.pdb`, "", false, "drv.pdb"},
		{`drv.pdb`, "", false, "drv.pdb"},
		{`/home/me/build/drv.pdb`, "", false, "drv.pdb"}, // a Unix path: not absolute on Windows, same base
		{`dir\`, "", false, ""},
		{``, "", false, ""},
		{`1:\x`, "", false, "x"}, // not a drive letter
	} {
		if got := Volume(tc.p); got != tc.volume {
			t.Errorf("Volume(%q) = %q, want %q", tc.p, got, tc.volume)
		}
		if got := IsAbs(tc.p); got != tc.abs {
			t.Errorf("IsAbs(%q) = %v, want %v", tc.p, got, tc.abs)
		}
		if got := Base(tc.p); got != tc.base {
			t.Errorf("Base(%q) = %q, want %q", tc.p, got, tc.base)
		}
	}
}

func TestRel(t *testing.T) {
	for _, tc := range []struct {
		root, target, rel string
		ok                bool
	}{
		{`C:\src\drv`, `C:\src\drv\pre.c`, "pre.c", true},
		{`C:\src\drv`, `c:\SRC\Drv\sub\pre.c`, "sub/pre.c", true}, // NTFS ignores case
		{`C:\src\drv\`, `C:/src/drv/sub\pre.c`, "sub/pre.c", true},
		{`C:\src\drv`, `C:\src\drv`, ".", true},
		{`C:\src\drv`, `C:\src\drv\..\other\x.c`, "", false},
		{`C:\src\drv`, `C:\src\drvx\pre.c`, "", false},
		{`C:\src\drv`, `D:\src\drv\pre.c`, "", false},
		{`C:\src\drv`, `C:\src`, "", false},
		{`\\srv\share\repo`, `\\SRV\Share\repo\a b\x.c`, "a b/x.c", true},
		{`\\srv\share\repo`, `\\srv\other\repo\x.c`, "", false},
		{`C:\src`, `src\x.c`, "", false}, // relative
	} {
		rel, ok := Rel(tc.root, tc.target)
		if rel != tc.rel || ok != tc.ok {
			t.Errorf("Rel(%q, %q) = %q, %v; want %q, %v", tc.root, tc.target, rel, ok, tc.rel, tc.ok)
		}
	}
}

func TestJoin(t *testing.T) {
	for _, tc := range []struct{ dir, p, want string }{
		{`C:\work`, `drivers\x.sys`, `C:\work\drivers\x.sys`},
		{`C:\work\`, `x.sys`, `C:\work\x.sys`},
		{`C:\work`, `D:\x.sys`, `D:\x.sys`},
		{`C:\work`, `\\srv\share\x.sys`, `\\srv\share\x.sys`},
		{`C:\work`, ``, `C:\work`},
	} {
		if got := Join(tc.dir, tc.p); got != tc.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tc.dir, tc.p, got, tc.want)
		}
	}
}

func TestFileURI(t *testing.T) {
	for _, tc := range []struct{ p, want string }{
		{`C:\src\drv\pre.c`, "file:///C:/src/drv/pre.c"},
		{`C:/src/drv/pre.c`, "file:///C:/src/drv/pre.c"},
		{`C:\src\my drv\pre#1.c`, "file:///C:/src/my%20drv/pre%231.c"},
		{`C:\src\.\drv\..\pre.c`, "file:///C:/src/pre.c"},
		{`\\srv\share\x.c`, "file://srv/share/x.c"},
		{`\\srv\share\dir with space\x.c`, "file://srv/share/dir%20with%20space/x.c"},
		{`\\?\C:\long\x.c`, "file:///C:/long/x.c"},
		{`\\?\UNC\srv\share\x.c`, "file://srv/share/x.c"},
		{`C:\`, "file:///C:/"},
		{`src\x.c`, ""},
		{`C:x.c`, ""},
	} {
		if got := FileURI(tc.p); got != tc.want {
			t.Errorf("FileURI(%q) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
