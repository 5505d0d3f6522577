package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/rules"
)

// The JSON document. Field names and shapes are a contract (DESIGN.md): add,
// never rename. RVAs are hex strings; unknown names are null.
type jsonDoc struct {
	Tool jsonTool `json:"tool"`
	// Files is a []jsonFile, written a file at a time (jsonWriter).
	Files json.RawMessage `json:"files"`
}

type jsonTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type jsonFile struct {
	Path    string  `json:"path"`
	SHA256  string  `json:"sha256"`
	Machine *string `json:"machine"`
	Kind    *string `json:"kind"`
	Error   *string `json:"error"`
	// Symbols is the PDB the names and source lines come from; null
	// without one.
	Symbols       *string            `json:"symbols"`
	Registrations []jsonRegistration `json:"registrations"`
	PoolTags      []jsonPoolTag      `json:"pool_tags"`
	Findings      []jsonFinding      `json:"findings"`
	// Unresolved lists the indirect calls on callbacks' paths whose targets
	// are unknown: where the findings may be incomplete.
	Unresolved []jsonUnresolved `json:"unresolved_calls"`
	Image      *jsonImage       `json:"image,omitempty"`
	Functions  []jsonFunction   `json:"functions,omitempty"`
	Notes      []string         `json:"notes,omitempty"`
}

// Name is null where the image does not name the function; Display is
// what the messages call it then (sub_1040), and the name otherwise.
type jsonRef struct {
	RVA     string  `json:"rva"`
	Name    *string `json:"name"`
	Display string  `json:"display"`
}

func refOf(rva uint32, name string) jsonRef {
	return jsonRef{RVA: hex(uint64(rva)), Name: nullable(name), Display: stepName(rva, name)}
}

type jsonRegistration struct {
	RVA        *string           `json:"rva"`
	Where      string            `json:"where"`
	Size       string            `json:"size"`
	Version    string            `json:"version"`
	Flags      uint32            `json:"flags"`
	SiteRVA    string            `json:"site_rva"`
	Caller     jsonRef           `json:"caller"`
	Operations []jsonOperation   `json:"operations"`
	Contexts   []jsonContext     `json:"contexts"`
	Callbacks  map[string]string `json:"callbacks"`
	Problems   []string          `json:"problems"`
}

type jsonOperation struct {
	Major string   `json:"major"`
	Code  string   `json:"code"`
	Flags uint32   `json:"flags"`
	Pre   *jsonRef `json:"pre"`
	Post  *jsonRef `json:"post"`
}

type jsonContext struct {
	Type    string `json:"type"`
	Size    string `json:"size"`
	PoolTag string `json:"pool_tag"`
}

type jsonPoolTag struct {
	Tag        string  `json:"tag"`
	Value      string  `json:"value"`
	API        string  `json:"api"`
	Module     string  `json:"module"`
	PoolType   *string `json:"pool_type"`
	Paged      bool    `json:"paged"`
	Executable bool    `json:"executable"`
	SiteRVA    string  `json:"site_rva"`
	Function   jsonRef `json:"function"`
}

type jsonCallback struct {
	Major   string  `json:"major"`
	Kind    string  `json:"kind"`
	RVA     string  `json:"rva"`
	Name    *string `json:"name"`
	Display string  `json:"display"`
}

func callbackJSON(cb *rules.CallbackRef) *jsonCallback {
	return &jsonCallback{Major: cb.Major, Kind: cb.Kind, RVA: hex(uint64(cb.RVA)), Name: nullable(cb.Name), Display: stepName(cb.RVA, cb.Name)}
}

type jsonUnresolved struct {
	Callback jsonCallback `json:"callback"`
	// Majors are all the majors the callback is registered for.
	Majors  []string    `json:"majors"`
	SiteRVA string      `json:"site_rva"`
	Source  *jsonSource `json:"source"`
	Path    []jsonStep  `json:"path"`
}

type jsonStep struct {
	RVA     string  `json:"rva"`
	Name    *string `json:"name"`
	Display string  `json:"display"`
	CallRVA string  `json:"call_rva"`
	// Source is the source line of the call, from the PDB; null without.
	Source *jsonSource `json:"source"`
}

// jsonSource is a source position as the PDB records it.
type jsonSource struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

type jsonFinding struct {
	Rule       string        `json:"rule"`
	Name       string        `json:"name"`
	Severity   string        `json:"severity"`
	Message    string        `json:"message"`
	Callback   *jsonCallback `json:"callback"`
	Sink       string        `json:"sink"`
	SinkModule *string       `json:"sink_module"`
	SiteRVA    string        `json:"site_rva"`
	// SiteVA is the site at the image's preferred base, as a disassembler
	// shows it; null when the image is unknown.
	SiteVA      *string     `json:"site_va"`
	SiteSource  *jsonSource `json:"site_source"`
	Path        []jsonStep  `json:"path"`
	Fingerprint string      `json:"fingerprint"`
	// Suppressed is null for a finding that counts, else why it is accepted.
	Suppressed *jsonSuppression `json:"suppressed"`
	// Traces are every path of the finding's cause to a sink (the first
	// is the one sink, path and message above describe); a baseline
	// accepts the finding when it holds every trace's fingerprint.
	Traces []jsonTrace `json:"traces"`
}

