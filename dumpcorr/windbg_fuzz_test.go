package dumpcorr

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// textSeedTexts are the shared texts (when present) and the synthetic ones,
// in a fixed order.
func textSeedTexts() [][]byte {
	var texts [][]byte
	for _, pattern := range []string{"windbg/*.txt", "seeds/*.txt"} {
		paths, _ := filepath.Glob(filepath.Join("..", "..", "shared", pattern))
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				texts = append(texts, data)
			}
		}
	}
	names := make([]string, 0, len(textSynthetic))
	for name := range textSynthetic {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		texts = append(texts, []byte(textSynthetic[name]))
	}
	return texts
}

// FuzzParseText: any bytes give crashes or an error, never a panic, and what
// comes back is consistent and bounded by the input.
func FuzzParseText(f *testing.F) {
	for _, text := range textSeedTexts() {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParseText("fuzz.txt", data)
		if err != nil {
			if cs != nil || !errors.Is(err, ErrNoCrashEvidence) && !errors.Is(err, ErrTextTooLarge) {
				t.Fatalf("error %v with %d crashes", err, len(cs))
			}
			return
		}
		if len(cs) == 0 {
			t.Fatal("no crashes and no error")
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		items := 0
		for _, c := range cs {
			items += len(c.Frames) + len(c.Modules) + len(c.PoolUsage)
			if len(c.Args) > 4 || len(c.Args) > 0 && !c.HasBugCheck {
				t.Fatalf("%s: args %x with bugcheck %v", c.Source, c.Args, c.HasBugCheck)
			}
			if len(c.Frames) > 0 != (c.FramesFrom == "text") {
				t.Fatalf("%s: %d frames from %q", c.Source, len(c.Frames), c.FramesFrom)
			}
			if len(c.Notes) > textMaxNotes+1 {
				t.Fatalf("%s: %d notes", c.Source, len(c.Notes))
			}
		}
		if items > lines || len(cs) > lines {
			t.Fatalf("%d crashes holding %d frames, modules and pool rows from %d lines", len(cs), items, lines)
		}
	})
}

// BenchmarkParseText parses the shared texts and the synthetic ones, and a
// large text made of them, to show the time is linear in the input.
func BenchmarkParseText(b *testing.B) {
	texts := textSeedTexts()
	all := bytes.Join(texts, []byte("\n"))
	big := bytes.Repeat(all, 64)
	for _, bc := range []struct {
		name string
		data []byte
	}{{"all", all}, {"all_x64", big}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if _, err := ParseText("bench.txt", bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
