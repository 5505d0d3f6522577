package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/drvhazard/drvhazard/rules"
)

// A Writer writes one report a file at a time. Render turns a result into
// its Part of the report, on any goroutine and concurrently with other
// calls; Add writes the parts in the order they should appear; Close ends
// the report. A Part holds text and small values, never the result, so a
// scan can drop each result once rendered and keep the parts that are ready
// before their turn cheaply. A Writer keeps only what the end of its report
// needs (counts, file names, the SARIF address and notification lists; for
// Markdown, whose counts come first and whose length is capped, the text of
// the sections).
type Writer interface {
	Render(r *rules.Result) Part
	Add(p Part) error
	// Close writes the end of the report. It does not close the underlying
	// io.Writer.
	Close() error
}

// A Part is one result rendered by a Writer, for the same Writer's Add.
type Part interface{ part() }

// wrongPart is Add's error for a Part rendered by a Writer of another
// format.
func wrongPart(p Part) error { return fmt.Errorf("report: a %T cannot be added to this writer", p) }

// NewWriter returns a Writer for format f.
func NewWriter(w io.Writer, f Format, opt Options) (Writer, error) {
	switch f {
	case JSON:
		return newJSONWriter(w, opt)
	case Table:
		return newTableWriter(w, opt), nil
	case SARIF:
		return newSARIFWriter(w, opt)
	case Markdown:
		return newMarkdownWriter(w, opt), nil
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

// Write formats results in f to w.
func Write(w io.Writer, f Format, results []*rules.Result, opt Options) error {
	s, err := NewWriter(w, f, opt)
	if err != nil {
		return err
	}
	for _, r := range results {
		if err := s.Add(s.Render(r)); err != nil {
			return err
		}
	}
	return s.Close()
}

// streamMarker stands for the streamed array while the document around it is
// encoded; it cannot occur in encoded text, where quotes inside strings are
// escaped.
const streamMarker = `"drvhazard:streamed-array"`

// jsonArrayStream writes a JSON document, indented as json.Encoder with
// SetIndent("", "  ") would, in which one array is written an element at a
// time. The document is encoded twice with the marker in the array's place:
// when the stream opens, for the text before the marker, and when it closes,
// for the text after it. Everything before the array must therefore be known
// at the start; what follows it may grow while elements are added.
type jsonArrayStream struct {
	w      io.Writer
	indent string // the indentation of the line holding the array
	n      int    // elements written
}

// encodeJSON encodes v as the reports do: two-space indentation, and no HTML
// escaping, since messages say "IRQL <= APC_LEVEL", not \u003c=.
func encodeJSON(v any, prefix string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// splitAtMarker encodes doc, which holds streamMarker once, and returns the
// text before and after the marker.
func splitAtMarker(doc any) (head, tail []byte, err error) {
	text, err := encodeJSON(doc, "")
	if err != nil {
		return nil, nil, err
	}
	i := bytes.Index(text, []byte(streamMarker))
	if i < 0 || bytes.Contains(text[i+1:], []byte(streamMarker)) {
		return nil, nil, errors.New("report: the stream marker must occur exactly once")
	}
	return text[:i], text[i+len(streamMarker):], nil
}

// openJSONArray writes the part of doc before the streamed array.
func openJSONArray(w io.Writer, doc any) (*jsonArrayStream, error) {
	head, _, err := splitAtMarker(doc)
	if err != nil {
		return nil, err
	}
	line := head[bytes.LastIndexByte(head, '\n')+1:]
	indent := string(line[:len(line)-len(bytes.TrimLeft(line, " "))])
	if _, err := w.Write(head); err != nil {
		return nil, err
	}
	return &jsonArrayStream{w: w, indent: indent}, nil
}

// add writes one element of the array.
func (s *jsonArrayStream) add(v any) error {
	text, err := s.encode(v)
	if err != nil {
		return err
	}
	return s.addEncoded(text)
}

// encode encodes an element for addEncoded; it may run on any goroutine.
func (s *jsonArrayStream) encode(v any) ([]byte, error) { return encodeElement(v, s.indent) }

// encodeElement encodes an element of an array on a line indented by
// indent.
func encodeElement(v any, indent string) ([]byte, error) { return encodeJSON(v, indent+"  ") }

// addEncoded writes an element encoded by encode.
func (s *jsonArrayStream) addEncoded(text []byte) error {
	inner := s.indent + "  "
	sep := ",\n"
	if s.n == 0 {
		sep = "[\n"
	}
	s.n++
	_, err := io.WriteString(s.w, sep+inner+strings.TrimSuffix(string(text), "\n"))
	return err
}

// close ends the array and writes the part of doc after it; doc must encode
// the same text before the marker as it did when the stream opened.
func (s *jsonArrayStream) close(doc any) error {
	_, tail, err := splitAtMarker(doc)
	if err != nil {
		return err
	}
	end := "[]"
	if s.n > 0 {
		end = "\n" + s.indent + "]"
	}
	if _, err := io.WriteString(s.w, end); err != nil {
		return err
	}
	_, err = s.w.Write(tail)
	return err
}
