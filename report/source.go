package report

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/drvhazard/drvhazard/internal/winpath"
	"github.com/drvhazard/drvhazard/rules"
)

// sourceAt is the source line of the code at rva, when the result has line
// tables (a PDB).
func sourceAt(r *rules.Result, rva uint32) (file string, line int, ok bool) {
	if r == nil || r.Lines == nil || rva == 0 {
		return "", 0, false
	}
	return r.Lines.LineAt(rva)
}

// shortSource is "read.c:123" for the table and Markdown: the file's base
// name (the compiler's path may be a Windows one), or "" when unknown.
func shortSource(r *rules.Result, rva uint32) string {
	file, line, ok := sourceAt(r, rva)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s:%d", winpath.Base(file), line)
}

// sourceFinder maps the source paths a PDB records (C:\src\drv\read.c) to
// files under the source root (the repository), for SARIF: the longest
// tail of the path that names a file there wins. Answers are cached; it is
// safe for concurrent use.
type sourceFinder struct {
	root  string // absolute
	mu    sync.Mutex
	cache map[string]string
}

func newSourceFinder(root string) *sourceFinder {
	return &sourceFinder{root: root, cache: map[string]string{}}
}

// uri is the repository-relative URI of file, or "" when no tail of its
// path exists under the root.
func (s *sourceFinder) uri(file string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.cache[file]; ok {
		return u
	}
	u := ""
	parts := strings.FieldsFunc(file, func(c rune) bool { return c == '/' || c == '\\' })
	for i := range parts {
		tail := path.Join(parts[i:]...)
		if strings.Contains(parts[i], ":") || tail == "" || tail == ".." || strings.HasPrefix(tail, "../") {
			continue // a drive letter, or a path leaving the root
		}
		if st, err := os.Stat(filepath.Join(s.root, filepath.FromSlash(tail))); err == nil && st.Mode().IsRegular() {
			u = relativeURI(tail)
			break
		}
	}
	s.cache[file] = u
	return u
}

// sourcePath is the call path with the source line of each call, "PreRead
// read.c:47 -> ProcessXid util.c:28 -> PsLookupProcessByProcessId", or ""
// when the result has no line tables.
func sourcePath(r *rules.Result, f *rules.Finding) string {
	if r.Lines == nil || len(f.Path) == 0 {
		return ""
	}
	var parts []string
	for _, s := range f.Path {
		p := stepName(s.RVA, s.Name)
		if src := shortSource(r, s.Call); src != "" {
			p += " " + src
		}
		parts = append(parts, p)
	}
	if _, name, ok := strings.Cut(f.Sink, "!"); ok {
		parts = append(parts, name)
	}
	return strings.Join(parts, " -> ")
}
