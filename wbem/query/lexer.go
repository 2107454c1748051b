package query

import (
	"strings"
	"unicode/utf8"

	"github.com/hypercim/hypercim/cim"
)

// tokenKind classifies a token.
type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokNumber
	tokOp    // = <> != < <= > >=
	tokPunct // ( ) , . [ ] { } *
	tokInvalid
)

// token is one lexical element; pos is its byte offset in the query.
type token struct {
	kind tokenKind
	text string // identifier, operator or punctuation as written; decoded string
	pos  int
}

// maxQueryLen bounds what is parsed, so a hostile query costs bounded work.
const maxQueryLen = 64 << 10

// lexer splits a query into tokens.
type lexer struct {
	src  string
	pos  int
	toks []token
}

func tokenize(src string) ([]token, error) {
	if len(src) > maxQueryLen {
		return nil, cim.Errorf(cim.ErrInvalidQuery, "query is %d bytes long; at most %d are accepted", len(src), maxQueryLen)
	}
	if !utf8.ValidString(src) {
		return nil, cim.NewError(cim.ErrInvalidQuery, "query is not valid UTF-8")
	}
	l := &lexer{src: src}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, t)
		if t.kind == tokEOF {
			return l.toks, nil
		}
	}
}

func (l *lexer) errorf(pos int, format string, args ...any) error {
	return cim.Errorf(cim.ErrInvalidQuery, "at position %d: "+format, append([]any{pos + 1}, args...)...)
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case c == '\'' || c == '"':
		s, err := l.quoted(c)
		return token{kind: tokString, text: s, pos: start}, err
	case isDigit(c) || c == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]):
		return l.number(), nil
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokIdent, text: l.src[start:l.pos], pos: start}, nil
	case c >= 0x80:
		r, n := utf8.DecodeRuneInString(l.src[l.pos:])
		if r >= 0x80 && r <= 0xFFEF {
			// DSP0004 identifiers may hold any character of this range.
			l.pos += n
			for l.pos < len(l.src) {
				if isIdentPart(l.src[l.pos]) {
					l.pos++
					continue
				}
				r, n := utf8.DecodeRuneInString(l.src[l.pos:])
				if r < 0x80 || r > 0xFFEF {
					break
				}
				l.pos += n
			}
			return token{kind: tokIdent, text: l.src[start:l.pos], pos: start}, nil
		}
		return token{}, l.errorf(start, "unexpected character %q", r)
	}
	switch c {
	case '<':
		if l.peekAt(1) == '=' || l.peekAt(1) == '>' {
			l.pos += 2
			return token{kind: tokOp, text: l.src[start:l.pos], pos: start}, nil
		}
		l.pos++
		return token{kind: tokOp, text: "<", pos: start}, nil
	case '>':
		if l.peekAt(1) == '=' {
			l.pos += 2
			return token{kind: tokOp, text: ">=", pos: start}, nil
		}
		l.pos++
		return token{kind: tokOp, text: ">", pos: start}, nil
	case '!':
		if l.peekAt(1) == '=' {
			l.pos += 2
			return token{kind: tokOp, text: "<>", pos: start}, nil
		}
	case '=':
		l.pos++
		return token{kind: tokOp, text: "=", pos: start}, nil
	case '(', ')', ',', '.', '[', ']', '{', '}', '*', '-', '+':
		l.pos++
		return token{kind: tokPunct, text: string(c), pos: start}, nil
	}
	return token{}, l.errorf(start, "unexpected character %q", rune(c))
}

func (l *lexer) peekAt(off int) byte {
	if l.pos+off < len(l.src) {
		return l.src[l.pos+off]
	}
	return 0
}

// quoted reads a string literal in quote q: backslash escapes as in DSP0212
// and CQL (\\ \' \" \b \t \n \f \r \uXXXX), and a doubled quote as in SQL.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return "", l.errorf(start, "unterminated string")
		}
		c := l.src[l.pos]
		switch {
		case c == q && l.peekAt(1) == q:
			b.WriteByte(q)
			l.pos += 2
		case c == q:
			l.pos++
			return b.String(), nil
		case c == '\\':
			if l.pos+1 >= len(l.src) {
				return "", l.errorf(l.pos, "unterminated string")
			}
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'u', 'x', 'X':
				n, r := 0, rune(0)
				for n < 6 && l.pos < len(l.src) && isHex(l.src[l.pos]) {
					r = r*16 + rune(hexVal(l.src[l.pos]))
					l.pos++
					n++
				}
				if n < 4 && e == 'u' || n == 0 || !utf8.ValidRune(r) {
					return "", l.errorf(l.pos, "invalid \\%c escape in string", e)
				}
				b.WriteRune(r)
			default:
				// \\ \' \" and an escaped character that needs no escape:
				// keep the character, so LIKE patterns may escape their
				// own special characters with a backslash too.
				if e != '\\' && e != '\'' && e != '"' {
					b.WriteByte('\\')
				}
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
}

// number reads an unsigned numeric literal; its value is decoded by the
// parser, which knows whether a sign precedes it.
func (l *lexer) number() token {
	start := l.pos
	if l.src[l.pos] == '0' && (l.peekAt(1) == 'x' || l.peekAt(1) == 'X') {
		l.pos += 2
		for l.pos < len(l.src) && isHex(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokNumber, text: l.src[start:l.pos], pos: start}
	}
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
	// Binary literal: 1010B (CQL, FQL).
	if (l.peekAt(0) == 'b' || l.peekAt(0) == 'B') && !isIdentPart(l.peekAt(1)) && allBinary(l.src[start:l.pos]) {
		l.pos++
		return token{kind: tokNumber, text: l.src[start:l.pos], pos: start}
	}
	if l.peekAt(0) == '.' && isDigit(l.peekAt(1)) {
		l.pos++
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
	}
	if c := l.peekAt(0); c == 'e' || c == 'E' {
		save := l.pos
		l.pos++
		if c := l.peekAt(0); c == '+' || c == '-' {
			l.pos++
		}
		if !isDigit(l.peekAt(0)) {
			l.pos = save
		}
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
	}
	return token{kind: tokNumber, text: l.src[start:l.pos], pos: start}
}

func allBinary(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' && s[i] != '1' {
			return false
		}
	}
	return s != ""
}

func isSpace(c byte) bool      { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isHex(c byte) bool        { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}
