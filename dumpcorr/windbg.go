package dumpcorr

// Crash text: the WinDbg output people paste into issues, mails and blog
// posts. The parser reads it in two passes:
//
//  1. textScanner walks the lines and recognises pieces of evidence: a
//     bugcheck (from !analyze -v, a "BugCheck X, {...}" line, .bugcheck), one
//     argument, a stack table (k/kv/kb/kn/kp/kc, STACK_TEXT, !thread), a module
//     (lm, lmv, the analysis header), a !poolused row, a code location whose
//     address the text gives (FAULTING_IP, a disassembly label).
//  2. textGrouper sorts that evidence into crashes, starting a new crash
//     where the evidence says a different crash begins (a second analysis
//     banner, a different bugcheck, a second stack of another thread with no
//     bugcheck to tie it to, a new debugger session).
//
// Pasted text is damaged in known ways and both passes expect it: markdown
// escapes (\` before every backtick), bold markers, code fences, quote and
// list prefixes, HTML entities, indentation, and text cut at either end, also
// in the middle of a stack row.

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/drvhazard/drvhazard/internal/winpath"
)

// MaxTextSize is the largest crash text ParseText reads (64 MiB): a pasted
// WinDbg session is a few hundred kilobytes at most, so anything larger is
// not one.
const MaxTextSize = 64 << 20

// Errors ParseText wraps, for errors.Is.
var (
	// ErrTextTooLarge: the text is larger than MaxTextSize.
	ErrTextTooLarge = errors.New("crash text too large")
	// ErrNoCrashEvidence: the text holds no bugcheck, stack, module list or
	// pool usage that the parser recognises.
	ErrNoCrashEvidence = errors.New("no crash evidence")
)

// ParseText reads WinDbg output as people paste it and returns the crashes it
// holds (several crashes in one text are split).
//
// It understands k, kn, kv, kb, kp and kc stacks (with or without the frame
// number, Child-SP, RetAddr and "Args to Child" columns), ".cxr; k", the stack
// part of !thread, !analyze -v (name line, Arguments, BUGCHECK_CODE and
// BUGCHECK_P1..P4, STACK_TEXT, SYMBOL_NAME, MODULE_NAME, IMAGE_NAME,
// FAILURE_BUCKET_ID, PROCESS_NAME, FAULTING_IP), "BugCheck X, {...}" lines,
// lm/lmv/"lm t n" module lists and !poolused rows. Module names keep WinDbg's
// spelling (nt, FLTMGR, amdppm).
//
// A new crash starts at a second analysis banner, at a bugcheck that differs
// from the current one or comes after the current crash's stack (within one
// crash the header precedes the stack), at a new debugger session ("Loading
// Dump File"), and at a stack of another thread when no bugcheck ties it to
// the current crash. Crashes are named source, source#2, ... A stack listed in
// parts (two excerpts) is joined when the second part lies further out on the
// same stack. When one crash has several listings, Frames holds !analyze's
// STACK_TEXT, else a listing in an exception context (.cxr; k), else the
// longest; Notes names the others.
//
// Frames are recorded innermost first. Index is the frame number column when
// the text has one, else the position. Frame.Address is the frame's
// instruction address where the text gives it: for frame i > 0 that is the
// RetAddr column of row i-1 (the return address into frame i); for the
// innermost frame it is known only from a register context whose rsp equals
// the first row's Child-SP (".cxr; k"), or from a location the text spells
// out (FAULTING_IP, ExceptionAddress, a disassembly label "mod!f+0x50:")
// with the same module, symbol and offset. A raw-address call site is its own
// address, with an empty Module; so is a frame whose call site the text lost
// (a row cut after its RetAddr), which keeps its place. kc prints no offsets:
// its frames have Offset 0.
//
// When no bugcheck header survives, the bugcheck is taken from an
// nt!KeBugCheckEx row's "Args to Child" (kv/kb: code, then three of the four
// parameters), else from a FAILURE_BUCKET_ID or BUGCHECK_STR such as
// "X64_0x3B_fltmgr!..." (code only). Crash.Notes says which.
//
// The error names the source; it wraps ErrTextTooLarge for input larger than
// MaxTextSize and ErrNoCrashEvidence for text in which nothing was found.
func ParseText(source string, data []byte) ([]Crash, error) {
	return textParse(source, data, MaxTextSize)
}

func textParse(source string, data []byte, limit int) ([]Crash, error) {
	if len(data) > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than the limit of %d", source, ErrTextTooLarge, len(data), limit)
	}
	g := &textGrouper{}
	s := textScanner{src: string(data), escaped: textEscaped(data), g: g}
	s.run()
	crashes := g.crashes(source)
	if len(crashes) == 0 {
		lines := fmt.Sprintf("%d lines", s.lineNo)
		if s.lineNo == 1 {
			lines = "1 line"
		}
		return nil, fmt.Errorf("%s: %w: no bugcheck, stack, module list or pool usage in %s of text",
			source, ErrNoCrashEvidence, lines)
	}
	return crashes, nil
}

// ---- cleaning pasted lines ----

var (
	// textUnescaper undoes the backslash escapes markdown editors add. It is
	// applied only to text that has them: elsewhere a backslash starts a
	// Windows path component ("d:\_build").
	textUnescaper = strings.NewReplacer("\\`", "`", "\\_", "_", "\\*", "*", "\\#", "#", "\\<", "<", "\\>", ">",
		"\\[", "[", "\\]", "]", "\\!", "!", "\\|", "|", "\\~", "~")
	textEntities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'", "&#96;", "`", "&#x60;", "`",
		"&nbsp;", " ")
	textSpaces = strings.NewReplacer("\t", " ", "\u00a0", " ", "\r", "")
	// textListPrefix is a numbered-list prefix ("  6. Leak 119 ...") that
	// web pages put before every line of a code block.
	textListPrefix = regexp.MustCompile(`^[0-9]{1,5}\.(?: +|$)`)
	textHeading    = regexp.MustCompile(`^#{1,6} +`)
)

// textEscaped reports whether the text went through a markdown editor that
// escaped it: a backtick or an identifier's underscore has a backslash
// before it (fffff801\`2a3b4c5d, UNEXPECTED\_KERNEL\_MODE\_TRAP).
func textEscaped(data []byte) bool {
	if bytes.Contains(data, []byte("\\`")) {
		return true
	}
	for i := 1; i+2 < len(data); {
		j := bytes.Index(data[i:len(data)-1], []byte("\\_"))
		if j < 0 {
			return false
		}
		i += j
		if textWordByte(data[i-1]) && textWordByte(data[i+2]) {
			return true
		}
		i += 2
	}
	return false
}

func textWordByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// textCleanLine undoes markdown and HTML damage to a line and removes
// surrounding space and quote, heading, list and fence markers.
func textCleanLine(l string, escaped bool) string {
	if strings.ContainsAny(l, "\t\r\u00a0") {
		l = textSpaces.Replace(l)
	}
	if escaped && strings.IndexByte(l, '\\') >= 0 {
		l = textUnescaper.Replace(l)
	}
	if strings.IndexByte(l, '&') >= 0 {
		l = textEntities.Replace(l)
	}
	if strings.Contains(l, "**") {
		l = textDropBold(l)
	}
	if strings.IndexByte(l, '<') >= 0 {
		l = textDropDML(l)
	}
	return textStripMarkers(strings.TrimSpace(l))
}

// textDropBold removes markdown bold markers ("**psav3cld.sys**+1bae0") but
// keeps longer runs of stars (the "*******" of the analysis banner, "*** ERROR").
func textDropBold(l string) string {
	var b strings.Builder
	for i := 0; i < len(l); {
		if l[i] != '*' {
			b.WriteByte(l[i])
			i++
			continue
		}
		j := i
		for j < len(l) && l[j] == '*' {
			j++
		}
		if j-i != 2 {
			b.WriteString(l[i:j])
		}
		i = j
	}
	return b.String()
}

// textDMLTag matches the markup of WinDbg's DML output (kM, and what a DML
// view leaves in copied text): <link cmd="...">, <exec ...>, <col ...>,
// <b>, <i>, <u> and their ends. Other angle brackets (<Unloaded_x.sys>,
// C++ templates) are text.
var textDMLTag = regexp.MustCompile(`</?(?:link|exec|col|b|i|u)(?:\s[^<>]*)?>`)

// textDropDML removes DML markup, keeping what it wraps.
func textDropDML(l string) string {
	if !strings.Contains(l, "</") && !strings.Contains(l, "<link") && !strings.Contains(l, "<exec") && !strings.Contains(l, "<col") {
		return l
	}
	return textDMLTag.ReplaceAllString(l, "")
}

// textStripMarkers removes markdown block markers from the start of a
// trimmed line, and code fences.
func textStripMarkers(l string) string {
	if l == "" || !strings.ContainsRune("`>#0123456789", rune(l[0])) {
		return strings.TrimSuffix(l, "```")
	}
	for range 4 {
		switch {
		case strings.HasPrefix(l, "```"):
			l = strings.TrimLeft(l, "`")
			if !strings.ContainsRune(l, ' ') && len(l) <= 20 {
				l = "" // a fence with its language tag
			}
		case l == ">" || strings.HasPrefix(l, "> "):
			l = l[1:]
		case textHeading.MatchString(l):
			l = strings.TrimLeft(l, "#")
		case textListPrefix.MatchString(l):
			l = l[textListPrefix.FindStringIndex(l)[1]:]
		default:
			return strings.TrimSpace(strings.TrimSuffix(l, "```"))
		}
		l = strings.TrimSpace(l)
	}
	return l
}

// textIsCut reports whether a line marks text cut or elided by whoever
// pasted or quoted it.
func textIsCut(l string) bool {
	return l == "..." || l == "…" || strings.HasPrefix(l, "[...") || strings.Contains(l, "excerpt ends") ||
		strings.HasPrefix(l, "< truncated")
}

