package mof

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies a token. Keywords are not token kinds: MOF keywords
// are case-insensitive and several (Association, Indication, Reference,
// Schema...) are also ordinary qualifier or property names, so the parser
// recognises them by context from identifier tokens.
type tokenKind uint8

const (
	tEOF tokenKind = iota
	tIdent
	tInt    // integer literal; value in token.num and token.neg
	tReal   // real literal; value in token.fval
	tString // string literal; decoded value in token.text
	tChar   // char16 literal; decoded value in token.text
	tAlias  // $name; name (without $) in token.text
	tPragma // #pragma
	tLBrace
	tRBrace
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tSemi
	tColon
	tEquals
	tIllegal // a character that starts no token; already reported
)

func (k tokenKind) String() string {
	return [...]string{
		tEOF:     "end of file",
		tIdent:   "identifier",
		tInt:     "integer",
		tReal:    "real number",
		tString:  "string",
		tChar:    "char16 literal",
		tAlias:   "alias",
		tPragma:  "#pragma",
		tLBrace:  "'{'",
		tRBrace:  "'}'",
		tLBrack:  "'['",
		tRBrack:  "']'",
		tLParen:  "'('",
		tRParen:  "')'",
		tComma:   "','",
		tSemi:    "';'",
		tColon:   "':'",
		tEquals:  "'='",
		tIllegal: "invalid character",
	}[k]
}

// token is one lexical element. For identifiers text is the name as
// written; for strings and chars it is the decoded value.
type token struct {
	kind tokenKind
	pos  Pos
	text string
	raw  string  // the source text of a literal, for messages
	num  uint64  // magnitude of an integer literal
	neg  bool    // integer literal had a leading '-'
	fval float64 // value of a real literal
	// base of an integer literal (2, 8, 10 or 16): DSP0004 allows only
	// decimal values for some uses, and the writer keeps numbers readable.
	base int
	// bad marks a literal that was malformed; it has been reported and the
	// parser must not report it again.
	bad bool
}

// describe names a token in a "expected X, found Y" message.
func (t token) describe() string {
	switch t.kind {
	case tIdent:
		return fmt.Sprintf("%q", t.text)
	case tInt, tReal:
		return t.raw
	case tString:
		return "string " + strconv.Quote(truncate(t.text, 40))
	case tChar, tAlias:
		return t.raw
	}
	return t.kind.String()
}

// truncate shortens s to about n bytes for a message, on a character
// boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// lexer turns MOF source text into tokens. It skips whitespace and
// comments and reports malformed input through errf, then carries on.
type lexer struct {
	src  string
	file string
	off  int
	line int
	col  int
	errf func(pos Pos, format string, args ...any)
	// unterminated is set when a string, char or comment ran past the end
	// of its line or file; the tokens that follow are likely garbage, so
	// the parser stays quiet until it resynchronises.
	unterminated bool
}

func newLexer(file, src string, errf func(Pos, string, ...any)) *lexer {
	return &lexer{src: src, file: file, line: 1, col: 1, errf: errf}
}

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col} }

// advance moves past n bytes, keeping line and column up to date. Columns
// count code points: UTF-8 continuation bytes do not move the column.
func (l *lexer) advance(n int) {
	for i := 0; i < n; i++ {
		c := l.src[l.off]
		l.off++
		switch {
		case c == '\n':
			l.line++
			l.col = 1
		case c&0xC0 != 0x80:
			l.col++
		}
	}
}

func (l *lexer) peekByte(ahead int) byte {
	if l.off+ahead < len(l.src) {
		return l.src[l.off+ahead]
	}
	return 0
}

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.advance(1)
		case c == '/' && l.peekByte(1) == '/':
			end := strings.IndexByte(l.src[l.off:], '\n')
			if end < 0 {
				end = len(l.src) - l.off
			}
			l.advanceCols(end)
		case c == '/' && l.peekByte(1) == '*':
			start := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				l.errf(start, "comment not terminated: missing */")
				l.unterminated = true
				l.advance(len(l.src) - l.off)
				return
			}
			l.advance(end + 4)
		default:
			if c >= utf8.RuneSelf {
				r, size := utf8.DecodeRuneInString(l.src[l.off:])
				if r == '\u00a0' || r == '\ufeff' || unicode.IsSpace(r) {
					l.advance(size)
					continue
				}
			}
			return
		}
	}
}

