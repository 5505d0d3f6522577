package report

import (
	"net/url"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/drvhazard/drvhazard/internal/winpath"
)

// pathSyntax is how the paths given to drvhazard are read to make URIs:
// by the rules of the system it runs on. Windows' rules are winpath's
// rather than path/filepath's, so that tests on any system exercise them.
type pathSyntax struct {
	abs     func(string) (string, error)
	rel     func(root, abs string) (string, bool) // slash-separated; false when abs is not under root
	isAbs   func(string) bool
	fileURI func(abs string) string
	toSlash func(string) string
}

// unixPaths reads paths as path/filepath does on Unix.
var unixPaths = pathSyntax{
	abs: filepath.Abs,
	rel: func(root, abs string) (string, bool) {
		rel, err := filepath.Rel(root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.ToSlash(rel), true
	},
	isAbs:   filepath.IsAbs,
	fileURI: func(abs string) string { return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String() },
	toSlash: filepath.ToSlash,
}

// windowsPaths reads paths as Windows does; abs makes a path absolute
// (filepath.Abs on Windows, a fixed working directory in tests).
func windowsPaths(abs func(string) (string, error)) pathSyntax {
	return pathSyntax{abs: abs, rel: winpath.Rel, isAbs: winpath.IsAbs, fileURI: winpath.FileURI, toSlash: winpath.ToSlash}
}

// localPaths is the syntax of the system drvhazard runs on.
func localPaths() pathSyntax {
	if runtime.GOOS == "windows" {
		return windowsPaths(filepath.Abs)
	}
	return unixPaths
}

// artifactURI makes a file's URI relative to the source root (the
// repository root, so that GitHub finds the file). A relative path outside
// the root stays as it was given; an absolute one becomes a file: URI
// (file:///C:/x, file://server/share/x on Windows). Either way separators
// are forward slashes and the URI is escaped.
func artifactURI(root, p string) string { return artifactURIIn(localPaths(), root, p) }

// artifactURIIn is artifactURI with the paths read by syn; root is absolute.
func artifactURIIn(syn pathSyntax, root, p string) string {
	if abs, err := syn.abs(p); err == nil {
		if rel, ok := syn.rel(root, abs); ok {
			return relativeURI(rel)
		}
	}
	if syn.isAbs(p) {
		return syn.fileURI(p)
	}
	return relativeURI(path.Clean(syn.toSlash(p)))
}

// relativeURI escapes a slash-separated relative path as a URI reference.
func relativeURI(p string) string {
	return (&url.URL{Path: p}).String()
}