// ---- tokens ----

// textAddr parses an address column: 8 or 16 hex digits, the 64-bit form
// possibly split by a backtick (fffff801`2a3b4c5d).
func textAddr(tok string) (uint64, bool) {
	if i := strings.IndexByte(tok, '`'); i >= 0 {
		if i != 8 || len(tok) != 17 {
			return 0, false
		}
		tok = tok[:8] + tok[9:]
	} else if len(tok) != 8 && len(tok) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(tok, 16, 64)
	return v, err == nil
}

// textHex parses a hex number as WinDbg prints values: with or without 0x,
// possibly with a backtick, at most 64 bits.
func textHex(s string) (uint64, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if i := strings.IndexByte(s, '`'); i > 0 && i < len(s)-1 {
		s = s[:i] + s[i+1:]
	}
	if s == "" || len(s) > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}

// textFirstHex parses the first field of a value ("ffffffffc0000005, The
// exception code").
func textFirstHex(s string) (uint64, bool) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if len(f) == 0 {
		return 0, false
	}
	return textHex(f[0])
}

// textNextToken splits off the first space-separated token.
func textNextToken(s string) (tok, rest string) {
	s = strings.TrimLeft(s, " ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func textIsFrameNumber(tok string) bool {
	if len(tok) == 0 || len(tok) > 4 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if !textIsHexDigit(tok[i]) {
			return false
		}
	}
	return true
}

func textIsHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// ---- call sites ----

// textSite is a call site as WinDbg prints it: mod!Func+0x51, mod+0x1a2b,
// mod!Func, a raw address, each possibly with a " [file @ line]" suffix.
// String is the site as WinDbg prints it: "mydrv!PreRead+0x44".
func (s textSite) String() string {
	t := s.module
	if s.symbol != "" {
		t += "!" + s.symbol
	}
	if s.hasOffset {
		t += fmt.Sprintf("+%#x", s.offset)
	}
	return t
}

type textSite struct {
	module, symbol string
	offset         uint64
	hasOffset      bool
	raw            bool // a bare address: no module covers it
	addr           uint64
	source         string
	sourceCut      bool // the source suffix was cut ("[C:\src\o")
}

// textParseSite parses a call site. A bare module name ("bmsfile2drv", as kc
// prints frames without symbols) is accepted only where allowBare says the
// column layout leaves no doubt.
func textParseSite(s string, allowBare bool) (textSite, bool) {
	var site textSite
	s = textStripAnnotation(strings.TrimSpace(s))
	if i := strings.LastIndex(s, " ["); i >= 0 {
		src := s[i+2:]
		if strings.HasSuffix(src, "]") {
			site.source = strings.TrimSpace(src[:len(src)-1])
		} else {
			site.sourceCut = true
		}
		s = textStripAnnotation(strings.TrimSpace(s[:i]))
	}
	if v, ok := textRawAddr(s); ok {
		site.raw, site.addr = true, v
		return site, true
	}
	s = textStripParams(s)
	if i := strings.LastIndexByte(s, '+'); i > 0 {
		if off, ok := textHex(s[i+1:]); ok {
			site.offset, site.hasOffset = off, true
			s = s[:i]
		}
	}
	mod, sym, bang := strings.Cut(s, "!")
	sym = strings.TrimSpace(sym)
	if !textModuleOK(mod) || bang && sym == "" || !bang && !site.hasOffset && !allowBare {
		return textSite{}, false
	}
	site.module, site.symbol = mod, sym
	return site, true
}

// textStripAnnotation removes what kv prints after a call site:
// "(TrapFrame @ fffff880`0335fa30)", "(FPO: [0,0,0])", "(Inline Function @ ...)".
func textStripAnnotation(s string) string {
	for strings.HasSuffix(s, ")") {
		i := strings.LastIndex(s, " (")
		if i < 0 {
			return s
		}
		a := s[i+2:]
		if !strings.HasPrefix(a, "TrapFrame") && !strings.HasPrefix(a, "FPO:") && !strings.HasPrefix(a, "Inline") &&
			!strings.HasPrefix(a, "CONTEXT @") {
			return s
		}
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// textRawAddr parses a call site that is only an address: 0x75672e09,
// 0x00007ff8`c3089fa2 or fffff801`2a3b4c5d.
func textRawAddr(s string) (uint64, bool) {
	if strings.HasPrefix(s, "0x") {
		return textHex(s)
	}
	if strings.IndexByte(s, '`') == 8 {
		return textAddr(s)
	}
	return 0, false
}

// textStripParams removes the parameter list kp prints after a function
// name: "mydrv!Read(struct _IRP * Irp = 0x...)+0x48" -> "mydrv!Read+0x48".
// The "()" of an "operator()" is part of the name.
func textStripParams(s string) string {
	bang := strings.IndexByte(s, '!')
	if bang < 0 {
		return s
	}
	open := bang + 1
	for {
		i := strings.IndexByte(s[open:], '(')
		if i < 0 {
			return s
		}
		open += i
		if !strings.HasSuffix(s[:open], "operator") || !strings.HasPrefix(s[open:], "()") {
			break
		}
		open += 2
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				if rest := s[i+1:]; open > bang+1 && (rest == "" || rest[0] == '+') {
					return s[:open] + rest
				}
				return s
			}
		}
	}
	return s
}

// textModuleOK accepts a module name as WinDbg prints it: letters, digits and
// _.$- ("nt", "FLTMGR", "360FsFlt", "winfsp_x64", "psav3cld.sys"), or an
// unloaded module ("<Unloaded_foo.sys>"). Numbers and addresses are not
// module names.
func textModuleOK(m string) bool {
	if m == "" || len(m) > 256 {
		return false
	}
	if strings.HasPrefix(m, "<Unloaded_") && strings.HasSuffix(m, ">") {
		return !strings.ContainsAny(m, " ")
	}
	letter := false
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$':
			letter = true
		case '0' <= c && c <= '9' || c == '.' || c == '-':
		default:
			return false
		}
	}
	if !letter {
		return false
	}
	_, isAddr := textAddr(m)
	return !isAddr && !strings.HasPrefix(m, "0x")
}

// textLocKey names a code location: the same module, symbol and offset is the
// same instruction within one dump.
type textLocKey struct {
	module, symbol string
	offset         uint64
}

func (s textSite) key() textLocKey {
	return textLocKey{strings.ToLower(s.module), s.symbol, s.offset}
}

// textImageModule makes a Module from an image file name or path as the
// debugger's messages give it ("\SystemRoot\system32\DRIVERS\npcap.sys"):
// WinDbg names such a module by the file's base name.
func textImageModule(path string) (Module, bool) {
	base := winpath.Base(path)
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 {
		return Module{}, false
	}
	switch strings.ToLower(base[dot:]) {
	case ".sys", ".dll", ".exe":
	default:
		return Module{}, false
	}
	if !textModuleOK(base[:dot]) {
		return Module{}, false
	}
	return Module{Name: ModuleName(base), Image: base}, true
}

// textSiteModule is the module a location names, for the analysis header's
// FAULTING_IP. A name printed with its extension keeps it ("psav3cld.sys").
func textSiteModule(s textSite) Module {
	m := Module{Name: s.module}
	if im, ok := textImageModule(s.module); ok {
		m.Image = im.Image
	}
	return m
}

// ---- stack tables ----

// textShape is the column layout a stack table's header announces.
type textShape struct {
	set     bool // a header was seen
	sp, ret bool // Child-SP (ChildEBP), RetAddr columns
	// mem: kf's Memory column (the frame's stack use, blank in the
	// first row) comes before Child-SP.
	mem bool
}

// textParseHeader recognises a stack table header: "# Child-SP RetAddr Call
// Site", "Child-SP RetAddr : Args to Child : Call Site", "RetAddr : Args to
// Child : Call Site", "# Call Site" (kc).
func textParseHeader(l string) (textShape, bool) {
	if !strings.HasSuffix(l, "Call Site") {
		return textShape{}, false
	}
	sh := textShape{set: true,
		sp:  strings.Contains(l, "Child-SP") || strings.Contains(l, "ChildEBP"),
		ret: strings.Contains(l, "RetAddr"),
		mem: strings.Contains(l, "Memory")}
	if !sh.sp && !sh.ret && strings.Trim(l, "# ") != "Call Site" {
		return textShape{}, false
	}
	return sh, true
}

// textRow is one row of a stack table.
type textRow struct {
	num     int // frame number column, -1 when absent
	sp, ret uint64
	hasSP   bool
	hasRet  bool
	inline  bool     // "(Inline Function)": shares the next physical frame's address
	args    []uint64 // Args to Child
	site    textSite
	cut     bool // the line ends before the call site
}

// textSlot is an address column: a value, or the placeholder of an inline
// frame ("(Inline Function)", "--------`--------").
type textSlot struct {
	v     uint64
	known bool
}

