package cim

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CIM names (namespaces, classes, properties, methods, parameters,
// qualifiers) are case-insensitive (DSP0004 clause 5.1): they compare equal
// under Unicode simple case folding while their original spelling is
// preserved for output.

// EqualNames reports whether two CIM names are equal, ignoring case.
func EqualNames(a, b string) bool {
	if len(a) != len(b) {
		// Equal folds of non-ASCII runes may differ in byte length
		// (e.g. the Kelvin sign and "k"); only then is the slow path needed.
		if isASCII(a) && isASCII(b) {
			return false
		}
		return strings.EqualFold(a, b)
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca|cb >= utf8.RuneSelf {
			// Restart where both strings start a rune; the bytes before
			// matched, so the runes before decode alike.
			for i > 0 && !(utf8.RuneStart(a[i]) && utf8.RuneStart(b[i])) {
				i--
			}
			return strings.EqualFold(a[i:], b[i:])
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// FoldName returns the case-folded form of a CIM name: two names are
// EqualNames exactly when their FoldName results are identical. ASCII
// letters fold to lower case ("CIM_Foo" -> "cim_foo"), so the folded form is
// suitable for store keys and canonical paths. When s is already folded it
// is returned without allocating.
func FoldName(s string) string {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// appendFolded appends FoldName(s) to dst without an intermediate string.
func appendFolded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				dst = utf8.AppendRune(dst, foldRune(r))
			}
			return dst
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// foldRune maps r to a fixed representative of its simple-fold orbit: the
// smallest rune of the orbit, lower-cased when that is an ASCII letter.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	if 'A' <= min && min <= 'Z' {
		min += 'a' - 'A'
	}
	return min
}

// ValidName reports whether s is a valid CIM identifier (DSP0004 ANNEX A
// IDENTIFIER): a letter, underscore or a character in U+0080..U+FFEF,
// followed by those or digits.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9':
			if i == 0 {
				return false
			}
		case r >= 0x80 && r <= 0xFFEF && !(r == utf8.RuneError && n == 1):
		default:
			return false
		}
		i += n
	}
	return true
}

// validNamespace reports whether s is a namespace name: identifiers
// separated by single slashes (DSP0004), e.g. "root/cimv2".
func validNamespace(s string) bool {
	if s == "" {
		return false
	}
	for {
		i := strings.IndexByte(s, '/')
		if i < 0 {
			return ValidName(s)
		}
		if !ValidName(s[:i]) {
			return false
		}
		s = s[i+1:]
	}
}

// nameIndex maps folded names to positions in a slice. It is immutable once
// built, so a class can share it with every instance made from it.
type nameIndex struct {
	pos map[string]int32
	n   int // number of leading slice elements the index covers
}

// indexThreshold is the size below which a linear scan beats hashing.
const indexThreshold = 8

func buildIndex(props []Property) *nameIndex {
	idx := &nameIndex{pos: make(map[string]int32, len(props)), n: len(props)}
	for i := range props {
		k := FoldName(props[i].Name)
		if _, dup := idx.pos[k]; !dup {
			idx.pos[k] = int32(i)
		}
	}
	return idx
}

// find returns the position of the property called name in props, or -1.
// The index is only a hint: a hit is verified against the slice, and
// elements appended after the index was built are scanned. A nil index
// means a linear scan.
func (idx *nameIndex) find(props []Property, name string) int {
	start := 0
	if idx != nil && idx.n <= len(props) {
		var buf [64]byte
		var i int32
		var ok bool
		if len(name) <= len(buf) && isASCII(name) {
			// string(b) in a map index expression does not allocate.
			i, ok = idx.pos[string(appendFolded(buf[:0], name))]
		} else {
			i, ok = idx.pos[FoldName(name)]
		}
		if ok && EqualNames(props[i].Name, name) {
			return int(i)
		}
		start = idx.n
	}
	for i := start; i < len(props); i++ {
		if EqualNames(props[i].Name, name) {
			return i
		}
	}
	return -1
}
