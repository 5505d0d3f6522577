package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/drvhazard/drvhazard/rules"
)

// InformationURI is the tool's home page, as SARIF's tool.driver names it.
const InformationURI = "https://github.com/drvhazard/drvhazard"

// SARIFCategory is the run's automationDetails.id. GitHub code scanning
// keeps the alerts of each category apart and replaces them with those of
// the newest upload of the same category; one category for the whole scan
// means a driver removed from the repository has its alerts closed too.
const SARIFCategory = "drvhazard/"

// FingerprintKey names our fingerprint in partialFingerprints. The version
// changes if rules.Finding.Fingerprint ever hashes something else, so that
// GitHub does not match new hashes against old alerts.
const FingerprintKey = "drvhazard/v1"

// TracesFingerprintKey names, in partialFingerprints, the fingerprints of
// a result's traces when it has several, comma-separated: what a baseline
// made from the log must hold to accept it (config.LoadBaseline).
const TracesFingerprintKey = "drvhazard/traces/v1"

const sarifSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// The SARIF 2.1.0 objects we write, with only the properties we set.
//
// These are our own structs, not github.com/owenrumney/go-sarif/v3's (the
// tests read the log back with those). Its types write every unset index as
// the -1 sentinel (address index, parentIndex and absoluteAddress; the index
// of logical locations, artifact locations and thread flow locations), where
// SARIF says an index without a cached object SHALL NOT be present (§3.32.5
// and its siblings) and the SARIF Multitool warns (SARIF2004) several times
// per result; they write every empty array and default (rank -1, language,
// newlineSequences, "arguments": [] ...), and a nil slice as null, which the
// schema rejects. Everything we need (address, logicalLocations, codeFlows,
// partialFingerprints, rule properties) is a handful of fields.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool              sarifTool       `json:"tool"`
	AutomationDetails sarifAutomation `json:"automationDetails"`
	// Results is a []sarifResult, written a file at a time (sarifWriter);
	// GitHub wants it even when empty. What follows it is known only at the
	// end of a scan.
	Results     json.RawMessage   `json:"results"`
	Addresses   []sarifAddress    `json:"addresses,omitempty"`
	Invocations []sarifInvocation `json:"invocations"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string           `json:"id"`
	Name                 string           `json:"name"`
	ShortDescription     sarifMessage     `json:"shortDescription"`
	FullDescription      sarifMessage     `json:"fullDescription"`
	Help                 sarifMultiformat `json:"help"`
	HelpURI              string           `json:"helpUri"`
	DefaultConfiguration sarifRuleConfig  `json:"defaultConfiguration"`
	Properties           sarifRuleProps   `json:"properties"`
}

// sarifMessage is a message object or a plain-text multiformatMessageString.
type sarifMessage struct {
	Text string `json:"text"`
}

type sarifMultiformat struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

// sarifRuleProps are the rule properties GitHub code scanning reads.
type sarifRuleProps struct {
	Precision        string   `json:"precision"`
	ProblemSeverity  string   `json:"problem.severity"`
	SecuritySeverity string   `json:"security-severity,omitempty"`
	Tags             []string `json:"tags"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

// sarifAddress is an address object (§3.32). A module has a name and no
// parent; an address in it has the module as parent, and its RVA as both
// offsetFromParent and relativeAddress (relativeAddress is allowed only
// with a parent, §3.32.7).
type sarifAddress struct {
	Name               string  `json:"name,omitempty"`
	FullyQualifiedName string  `json:"fullyQualifiedName,omitempty"`
	Kind               string  `json:"kind,omitempty"`
	ParentIndex        *int    `json:"parentIndex,omitempty"`
	OffsetFromParent   *uint32 `json:"offsetFromParent,omitempty"`
	RelativeAddress    *uint32 `json:"relativeAddress,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifMessage       `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	CodeFlows           []sarifCodeFlow    `json:"codeFlows,omitempty"`
	Stacks              []sarifStack       `json:"stacks,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          *sarifResultProps  `json:"properties,omitempty"`
}

// sarifSuppression is SARIF 2.1.0 §3.35: a finding the project accepted
// outside the source (our configuration or baseline).
type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
}

type sarifResultProps struct {
	Sink     string         `json:"sink,omitempty"`
	Callback *sarifCallback `json:"callback,omitempty"`
}

type sarifCallback struct {
	Major    string `json:"major"`
	Kind     string `json:"kind"`
	Function string `json:"function"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifMessage  `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
	Address          *sarifAddress `json:"address,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifCodeFlow struct {
	Message     *sarifMessage     `json:"message,omitempty"`
	ThreadFlows []sarifThreadFlow `json:"threadFlows"`
}

