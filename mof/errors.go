package mof

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a MOF source: file name, 1-based line and 1-based
// column. Columns count characters (Unicode code points), not bytes, so a
// message points where an editor's cursor would be; a tab counts as one.
type Pos struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether p names a real position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats p as file:line:col, the form editors and CI logs recognise.
func (p Pos) String() string {
	if !p.IsValid() {
		if p.File == "" {
			return "-"
		}
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem found in a MOF source, located at Pos.
type Error struct {
	Pos Pos
	Msg string
	// Err is the underlying cause when the problem came from elsewhere
	// (an I/O error, or a cim.Error returned by a Target); it may be nil.
	Err error
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap returns the cause, so errors.Is and errors.As see through an Error.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every problem found in one run, in source order. A compiler
// run keeps going after an error so that one run reports as many as it can.
type ErrorList []*Error

// MaxShownErrors is how many messages ErrorList.Error shows (and the CLI
// prints by default): past that many, a file is rarely the MOF its author
// meant, and the first messages are the ones that help.
const MaxShownErrors = 20

// Error joins the messages one per line, at most MaxShownErrors of them,
// then says how many more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	shown, more := l.Shown(MaxShownErrors)
	for i, e := range shown {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	if more > 0 {
		b.WriteString("\n" + MoreErrors(more))
	}
	return b.String()
}

// Shown returns the first max errors of l (all of them when max <= 0) and
// how many are left out.
func (l ErrorList) Shown(max int) (ErrorList, int) {
	if max <= 0 || len(l) <= max {
		return l, 0
	}
	return l[:max], len(l) - max
}

// MoreErrors is the line that stands for n errors left out.
func MoreErrors(n int) string {
	if n == 1 {
		return "... 1 more error"
	}
	return fmt.Sprintf("... %d more errors", n)
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// sortBySource orders the list by file (as ranked by fileOrder; files not
// ranked come first, in their existing order), line and column, keeping
// the order of messages at the same position.
func (l ErrorList) sortBySource(fileOrder map[string]int) {
	rank := func(e *Error) int {
		if r, ok := fileOrder[e.Pos.File]; ok {
			return r
		}
		return -1
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
}
