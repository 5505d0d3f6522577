package release

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"time"
)

// Entry is one file of an archive.
type Entry struct {
	Name string      // slash-separated, relative
	Mode fs.FileMode // permission bits only
	Data []byte
}

// sortEntries orders entries by name, so that the archive does not depend
// on the order they were gathered in.
func sortEntries(entries []Entry) []Entry {
	s := append([]Entry(nil), entries...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// WriteZip writes entries as a zip archive, every entry stamped with mtime
// (as UTC, so that the MS-DOS time in the header does not depend on the
// builder's time zone) and compressed with Deflate.
func WriteZip(w io.Writer, entries []Entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range sortEntries(entries) {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: mtime.UTC()}
		h.SetMode(e.Mode.Perm())
		f, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("zip %s: %w", e.Name, err)
		}
		if _, err := f.Write(e.Data); err != nil {
			return fmt.Errorf("zip %s: %w", e.Name, err)
		}
	}
	return zw.Close()
}

// WriteTarGz writes entries as a gzip-compressed tar archive with fixed
// owners (0:0, no names), mtime on every entry and a gzip header without a
// name or time.
func WriteTarGz(w io.Writer, entries []Entry, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range sortEntries(entries) {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.Name,
			Mode:     int64(e.Mode.Perm()),
			Size:     int64(len(e.Data)),
			ModTime:  mtime.UTC().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar %s: %w", e.Name, err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			return fmt.Errorf("tar %s: %w", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
