// Command pepatch marks named sections of PE images discardable
// (IMAGE_SCN_MEM_DISCARDABLE), the way the WDK links drivers with
// /SECTION:INIT,D, and recomputes the optional-header checksum.  GNU ld has
// no option for this; build.sh runs it on the gcc images.  Images without
// the section are left untouched.
//
//	go run ./testdata/gen/pepatch -discard INIT a.sys b.sys
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
)

const scnMemDiscardable = 0x02000000

func main() {
	section := flag.String("discard", "INIT", "section name to mark discardable")
	flag.Parse()
	for _, path := range flag.Args() {
		if err := patch(path, *section); err != nil {
			fmt.Fprintf(os.Stderr, "pepatch: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func patch(path, name string) error {
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
		if string(n[:end]) != name {
			continue
		}
		c := binary.LittleEndian.Uint32(data[h+36:])
		if c&scnMemDiscardable == 0 {
			binary.LittleEndian.PutUint32(data[h+36:], c|scnMemDiscardable)
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