// textParseRow parses one stack row. The columns are, each optional: frame
// number, Child-SP, RetAddr, ": Args to Child :", call site. inTable says a
// listing is under way.
func textParseRow(l string, sh textShape, inTable bool) (textRow, bool) {
	r := textRow{num: -1}
	rest := l
	if tok, after := textNextToken(rest); textIsFrameNumber(tok) && after != "" {
		n, _ := strconv.ParseUint(tok, 16, 16)
		r.num, rest = int(n), after
	}
	if sh.mem {
		// kf: the Memory column (a frame's stack use in hex, blank in the
		// first row) comes before Child-SP.
		if tok, after := textNextToken(rest); len(tok) < 8 {
			if _, isHex := textHex(tok); isHex && after != "" {
				rest = after
			}
		}
	}
	cols, args, rest, colons, ok := textRowColumns(rest)
	if !ok {
		return textRow{}, false
	}
	rest = strings.TrimSpace(rest)
	if sh.mem && colons == 0 && len(cols) == 3 {
		cols = cols[1:] // a Memory value as wide as an address (a negative one)
	}
	if colons == 0 && len(cols) == 3 && rest == "" && cols[2].known && cols[2].v != 0 && (sh.set || inTable) {
		// "00 ffffc50f`6a8b72a0 00000000`00000000 fffff801`2a3b4c5d": a raw
		// call site without its 0x, in a listing (a memory dump line has
		// the same shape).
		rest, cols = "0x"+strconv.FormatUint(cols[2].v, 16), cols[:2]
	}
	if colons == 0 && len(cols) > 2 { // x86 kb: the arguments follow without colons
		args, cols = cols[2:], cols[:2]
	}
	if !r.placeColumns(cols, sh) {
		return textRow{}, false
	}
	// Without address columns only a frame number or a kc header says that
	// "mod!Func+0x10" on a line of its own is a stack row; a bare module name
	// or address ("13 bmsfile2drv") needs the header or a listing under way,
	// or "3 drivers" in prose would be a frame.
	kcHeader := sh.set && !sh.sp && !sh.ret
	kc := len(cols) == 0 && (r.num >= 0 || kcHeader)
	if len(cols) == 0 && !kc {
		return textRow{}, false
	}
	for _, a := range args {
		if a.known {
			r.args = append(r.args, a.v)
		}
	}
	if rest == "" {
		r.cut = len(cols) == 2 && !r.inline
		return r, r.cut
	}
	site, ok := textParseSite(rest, kc && (kcHeader || inTable))
	if !ok || kc && site.raw && !kcHeader && !inTable {
		return textRow{}, false
	}
	r.site = site
	return r, true
}

// textRowColumns splits the address columns off a row: those before the first
// colon, and the arguments between the two colons. rest is what follows.
func textRowColumns(s string) (cols, args []textSlot, rest string, colons int, ok bool) {
	rest = s
	for len(cols)+len(args) < 12 {
		tok, after := textNextToken(rest)
		var slot textSlot
		switch {
		case tok == ":":
			colons++
			rest = after
			if colons == 2 {
				return cols, args, rest, colons, true
			}
			continue
		case tok == "(Inline":
			tok2, after2 := textNextToken(after)
			if tok2 != "Function)" {
				return cols, args, rest, colons, true
			}
			after = after2
		case strings.Trim(tok, "-`") == "" && len(tok) >= 8:
		default:
			v, isAddr := textAddr(tok)
			switch {
			case isAddr:
			case colons == 0:
				return cols, args, rest, colons, true
			case strings.TrimSpace(after) == "":
				return cols, args, "", colons, true // cut inside the arguments
			default:
				return nil, nil, "", 0, false
			}
			slot = textSlot{v, true}
		}
		if colons == 0 {
			cols = append(cols, slot)
		} else {
			args = append(args, slot)
		}
		rest = after
	}
	return nil, nil, "", 0, false
}

// placeColumns gives the address columns before the call site their
// meaning: two are Child-SP and RetAddr; one is whichever the header names;
// none is kc.
func (r *textRow) placeColumns(cols []textSlot, sh textShape) bool {
	for _, c := range cols {
		if !c.known {
			r.inline = true
		}
	}
	switch len(cols) {
	case 0:
		return true
	case 1:
		switch {
		case sh.set && sh.ret && !sh.sp:
			r.ret, r.hasRet = cols[0].v, cols[0].known
		case sh.set && sh.sp && !sh.ret:
			r.sp, r.hasSP = cols[0].v, cols[0].known
		default:
			return false
		}
		return true
	case 2:
		r.sp, r.hasSP = cols[0].v, cols[0].known
		r.ret, r.hasRet = cols[1].v, cols[1].known
		return true
	}
	return false
}

// textTable is one stack listing as pasted.
type textTable struct {
	origin string // "STACK_TEXT", or the command that printed it ("k", "!thread", ".cxr")
	// threads: the listing is one of many threads a single command printed
	// (!process 0 7, !stacks, ~*k), whose number is cmdSeq.
	threads bool
	cmdSeq  int
	headed  bool // a column header came before the first row
	line    int  // 1-based line of the first row
	end     int  // offset in the text just after the last row's line
	rows    []textRow
	// context: the first row's Child-SP is the rsp of the register context
	// printed just before (".cxr; k"), so rip is frame 0's address.
	context bool
	rip     uint64
	joins   []int // rows where a later part of the same stack was appended
	cutEnd  bool  // a mark of cut or elided text follows the last row
	// bare: the rows are call sites alone, without a frame number or
	// columns (textBareRow).
	bare bool
}

// restarts reports whether row r begins a new listing rather than continuing
// t: its frame number does not follow on.
func (t *textTable) restarts(r textRow) bool {
	last := t.rows[len(t.rows)-1]
	return r.num >= 0 && last.num >= 0 && r.num <= last.num
}

func (t *textTable) firstSP() (uint64, bool) {
	for _, r := range t.rows {
		if r.hasSP {
			return r.sp, true
		}
		if !r.inline {
			break
		}
	}
	return 0, false
}

func (t *textTable) lastSP() (uint64, bool) {
	last := t.rows[len(t.rows)-1]
	return last.sp, last.hasSP
}

func (t *textTable) hasColumns() bool {
	for _, r := range t.rows {
		if r.hasRet || r.hasSP {
			return true
		}
	}
	return false
}

// textMaxStackGap bounds how far apart two parts of one kernel stack can lie:
// the 24 KiB kernel stack, with room for a stack expanded by
// KeExpandKernelStackAndCallout.
const textMaxStackGap = 0x10000

// continues reports whether table u is a later part of the same stack as t,
// cut off from it in the text: printed by the same command, it starts
// further out on the same stack, without a header or a frame number 0 of its
// own.
func (t *textTable) continues(u *textTable) bool {
	if u.headed || u.rows[0].num == 0 || u.cmdSeq != t.cmdSeq {
		return false
	}
	last := t.rows[len(t.rows)-1]
	if last.num >= 0 && u.rows[0].num >= 0 {
		return u.rows[0].num > last.num
	}
	if last.hasRet && last.ret == 0 { // the listing reached the stack's base
		return false
	}
	a, ok1 := t.lastSP()
	b, ok2 := u.firstSP()
	return ok1 && ok2 && b > a && b-a <= textMaxStackGap
}

// frames turns the rows into Frames (see ParseText for the address rule).
func (t *textTable) frames() []Frame {
	frames := make([]Frame, 0, len(t.rows))
	var carry uint64
	carryOK := false
	next, join := 0, 0
	for i, r := range t.rows {
		if join < len(t.joins) && t.joins[join] == i {
			carryOK = false // rows may be missing where the parts meet
			join++
		}
		f := Frame{Index: next, Module: r.site.module, Symbol: r.site.symbol, Offset: r.site.offset,
			SourceLine: r.site.source}
		if r.num >= 0 {
			f.Index = r.num
		}
		next = f.Index + 1
		switch {
		case r.site.raw:
			f.Address, f.HasAddress = r.site.addr, true
		case i == 0 && t.context:
			f.Address, f.HasAddress = t.rip, true
		case i > 0 && carryOK && carry != 0:
			f.Address, f.HasAddress = carry, true
		}
		if r.inline {
			carry, carryOK = f.Address, f.HasAddress
		} else {
			carry, carryOK = r.ret, r.hasRet
		}
		frames = append(frames, f)
	}
	return frames
}

// ---- the scanner ----

// textCmd says what printed the lines since the last prompt, so that lines
// of a memory dump (dq, dps), a disassembly or a module list are not taken
// for stack rows.
type textCmd int

const (
	textCmdUnknown textCmd = iota // no prompt seen, or a command we do not know
	textCmdStack                  // k*, !thread, !process, !analyze, .cxr; k
	textCmdModules                // lm*
	textCmdPool                   // !poolused
	textCmdOther                  // prints no stacks: u, d*, s, dt, !pte ...
)

var (
	// textPrompt is a debugger prompt: "0: kd> ", "kd> ", "lkd> ", "0:000> ".
	textPrompt = regexp.MustCompile(`^(?:[0-9]+: *(?:kd|lkd|[0-9]+)|kd|lkd)(?::[A-Za-z0-9]+)?> ?(.*)$`)
	// textField is an !analyze -v field: "BUGCHECK_CODE:  7f".
	textField = regexp.MustCompile(`^([A-Z][A-Z0-9_]{2,}): *(.*)$`)
	textArg   = regexp.MustCompile(`^Arg([1-4]): *([0-9a-fA-F` + "`" + `]{1,17})\b`)
	// textBugCheckLine: "BugCheck 1000007E, {ffffffffc0000005, fffff880010b2130, ...}".
	textBugCheckLine = regexp.MustCompile(`\bBugCheck ([0-9A-Fa-f]{1,8}), *\{([^}]*)\}`)
	textBugcheckCode = regexp.MustCompile(`^Bugcheck code ([0-9A-Fa-f]{1,8})$`)
	// textNameLine: "UNEXPECTED_KERNEL_MODE_TRAP (7f)", the first line of !analyze.
	textNameLine     = regexp.MustCompile(`^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+) \(([0-9a-fA-F]{1,8})\)$`)
	textNameEmbedded = regexp.MustCompile(`\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+) \(([0-9a-fA-F]{1,8})\)`)
	textNameOnly     = regexp.MustCompile(`^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$`)
	textRegister     = regexp.MustCompile(`\b([re])(ip|sp)=([0-9a-f]{8,16})\b`)
	textExcAddress   = regexp.MustCompile(`^ExceptionAddress: *([0-9a-fA-F` + "`" + `]+) +\((.+)\)$`)
	// textDisasm is an instruction line: address, opcode bytes, mnemonic.
	textDisasm    = regexp.MustCompile(`^([0-9a-fA-F]{8}(?:` + "`" + `?[0-9a-fA-F]{8})?) +[0-9a-fA-F]+ +[a-z]`)
	textImageNote = regexp.MustCompile(`(?:Unable to load image|symbols could not be loaded for|` +
		`Unable to verify (?:timestamp|checksum) for|Defaulted to export symbols for|Probably caused by *:) *([^,\s(]+)`)
	textTimestamp = regexp.MustCompile(`\(([0-9A-Fa-f]{8})\)$`)
	textPoolBin   = regexp.MustCompile(`Binary: *(\S+)`)
)