// advanceCols moves past n bytes known to hold no newline.
func (l *lexer) advanceCols(n int) {
	for _, c := range []byte(l.src[l.off : l.off+n]) {
		if c&0xC0 != 0x80 {
			l.col++
		}
	}
	l.off += n
}

func isIdentStart(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	}
	// DSP0221 allows any UCS character from U+0080 to U+FFEF; beyond
	// the BMP we accept letters only.
	return r != utf8.RuneError && r != '\u00a0' && r != '\ufeff' && !unicode.IsSpace(r) &&
		(r <= 0xFFEF || unicode.IsLetter(r))
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || ('0' <= r && r <= '9')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// next returns the next token.
func (l *lexer) next() token {
	l.skipSpace()
	pos := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: pos}
	}
	c := l.src[l.off]
	simple := tEOF
	switch c {
	case '{':
		simple = tLBrace
	case '}':
		simple = tRBrace
	case '[':
		simple = tLBrack
	case ']':
		simple = tRBrack
	case '(':
		simple = tLParen
	case ')':
		simple = tRParen
	case ',':
		simple = tComma
	case ';':
		simple = tSemi
	case ':':
		simple = tColon
	case '=':
		simple = tEquals
	case '"':
		return l.lexString(pos)
	case '\'':
		return l.lexChar(pos)
	case '$':
		l.advance(1)
		name := l.scanIdent()
		if name == "" {
			l.errf(pos, "'$' must be followed by an alias name")
			return token{kind: tIllegal, pos: pos, raw: "$"}
		}
		return token{kind: tAlias, pos: pos, text: name, raw: "$" + name}
	case '#':
		l.advance(1)
		word := l.scanIdent()
		if !strings.EqualFold(word, "pragma") {
			l.errf(pos, "expected #pragma, found #%s", word)
			return token{kind: tIllegal, pos: pos, raw: "#" + word}
		}
		return token{kind: tPragma, pos: pos, raw: "#" + word}
	}
	if simple != tEOF {
		l.advance(1)
		return token{kind: simple, pos: pos, raw: l.src[l.off-1 : l.off]}
	}
	if isDigit(c) || ((c == '+' || c == '-' || c == '.') && (isDigit(l.peekByte(1)) || (c != '.' && l.peekByte(1) == '.' && isDigit(l.peekByte(2))))) {
		return l.lexNumber(pos)
	}
	r, size := utf8.DecodeRuneInString(l.src[l.off:])
	if isIdentStart(r) {
		name := l.scanIdent()
		return token{kind: tIdent, pos: pos, text: name, raw: name}
	}
	l.advance(size)
	if r == utf8.RuneError && size == 1 {
		l.errf(pos, "invalid UTF-8 byte 0x%02X", c)
	} else {
		l.errf(pos, "unexpected character %q", r)
	}
	return token{kind: tIllegal, pos: pos, raw: string(r)}
}

func (l *lexer) scanIdent() string {
	start := l.off
	for l.off < len(l.src) {
		c := l.src[l.off]
		if c < utf8.RuneSelf {
			if c == '_' || isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
				l.off++
				l.col++
				continue
			}
			break
		}
		r, size := utf8.DecodeRuneInString(l.src[l.off:])
		if !isIdentPart(r) {
			break
		}
		l.off += size
		l.col++
	}
	return l.src[start:l.off]
}