type jsonTrace struct {
	Sink        string           `json:"sink"`
	SinkModule  *string          `json:"sink_module"`
	SiteRVA     string           `json:"site_rva"`
	SiteSource  *jsonSource      `json:"site_source"`
	Path        []jsonStep       `json:"path"`
	Message     string           `json:"message"`
	Fingerprint string           `json:"fingerprint"`
	Suppressed  *jsonSuppression `json:"suppressed"`
}

type jsonSuppression struct {
	Kind   string `json:"kind"` // "config" or "baseline"
	Reason string `json:"reason"`
}

type jsonImage struct {
	ImageBase string        `json:"image_base"`
	Entry     string        `json:"entry"`
	Sections  []jsonSection `json:"sections"`
	Imports   []jsonImport  `json:"imports"`
	Exports   []jsonExport  `json:"exports"`
	PDB       *jsonPDB      `json:"pdb"`
	Warnings  []string      `json:"warnings,omitempty"`
	Stats     jsonStats     `json:"stats"`
}

type jsonSection struct {
	Name            string `json:"name"`
	RVA             string `json:"rva"`
	Size            string `json:"size"`
	Characteristics string `json:"characteristics"`
	Executable      bool   `json:"executable"`
	Writable        bool   `json:"writable"`
	Pageable        bool   `json:"pageable"`
	Discardable     bool   `json:"discardable"`
}

type jsonImport struct {
	Module  string  `json:"module"`
	Name    *string `json:"name"`
	Ordinal *uint16 `json:"ordinal,omitempty"`
	Slot    string  `json:"slot"`
}

type jsonExport struct {
	Name      *string `json:"name"`
	Ordinal   uint32  `json:"ordinal"`
	RVA       *string `json:"rva"`
	Forwarder string  `json:"forwarder,omitempty"`
}

type jsonPDB struct {
	GUID string `json:"guid"`
	Age  uint32 `json:"age"`
	Path string `json:"path"`
}

type jsonStats struct {
	Functions  int    `json:"functions"`
	Blocks     int    `json:"blocks"`
	CallSites  int    `json:"call_sites"`
	Unresolved int    `json:"unresolved_call_sites"`
	CodeBytes  uint64 `json:"code_bytes"`
}

type jsonFunction struct {
	RVA       string   `json:"rva"`
	Name      *string  `json:"name"`
	Size      uint32   `json:"size"`
	Blocks    int      `json:"blocks"`
	FrameSize uint32   `json:"frame_size"`
	Thunk     *string  `json:"thunk,omitempty"`
	NoReturn  bool     `json:"noreturn,omitempty"`
	Section   string   `json:"section"`
	Callees   []string `json:"callees"`
}

// WriteJSON writes the JSON document for results.
func WriteJSON(w io.Writer, results []*rules.Result, opt Options) error {
	return Write(w, JSON, results, opt)
}

// jsonWriter streams the document's files.
type jsonWriter struct {
	doc   jsonDoc
	files *jsonArrayStream
}

func newJSONWriter(w io.Writer, opt Options) (*jsonWriter, error) {
	doc := jsonDoc{Tool: jsonTool{Name: "drvhazard", Version: opt.ToolVersion}, Files: json.RawMessage(streamMarker)}
	files, err := openJSONArray(w, doc)
	if err != nil {
		return nil, err
	}
	return &jsonWriter{doc: doc, files: files}, nil
}

// jsonPart is a file's element of the document, encoded.
type jsonPart struct {
	text []byte
	err  error
}

func (jsonPart) part() {}

func (j *jsonWriter) Render(r *rules.Result) Part {
	text, err := j.files.encode(fileJSON(r))
	return jsonPart{text, err}
}

func (j *jsonWriter) Add(p Part) error {
	jp, ok := p.(jsonPart)
	if !ok {
		return wrongPart(p)
	}
	if jp.err != nil {
		return jp.err
	}
	return j.files.addEncoded(jp.text)
}

func (j *jsonWriter) Close() error { return j.files.close(j.doc) }

