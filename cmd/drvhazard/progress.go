package main

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress follows a scan: begin with the number of files, start and done
// for each (from any worker), end once all are done.
type progress interface {
	begin(total int)
	start(path string)
	done()
	end()
}

// noProgress shows nothing.
type noProgress struct{}

func (noProgress) begin(int)    {}
func (noProgress) start(string) {}
func (noProgress) done()        {}
func (noProgress) end()         {}

// terminal returns the file descriptor behind w when w is a terminal.
func terminal(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// useColor decides colour for output written to w, and on Windows turns
// on the console's ANSI processing that colour needs.
func useColor(w io.Writer, getenv func(string) string) bool {
	fd, tty := terminal(w)
	return wantColor(tty, getenv) && enableANSI(fd)
}

// wantColor: colour only on a terminal, and never when NO_COLOR is set to a
// non-empty value (https://no-color.org).
func wantColor(tty bool, getenv func(string) string) bool {
	return tty && getenv("NO_COLOR") == ""
}

// wantProgress: a progress bar only on a terminal that can redraw a line,
// so never into a file or a pipe, and never in CI (CI is set by every major
// CI service, including those that give the job a pseudo-terminal) or on
// TERM=dumb.
func wantProgress(tty bool, getenv func(string) string) bool {
	return tty && getenv("CI") == "" && getenv("TERM") != "dumb"
}

// newProgress returns a progress bar drawn on w if wantProgress, and
// noProgress otherwise.
func newProgress(w io.Writer, getenv func(string) string) progress {
	fd, tty := terminal(w)
	if !wantProgress(tty, getenv) {
		return noProgress{}
	}
	width := 80
	if cols, _, err := term.GetSize(fd); err == nil && cols > 0 {
		width = cols
	}
	return &barProgress{w: w, width: width, throttle: 100 * time.Millisecond, eraseANSI: eraseWithANSI(fd)}
}

// eraseWithANSI says whether the bar on the terminal fd erases lines with
// ANSI sequences. progressbar erases a line on Windows with a carriage
// return alone, which leaves the end of a longer line behind and the whole
// bar on the screen when it is done: there, once the console interprets
// ANSI sequences, it erases with them. Elsewhere it overwrites the line
// with spaces, which every terminal understands.
func eraseWithANSI(fd int) bool {
	return runtime.GOOS == "windows" && enableANSI(fd)
}

// barProgress draws "path  50% |██████      | (20/40) [2s:2s]" on one line,
// without colour (NO_COLOR has nothing to turn off), redrawn at most ten
// times a second, and erased at the end so that what
// follows (the report, error lines) starts on a clean line. The bar locks
// itself: start and done may be called from any worker.
type barProgress struct {
	w         io.Writer
	width     int                      // terminal columns
	throttle  time.Duration            // least time between redraws
	room      int                      // columns for the file name
	eraseANSI bool                     // erase lines with ANSI sequences, not spaces (eraseWithANSI)
	bar       *progressbar.ProgressBar // nil before begin and for an empty scan
}

func (p *barProgress) begin(total int) {
	if total == 0 {
		return
	}
	// Besides the name: "  50% |" 7, the bar 20, "| " 2, "(20/40)" 3 and
	// the digits, " [1m10s:2m30s]" up to 14, and the last column left free
	// so that the line never wraps.
	p.room = p.width - (7 + 20 + 2 + 3 + 2*len(strconv.Itoa(total)) + 14 + 1)
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(p.throttle),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionUseANSICodes(p.eraseANSI),
	)
}

// start shows the file a worker has just taken, shortened from the left to
// fit the line: a wrapped line could not be redrawn in place.
func (p *barProgress) start(path string) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fit(path, p.room))
}

func (p *barProgress) done() {
	if p.bar == nil {
		return
	}
	_ = p.bar.Add(1) // a failed redraw is no reason to stop the scan
}

// end erases the bar; it runs after the workers have stopped.
func (p *barProgress) end() {
	if p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	_ = p.bar.Clear()
	p.bar = nil
}

// fit shortens s to at most n columns (counting runes) by eliding its start,
// where a path is least informative; below 8 columns it shows nothing.
func fit(s string, n int) string {
	if n < 8 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return "…" + string(r[len(r)-(n-1):])
}