type sarifThreadFlow struct {
	Locations []sarifThreadFlowLocation `json:"locations"`
}

type sarifThreadFlowLocation struct {
	Location     sarifLocation `json:"location"`
	NestingLevel int           `json:"nestingLevel"`
}

// WriteSARIF writes a SARIF 2.1.0 log for GitHub code scanning and other
// SARIF viewers: one run for all files (GitHub wants one run per tool and
// category), every rule's metadata, and for each finding the .sys file with
// the RVA, the function, the call path and our fingerprint. Files that could
// not be analysed become error notifications of the run's invocation, which
// is then not successful.
//
// A binary has no source lines, and GitHub ignores byte offsets, so each
// location is line 1 of the .sys (GitHub requires a region) with the RVA in
// physicalLocation.address and the function in logicalLocations. Without
// partialFingerprints upload-sarif would hash line 1 of the file and give
// every finding in a driver the same fingerprint.
//
// The log is deterministic: no times, no absolute paths inside the source
// root (artifact URIs are relative to opt.SourceRoot), results in the order
// of the findings.
func WriteSARIF(w io.Writer, results []*rules.Result, opt Options) error {
	return Write(w, SARIF, results, opt)
}

// sarifWriter streams the run's results; the addresses of the modules and
// the notifications of files that failed are kept for the end.
type sarifWriter struct {
	root      string // absolute source root
	log       sarifLog
	run       *sarifRun
	ruleIndex map[string]int
	inv       sarifInvocation
	results   *jsonArrayStream
	stacks    map[*rules.Finding][]Stack
	sources   *sourceFinder
}

func newSARIFWriter(w io.Writer, opt Options) (*sarifWriter, error) {
	root, err := filepath.Abs(opt.SourceRoot)
	if err != nil {
		return nil, fmt.Errorf("source root: %w", err)
	}
	s := &sarifWriter{root: root, ruleIndex: map[string]int{}, inv: sarifInvocation{ExecutionSuccessful: true},
		stacks: opt.Stacks, sources: newSourceFinder(root)}
	s.log = sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "drvhazard", Version: sarifVersion(opt.ToolVersion), InformationURI: InformationURI, Rules: []sarifRule{},
		}},
		AutomationDetails: sarifAutomation{ID: SARIFCategory},
		Results:           json.RawMessage(streamMarker),
	}}}
	s.run = &s.log.Runs[0]
	// Every rule is described up front, findings or not: the rule list
	// comes before the results in the log.
	for i, r := range rules.All() {
		s.ruleIndex[r.ID] = i
		s.run.Tool.Driver.Rules = append(s.run.Tool.Driver.Rules, sarifRuleOf(r))
	}
	if s.results, err = openJSONArray(w, s.log); err != nil {
		return nil, err
	}
	return s, nil
}

// sarifPart is a file's results, or its failure. The results' addresses
// point at *module, the index of the file's module in run.addresses, which
// Add sets: it depends on the files added before.
type sarifPart struct {
	failure *sarifNotification
	module  *int
	base    string
	results []sarifResult
	// notes are the file's blind spots (unresolved indirect calls on
	// callback paths), as notifications of level note.
	notes []sarifNotification
	err   error
}

func (sarifPart) part() {}

