package dumpcorr

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseDump feeds ParseDump arbitrary bytes with the fixture driver's
// image, so mutations reach the unwinder as well as the three layouts. Seeds:
// the head of each real dump when present (the triage dump's first 128 KB
// hold its headers, context, stack, driver list and data block table), and
// the synthetic triage, full and bitmap dumps.
func FuzzParseDump(f *testing.F) {
	for name, n := range map[string]int{"triage_x64_amdppm_0x1000007e.dmp": 128 << 10, "triage_arm64.dmp": 16 << 10} {
		b, err := os.ReadFile(filepath.Join("..", "..", "shared", "dumps", name))
		if err == nil {
			f.Add(b[:min(n, len(b))])
		}
	}
	for _, s := range dtFuzzSeeds(f) {
		f.Add(s)
	}
	images := dtFixtureImages(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseDump("fuzz.dmp", bytes.NewReader(b), int64(len(b)), images)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.dmp: ") {
				t.Errorf("error does not name the source: %v", err)
			}
			return
		}
		dtCheckInvariants(t, c, len(b))
	})
}

// dtCheckInvariants holds for every Crash ParseDump returns.
func dtCheckInvariants(t *testing.T, c Crash, size int) {
	t.Helper()
	if c.Source != "fuzz.dmp" || !c.HasBugCheck || len(c.Args) != 4 {
		t.Errorf("source %q, bugcheck %v, %d args", c.Source, c.HasBugCheck, len(c.Args))
	}
	if len(c.Frames) == 0 || len(c.Frames) > dumpMaxFrames {
		t.Errorf("%d frames", len(c.Frames))
	}
	if c.FramesFrom != "unwind" && c.FramesFrom != "scan" {
		t.Errorf("FramesFrom %q", c.FramesFrom)
	}
	for i, fr := range c.Frames {
		if fr.Index != i || !fr.HasAddress {
			t.Errorf("frame %d: %+v", i, fr)
		}
	}
	if len(c.Modules) > max(size/dumpLdrSize, size/dumpDriverEntrySize) {
		t.Errorf("%d modules from %d bytes", len(c.Modules), size)
	}
}

// FuzzParseDumpPatch reaches deeper than byte mutation of whole files: it
// keeps one of the valid synthetic dumps and overwrites three qwords of it,
// which is how a lying count, offset, page-table entry, list link or stack
// slot looks.
func FuzzParseDumpPatch(f *testing.F) {
	seeds := dtFuzzSeeds(f)
	f.Add(uint8(0), uint32(dumpHeaderSize+dumpTriageDriverCount), uint64(4000000), uint32(0), uint64(0), uint32(0), uint64(0))
	f.Add(uint8(1), uint32(dumpHdrPhysicalMemoryBlock), uint64(43), uint32(dtKernelRSP&0xfff), uint64(dtDrvBase+dtFixSehUserRet), uint32(0), uint64(0))
	f.Add(uint8(2), uint32(dumpHeaderSize+dumpBmpPages), uint64(1<<20), uint32(0), uint64(0), uint32(0), uint64(0))
	f.Add(uint8(3), uint32(0x2000+0x4000), uint64(0), uint32(0), uint64(0), uint32(0), uint64(0))
	images := dtFixtureImages(f)
	f.Fuzz(func(t *testing.T, which uint8, o1 uint32, v1 uint64, o2 uint32, v2 uint64, o3 uint32, v3 uint64) {
		b := bytes.Clone(seeds[int(which)%len(seeds)])
		for _, p := range []struct {
			off uint32
			v   uint64
		}{{o1, v1}, {o2, v2}, {o3, v3}} {
			at := int(p.off) % (len(b) - 7)
			binary.LittleEndian.PutUint64(b[at:], p.v)
		}
		c, err := ParseDump("fuzz.dmp", bytes.NewReader(b), int64(len(b)), images)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.dmp: ") {
				t.Errorf("error does not name the source: %v", err)
			}
			return
		}
		dtCheckInvariants(t, c, len(b))
	})
}

// dtFuzzSeeds are the synthetic dumps: triage, full, bitmap, and a full
// dump holding the fixture driver's pages, which unwinds from memory.
func dtFuzzSeeds(f *testing.F) [][]byte {
	m, ctx := dtKernel()
	seeds := [][]byte{
		dtNewTriage().build(),
		m.full(dtKernelHeader(m, dumpTypeFull, ctx)),
		m.bitmap(dtKernelHeader(m, dumpTypeBitmapFull, ctx), "SDMP"),
	}
	m, ctx = dtKernel()
	dtMapFixture(f, m, dtDrvBase, "msvc_patterns.clang.sys")
	return append(seeds, m.full(dtKernelHeader(m, dumpTypeFull, ctx)))
}
