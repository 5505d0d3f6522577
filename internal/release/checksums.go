package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ChecksumsFile is the name of the checksum list in a release directory.
const ChecksumsFile = "checksums.txt"

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteChecksums writes dir/checksums.txt for the named files of dir, one
// "<hex>  <name>" line each (sha256sum's format, which GoReleaser writes
// and `sha256sum -c` reads), sorted by name.
func WriteChecksums(dir string, names []string) error {
	names = append([]string(nil), names...)
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		sum, err := fileSHA256(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return os.WriteFile(filepath.Join(dir, ChecksumsFile), b.Bytes(), 0o644)
}

// readChecksums parses a checksum list into file name -> hex digest.
func readChecksums(r io.Reader) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != sha256.Size*2 || strings.Trim(sum, "0123456789abcdef") != "" || name == "" ||
			strings.ContainsAny(name, `/\`) {
			return nil, fmt.Errorf("%s line %d: %q is not \"<sha256 in hex>  <file name>\"", ChecksumsFile, n, line)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("%s line %d: %s listed twice", ChecksumsFile, n, name)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", ChecksumsFile, err)
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%s lists no file", ChecksumsFile)
	}
	return sums, nil
}