// lexNumber scans the longest run that could belong to a numeric literal
// and then classifies it, so "12abc" is one bad literal rather than a
// number followed by an identifier.
func (l *lexer) lexNumber(pos Pos) token {
	start := l.off
	i := l.off
	if c := l.src[i]; c == '+' || c == '-' {
		i++
	}
	hex := i+1 < len(l.src) && l.src[i] == '0' && (l.src[i+1] == 'x' || l.src[i+1] == 'X')
	for i < len(l.src) {
		c := l.src[i]
		switch {
		case isDigit(c) || c == '.' || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
			i++
		case (c == '+' || c == '-') && !hex && (l.src[i-1] == 'e' || l.src[i-1] == 'E'):
			i++
		default:
			goto done
		}
	}
done:
	l.advanceCols(i - start)
	raw := l.src[start:i]
	tok, msg := classifyNumber(raw)
	tok.pos = pos
	tok.raw = raw
	if msg != "" {
		l.errf(pos, "%s", msg)
		tok.bad = true
	}
	return tok
}

// classifyNumber decodes a numeric literal of DSP0221: decimal, binary
// (1010b), octal (017), hexadecimal (0x1F), each with an optional sign, and
// real (-1.5e3, .5). It returns a message instead of the token's value when
// the text is malformed or out of range.
func classifyNumber(raw string) (token, string) {
	s := raw
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	bad := func(what string) (token, string) {
		return token{kind: tInt}, fmt.Sprintf("bad %s literal %q", what, raw)
	}
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		return parseInt(raw, s[2:], 16, neg, "hexadecimal")
	case len(s) >= 2 && (s[len(s)-1] == 'b' || s[len(s)-1] == 'B') && strings.Trim(s[:len(s)-1], "01") == "":
		return parseInt(raw, s[:len(s)-1], 2, neg, "binary")
	case strings.ContainsAny(s, ".eE") && !strings.ContainsAny(s, "xX"):
		if strings.ContainsAny(s, "_") || !isRealSyntax(s) {
			return bad("real")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return token{kind: tReal}, fmt.Sprintf("real literal %q is out of range", raw)
		}
		if neg {
			f = -f
		}
		return token{kind: tReal, fval: f}, ""
	case len(s) > 1 && s[0] == '0':
		return parseInt(raw, s[1:], 8, neg, "octal")
	}
	return parseInt(raw, s, 10, neg, "integer")
}

// isRealSyntax checks DSP0221's realValue: *digit "." 1*digit [exp], and
// also digits with an exponent but no point (1e3), which other compilers
// accept.
func isRealSyntax(s string) bool {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intDigits := i
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == j {
			return false
		}
	} else if intDigits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

func parseInt(raw, digits string, base int, neg bool, what string) (token, string) {
	tok := token{kind: tInt, neg: neg, base: base}
	if digits == "" || strings.ContainsAny(digits, "_+-") {
		return tok, fmt.Sprintf("bad %s literal %q", what, raw)
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return tok, fmt.Sprintf("integer literal %q is out of range (more than 64 bits)", raw)
		}
		return tok, fmt.Sprintf("bad %s literal %q", what, raw)
	}
	if neg && v > 1<<63 {
		return tok, fmt.Sprintf("integer literal %q is out of range (below the sint64 minimum)", raw)
	}
	tok.num = v
	return tok, ""
}