func (s *sarifWriter) Render(r *rules.Result) Part {
	uri := artifactURI(s.root, r.Path)
	if r.Err != nil {
		return sarifPart{failure: &sarifNotification{
			Level:     "error",
			Message:   sarifMessage{Text: sentence(errorText(r))},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}}},
		}}
	}
	p := sarifPart{module: new(int), base: filepath.Base(r.Path)}
	file := fileLocations{uri: uri, base: p.base, module: p.module, r: r, sources: s.sources}
	for i := range r.Findings {
		f := &r.Findings[i]
		ri, ok := s.ruleIndex[f.Rule.ID]
		if !ok {
			p.err = fmt.Errorf("finding of rule %s, which is not in the catalogue", f.Rule.ID)
			return p
		}
		res := file.result(f, ri)
		res.Stacks = sarifStacks(s.stacks[f])
		p.results = append(p.results, res)
	}
	for _, u := range r.Unresolved {
		holder := sarifLogical{}
		if n := len(u.Path); n > 0 {
			last := u.Path[n-1]
			holder = file.function(stepName(last.RVA, last.Name))
		}
		p.notes = append(p.notes, sarifNotification{
			Level: "note",
			Message: sarifMessage{Text: fmt.Sprintf("%s: the %s %s-operation callback %s reaches an indirect call at %#x whose targets are unknown; what it calls is not analysed.",
				p.base, majorsText(u), u.Callback.Kind, stepName(u.Callback.RVA, u.Callback.Name), u.Site)},
			Locations: []sarifLocation{file.at(u.Site, "instruction", holder)},
		})
	}
	return p
}

func (s *sarifWriter) Add(part Part) error {
	p, ok := part.(sarifPart)
	if !ok {
		return wrongPart(part)
	}
	switch {
	case p.err != nil:
		return p.err
	case p.failure != nil:
		s.inv.ExecutionSuccessful = false
		s.inv.ToolExecutionNotifications = append(s.inv.ToolExecutionNotifications, *p.failure)
		return nil
	case len(p.results) == 0 && len(p.notes) == 0:
		return nil
	}
	*p.module = len(s.run.Addresses)
	s.run.Addresses = append(s.run.Addresses, sarifAddress{Name: p.base, Kind: "module"})
	s.inv.ToolExecutionNotifications = append(s.inv.ToolExecutionNotifications, p.notes...)
	for _, res := range p.results {
		if err := s.results.add(res); err != nil {
			return err
		}
	}
	return nil
}

func (s *sarifWriter) Close() error {
	s.run.Invocations = []sarifInvocation{s.inv}
	return s.results.close(s.log)
}

// sarifRuleOf is the reportingDescriptor of a rule, all of it from the Rule
// value (DESIGN.md: rules are values).
func sarifRuleOf(r *rules.Rule) sarifRule {
	return sarifRule{
		ID: r.ID, Name: r.Name,
		ShortDescription:     sarifMessage{Text: r.Short},
		FullDescription:      sarifMessage{Text: firstParagraph(r.Help)},
		Help:                 sarifMultiformat{Text: plainText(r.Help), Markdown: r.Help},
		HelpURI:              InformationURI + "/blob/main/docs/rules.md#" + strings.ToLower(r.ID),
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(r.Severity)},
		Properties: sarifRuleProps{
			Precision: r.Precision, ProblemSeverity: problemSeverity(r.Severity),
			SecuritySeverity: securitySeverity(r), Tags: ruleTags(r),
		},
	}
}

// fileLocations makes the locations of one file's results.
type fileLocations struct {
	uri    string // artifact URI of the .sys
	base   string // its file name, for qualified names ("drv.sys!PreWrite")
	module *int   // index of its module address in run.addresses, set when the file is added
	// With line tables (a PDB), locations are the source lines of the code
	// when the source file is found under the source root.
	r       *rules.Result
	sources *sourceFinder
}

