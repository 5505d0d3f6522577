// Command pepatch sets section characteristics in PE images the way
// lld-link's and the WDK linker's /SECTION:name,attrs option does, and
// recomputes the optional-header checksum.  GNU ld has no such option;
// build.sh runs pepatch on the gcc images:
//
//   - -discard NAME marks the section discardable (IMAGE_SCN_MEM_DISCARDABLE),
//     as the WDK links drivers with /SECTION:INIT,D;
//   - -write NAME marks the section writable (IMAGE_SCN_MEM_WRITE), which
//     gives the W+X code section of the hvci_wx fixture (/SECTION:NAME,ERW).
//
// Images without the section are left untouched.
//
//	go run ./testdata/gen/pepatch -discard INIT a.sys b.sys
//	go run ./testdata/gen/pepatch -discard INIT -write WXCODE a.sys
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
)

const (
	scnMemDiscardable = 0x02000000
	scnMemWrite       = 0x80000000
)

func main() {
	discard := flag.String("discard", "INIT", "section name to mark discardable (empty: none)")
	write := flag.String("write", "", "section name to mark writable (empty: none)")
	flag.Parse()
	set := map[string]uint32{}
	if *discard != "" {
		set[*discard] |= scnMemDiscardable
	}
	if *write != "" {
		set[*write] |= scnMemWrite
	}
	for _, path := range flag.Args() {
		if err := patch(path, set); err != nil {
			fmt.Fprintf(os.Stderr, "pepatch: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

// patch ORs set[name] into the characteristics of every section called name.
func patch(path string, set map[string]uint32) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) < 0x40 || string(data[:2]) != "MZ" {
		return errors.New("not an MZ image")
	}
	pe := int(binary.LittleEndian.Uint32(data[0x3c:]))
	if pe+24 > len(data) || string(data[pe:pe+4]) != "PE\x00\x00" {
		return errors.New("no PE header")
	}
	nsec := int(binary.LittleEndian.Uint16(data[pe+6:]))
	optSize := int(binary.LittleEndian.Uint16(data[pe+20:]))
	opt := pe + 24
	table := opt + optSize
	if table+40*nsec > len(data) {
		return errors.New("section table out of range")
	}
	changed := false
	for i := 0; i < nsec; i++ {
		h := table + 40*i
		n := data[h : h+8]
		end := 0
		for end < 8 && n[end] != 0 {
			end++
		}
		bits, ok := set[string(n[:end])]
		if !ok {
			continue
		}
		c := binary.LittleEndian.Uint32(data[h+36:])
		if c&bits != bits {
			binary.LittleEndian.PutUint32(data[h+36:], c|bits)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	// CheckSum is at offset 64 of the optional header (PE32 and PE32+).
	sumOff := opt + 64
	binary.LittleEndian.PutUint32(data[sumOff:], checksum(data, sumOff))
	return os.WriteFile(path, data, 0o644)
}

// checksum is the PE image checksum: a 16-bit one's-complement-style sum of
// the file (checksum field excluded) plus the file length.
func checksum(data []byte, sumOff int) uint32 {
	var sum uint64
	for i := 0; i+1 < len(data); i += 2 {
		if i == sumOff || i == sumOff+2 {
			continue
		}
		sum += uint64(binary.LittleEndian.Uint16(data[i:]))
		sum = (sum & 0xffff) + (sum >> 16)
	}
	if len(data)%2 == 1 {
		sum += uint64(data[len(data)-1])
		sum = (sum & 0xffff) + (sum >> 16)
	}
	sum = (sum & 0xffff) + (sum >> 16)
	return uint32(sum) + uint32(len(data))
}
