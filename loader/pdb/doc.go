// Package pdb reads the parts of a PDB 7.0 program database that name and
// locate code: the procedures of each module, the public and global symbols,
// the C13 line tables and the identity (GUID and age) that ties the PDB to
// an image's CodeView record.
//
// A PDB is an MSF ("multi-stream file") container: a superblock, a free
// block map, and numbered streams stored in fixed-size blocks listed by a
// stream directory. This package reads, in this order:
//
//   - the MSF superblock and stream directory;
//   - stream 1, the PDB info stream (version, signature, age, GUID, and the
//     named stream map that locates the "/names" string table);
//   - stream 3, the DBI stream: its header, the module info substream, the
//     section contributions, the section map, the file info and the
//     optional debug header, which gives the section header stream (and, for
//     images rewritten after linking, the original section headers and the
//     OMAP address map);
//   - the symbol record stream through the publics stream (S_PUB32) and the
//     globals stream (S_GDATA32, S_LDATA32);
//   - every module's symbol stream (S_GPROC32, S_LPROC32 and their _ID
//     variants, S_THUNK32, S_LDATA32/S_GDATA32) and its C13 line information
//     (DEBUG_S_LINES blocks resolved through DEBUG_S_FILECHKSMS to the
//     "/names" string table).
//
// The type and id streams (TPI, IPI) and the hash tables are not read. Older
// formats are refused with [ErrUnsupported]: PDB 2.0 files ("Microsoft C/C++
// program database 2.00") and DBI streams older than VC 7.0. Lines in the
// C11 format (before VC 7.0) are not read: such a module's procedures are,
// and a warning says its lines are missing.
//
// The layouts follow Microsoft's reference implementation and LLVM's
// description of the format:
//
//   - https://github.com/microsoft/microsoft-pdb (PDB/msf/msf.cpp,
//     PDB/dbi/dbi.h, PDB/dbi/gsi.h, PDB/include/dbicommon.h,
//     langapi/include/pdb.h, include/cvinfo.h)
//   - https://llvm.org/docs/PDB/index.html (MsfFile, PdbStream, DbiStream,
//     ModiStream, PublicStream, GlobalStream, HashTable, CodeViewSymbols)
//
// # Security
//
// PDBs come from the same places as the drivers they describe: symbol
// stores, build folders, attachments to crash reports. This package treats
// every byte as hostile and guarantees, for any input:
//
//   - no panic escapes [Open] or [Parse];
//   - files larger than [MaxFileSize] are refused before they are read, and
//     memory use is bounded by a small multiple of the file size: every
//     stream size, block index, count and offset is checked against the
//     bytes present before it is used to allocate or to slice, and the bytes
//     read from streams, and the bytes of the strings that offsets point to,
//     are each capped at twice the file size, so that a directory listing the
//     same blocks for many streams, or offsets pointing into the same long
//     string again and again, cannot multiply the work;
//   - the file is read through an [io.ReaderAt], one stream at a time, and
//     only the streams listed above are read;
//   - every refusal of the contents is a [*FormatError] that says what is
//     wrong, in which stream and at which offset, with the offending value.
//     Damage confined to details of the DBI stream (section contributions,
//     section map, file info), to one module's symbols or lines, or to the
//     public or global symbols does not refuse the file: the damaged part is
//     skipped and named in [File.Warnings].
package pdb