// at is a location in the file: the source line of the code when the PDB
// gives it and the source file is in the repository, else the .sys at line
// 1 (GitHub needs a region; a binary has no lines); the RVA as an address
// in the module; and what holds it.
func (l fileLocations) at(rva uint32, kind string, holder sarifLogical) sarifLocation {
	off := rva
	uri, line := l.uri, 1
	if file, n, ok := sourceAt(l.r, rva); ok && l.sources != nil {
		if u := l.sources.uri(file); u != "" {
			uri, line = u, n
		}
	}
	loc := sarifLocation{PhysicalLocation: sarifPhysical{
		ArtifactLocation: sarifArtifact{URI: uri},
		Region:           &sarifRegion{StartLine: line},
		Address: &sarifAddress{
			FullyQualifiedName: fmt.Sprintf("%s+%#x", l.base, rva), Kind: kind,
			ParentIndex: l.module, OffsetFromParent: &off, RelativeAddress: &off,
		},
	}}
	if holder.Name != "" {
		loc.LogicalLocations = []sarifLogical{holder}
	}
	return loc
}

// function is the logical location of a function ("drv.sys!PreWrite").
func (l fileLocations) function(name string) sarifLogical {
	return sarifLogical{Name: name, FullyQualifiedName: l.base + "!" + name, Kind: "function"}
}

// site is the location of a finding: in the step of its path that makes
// the call at the site or starts there, or, for image-wide findings
// (KD5001: a section, the import table), in the module.
func (l fileLocations) site(f *rules.Finding) sarifLocation {
	for i := len(f.Path) - 1; i >= 0; i-- {
		if s := f.Path[i]; s.Call == f.Site || s.RVA == f.Site {
			return l.at(f.Site, addressKind(f.Site, s), l.function(stepName(s.RVA, s.Name)))
		}
	}
	if len(f.Path) > 0 {
		last := f.Path[len(f.Path)-1]
		return l.at(f.Site, "", l.function(stepName(last.RVA, last.Name)))
	}
	return l.at(f.Site, "", sarifLogical{Name: l.base, FullyQualifiedName: l.base, Kind: "module"})
}

// addressKind is SARIF's name for an address in a step's function: its
// entry is a "function", any other address an "instruction" (§3.32.11).
func addressKind(rva uint32, s rules.Step) string {
	if rva == s.RVA {
		return "function"
	}
	return "instruction"
}

func (l fileLocations) result(f *rules.Finding, ruleIndex int) sarifResult {
	res := sarifResult{
		RuleID: f.Rule.ID, RuleIndex: ruleIndex, Level: sarifLevel(f.Severity),
		Message:             sarifMessage{Text: sentence(f.Message)},
		Locations:           []sarifLocation{l.site(f)},
		PartialFingerprints: map[string]string{FingerprintKey: f.Fingerprint},
	}
	if f.Sink != "" || f.Callback != nil {
		res.Properties = &sarifResultProps{Sink: f.Sink}
		if cb := f.Callback; cb != nil {
			res.Properties.Callback = &sarifCallback{Major: cb.Major, Kind: cb.Kind, Function: stepName(cb.RVA, cb.Name)}
		}
	}
	if len(f.Traces) > 1 {
		fps := make([]string, len(f.Traces))
		for i, t := range f.Traces {
			fps[i] = t.Fingerprint
		}
		res.PartialFingerprints[TracesFingerprintKey] = strings.Join(fps, ",")
	}
	// One code flow per trace: the path to each sink of the cause.
	for i, t := range f.Traces {
		if len(t.Path) == 0 {
			continue
		}
		if i == maxCodeFlows {
			last := &res.CodeFlows[len(res.CodeFlows)-1]
			last.Message = &sarifMessage{Text: fmt.Sprintf("%d further paths are left out (see the JSON output).", len(f.Traces)-maxCodeFlows)}
			break
		}
		cf := sarifCodeFlow{ThreadFlows: []sarifThreadFlow{l.threadFlow(t.Path, t.Sink)}}
		if len(f.Traces) > 1 {
			cf.Message = &sarifMessage{Text: sentence(t.Message)}
		}
		res.CodeFlows = append(res.CodeFlows, cf)
	}
	if s := f.Suppressed; s != nil {
		res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: s.Kind + ": " + s.Reason}}
	}
	return res
}