// lexString scans a string literal. Escapes are those of DSP0221: \b \t \n
// \f \r \" \' \\ and \x or \X followed by one to four hexadecimal digits
// (a UCS-2 character).
func (l *lexer) lexString(pos Pos) token {
	l.advance(1) // opening quote
	start := l.off
	// Fast path: no escapes.
	for i := l.off; i < len(l.src); i++ {
		c := l.src[i]
		if c == '"' {
			text := l.src[start:i]
			l.advanceCols(i - start + 1)
			return token{kind: tString, pos: pos, text: text, raw: l.src[start-1 : l.off]}
		}
		if c == '\\' || c == '\n' || c == '\r' || c >= utf8.RuneSelf {
			break
		}
	}
	var b strings.Builder
	bad := false
	for {
		if l.off >= len(l.src) || l.src[l.off] == '\n' || l.src[l.off] == '\r' {
			l.errf(pos, "string literal not terminated: missing closing '\"' on this line")
			l.unterminated = true
			return token{kind: tString, pos: pos, text: b.String(), raw: l.src[start-1 : l.off], bad: true}
		}
		c := l.src[l.off]
		if c == '"' {
			l.advance(1)
			return token{kind: tString, pos: pos, text: b.String(), raw: l.src[start-1 : l.off], bad: bad}
		}
		if c == '\\' {
			if !l.escape(&b) {
				bad = true
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(l.src[l.off:])
		if r == utf8.RuneError && size == 1 {
			l.errf(l.pos(), "invalid UTF-8 byte 0x%02X in string literal", c)
			bad = true
		}
		b.WriteString(l.src[l.off : l.off+size])
		l.advance(size)
	}
}

// escape decodes one escape sequence at l.off into b; it reports and
// returns false when the sequence is invalid.
func (l *lexer) escape(b *strings.Builder) bool {
	pos := l.pos()
	l.advance(1) // backslash
	if l.off >= len(l.src) {
		l.errf(pos, "escape sequence not terminated")
		return false
	}
	c := l.src[l.off]
	switch c {
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
	case '"', '\'', '\\':
		b.WriteByte(c)
	case 'x', 'X':
		l.advance(1)
		n := 0
		for n < 4 && l.off+n < len(l.src) && isHex(l.src[l.off+n]) {
			n++
		}
		if n == 0 {
			l.errf(pos, "bad escape sequence: \\%c must be followed by 1 to 4 hexadecimal digits", c)
			return false
		}
		v, _ := strconv.ParseUint(l.src[l.off:l.off+n], 16, 32)
		l.advanceCols(n)
		r := rune(v)
		if r == 0 || (r >= 0xD800 && r <= 0xDFFF) {
			l.errf(pos, "bad escape sequence: \\%c%s is not a valid character", c, l.src[l.off-n:l.off])
			return false
		}
		b.WriteRune(r)
		return true
	default:
		r, size := utf8.DecodeRuneInString(l.src[l.off:])
		if r == '\n' || r == '\r' {
			l.errf(pos, "bad escape sequence: backslash at end of line")
			return false
		}
		l.advance(size)
		l.errf(pos, "bad escape sequence \\%c (valid: \\b \\t \\n \\f \\r \\\" \\' \\\\ \\xHHHH)", r)
		return false
	}
	l.advance(1)
	return true
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// lexChar scans a char16 literal: one character or one escape in single
// quotes.
func (l *lexer) lexChar(pos Pos) token {
	l.advance(1)
	start := l.off - 1
	var b strings.Builder
	ok := true
	if l.off < len(l.src) && l.src[l.off] == '\\' {
		ok = l.escape(&b)
	} else if l.off < len(l.src) && l.src[l.off] != '\'' && l.src[l.off] != '\n' {
		r, size := utf8.DecodeRuneInString(l.src[l.off:])
		b.WriteRune(r)
		l.advance(size)
	}
	if l.off >= len(l.src) || l.src[l.off] != '\'' {
		// Skip to the closing quote on this line, if any, to resynchronise.
		end := strings.IndexAny(l.src[l.off:], "'\n")
		if end >= 0 && l.src[l.off+end] == '\'' {
			l.advanceCols(end + 1)
		} else {
			l.unterminated = true
		}
		l.errf(pos, "bad char16 literal %s: it must hold exactly one character", l.src[start:l.off])
		return token{kind: tChar, pos: pos, raw: l.src[start:l.off], bad: true}
	}
	l.advance(1)
	text := b.String()
	if ok && text == "" {
		l.errf(pos, "bad char16 literal '': it must hold exactly one character")
		ok = false
	}
	if r, _ := utf8.DecodeRuneInString(text); ok && r > math.MaxUint16 {
		l.errf(pos, "bad char16 literal %s: the character is outside UCS-2", l.src[start:l.off])
		ok = false
	}
	return token{kind: tChar, pos: pos, text: text, raw: l.src[start:l.off], bad: !ok}
}
