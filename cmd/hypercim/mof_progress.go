package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// mofProgress draws the progress of a MOF compile on a terminal, at most
// ten times a second, and erases it when done. A nil *mofProgress draws
// nothing.
type mofProgress struct {
	w     io.Writer
	unit  string // what an open-ended count counts; "files" when empty
	last  time.Time
	drawn bool
}

// update is a mof.Compiler Progress function.
func (p *mofProgress) update(phase string, done, total int) {
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && (total == 0 || done < total) {
		return
	}
	p.last = now
	p.drawn = true
	if total == 0 {
		unit := p.unit
		if unit == "" {
			unit = "files"
		}
		fmt.Fprintf(p.w, "\r\033[K%-8s %d %s", phase, done, unit)
		return
	}
	const width = 30
	filled := width * done / total
	fmt.Fprintf(p.w, "\r\033[K%-8s [%s%s] %d/%d", phase, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total)
}

func (p *mofProgress) done() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// mofIsTerminal reports whether w is a terminal.
func mofIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