// textMatch runs re on l only when l contains hint, which every match
// holds: most lines are prose or rows, and the check is much cheaper than
// the regular expression.
func textMatch(re *regexp.Regexp, l, hint string) []string {
	if !strings.Contains(l, hint) {
		return nil
	}
	return re.FindStringSubmatch(l)
}

// textImageHint: the debugger's messages that name an image file.
func textImageHint(l string) bool {
	return strings.Contains(l, "Unable to") || strings.Contains(l, "could not be loaded") ||
		strings.Contains(l, "Defaulted to export") || strings.Contains(l, "Probably caused by")
}

// textMaxLine is the longest line read (64 KiB): the longest WinDbg lines,
// kv rows and analysis fields, are a few hundred bytes.
const textMaxLine = 1 << 16

// textScanner walks the cleaned lines and hands each piece of evidence to
// the grouper.
type textScanner struct {
	src     string // the text, read one line at a time
	escaped bool   // the text has markdown escapes
	pos     int    // offset of the next line
	lineNo  int    // 1-based number of the current line
	// longLines counts lines skipped for their length.
	longLines int
	g         *textGrouper

	cmd     textCmd
	cmdName string
	cmdSeq  int // counts prompts
	shape   textShape
	table   *textTable

	stackText  bool // "STACK_TEXT:" seen, its rows not yet
	rip, rsp   uint64
	ctxOK      bool     // rip and rsp of the last register dump
	expectSite bool     // FAULTING_IP: the location is on the next line
	faultingIP bool     // the location expected is FAULTING_IP's (not FOLLOWUP_IP's)
	loc        textSite // a location waiting for its address line
	hasLoc     bool
	inModules  bool   // inside an lm listing
	unloaded   bool   // inside lm's "Unloaded modules:" part
	lastModule string // the module lmv detail lines belong to
	inPool     bool   // after the !poolused column header
	bugcheck   uint32 // a ".bugcheck" code waiting for its Arguments line
	bugcheckOK bool
}

func (s *textScanner) run() {
	for s.pos < len(s.src) {
		if s.g.full() {
			s.endTable()
			s.g.cur().note("the text has more than %d pieces of evidence: it is read only up to line %d",
				textMaxItems, s.lineNo)
			return
		}
		s.line(s.next())
	}
	s.endTable()
}

// next returns the next line, cleaned. A line longer than textMaxLine is
// returned empty: WinDbg prints nothing that long, and skipping it keeps the
// cost of each line small.
func (s *textScanner) next() string {
	raw := s.src[s.pos:]
	if i := strings.IndexByte(raw, '\n'); i >= 0 {
		raw = raw[:i]
		s.pos += i + 1
	} else {
		s.pos = len(s.src)
	}
	s.lineNo++
	if raw == "" {
		return ""
	}
	if len(raw) > textMaxLine {
		s.longLines++
		if s.longLines == 1 {
			s.g.cur().note("line %d is longer than %d bytes and is not read (nor any other such line)", s.lineNo,
				textMaxLine)
		}
		return ""
	}
	return textCleanLine(raw, s.escaped)
}

// cutAhead looks at the first non-blank line from offset pos on: it reports
// whether the text ends there, and whether that line marks the text as cut
// or elided ("...", "[... excerpt ends ...]").
func (s *textScanner) cutAhead(pos int) (end, marked bool) {
	for pos < len(s.src) {
		raw := s.src[pos:]
		pos = len(s.src)
		if i := strings.IndexByte(raw, '\n'); i >= 0 {
			pos = len(s.src) - len(raw) + i + 1
			raw = raw[:i]
		}
		if len(raw) > textMaxLine {
			return false, false
		}
		if l := textCleanLine(raw, s.escaped); l != "" {
			return false, textIsCut(l)
		}
	}
	return true, false
}

func (s *textScanner) line(l string) {
	if l == "" {
		return // blank lines end nothing: pasted text is often double-spaced
	}
	if m := textMatch(textPrompt, l, ">"); m != nil {
		s.endTable()
		s.prompt(strings.TrimSpace(m[1]))
		return
	}
	if sh, ok := textParseHeader(l); ok {
		s.endTable()
		s.shape = sh
		// A stack header ends whatever listing came before, prompt or not.
		if s.cmd != textCmdStack {
			s.cmd, s.inModules, s.inPool = textCmdUnknown, false, false
		}
		return
	}
	if s.stackRow(l) {
		return
	}
	if s.table != nil && textTableNoise(l) {
		return
	}
	s.endTable()
	s.other(l)
}

// prompt starts the output of a new command.
func (s *textScanner) prompt(cmd string) {
	s.cmd, s.cmdName = textClassify(cmd)
	s.cmdSeq++
	s.shape = textShape{}
	s.stackText, s.ctxOK, s.expectSite, s.hasLoc = false, false, false, false
	s.inModules, s.unloaded, s.lastModule, s.inPool = false, false, "", false
	s.bugcheckOK = false
}

// textClassify names a command and says whether its output can hold stack
// rows. Of ".cxr 0x...; k" the last command counts.
func textClassify(cmd string) (textCmd, string) {
	parts := strings.Split(cmd, ";")
	word, _ := textNextToken(strings.TrimSpace(parts[len(parts)-1]))
	if len(parts) > 1 && strings.HasPrefix(strings.TrimSpace(parts[0]), ".cxr") {
		return textCmdStack, ".cxr"
	}
	lw := strings.ToLower(word)
	switch {
	case lw == "":
		return textCmdUnknown, ""
	case lw[0] == 'k' && lw != "kd" && len(lw) <= 5, strings.HasPrefix(lw, "~") && strings.Contains(lw, "k"):
		return textCmdStack, word
	case lw == "!thread", lw == "!process", lw == "!analyze", lw == ".cxr", lw == ".trap", lw == ".ecxr",
		lw == "!stacks", lw == ".thread", lw == ".process":
		return textCmdStack, word
	case strings.HasPrefix(lw, "lm"):
		return textCmdModules, word
	case lw == "!poolused":
		return textCmdPool, word
	case lw[0] == 'u' && len(lw) <= 2, lw[0] == 'd' && len(lw) <= 4, lw[0] == 's' && len(lw) <= 2,
		lw == "?", lw == "r", lw == "x", lw == "ln", lw == ".exr", lw == "!pte", lw == "!vtop", lw == "!idt",
		lw == "!object", lw == "!devstack", lw == "!vpb", lw == "!vm", lw == "!pool", lw == "!irp",
		lw == "!drvobj", lw == "!devobj", lw == "!fileobj", lw == "!error", lw == "!sysptes":
		return textCmdOther, word
	}
	return textCmdUnknown, word
}

