// Package release builds drvhazard's release archives: the binary of
// cmd/drvhazard for each platform Windows driver teams use, cross-compiled
// with CGO_ENABLED=0 and -trimpath and stamped with version, commit and date,
// packed as GoReleaser packs them (a zip for Windows, a tar.gz elsewhere,
// named drvhazard_<version>_<os>_<arch>) with a checksums.txt of SHA-256
// lines, and Verify, which checks such a directory.
//
// It stands in for GoReleaser, the convention of Go CLIs, because no
// approved release of GoReleaser is served to this project's machines. It
// does only what drvhazard needs of it: no publishing, no signing.
//
// The archives are reproducible: every entry's time is the commit's time
// (or SOURCE_DATE_EPOCH), entries are sorted, modes, owners and the gzip
// header are fixed, so the same commit built with the same Go gives the same
// bytes.
package release