func fileJSON(r *rules.Result) jsonFile {
	jf := jsonFile{Path: r.Path, SHA256: r.SHA256,
		Registrations: []jsonRegistration{}, PoolTags: []jsonPoolTag{}, Findings: []jsonFinding{}, Unresolved: []jsonUnresolved{}}
	if r.Err != nil {
		msg := r.Err.Error()
		jf.Error = &msg
		return jf
	}
	img := r.Image
	m, k := img.Machine.String(), string(r.Kind)
	jf.Machine, jf.Kind, jf.Symbols = &m, &k, nullable(r.Symbols)
	jf.Registrations, jf.PoolTags, jf.Findings = registrationsJSON(r), poolTagsJSON(r), findingsJSON(r)
	for _, u := range r.Unresolved {
		cb := u.Callback
		ju := jsonUnresolved{Callback: *callbackJSON(&cb),
			Majors: append([]string{}, u.Majors...), SiteRVA: hex(uint64(u.Site)), Source: sourceJSON(r, u.Site), Path: stepsJSON(r, u.Path)}
		jf.Unresolved = append(jf.Unresolved, ju)
	}
	ji := &jsonImage{
		ImageBase: hex(img.ImageBase), Entry: hex(uint64(img.EntryRVA)),
		Sections: []jsonSection{}, Imports: []jsonImport{}, Exports: []jsonExport{}, Warnings: img.Warnings,
	}
	for i := range img.Sections {
		s := &img.Sections[i]
		ji.Sections = append(ji.Sections, jsonSection{
			Name: s.Name, RVA: hex(uint64(s.RVA)), Size: hex(uint64(s.Size())),
			Characteristics: hex(uint64(s.Characteristics)),
			Executable:      s.Executable(), Writable: s.Writable(), Pageable: s.Pageable(), Discardable: s.Discardable(),
		})
	}
	for i := range img.Imports {
		imp := &img.Imports[i]
		ji.Imports = append(ji.Imports, importJSON(imp))
	}
	for _, e := range img.Exports {
		je := jsonExport{Name: nullable(e.Name), Ordinal: e.Ordinal, Forwarder: e.Forwarder}
		if e.RVA != 0 {
			s := hex(uint64(e.RVA))
			je.RVA = &s
		}
		ji.Exports = append(ji.Exports, je)
	}
	if cv := img.CodeView; cv != nil {
		ji.PDB = &jsonPDB{GUID: cv.GUIDString(), Age: cv.Age, Path: cv.Path}
	}
	p := r.Program
	for _, f := range p.Funcs {
		jf.Functions = append(jf.Functions, functionJSON(img, p, f))
		ji.Stats.Blocks += len(f.Blocks)
		ji.Stats.CallSites += len(f.Calls)
		for _, c := range f.Calls {
			if c.Kind == cfg.CallUnresolved {
				ji.Stats.Unresolved++
			}
		}
	}
	ji.Stats.Functions = len(p.Funcs)
	ji.Stats.CodeBytes = p.CodeBytes()
	jf.Image = ji
	jf.Notes = p.Notes
	return jf
}

func importJSON(imp *loader.Import) jsonImport {
	ji := jsonImport{Module: imp.Module, Slot: hex(uint64(imp.Slot))}
	if imp.ByOrdinal {
		o := imp.Ordinal
		ji.Ordinal = &o
	} else {
		ji.Name = nullable(imp.Name)
	}
	return ji
}

func functionJSON(img *loader.Image, p *cfg.Program, f *cfg.Func) jsonFunction {
	jf := jsonFunction{
		RVA: hex(uint64(f.Entry)), Name: nullable(f.Name), Size: f.Size, Blocks: len(f.Blocks),
		FrameSize: f.FrameSize, NoReturn: f.NoReturn, Callees: []string{},
	}
	if s := img.Section(f.Entry); s != nil {
		jf.Section = s.Name
	}
	if f.Thunk != nil {
		t := f.Thunk.String()
		jf.Thunk = &t
	}
	for _, ce := range p.Callees(f) {
		jf.Callees = append(jf.Callees, calleeName(p, ce))
	}
	return jf
}

// calleeName renders a callee as module!name for imports, the function name
// or its hex RVA otherwise.
func calleeName(p *cfg.Program, ce cfg.Callee) string {
	if ce.Import != nil {
		return ce.Import.String()
	}
	if f := p.Func(ce.Func); f != nil && f.Name != "" {
		return f.Name
	}
	return hex(uint64(ce.Func))
}

func nullable(s string) *string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return &s
}

func refJSON(p *cfg.Program, rva uint32) *jsonRef {
	if rva == 0 {
		return nil
	}
	name := ""
	if f := p.Func(rva); f != nil {
		name = f.Name
	}
	ref := refOf(rva, name)
	return &ref
}

