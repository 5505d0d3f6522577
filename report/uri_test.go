package report

import (
	"testing"

	"github.com/drvhazard/drvhazard/internal/winpath"
)

// TestArtifactURIWindows makes URIs as drvhazard does on Windows, with the
// working directory C:\src\drv, on whatever system the test runs.
func TestArtifactURIWindows(t *testing.T) {
	syn := windowsPaths(func(p string) (string, error) { return winpath.Join(`C:\src\drv`, p), nil })
	for _, tc := range []struct{ root, path, want string }{
		{`C:\src\drv`, `C:\src\drv\pre.c`, "pre.c"},
		{`C:\src\drv`, `c:\SRC\Drv\x64\Release\drv.sys`, "x64/Release/drv.sys"}, // Windows ignores case
		{`C:\src\drv`, `x64\Release\drv.sys`, "x64/Release/drv.sys"},
		{`C:\src\drv`, `x64/Release\drv.sys`, "x64/Release/drv.sys"},
		{`C:\src\drv`, `.\sub\..\b.sys`, "b.sys"},
		{`C:\src\drv`, `dir with space\c#1.sys`, "dir%20with%20space/c%231.sys"},
		{`C:\src\drv\`, `C:\src\drv\pre.c`, "pre.c"},
		{`C:\src\drv`, `C:\src\pre.c`, "file:///C:/src/pre.c"},
		{`C:\src\drv`, `C:\src\drvother\pre.c`, "file:///C:/src/drvother/pre.c"},
		{`C:\src\drv`, `D:\drivers\my drv.sys`, "file:///D:/drivers/my%20drv.sys"},
		{`C:\src\drv`, `\\srv\share\x.c`, "file://srv/share/x.c"},
		{`C:\src\drv`, `..\..\elsewhere\x.sys`, "../../elsewhere/x.sys"},
		{`\\srv\share\repo`, `\\SRV\share\repo\drivers\x.sys`, "drivers/x.sys"},
	} {
		if got := artifactURIIn(syn, tc.root, tc.path); got != tc.want {
			t.Errorf("artifactURI(%s, %s) = %q, want %q", tc.root, tc.path, got, tc.want)
		}
	}
}
