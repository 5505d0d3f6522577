// Package winpath reads paths written by Windows, whatever the system
// drvhazard runs on: the PDB path in a driver's CodeView record
// (C:\build\x64\Release\drv.pdb), source paths in a PDB, module paths in a
// crash dump (\SystemRoot\system32\drivers\x.sys), and the local paths of
// drvhazard itself when it runs on Windows. path/filepath follows the rules
// of the system it runs on, so on Linux it reads such a path as one file
// name with backslashes in it.
//
// Both \ and / separate elements, as they do for the Windows API; a volume is
// a drive ("C:") or a UNC share (\\server\share); comparisons of names ignore
// case, as NTFS does by default. Long-path prefixes (\\?\C:\x, \\?\UNC\s\x)
// are read as the paths they name.
package winpath

import (
	"net/url"
	"strings"
)

// IsSep reports whether c separates path elements on Windows.
func IsSep(c byte) bool { return c == '\\' || c == '/' }

// stripLong removes a \\?\ or \\.\ prefix: \\?\C:\x is C:\x and
// \\?\UNC\srv\share\x is \\srv\share\x.
func stripLong(p string) string {
	if len(p) < 4 || !IsSep(p[0]) || !IsSep(p[1]) || (p[2] != '?' && p[2] != '.') || !IsSep(p[3]) {
		return p
	}
	rest := p[4:]
	if len(rest) >= 4 && strings.EqualFold(rest[:3], "UNC") && IsSep(rest[3]) {
		return `\\` + rest[4:]
	}
	return rest
}

// Volume is the volume at the start of p: "C:" for a drive, `\\srv\share`
// (as written) for a UNC path, or "".
func Volume(p string) string {
	p = stripLong(p)
	if len(p) >= 2 && p[1] == ':' && isLetter(p[0]) {
		return p[:2]
	}
	if len(p) >= 3 && IsSep(p[0]) && IsSep(p[1]) && !IsSep(p[2]) {
		// \\server\share: the volume ends after the share's name.
		n, seps := 2, 0
		for ; n < len(p); n++ {
			if IsSep(p[n]) {
				if seps++; seps == 2 {
					break
				}
			}
		}
		return p[:n]
	}
	return ""
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// IsAbs reports whether p names one file wherever it is read: a drive with
// a root (C:\x, C:/x) or a UNC path. C:x (relative to the drive's current
// directory) and \x (relative to the current drive) are not absolute.
func IsAbs(p string) bool {
	p = stripLong(p)
	v := Volume(p)
	switch {
	case v == "":
		return false
	case len(v) == 2: // a drive
		return len(p) > 2 && IsSep(p[2])
	}
	return true
}

// Base is the last element of p, "" when p ends with a separator or is
// only a volume: Base(`C:\build\x64\Release\drv.pdb`) is "drv.pdb", and
// so is Base("C:drv.pdb").
func Base(p string) string {
	p = stripLong(p)
	p = p[len(Volume(p)):]
	for i := len(p) - 1; i >= 0; i-- {
		if IsSep(p[i]) {
			return p[i+1:]
		}
	}
	return p
}

// ToSlash replaces every backslash of p with a slash.
func ToSlash(p string) string { return strings.ReplaceAll(p, `\`, "/") }

// elements splits p after its volume into its elements, without empty
// ones and ".", with ".." applied (never above the root).
func elements(p string) []string {
	var out []string
	for _, e := range strings.FieldsFunc(p, func(r rune) bool { return r == '\\' || r == '/' }) {
		switch e {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, e)
		}
	}
	return out
}

// Rel is the slash-separated path of target relative to root when target
// is root or lies below it, both absolute; ok is false otherwise. Volumes
// and names are compared without regard to case.
func Rel(root, target string) (rel string, ok bool) {
	root, target = stripLong(root), stripLong(target)
	if !IsAbs(root) || !IsAbs(target) || !strings.EqualFold(ToSlash(Volume(root)), ToSlash(Volume(target))) {
		return "", false
	}
	r, t := elements(root[len(Volume(root)):]), elements(target[len(Volume(target)):])
	if len(t) < len(r) {
		return "", false
	}
	for i := range r {
		if !strings.EqualFold(r[i], t[i]) {
			return "", false
		}
	}
	if len(t) == len(r) {
		return ".", true
	}
	return strings.Join(t[len(r):], "/"), true
}

// Join joins a directory and a relative path, as a Windows program would
// make a path absolute from its working directory.
func Join(dir, p string) string {
	if p == "" {
		return dir
	}
	if dir == "" || IsAbs(p) {
		return p
	}
	return strings.TrimRight(dir, `\/`) + `\` + p
}

// FileURI is the file: URI of an absolute path, escaped (RFC 8089):
// C:\src\drv\pre.c is file:///C:/src/drv/pre.c and \\srv\share\x.c is
// file://srv/share/x.c. "" when p is not absolute.
func FileURI(p string) string {
	p = stripLong(p)
	if !IsAbs(p) {
		return ""
	}
	v := Volume(p)
	rest := "/" + strings.Join(elements(p[len(v):]), "/")
	if len(v) == 2 {
		return (&url.URL{Scheme: "file", Path: "/" + v + rest}).String()
	}
	// UNC: the server is the URI's host, the share the first element.
	server, share, _ := strings.Cut(ToSlash(v[2:]), "/")
	return (&url.URL{Scheme: "file", Host: server, Path: "/" + share + strings.TrimSuffix(rest, "/")}).String()
}