func registrationsJSON(r *rules.Result) []jsonRegistration {
	out := []jsonRegistration{}
	for _, reg := range r.Model.Registrations {
		jr := jsonRegistration{
			Where: reg.Where, Size: hex(uint64(reg.Size)), Version: fmt.Sprintf("0x%04x", reg.Version), Flags: reg.Flags,
			SiteRVA: hex(uint64(reg.Site)), Caller: *refJSON(r.Program, reg.Caller.Entry),
			Operations: []jsonOperation{}, Contexts: []jsonContext{}, Callbacks: map[string]string{}, Problems: []string{},
		}
		for _, prob := range reg.Problems {
			jr.Problems = append(jr.Problems, prob.Text)
		}
		if reg.Where != "stack" && reg.RVA != 0 {
			s := hex(uint64(reg.RVA))
			jr.RVA = &s
		}
		for _, op := range reg.Operations {
			jr.Operations = append(jr.Operations, jsonOperation{
				Major: rules.MajorName(op.Major), Code: fmt.Sprintf("0x%02x", op.Major), Flags: op.Flags,
				Pre: refJSON(r.Program, op.Pre), Post: refJSON(r.Program, op.Post),
			})
		}
		for _, c := range reg.Contexts {
			jr.Contexts = append(jr.Contexts, jsonContext{Type: hex(uint64(c.Type)), Size: hex(c.Size), PoolTag: rules.TagString(c.PoolTag)})
		}
		for name, rva := range reg.Callbacks {
			jr.Callbacks[name] = hex(uint64(rva))
		}
		out = append(out, jr)
	}
	return out
}

func poolTagsJSON(r *rules.Result) []jsonPoolTag {
	out := []jsonPoolTag{}
	for _, t := range r.Model.PoolTags {
		jt := jsonPoolTag{
			Tag: rules.TagString(t.Tag), Value: fmt.Sprintf("0x%08x", t.Tag), API: t.API.Name, Module: t.API.Module,
			Paged: t.Paged(), Executable: t.Executable(), SiteRVA: hex(uint64(t.Site)), Function: *refJSON(r.Program, t.Func.Entry),
		}
		if t.Known {
			v := hex(t.Type)
			jt.PoolType = &v
		}
		out = append(out, jt)
	}
	return out
}

func findingsJSON(r *rules.Result) []jsonFinding {
	out := []jsonFinding{}
	for i := range r.Findings {
		out = append(out, findingJSON(r, &r.Findings[i]))
	}
	return out
}

// findingJSON is a finding of r (which may be nil when unknown: then
// without source lines).
func findingJSON(r *rules.Result, f *rules.Finding) jsonFinding {
	jf := jsonFinding{
		Rule: f.Rule.ID, Name: f.Rule.Name, Severity: f.Severity.String(), Message: f.Message,
		Sink: f.Sink, SiteRVA: hex(uint64(f.Site)), Path: []jsonStep{}, Fingerprint: f.Fingerprint,
	}
	if mod, name, ok := strings.Cut(f.Sink, "!"); ok {
		jf.Sink, jf.SinkModule = name, &mod
	}
	if s := f.Suppressed; s != nil {
		jf.Suppressed = &jsonSuppression{Kind: s.Kind, Reason: s.Reason}
	}
	if cb := f.Callback; cb != nil {
		jf.Callback = callbackJSON(cb)
	}
	if r != nil && r.Image != nil {
		va := hex(r.Image.VA(f.Site))
		jf.SiteVA = &va
	}
	jf.SiteSource = sourceJSON(r, f.Site)
	jf.Path = stepsJSON(r, f.Path)
	jf.Traces = []jsonTrace{}
	for _, t := range f.Traces {
		jt := jsonTrace{Sink: t.Sink, SiteRVA: hex(uint64(t.Site)), SiteSource: sourceJSON(r, t.Site),
			Path: stepsJSON(r, t.Path), Message: t.Message, Fingerprint: t.Fingerprint}
		if mod, name, ok := strings.Cut(t.Sink, "!"); ok {
			jt.Sink, jt.SinkModule = name, &mod
		}
		if s := t.Suppressed; s != nil {
			jt.Suppressed = &jsonSuppression{Kind: s.Kind, Reason: s.Reason}
		}
		jf.Traces = append(jf.Traces, jt)
	}
	return jf
}

// stepsJSON renders a call path.
func stepsJSON(r *rules.Result, path []rules.Step) []jsonStep {
	out := []jsonStep{}
	for _, s := range path {
		out = append(out, jsonStep{RVA: hex(uint64(s.RVA)), Name: nullable(s.Name), Display: stepName(s.RVA, s.Name), CallRVA: hex(uint64(s.Call)),
			Source: sourceJSON(r, s.Call)})
	}
	return out
}

func sourceJSON(r *rules.Result, rva uint32) *jsonSource {
	if file, line, ok := sourceAt(r, rva); ok {
		return &jsonSource{File: file, Line: line}
	}
	return nil
}