// maxFlowLocations bounds a thread flow, under GitHub's limit of 100;
// maxCodeFlows the paths of one result.
const (
	maxFlowLocations = 64
	maxCodeFlows     = 32
)

// threadFlow is a call path to sink: a location per step, at the call it
// makes (at its entry when the path ends in the function itself), one
// nesting level deeper per call.
func (l fileLocations) threadFlow(path []rules.Step, sink string) sarifThreadFlow {
	tf := sarifThreadFlow{Locations: []sarifThreadFlowLocation{}}
	for i, s := range path {
		// GitHub rejects thread flows of more than 100 locations (GH1004):
		// keep both ends of a long call chain (MF4001 paths run deep) and
		// say what was left out; the JSON output has the whole path.
		if n := len(path); n > maxFlowLocations && i >= maxFlowLocations/2 && i < n-maxFlowLocations/2 {
			if i == maxFlowLocations/2 {
				loc := l.at(s.RVA, addressKind(s.RVA, s), l.function(stepName(s.RVA, s.Name)))
				loc.Message = &sarifMessage{Text: fmt.Sprintf("%d further calls are left out here (see the JSON output).", n-maxFlowLocations)}
				tf.Locations = append(tf.Locations, sarifThreadFlowLocation{Location: loc, NestingLevel: i})
			}
			continue
		}
		name := stepName(s.RVA, s.Name)
		what := sinkText(sink)
		if i+1 < len(path) {
			what = "calls " + stepName(path[i+1].RVA, path[i+1].Name)
		}
		at := s.Call
		if at == 0 {
			at = s.RVA
		}
		loc := l.at(at, addressKind(at, s), l.function(name))
		loc.Message = &sarifMessage{Text: fmt.Sprintf("%s %s at %#x.", name, what, at)}
		tf.Locations = append(tf.Locations, sarifThreadFlowLocation{Location: loc, NestingLevel: i})
	}
	return tf
}

// sinkText says what the last step of a path does, from the finding's
// sink: calls an import ("ntoskrnl.exe!PsLookupProcessByProcessId"), is
// pageable ("PAGE:Helper"), brings the stack to a depth ("stack:5000"),
// returns a status ("FLT_PREOP_SYNCHRONIZE"), or reaches some other sink.
func sinkText(sink string) string {
	switch {
	case strings.HasPrefix(sink, "FLT_PREOP_"):
		return "returns " + sink
	case strings.Contains(sink, "!"):
		_, name, _ := strings.Cut(sink, "!")
		return "calls " + name
	case strings.HasPrefix(sink, "PAGE:"):
		return "is pageable"
	case strings.HasPrefix(sink, "stack:"):
		return "brings the stack to " + strings.TrimPrefix(sink, "stack:") + " bytes"
	case sink == "":
		return "is reached"
	}
	return "reaches " + sink
}

func stepName(rva uint32, name string) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("sub_%x", rva)
}

func sarifLevel(s rules.Severity) string {
	switch s {
	case rules.Error:
		return "error"
	case rules.Warning:
		return "warning"
	}
	return "note"
}

// sarifVersion is the tool version as SARIF consumers compare it: starting
// with a digit ("v1.2.3" -> "1.2.3"; an unreleased "devel" build is
// "0.0.0-devel").
func sarifVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0.0.0-" + v
	}
	return strings.TrimSuffix(v, "-")
}

// problemSeverity is GitHub's problem.severity, used for rules that have no
// security-severity.
func problemSeverity(s rules.Severity) string {
	switch s {
	case rules.Error:
		return "error"
	case rules.Warning:
		return "warning"
	}
	return "recommendation"
}

// isSecurityRule: the KD5xxx family (HVCI, executable memory) is about code
// integrity; the MF families are about reliability.
func isSecurityRule(r *rules.Rule) bool { return strings.HasPrefix(r.ID, "KD5") }

