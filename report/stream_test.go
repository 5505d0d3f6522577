package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/drvhazard/drvhazard/rules"
)

// TestStreamedJSONIsOneDocument: the JSON and SARIF writers, which write a
// file at a time, produce one well-formed document indented exactly as
// encoding/json indents it whole, for no file, one file and every fixture
// with a failed file among them; and the JSON files are the files given, in
// order.
func TestStreamedJSONIsOneDocument(t *testing.T) {
	all := allFixtures(t)
	failed := &rules.Result{Path: "broken.sys", Err: errors.New("broken.sys: not a PE image")}
	sets := map[string][]*rules.Result{
		"none":   nil,
		"one":    all[:1],
		"failed": {failed},
		"all":    append(append([]*rules.Result{}, all...), failed),
	}
	for name, results := range sets {
		for _, f := range []Format{JSON, SARIF} {
			var b bytes.Buffer
			if err := Write(&b, f, results, Options{ToolVersion: "v0"}); err != nil {
				t.Fatalf("%s %s: %v", name, f, err)
			}
			var doc any
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("%s %s: not JSON: %v", name, f, err)
			}
			// Re-encoding doc would sort the object keys: compare with
			// json.Indent of the compacted bytes instead.
			var compact, indented bytes.Buffer
			if err := json.Compact(&compact, b.Bytes()); err != nil {
				t.Fatal(err)
			}
			if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
				t.Fatal(err)
			}
			indented.WriteByte('\n')
			if !bytes.Equal(indented.Bytes(), b.Bytes()) {
				t.Errorf("%s %s: the streamed document is not indented as a whole one", name, f)
			}
			if f != JSON {
				continue
			}
			files := doc.(map[string]any)["files"].([]any)
			if len(files) != len(results) {
				t.Fatalf("%s: %d files in the document, want %d", name, len(files), len(results))
			}
			for i, r := range results {
				if got := files[i].(map[string]any)["path"]; got != r.Path {
					t.Errorf("%s: file %d is %v, want %s", name, i, got, r.Path)
				}
			}
		}
	}
}

// TestWriterMatchesWrite: results rendered concurrently and added in order
// give the same bytes as Write, in every format. Each result is zeroed once
// rendered, so a part or writer that kept a pointer into a result and read
// it later would show here.
func TestWriterMatchesWrite(t *testing.T) {
	for _, f := range Formats {
		var whole, streamed bytes.Buffer
		if err := Write(&whole, f, allFixtures(t), Options{}); err != nil {
			t.Fatal(err)
		}
		w, err := NewWriter(&streamed, f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		results := allFixtures(t)
		parts := make([]Part, len(results))
		var wg sync.WaitGroup
		for i, r := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				parts[i] = w.Render(r)
			}()
		}
		wg.Wait()
		for _, r := range results {
			*r = rules.Result{}
		}
		for _, p := range parts {
			if err := w.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(whole.Bytes(), streamed.Bytes()) {
			t.Errorf("%s: a Writer fed one result at a time writes other bytes than Write", f)
		}
	}
}
