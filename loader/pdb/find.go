package pdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drvhazard/drvhazard/internal/winpath"
	"github.com/drvhazard/drvhazard/loader"
)

// Find locates the PDB of the image at imagePath, whose CodeView record
// is cv. It tries, in order:
//
//  1. explicit, when it is not empty (a --pdb option): returned if the file
//     exists, whether or not it matches, so that the caller reports a wrong
//     PDB (with Open and Matches) instead of quietly using another;
//  2. for each directory of dirs, <dir>/<name>.pdb and the symbol store
//     layout <dir>/<name>.pdb/<GUID><AGE>/<name>.pdb, where <name>.pdb is
//     the file name of the CodeView record's PDB path, <GUID> is the GUID
//     as loader.CodeView.GUIDString prints it and <AGE> the age in
//     upper-case hex without padding;
//  3. next to the image: the image's name with the extension .pdb, then
//     the CodeView record's PDB file name.
//
// Candidates of steps 2 and 3 are returned only if their GUID and age
// match cv. Only their identity is read: the superblock, the stream
// directory, the PDB info stream and the start of the DBI stream.
// When none does, the error wraps ErrNotFound and lists what was tried.
func Find(imagePath string, cv loader.CodeView, explicit string, dirs []string) (string, error) {
	if explicit != "" {
		st, err := os.Stat(explicit)
		if err != nil {
			return "", err
		}
		if !st.Mode().IsRegular() {
			return "", fmt.Errorf("%s: not a regular file", explicit)
		}
		return explicit, nil
	}
	if cv.GUID == ([16]byte{}) {
		return "", fmt.Errorf("%w for %s: the image has no CodeView record to match a PDB with", ErrNotFound, imagePath)
	}
	pdbName := winpath.Base(cv.Path)
	if pdbName == "" {
		pdbName = strings.TrimSuffix(filepath.Base(imagePath), filepath.Ext(imagePath)) + ".pdb"
	}
	key := fmt.Sprintf("%s%X", cv.GUIDString(), cv.Age)
	var candidates []string
	for _, dir := range dirs {
		candidates = append(candidates, filepath.Join(dir, pdbName), filepath.Join(dir, pdbName, key, pdbName))
	}
	imageDir := filepath.Dir(imagePath)
	candidates = append(candidates,
		filepath.Join(imageDir, strings.TrimSuffix(filepath.Base(imagePath), filepath.Ext(imagePath))+".pdb"),
		filepath.Join(imageDir, pdbName))

	var tried []string
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		err := matchesFile(c, cv)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, os.ErrNotExist) {
			tried = append(tried, c+" (absent)")
		} else {
			tried = append(tried, fmt.Sprintf("%s (%v)", c, err))
		}
	}
	return "", fmt.Errorf("%w for %s (GUID %s age %d, %s): tried %s", ErrNotFound, imagePath, cv.GUIDString(), cv.Age,
		pdbName, strings.Join(tried, ", "))
}

// matchesFile reads the identity of the PDB at path (superblock, stream
// directory, PDB info stream, DBI header) and checks it against cv.
func matchesFile(path string, cv loader.CodeView) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fileErr(ErrMalformed, -1, "internal error (a bug in drvhazard's PDB reader): %v", v)
		}
	}()
	fd, size, err := openRegular(path)
	if err != nil {
		return err
	}
	defer fd.Close()
	m, err := openMSF(fd, size)
	if err != nil {
		return err
	}
	info, err := m.parseInfo()
	if err != nil {
		return err
	}
	f := &File{GUID: info.guid, Age: info.age}
	if m.exists(streamDBI) {
		b, err := m.streamHead(streamDBI, 12)
		if err != nil {
			return err
		}
		if len(b) == 12 {
			f.DBIAge = binary.LittleEndian.Uint32(b[8:]) // DBI header: signature, version, age
		}
	}
	return f.Matches(cv)
}
