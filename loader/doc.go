// Package loader reads x64 Windows kernel-mode PE images (.sys) into an
// [Image]: sections with their paging attributes, imports keyed by IAT slot,
// exports, base relocations, .pdata runtime functions, COFF symbols, the
// CodeView (PDB) identity and the Control Flow Guard pointers of the load
// configuration.
//
// The PE/COFF structures are decoded by github.com/saferwall/pe; this package
// validates what that library accepts, keeps its own RVA-to-file-offset table
// for the hot paths of the disassembler, and parses the export directory and
// the load configuration itself because the library prints to standard output
// on some malformed inputs of those two.
//
// # Security
//
// drvhazard parses hostile binaries: drivers from the field, fuzzed inputs,
// deliberately malformed files. This package guarantees, for any input bytes:
//
//   - no panic escapes Load or LoadBytes (a panic inside the PE library is
//     recovered and returned as an error);
//   - memory use is bounded by a small multiple of the file size: no size or
//     count read from a header is used to allocate before it is checked
//     against the bytes actually present, and files larger than [MaxFileSize]
//     are refused before they are read;
//   - nothing is written to standard output or standard error;
//   - every refusal is an error that names what is wrong and, where it makes
//     sense, the file offset or RVA and the offending value.
//
// Images that are not x64 (PE32, ARM64, ...) are refused with
// [ErrUnsupportedMachine]; anything that is not a PE image with [ErrNotPE].
package loader