// securitySeverity is GitHub's security-severity, a CVSS-like score (7.0 to
// 8.9 is "high", 4.0 to 6.9 "medium", 0.1 to 3.9 "low"), given only for
// security rules, as GitHub asks.
func securitySeverity(r *rules.Rule) string {
	if !isSecurityRule(r) {
		return ""
	}
	switch r.Severity {
	case rules.Error:
		return "7.0"
	case rules.Warning:
		return "5.0"
	}
	return "3.0"
}

// ruleTags are the tags GitHub shows and filters by, from the rule family
// (DOMAIN.md §4): MF1 registration, MF2 paging path, MF3 IRQL, MF4 stack,
// KD5 code integrity.
func ruleTags(r *rules.Rule) []string {
	if isSecurityRule(r) {
		return []string{"security", "hvci"}
	}
	tags := []string{"reliability"}
	if strings.HasPrefix(r.ID, "MF") {
		tags = append(tags, "minifilter")
	}
	switch {
	case strings.HasPrefix(r.ID, "MF1"):
		tags = append(tags, "registration")
	case strings.HasPrefix(r.ID, "MF2"):
		tags = append(tags, "paging-io")
	case strings.HasPrefix(r.ID, "MF3"):
		tags = append(tags, "irql")
	case strings.HasPrefix(r.ID, "MF4"):
		tags = append(tags, "paging-io", "stack")
	}
	return tags
}

// firstParagraph is the help's first paragraph, on one line, as text.
func firstParagraph(md string) string {
	p, _, _ := strings.Cut(strings.TrimSpace(md), "\n\n")
	return plainText(strings.Join(strings.Fields(p), " "))
}

// plainText drops the markdown emphasis and code marks the rule help uses.
func plainText(md string) string {
	return strings.NewReplacer("**", "", "`", "").Replace(md)
}

// sentence ends a message with a period, as SARIF asks of messages (the
// Multitool's SARIF2001).
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

func errorText(r *rules.Result) string {
	msg := r.Err.Error()
	if strings.HasPrefix(msg, r.Path+":") {
		return msg
	}
	return r.Path + ": " + msg
}

// sarifStack is SARIF 2.1.0 §3.44, a call stack; frames innermost first.
type sarifStack struct {
	Message sarifMessage      `json:"message"`
	Frames  []sarifStackFrame `json:"frames"`
}

type sarifStackFrame struct {
	Location sarifStackLocation `json:"location"`
	Module   string             `json:"module,omitempty"`
}

// sarifStackLocation names a crash frame. The frame's address is in the
// message, not in address.absoluteAddress: kernel addresses do not fit the
// signed 64-bit integer that SARIF readers (the .NET SDK) parse it into.
type sarifStackLocation struct {
	Message          *sarifMessage  `json:"message,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

// Bounds on the crash stacks attached to one result.
const (
	maxStacksPerResult = 8
	maxStackFrames     = 64
)

func sarifStacks(stacks []Stack) []sarifStack {
	var out []sarifStack
	for i, st := range stacks {
		if i == maxStacksPerResult {
			break
		}
		s := sarifStack{Message: sarifMessage{Text: sentence(st.Message)}, Frames: []sarifStackFrame{}}
		for j, f := range st.Frames {
			if j == maxStackFrames {
				break
			}
			short := fmt.Sprintf("%s+%#x", f.Module, f.Offset)
			name := short
			if f.Function != "" {
				short = f.Function
				name = fmt.Sprintf("%s!%s+%#x", f.Module, f.Function, f.Offset)
			}
			sf := sarifStackFrame{Module: f.Module, Location: sarifStackLocation{
				LogicalLocations: []sarifLogical{{Name: short, FullyQualifiedName: name, Kind: "function"}},
			}}
			if f.HasAddress {
				sf.Location.Message = &sarifMessage{Text: fmt.Sprintf("Address %#x.", f.Address)}
			}
			s.Frames = append(s.Frames, sf)
		}
		out = append(out, s)
	}
	return out
}