// textTableNoise are lines WinDbg prints between the rows of one stack.
func textTableNoise(l string) bool {
	for _, p := range []string{"(TrapFrame", "(Inline", "TrapFrame @", "WARNING:", "***", "Unable to"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// textBareRow parses a line that is only a symbolic call site, as people
// paste frames out of !analyze, Visual Studio's call stack window, mails and
// blog posts: "mydrv!PreRead+0x44", "3 mydrv!PreRead+0x44", "mydrv+0x1a2b",
// "mydrv.sys!PreRead(_FLT_CALLBACK_DATA * Data=0x...) Line 44". The symbol
// has no spaces, so that prose naming a routine is not a frame.
func textBareRow(l string) (textRow, bool) {
	r := textRow{num: -1}
	rest := l
	if tok, after := textNextToken(rest); textIsFrameNumber(tok) && after != "" {
		n, _ := strconv.ParseUint(tok, 16, 16)
		r.num, rest = int(n), after
	}
	rest = strings.TrimSpace(rest)
	// Visual Studio copies its Name and Language columns with a tab
	// between them (a space once the line is cleaned): "mydrv.sys!PreRead(...)
	// Line 44 C", "FLTMGR.SYS!FltpPerformPreCallbacksWorker() Unknown".
	if i := strings.LastIndexByte(rest, ' '); i > 0 && textVSLanguages[rest[i+1:]] {
		rest = strings.TrimSpace(rest[:i])
	}
	line := ""
	if i := strings.LastIndex(rest, " Line "); i > 0 && strings.HasSuffix(rest[:i], ")") {
		num, _, _ := strings.Cut(strings.TrimSpace(rest[i+6:]), " ")
		if _, err := strconv.Atoi(num); err == nil {
			rest, line = strings.TrimSpace(rest[:i]), num
		}
	}
	site, ok := textParseSite(rest, false)
	if !ok || site.raw || strings.ContainsAny(site.symbol, " \t") || !strings.Contains(rest, "!") && !site.hasOffset {
		return textRow{}, false
	}
	if line != "" && site.source == "" {
		site.source = "line " + line
	}
	// Visual Studio names the file ("mydrv.sys!..."); WinDbg, and the
	// module list the frames are matched against, the module ("mydrv").
	if ext := strings.ToLower(path.Ext(site.module)); ext == ".sys" || ext == ".dll" || ext == ".exe" {
		site.module = ModuleName(site.module)
	}
	r.site = site
	return r, true
}

// textVSLanguages are the Language column's values in Visual Studio's call
// stack window.
var textVSLanguages = map[string]bool{"C": true, "C++": true, "Unknown": true, "Asm": true}

// bareList reports whether the bare site on this line starts, or goes on
// with, a list of them: the listing under way is one, or the next line that
// is not blank is a bare site too (one alone may be prose).
func (s *textScanner) bareList() bool {
	if s.table != nil {
		return s.table.bare
	}
	pos := s.pos
	for pos < len(s.src) {
		raw := s.src[pos:]
		if i := strings.IndexByte(raw, '\n'); i >= 0 {
			raw, pos = raw[:i], pos+i+1
		} else {
			pos = len(s.src)
		}
		if len(raw) > textMaxLine {
			return false
		}
		if l := textCleanLine(raw, s.escaped); l != "" {
			_, ok := textBareRow(l)
			return ok
		}
	}
	return false
}

// textOpenParams reports a call site whose parameter list goes on over the
// next lines, as kP prints it: "mydrv!PreRead(" and then one parameter a line.
func textOpenParams(l string) bool {
	bang := strings.IndexByte(l, '!')
	return bang > 0 && strings.Count(l[bang:], "(") > strings.Count(l[bang:], ")")
}

// textMaxParamLines bounds the lines one kP parameter list is read over.
const textMaxParamLines = 64

// textStartsRow reports a line that begins with a frame number: the next
// row, not a parameter of this one.
func textStartsRow(l string) bool {
	tok, _ := textNextToken(l)
	return textIsFrameNumber(tok) && !strings.HasPrefix(tok, "0x")
}

// joinParams appends to a kP row the lines that close its parameter list.
// A list the text cuts short loses its parameters: "mydrv!PreRead", without
// offset.
func (s *textScanner) joinParams(l string) string {
	joined := l
	for i := 0; i < textMaxParamLines && s.pos < len(s.src) && textOpenParams(joined); i++ {
		save, saveNo := s.pos, s.lineNo
		next := s.next()
		if next == "" && s.pos < len(s.src) {
			continue
		}
		if _, isPrompt := textParseHeader(next); isPrompt || textMatch(textPrompt, next, ">") != nil || textStartsRow(next) {
			s.pos, s.lineNo = save, saveNo // the next row: the list was cut
			break
		}
		joined += " " + next
	}
	if textOpenParams(joined) {
		bang := strings.IndexByte(l, '!')
		return l[:bang+strings.IndexByte(l[bang:], '(')]
	}
	return joined
}

// stackRow takes the line as a stack row if it is one here.
func (s *textScanner) stackRow(l string) bool {
	if s.cmd == textCmdOther || s.cmd == textCmdModules || s.cmd == textCmdPool || s.inModules || s.inPool {
		return false
	}
	// kP: a row whose parameter list goes on over the next lines (the
	// line up to its module must be a row's start, so prose is not joined).
	if textOpenParams(l) {
		if _, ok := textParseRow(l[:strings.IndexByte(l, '!')]+"!f", s.shape, s.table != nil); ok || s.table != nil {
			l = s.joinParams(l)
		}
	}
	r, ok := textParseRow(l, s.shape, s.table != nil)
	bare := false
	if !ok && !s.shape.set {
		if r, ok = textBareRow(l); ok && !s.bareList() {
			return false
		}
		bare = ok
	}
	if !ok {
		return false
	}
	// A row with no call site is only believed as the last line before the
	// text is cut, inside a listing already under way.
	if r.cut {
		end, marked := s.cutAhead(s.pos)
		if s.table == nil && !s.stackText || !end && !marked {
			return false
		}
	}
	if s.table != nil && s.table.restarts(r) {
		s.endTable()
	}
	if s.table != nil && s.table.bare != bare {
		s.endTable()
	}
	if s.table == nil {
		s.beginTable(r)
		s.table.bare = bare
	}
	s.table.rows = append(s.table.rows, r)
	s.table.end = s.pos
	s.g.spend()
	return true
}

func (s *textScanner) beginTable(first textRow) {
	t := &textTable{origin: s.cmdName, line: s.lineNo, cmdSeq: s.cmdSeq, headed: s.shape.set,
		threads: s.cmdName == "!process" || s.cmdName == "!stacks" || strings.HasPrefix(s.cmdName, "~")}
	if s.stackText {
		t.origin = "STACK_TEXT"
		s.stackText = false
	}
	if s.ctxOK && first.hasSP && first.sp == s.rsp {
		t.context, t.rip = true, s.rip
		if t.origin == "" {
			t.origin = ".cxr"
		}
	}
	s.table = t
}

func (s *textScanner) endTable() {
	if s.table == nil {
		return
	}
	t := s.table
	s.table = nil
	s.shape = textShape{}
	_, t.cutEnd = s.cutAhead(t.end)
	s.g.stack(t)
}

// other handles a line that is not part of a stack table.
func (s *textScanner) other(l string) {
	if s.pendingLocation(l) {
		return
	}
	switch {
	case strings.HasPrefix(l, "Microsoft (R) Windows Debugger") || strings.HasPrefix(l, "Loading Dump File"):
		s.prompt("")
		s.g.boundary()
		return
	case strings.HasPrefix(l, "For analysis of this file, run !analyze"):
		s.g.dumpLoaded()
		return
	case strings.Contains(l, "Bugcheck Analysis"):
		s.g.banner()
		return
	}
	if m := textMatch(textField, l, ":"); m != nil && s.field(m[1], strings.TrimSpace(m[2])) {
		return
	}
	if s.bugCheckLines(l) || s.register(l) || s.modules(l) || s.pool(l) {
		return
	}
	if textImageHint(l) {
		if m := textImageNote.FindStringSubmatch(l); m != nil {
			if mod, ok := textImageModule(m[1]); ok {
				s.g.module(mod)
			}
			return
		}
	}
	if !textIsCut(l) {
		s.inModules, s.unloaded, s.inPool = false, false, false
	}
}

// pendingLocation completes a location: after FAULTING_IP comes the symbolic
// location, after that (as after a disassembly label) its instruction line.
func (s *textScanner) pendingLocation(l string) bool {
	if s.expectSite {
		s.expectSite = false
		if site, ok := textParseSite(l, false); ok && !site.raw {
			s.loc, s.hasLoc = site, true
			s.g.module(textSiteModule(site))
			if s.faultingIP {
				s.g.field("FAULTING_IP_MODULE", site.module)
				s.g.field("FAULTING_IP", site.String())
			}
			return true
		}
	}
	if s.hasLoc {
		loc := s.loc
		s.hasLoc = false
		if m := textDisasm.FindStringSubmatch(l); m != nil {
			if addr, ok := textAddr(m[1]); ok {
				s.g.location(loc.key(), addr)
				return true
			}
		}
	}
	if strings.HasSuffix(l, ":") && !strings.ContainsAny(l, " \t") {
		if site, ok := textParseSite(strings.TrimSuffix(l, ":"), false); ok && !site.raw {
			s.loc, s.hasLoc = site, true // a disassembly label: "nt!RtlDecompressBufferXpressLz+0x50:"
			return true
		}
	}
	return false
}

// field handles an !analyze -v field line; it reports whether it used it.
func (s *textScanner) field(name, value string) bool {
	if name != "STACK_TEXT" {
		s.stackText = false
	}
	switch name {
	case "STACK_TEXT":
		s.stackText = true
	case "BUGCHECK_CODE":
		if code, ok := textFirstHex(value); ok && code <= 0xFFFFFFFF {
			s.g.bugCheck(uint32(code), "", textFromCode, nil)
		}
	case "BUGCHECK_P1", "BUGCHECK_P2", "BUGCHECK_P3", "BUGCHECK_P4":
		if v, ok := textFirstHex(value); ok {
			s.g.arg(int(name[len(name)-1]-'1'), v)
		}
	case "BUGCHECK_STR", "FAILURE_BUCKET_ID", "BUCKET_ID", "DEFAULT_BUCKET_ID":
		if code, ok := textBucketCode(value); ok {
			s.g.bugCheck(code, "", textFromBucket, nil)
		}
		if name == "FAILURE_BUCKET_ID" || name == "BUCKET_ID" {
			s.g.field(name, value)
		}
	case "SYMBOL_NAME", "MODULE_NAME", "IMAGE_NAME", "PROCESS_NAME", "DEBUG_FLR_IMAGE_TIMESTAMP":
		s.g.field(name, value)
	case "FAULTING_IP", "FOLLOWUP_IP":
		s.faultingIP = name == "FAULTING_IP"
		if value == "" {
			s.expectSite = true
		} else if site, ok := textParseSite(value, false); ok && !site.raw {
			s.loc, s.hasLoc = site, true
			s.g.module(textSiteModule(site))
			if s.faultingIP {
				s.g.field("FAULTING_IP_MODULE", site.module)
				s.g.field("FAULTING_IP", site.String())
			}
		}
	case "FAULTING_MODULE":
		base, rest := textNextToken(value)
		name, _ := textNextToken(rest)
		if b, ok := textHex(base); ok && textModuleOK(name) {
			s.g.module(Module{Name: name, Base: b})
			s.g.field("FAULTING_MODULE", name)
		}
	default:
		return false
	}
	return true
}

// textBucketCode reads the bugcheck code !analyze puts in a bucket id:
// "X64_0x3B_fltmgr!FltpFastIoDeviceControl+7f", "0x7f_8_nt!...", "0x1E".
func textBucketCode(v string) (uint32, bool) {
	for i, part := range strings.SplitN(v, "_", 3) {
		if i > 1 {
			break
		}
		if strings.HasPrefix(part, "0x") || strings.HasPrefix(part, "0X") {
			code, ok := textHex(part)
			return uint32(code), ok && code != 0 && code <= 0xFFFFFFFF
		}
	}
	return 0, false
}

// bugCheckLines handles the other ways a bugcheck is written: the name line
// of !analyze, its Arguments block, "BugCheck X, {...}", ".bugcheck" output,
// and a known name alone on a line.
func (s *textScanner) bugCheckLines(l string) bool {
	if m := textMatch(textArg, l, "Arg"); m != nil {
		if v, ok := textHex(m[2]); ok {
			s.g.arg(int(m[1][0]-'1'), v)
		}
		return true
	}
	if m := textMatch(textBugCheckLine, l, "BugCheck "); m != nil {
		code, _ := textHex(m[1])
		var args []uint64
		for _, a := range strings.Split(m[2], ",") {
			if v, ok := textHex(strings.TrimSpace(a)); ok && len(args) < 4 {
				args = append(args, v)
			}
		}
		s.g.bugCheck(uint32(code), "", textFromCode, args)
		return true
	}
	if m := textMatch(textBugcheckCode, l, "Bugcheck code"); m != nil {
		code, _ := textHex(m[1])
		s.bugcheck, s.bugcheckOK = uint32(code), true
		return true
	}
	if s.bugcheckOK && strings.HasPrefix(l, "Arguments ") {
		var args []uint64
		for _, a := range strings.Fields(l)[1:] {
			if v, ok := textHex(a); ok && len(args) < 4 {
				args = append(args, v)
			}
		}
		s.g.bugCheck(s.bugcheck, "", textFromCode, args)
		s.bugcheckOK = false
		return true
	}
	return s.bugCheckName(l)
}

// bugCheckName recognises the name line of !analyze ("SYSTEM_SERVICE_EXCEPTION
// (3b)"), the same inside prose when name and code agree with the table, and
// a known name alone on a line ("KMODE_EXCEPTION_NOT_HANDLED").
func (s *textScanner) bugCheckName(l string) bool {
	if m := textMatch(textNameLine, l, ")"); m != nil {
		code, _ := textHex(m[2])
		s.g.bugCheck(uint32(code), m[1], textFromCode, nil)
		return true
	}
	if strings.IndexByte(l, ' ') < 0 && textNameOnly.MatchString(l) {
		if code, ok := textCodeOfName(l); ok {
			s.g.bugCheck(code, l, textFromName, nil)
			return true
		}
		return false
	}
	if !strings.Contains(l, "_") || !strings.Contains(l, " (") {
		return false
	}
	for _, m := range textNameEmbedded.FindAllStringSubmatch(l, 4) {
		code, _ := textHex(m[2])
		if textNameMatches(m[1], uint32(code)) {
			s.g.bugCheck(uint32(code), m[1], textFromCode, nil)
			return true
		}
	}
	return false
}

// textNameMatches reports whether name is code's symbolic name, its "_M"
// spelling included.
func textNameMatches(name string, code uint32) bool {
	n := BugCheckName(code)
	return n != "" && (name == n || strings.TrimSuffix(name, "_M") == n)
}

func textCodeOfName(name string) (uint32, bool) {
	byName := bugCheckCodeByName()
	if code, ok := byName[name]; ok {
		return code, true
	}
	if base, ok := strings.CutSuffix(name, "_M"); ok {
		if code, ok := byName[base]; ok {
			return code | 0x10000000, true
		}
	}
	return 0, false
}

// register notes rip and rsp of a register dump (.cxr, .trap, CONTEXT:), and
// the address ExceptionAddress gives a location.
func (s *textScanner) register(l string) bool {
	if m := textMatch(textExcAddress, l, "ExceptionAddress:"); m != nil {
		addr, ok1 := textHex(m[1])
		site, ok2 := textParseSite(m[2], false)
		if ok1 && ok2 && !site.raw {
			s.g.location(site.key(), addr)
		}
		return true
	}
	if !strings.Contains(l, "ip=") && !strings.Contains(l, "sp=") {
		return false
	}
	regs := textRegister.FindAllStringSubmatch(l, -1)
	if regs == nil {
		return false
	}
	for _, m := range regs {
		v, _ := strconv.ParseUint(m[3], 16, 64)
		if m[2] == "ip" {
			s.rip = v
		} else {
			s.rsp, s.ctxOK = v, true
		}
	}
	return true
}

// modules handles lm output: the column header, module rows (loaded and
// unloaded) and lmv's detail lines.
func (s *textScanner) modules(l string) bool {
	if !s.inModules && !textIsHexDigit(l[0]) && !strings.HasPrefix(l, "start") && l != "Unloaded modules:" {
		return false
	}
	f := strings.Fields(l)
	switch {
	case len(f) >= 4 && f[0] == "start" && f[1] == "end" && f[2] == "module" && f[3] == "name":
		s.inModules, s.unloaded = true, false
		return true
	case l == "Unloaded modules:":
		s.inModules, s.unloaded = true, true
		return true
	}
	if m, ok := textParseModuleRow(f); ok && (s.inModules || s.cmd == textCmdModules || textSymbolStatus(l)) {
		s.inModules = true
		if s.unloaded {
			s.g.unloadedModule()
			return true
		}
		s.lastModule = m.Name
		s.g.module(m)
		return true
	}
	if s.inModules && s.lastModule != "" {
		return s.moduleDetail(l)
	}
	return false
}

// textSymbolStatus reports whether an lm row says how its symbols loaded,
// which no other two-address line does.
func textSymbolStatus(l string) bool {
	return strings.Contains(l, "(deferred)") || strings.Contains(l, "symbols)")
}

// textParseModuleRow parses "start end name [image timestamp] [(status) path]".
func textParseModuleRow(f []string) (Module, bool) {
	if len(f) < 3 {
		return Module{}, false
	}
	start, ok1 := textAddr(f[0])
	end, ok2 := textAddr(f[1])
	if !ok1 || !ok2 || end <= start || end-start >= 1<<32 || !textModuleOK(f[2]) {
		return Module{}, false
	}
	m := Module{Name: f[2], Base: start, Size: end - start}
	if len(f) > 3 && !strings.HasPrefix(f[3], "(") {
		if im, ok := textImageModule(f[3]); ok {
			m.Image = im.Image // lm t n
		}
	}
	if ts := textTimestamp.FindStringSubmatch(f[len(f)-1]); ts != nil && len(f) > 4 {
		v, _ := strconv.ParseUint(ts[1], 16, 32)
		m.Timestamp = uint32(v)
	}
	if im, ok := textImageModule(f[2]); ok && m.Image == "" {
		m.Image = im.Image // the name is a file name, as for unloaded modules
	}
	return m, true
}

// moduleDetail reads lmv's lines about the module listed last.
func (s *textScanner) moduleDetail(l string) bool {
	if strings.HasPrefix(l, "Browse ") || strings.HasPrefix(l, "Information from resource") ||
		strings.HasPrefix(l, "Translations:") {
		return true
	}
	key, value, ok := strings.Cut(l, ":")
	if !ok {
		return false
	}
	value = strings.TrimSpace(value)
	var upd Module
	switch key {
	case "Image name", "Loaded symbol image file":
		upd.Image = value
	case "Image path":
		if m, ok := textImageModule(value); ok {
			upd.Image = m.Image
		}
	case "Timestamp":
		if ts := textTimestamp.FindStringSubmatch(value); ts != nil {
			v, _ := strconv.ParseUint(ts[1], 16, 32)
			upd.Timestamp = uint32(v)
		}
	case "CheckSum":
		v, _ := textHex(value)
		upd.Checksum = uint32(v)
	case "ImageSize":
		upd.Size, _ = textHex(value)
	default:
		return false
	}
	s.g.moduleDetail(s.lastModule, upd)
	return true
}

// pool handles !poolused: the column header and the rows under it.
func (s *textScanner) pool(l string) bool {
	if !s.inPool && s.cmd != textCmdPool && !strings.HasPrefix(l, "Tag") {
		return false
	}
	f := strings.Fields(l)
	if len(f) == 5 && f[0] == "Tag" && f[1] == "Allocs" && f[2] == "Used" && f[3] == "Allocs" && f[4] == "Used" {
		s.inPool = true
		return true
	}
	if !s.inPool {
		return s.cmd == textCmdPool && (strings.HasPrefix(l, "Sorting by") || len(f) > 0 && f[0] == "NonPaged")
	}
	p, ok := textParsePoolRow(l, f)
	if ok {
		s.g.pool(p)
	}
	return ok
}

// textParsePoolRow parses "Leak 119 4991221760 0 0 UNKNOWN pooltag 'Leak'"
// or "EtwB 196 7565568 2 131072 Etw Buffer , Binary: nt!etw": a tag of up to
// four characters (spaces included, so one or two fields), then NonPaged
// allocations and bytes, Paged allocations and bytes, then a description.
func textParsePoolRow(l string, f []string) (PoolUse, bool) {
	for k := 1; k <= 2 && k+4 <= len(f); k++ {
		tag := strings.Join(f[:k], " ")
		if len(tag) > 4 {
			break
		}
		var n [4]uint64
		ok := true
		for j := range n {
			v, err := strconv.ParseUint(f[k+j], 10, 64)
			n[j], ok = v, ok && err == nil
		}
		if !ok {
			continue
		}
		p := PoolUse{Tag: tag, NonPagedAllocs: n[0], NonPagedBytes: n[1], PagedAllocs: n[2], PagedBytes: n[3]}
		if m := textPoolBin.FindStringSubmatch(l); m != nil {
			p.Binary = m[1]
		}
		return p, true
	}
	return PoolUse{}, false
}

// ---- grouping evidence into crashes ----

// How a bugcheck code was learnt, weakest first.
const (
	textFromNone   = iota
	textFromStack  // inferred from the frames: nt!KiDoubleFaultAbort
	textFromBucket // a bucket id: "X64_0x3B_..."
	textFromFrame  // an nt!KeBugCheckEx row's arguments
	textFromName   // a known name without its code
	textFromCode   // the code itself: name line, BUGCHECK_CODE, BugCheck line
)

// textMaxNotes bounds Crash.Notes, whatever the text repeats.
const textMaxNotes = 32

// textMaxItems bounds the evidence read from one text (stack rows, modules,
// pool rows, bugcheck lines, fields): far more than any real session holds,
// it keeps memory small however the text is made.
const textMaxItems = 1 << 18

// textCrash gathers the evidence of one crash.
type textCrash struct {
	code     uint32
	codeFrom int
	name     string
	args     [4]uint64
	argSet   [4]bool
	// inferredFrom is the frame the code was inferred from (textFromStack).
	inferredFrom string

	sawBanner          bool
	stackAfterBugCheck bool // a stack came after the bugcheck was known
	tables             []*textTable
	sps                map[uint64]bool // Child-SP values of all its tables

	modules  []Module
	modIndex map[string]int // lower-case name -> index in modules
	unloaded int
	pool     []PoolUse
	tags     map[string]bool
	fields   map[string]string
	locs     map[textLocKey]uint64
	notes    []string
	dropped  int // notes beyond textMaxNotes
}

func (c *textCrash) evidence() bool {
	return c.codeFrom != textFromNone || len(c.tables) > 0 || len(c.modules) > 0 || len(c.pool) > 0 ||
		len(c.fields) > 0
}

func (c *textCrash) note(format string, args ...any) {
	if len(c.notes) >= textMaxNotes {
		c.dropped++
		return
	}
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

func (c *textCrash) hasAnalyzeStack() bool {
	for _, t := range c.tables {
		if t.origin == "STACK_TEXT" {
			return true
		}
	}
	return false
}

// argsConflict reports whether args contradict the arguments already known.
func (c *textCrash) argsConflict(args []uint64) bool {
	for i, v := range args {
		if i < 4 && c.argSet[i] && c.args[i] != v {
			return true
		}
	}
	return false
}

// textGrouper receives the scanner's evidence in text order and starts a new
// crash where the evidence cannot belong to the current one.
type textGrouper struct {
	all   []*textCrash
	items int // pieces of evidence received, against textMaxItems
}

func (g *textGrouper) spend()     { g.items++ }
func (g *textGrouper) full() bool { return g.items >= textMaxItems }

func (g *textGrouper) cur() *textCrash {
	if len(g.all) == 0 {
		g.all = append(g.all, &textCrash{})
	}
	return g.all[len(g.all)-1]
}

// split starts a new crash, unless the current one holds nothing yet.
func (g *textGrouper) split() *textCrash {
	if g.cur().evidence() {
		g.all = append(g.all, &textCrash{})
	}
	return g.cur()
}

// boundary: a new debugger session starts (another dump is opened).
func (g *textGrouper) boundary() { g.split() }

// dumpLoaded: the debugger finished opening a dump. Its own stacks come
// after this line, so a crash that already has one is another dump's.
func (g *textGrouper) dumpLoaded() {
	if len(g.cur().tables) > 0 {
		g.split()
	}
}

// banner: an "Bugcheck Analysis" banner starts !analyze output. A second one,
// or one after an analysis stack, is another crash.
func (g *textGrouper) banner() {
	g.spend()
	c := g.cur()
	if c.sawBanner || c.hasAnalyzeStack() {
		c = g.split()
	}
	c.sawBanner = true
}

// bugCheck records a bugcheck code, with its name and arguments when the line
// gives them. A code that differs from the known one, contradicting
// arguments, or a bugcheck header after the crash's stack, start a new crash:
// within one crash's text the header comes before the stack.
func (g *textGrouper) bugCheck(code uint32, name string, from int, args []uint64) {
	g.spend()
	c := g.cur()
	if from >= textFromName {
		switch {
		case c.codeFrom == textFromBucket && len(c.tables) > 0,
			c.codeFrom >= textFromName && (textBase(c.code) != textBase(code) || c.stackAfterBugCheck ||
				c.argsConflict(args)):
			c = g.split()
		case c.codeFrom == textFromBucket && textBase(c.code) != textBase(code):
			c = g.split()
		}
	}
	if from > c.codeFrom {
		c.code, c.codeFrom = code, from
	}
	if name != "" && c.name == "" {
		c.name = name
	}
	for i, v := range args {
		c.args[i], c.argSet[i] = v, true
	}
}

func textBase(code uint32) uint32 { return code &^ 0x10000000 }

// arg records one bugcheck argument (Arg1:, BUGCHECK_P1:).
func (g *textGrouper) arg(i int, v uint64) {
	g.spend()
	c := g.cur()
	if c.argSet[i] && c.args[i] != v {
		c = g.split()
	}
	c.args[i], c.argSet[i] = v, true
}

// stack adds a stack listing. A later part of the crash's last stack is
// appended to it; a listing that shares a Child-SP with the crash's stacks
// shows the same thread again; any other listing is another thread, which
// is another crash unless a bugcheck, or the one command that listed many
// threads, ties the crash together (then it is kept as an alternative, and
// the best listing is chosen at the end).
func (g *textGrouper) stack(t *textTable) {
	c := g.cur()
	if n := len(c.tables); n > 0 {
		last := c.tables[n-1]
		if last.continues(t) {
			last.joins = append(last.joins, len(last.rows))
			last.rows = append(last.rows, t.rows...)
			last.cutEnd, last.end = t.cutEnd, t.end
			c.addSPs(t)
			c.note("the stack listed from line %d continues at line %d; rows between the parts may be missing, "+
				"so frame indices after the join are positions in the text", last.line, t.line)
			return
		}
		sameCommand := t.threads && last.threads && t.cmdSeq == last.cmdSeq
		if !c.overlaps(t) && c.codeFrom == textFromNone && !sameCommand {
			c = g.split()
		}
	}
	c.tables = append(c.tables, t)
	c.addSPs(t)
	if c.codeFrom != textFromNone {
		c.stackAfterBugCheck = true
	}
}

func (c *textCrash) addSPs(t *textTable) {
	for _, r := range t.rows {
		if r.hasSP {
			if c.sps == nil {
				c.sps = map[uint64]bool{}
			}
			c.sps[r.sp] = true
		}
	}
}

// overlaps reports whether t shows a thread the crash already has: a shared
// Child-SP, or, for listings without one (kc), the same innermost frames as
// the last listing.
func (c *textCrash) overlaps(t *textTable) bool {
	for _, r := range t.rows {
		if r.hasSP && c.sps[r.sp] {
			return true
		}
	}
	if t.hasColumns() || len(c.tables) == 0 {
		return false
	}
	last := c.tables[len(c.tables)-1]
	n := min(3, len(t.rows), len(last.rows))
	for i := range n {
		a, b := t.rows[i].site, last.rows[i].site
		if !strings.EqualFold(a.module, b.module) || a.symbol != b.symbol {
			return false
		}
	}
	return n > 0
}

// field records an !analyze -v field; the same field with another value is
// another crash.
func (g *textGrouper) field(name, value string) {
	g.spend()
	c := g.cur()
	if old, ok := c.fields[name]; ok && old != value {
		c = g.split()
	}
	if c.fields == nil {
		c.fields = map[string]string{}
	}
	c.fields[name] = value
}

// module adds a module, or fills in what an earlier mention left out.
func (g *textGrouper) module(m Module) {
	g.spend()
	g.cur().addModule(m)
}

func (c *textCrash) addModule(m Module) {
	key := strings.ToLower(m.Name)
	if i, ok := c.modIndex[key]; ok {
		c.modules[i] = textMergeModule(c.modules[i], m)
		return
	}
	if c.modIndex == nil {
		c.modIndex = map[string]int{}
	}
	c.modIndex[key] = len(c.modules)
	c.modules = append(c.modules, m)
}

func (g *textGrouper) moduleDetail(name string, upd Module) {
	c := g.cur()
	if i, ok := c.modIndex[strings.ToLower(name)]; ok {
		c.modules[i] = textMergeModule(c.modules[i], upd)
	}
}

// textMergeModule fills the zero fields of m from n.
func textMergeModule(m, n Module) Module {
	if m.Image == "" {
		m.Image = n.Image
	}
	if m.Base == 0 {
		m.Base = n.Base
	}
	if m.Size == 0 {
		m.Size = n.Size
	}
	if m.Timestamp == 0 {
		m.Timestamp = n.Timestamp
	}
	if m.Checksum == 0 {
		m.Checksum = n.Checksum
	}
	return m
}

func (g *textGrouper) unloadedModule() {
	g.spend()
	g.cur().unloaded++
}

// pool adds a !poolused row; a tag listed again (another sort order of the
// same output) is kept once.
func (g *textGrouper) pool(p PoolUse) {
	g.spend()
	c := g.cur()
	if c.tags[p.Tag] {
		return
	}
	if c.tags == nil {
		c.tags = map[string]bool{}
	}
	c.tags[p.Tag] = true
	c.pool = append(c.pool, p)
}

// location records the address of a code location the text spells out.
func (g *textGrouper) location(k textLocKey, addr uint64) {
	g.spend()
	c := g.cur()
	if c.locs == nil {
		c.locs = map[textLocKey]uint64{}
	}
	if _, ok := c.locs[k]; !ok {
		c.locs[k] = addr
	}
}

// ---- from evidence to Crash values ----

// crashes turns the groups that hold evidence into Crash values named
// source, source#2, ...
func (g *textGrouper) crashes(source string) []Crash {
	var kept []*textCrash
	for _, c := range g.all {
		if !c.evidence() {
			continue
		}
		if n := len(kept); n > 0 && kept[n-1].absorbs(c) {
			continue
		}
		kept = append(kept, c)
	}
	out := make([]Crash, 0, len(kept))
	for i, c := range kept {
		name := source
		if i > 0 {
			name = fmt.Sprintf("%s#%d", source, i+1)
		}
		out = append(out, c.build(name))
	}
	return out
}

// absorbs merges d into c when d repeats c's bugcheck and adds only fields
// (".bugcheck" run after !analyze -v): it is the same crash, not a new one.
func (c *textCrash) absorbs(d *textCrash) bool {
	if d.codeFrom < textFromName || c.codeFrom < textFromName || textBase(c.code) != textBase(d.code) ||
		len(d.tables) > 0 || len(d.modules) > 0 || len(d.pool) > 0 {
		return false
	}
	for i := range d.args {
		if d.argSet[i] && c.argSet[i] && d.args[i] != c.args[i] {
			return false
		}
	}
	for k, v := range d.fields {
		if old, ok := c.fields[k]; ok && old != v {
			return false
		}
	}
	for k, v := range d.fields {
		if c.fields == nil {
			c.fields = map[string]string{}
		}
		c.fields[k] = v
	}
	for i := range d.args {
		if d.argSet[i] && !c.argSet[i] {
			c.args[i], c.argSet[i] = d.args[i], true
		}
	}
	return true
}

// build makes the Crash: the chosen stack with its addresses filled in, the
// bugcheck (inferred if the header is missing), modules and notes.
func (c *textCrash) build(source string) Crash {
	cr := Crash{Source: source, PoolUsage: c.pool}
	if t := c.primary(); t != nil {
		cr.Frames = c.resolve(t.frames())
		cr.FramesFrom = "text"
		c.noteStack(t, cr.Frames)
	}
	c.faultingFrame(&cr)
	c.inferBugCheck()
	if c.codeFrom != textFromNone {
		cr.HasBugCheck, cr.BugCheck = true, c.code
		cr.BugCheckInferredFrom = c.inferredFrom
		cr.BugCheckName = c.name
		if cr.BugCheckName == "" {
			cr.BugCheckName = BugCheckName(c.code)
		}
		for i := 3; i >= 0; i-- {
			if c.argSet[i] {
				cr.Args = append([]uint64(nil), c.args[:i+1]...)
				break
			}
		}
	}
	cr.SymbolName = c.fields["SYMBOL_NAME"]
	cr.ModuleName = c.fields["MODULE_NAME"]
	cr.ImageName = c.fields["IMAGE_NAME"]
	cr.ProcessName = c.fields["PROCESS_NAME"]
	cr.FaultingModule = c.fields["FAULTING_IP_MODULE"]
	if cr.FaultingModule == "" {
		cr.FaultingModule = c.fields["FAULTING_MODULE"]
	}
	cr.BucketID = c.fields["FAILURE_BUCKET_ID"]
	if cr.BucketID == "" {
		cr.BucketID = c.fields["BUCKET_ID"]
	}
	c.analysisModule()
	cr.Modules = c.modules
	if c.unloaded > 0 {
		c.note("%d unloaded modules listed by lm are not in Modules", c.unloaded)
	}
	cr.Notes = c.notes
	if c.dropped > 0 {
		cr.Notes = append(cr.Notes, fmt.Sprintf("%d more notes left out", c.dropped))
	}
	return cr
}

// faultingFrame makes FAULTING_IP the innermost frame when the stack does
// not show it (a STACK_TEXT of unsymbolised kernel frames, a stack cut
// above the fault): matching then sees the driver's faulting instruction.
// Only for a listing without frame numbers, whose indices are positions;
// otherwise a note says so.
func (c *textCrash) faultingFrame(cr *Crash) {
	fip := c.fields["FAULTING_IP"]
	if fip == "" || len(cr.Frames) == 0 {
		return
	}
	site, ok := textParseSite(fip, false)
	if !ok {
		return
	}
	for _, f := range cr.Frames {
		if strings.EqualFold(f.Module, site.module) && f.Symbol == site.symbol && f.Offset == site.offset {
			return
		}
	}
	if t := c.primary(); t != nil && len(t.rows) > 0 && t.rows[0].num >= 0 {
		c.note("FAULTING_IP %s is not among the frames", fip)
		return
	}
	f := Frame{Module: site.module, Symbol: site.symbol, Offset: site.offset}
	if addr, ok := c.locs[site.key()]; ok {
		f.Address, f.HasAddress = addr, true
	}
	cr.Frames = append([]Frame{f}, cr.Frames...)
	for i := range cr.Frames {
		cr.Frames[i].Index = i
	}
	c.note("FAULTING_IP %s is not on the stack as pasted: it is taken as the innermost frame", fip)
}

// primary chooses the listing that becomes Frames: !analyze's STACK_TEXT
// first, then a listing in a register context (.cxr; k: where the exception
// happened), then any other; among equals the longest, then the one with
// address columns, then the first.
func (c *textCrash) primary() *textTable {
	var best *textTable
	for _, t := range c.tables {
		if best == nil || textTableRank(t) > textTableRank(best) {
			best = t
		}
	}
	return best
}

func textTableRank(t *textTable) int {
	rank := 1
	switch {
	case t.origin == "STACK_TEXT":
		rank = 3
	case t.context:
		rank = 2
	}
	cols := 0
	if t.hasColumns() {
		cols = 1
	}
	return rank<<40 | min(len(t.rows), 1<<30)<<1 | cols
}

// noteStack tells what a reader of Frames should know about the listing
// chosen and the ones left out.
func (c *textCrash) noteStack(t *textTable, frames []Frame) {
	for _, u := range c.tables {
		if u != t {
			c.note("the %s listing of %d frames at line %d is not used: Frames holds the %s listing at line %d",
				textOrigin(u), len(u.rows), u.line, textOrigin(t), t.line)
		}
	}
	offsets := false
	for i, r := range t.rows {
		if r.cut {
			c.note("frame %02x: the row is cut before its call site", frames[i].Index)
		}
		if r.site.sourceCut {
			c.note("frame %02x: the source file suffix is cut", frames[i].Index)
		}
		offsets = offsets || r.site.hasOffset || r.site.raw
	}
	if !offsets && !t.hasColumns() {
		c.note("the listing gives no offsets (kc): Offset is 0 in every frame")
	}
	if t.cutEnd {
		c.note("the text is marked cut or elided after the last frame listed")
	}
}

func textOrigin(t *textTable) string {
	if t.origin == "" {
		return "stack"
	}
	return t.origin
}

// resolve gives frames without an address the address of their location
// when the text spells it out elsewhere (FAULTING_IP, ExceptionAddress, a
// disassembly label): within one dump a module, symbol and offset is one
// instruction.
func (c *textCrash) resolve(frames []Frame) []Frame {
	if len(c.locs) == 0 {
		return frames
	}
	for i := range frames {
		f := &frames[i]
		if f.HasAddress || f.Module == "" {
			continue
		}
		if addr, ok := c.locs[textLocKey{strings.ToLower(f.Module), f.Symbol, f.Offset}]; ok {
			f.Address, f.HasAddress = addr, true
		}
	}
	return frames
}

// inferBugCheck takes the bugcheck from an nt!KeBugCheckEx row's "Args to
// Child" (kv, kb, STACK_TEXT) when no header gave it: they are the code and
// the first three parameters. It also fills in missing arguments when the
// code agrees.
func (c *textCrash) inferBugCheck() {
	if c.codeFrom >= textFromName && c.argSet[0] {
		return
	}
	for _, t := range c.tables {
		for _, r := range t.rows {
			// KeBugCheckEx's arguments are the code and the first
			// parameters; KeBugCheck2 and KiBugCheckDispatch (which the
			// page-fault and exception paths call) take them in the same
			// registers, but their home slots may hold stale values: a
			// code there counts only when it is a bugcheck WinDbg names.
			if !strings.EqualFold(r.site.module, "nt") || len(r.args) < 2 {
				continue
			}
			exact := r.site.symbol == "KeBugCheckEx"
			if !exact && r.site.symbol != "KeBugCheck2" && r.site.symbol != "KiBugCheckDispatch" {
				continue
			}
			code := r.args[0]
			if code == 0 || code > 0xFFFFFFFF || !exact && BugCheckName(uint32(code)) == "" {
				continue
			}
			switch {
			case c.codeFrom < textFromFrame:
				c.code, c.codeFrom = uint32(code), textFromFrame
				c.note("bugcheck 0x%X and its first %d parameters are read from the nt!%s row's "+
					"arguments (the bugcheck header is not in the text)", code, min(len(r.args)-1, 4), r.site.symbol)
			case textBase(c.code) != textBase(uint32(code)):
				continue
			default:
				c.note("bugcheck parameters are read from the nt!%s row's arguments", r.site.symbol)
			}
			for i, v := range r.args[1:min(len(r.args), 5)] {
				if !c.argSet[i] {
					c.args[i], c.argSet[i] = v, true
				}
			}
			return
		}
	}
	if c.codeFrom == textFromBucket {
		c.note("bugcheck 0x%X is read from the bucket id (the bugcheck header is not in the text)", c.code)
	}
	if c.codeFrom == textFromNone {
		c.inferFromFrames()
	}
}

// inferFromFrames names the bugcheck a stack shows when the text has lost
// the header, as people paste only the frames: a double fault (the kernel
// stack overflowed) is bugcheck 0x7F with parameter 1 = 8, raised from
// nt!KiDoubleFaultAbort.
func (c *textCrash) inferFromFrames() {
	for _, t := range c.tables {
		for _, r := range t.rows {
			if strings.EqualFold(r.site.module, "nt") && r.site.symbol == "KiDoubleFaultAbort" {
				c.code, c.codeFrom, c.inferredFrom = 0x7F, textFromStack, "nt!KiDoubleFaultAbort"
				c.args[0], c.argSet[0] = 8, true
				c.note("bugcheck 0x7F parameter 1 = 8 (EXCEPTION_DOUBLE_FAULT) is inferred from nt!KiDoubleFaultAbort " +
					"on the stack (the bugcheck header is not in the text)")
				return
			}
		}
	}
}

// analysisModule adds the module !analyze blames (MODULE_NAME, IMAGE_NAME,
// DEBUG_FLR_IMAGE_TIMESTAMP) to the modules.
func (c *textCrash) analysisModule() {
	name := c.fields["MODULE_NAME"]
	if !textModuleOK(name) {
		return
	}
	m := Module{Name: name, Image: c.fields["IMAGE_NAME"]}
	if ts, ok := textHex(c.fields["DEBUG_FLR_IMAGE_TIMESTAMP"]); ok && ts <= 0xFFFFFFFF {
		m.Timestamp = uint32(ts)
	}
	c.addModule(m)
}
