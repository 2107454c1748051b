package xmlscan

import (
	"strings"
	"unicode/utf8"
)

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// blank reports whether s holds only XML white space.
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			return false
		}
	}
	return true
}

func (p *Parser) skipSpace() bool {
	start := p.pos
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
	return p.pos > start
}

// nameClass has, for each byte, '1' for an ASCII NameStartChar, '2' for
// an ASCII NameChar that cannot start a name, '3' for the first byte of
// a non-ASCII character (decoded and classified by isNameRune) and '0'
// for the rest.
const nameClass = "" +
	"0000000000000000000000000000000000000000000002202222222222100000" +
	"0111111111111111111111111110000101111111111111111111111111100000" +
	"3333333333333333333333333333333333333333333333333333333333333333" +
	"3333333333333333333333333333333333333333333333333333333333333333"

// name reads an XML Name at the current position and returns it with the
// index of its colon (-1 for none); a name with two colons is refused, as
// encoding/xml and Namespaces in XML refuse it.
func (p *Parser) name() (string, int, error) {
	s := p.s
	start, colon := p.pos, -1
	i := start
	for i < len(s) {
		c := s[i]
		switch nameClass[c] {
		case '1':
			if c == ':' {
				if colon >= 0 {
					p.pos = i
					return "", 0, p.syntax("the name %q has more than one colon", s[start:i+1])
				}
				colon = i - start
			}
			i++
			continue
		case '2':
			if i > start {
				i++
				continue
			}
		case '3':
			r, size := utf8.DecodeRuneInString(s[i:])
			if isNameRune(r, i == start) {
				i += size
				continue
			}
		}
		break
	}
	if i == start {
		if i >= len(s) {
			return "", 0, p.syntax("the document ends where a name is expected")
		}
		return "", 0, p.syntax("a name is expected, not %q", s[i])
	}
	p.pos = i
	return s[start:i], colon, nil
}

// isNameRune implements the non-ASCII part of XML 1.0 (fifth edition)'s
// NameStartChar and NameChar productions.
func isNameRune(r rune, first bool) bool {
	switch {
	case r == utf8.RuneError:
		return false
	case r == 0xB7, 0x300 <= r && r <= 0x36F, 0x203F <= r && r <= 0x2040:
		return !first
	}
	return 0xC0 <= r && r <= 0xD6 || 0xD8 <= r && r <= 0xF6 || 0xF8 <= r && r <= 0x2FF ||
		0x370 <= r && r <= 0x37D || 0x37F <= r && r <= 0x1FFF || 0x200C <= r && r <= 0x200D ||
		0x2070 <= r && r <= 0x218F || 0x2C00 <= r && r <= 0x2FEF || 0x3001 <= r && r <= 0xD7FF ||
		0xF900 <= r && r <= 0xFDCF || 0xFDF0 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0xEFFFF
}

// attrValue reads a quoted attribute value.
func (p *Parser) attrValue() (string, error) {
	if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\'') {
		return "", p.syntax("an attribute value must be quoted")
	}
	q := p.s[p.pos]
	p.pos++
	v, err := p.text(q)
	if err != nil {
		return "", err
	}
	p.pos++ // the closing quote
	return v, nil
}

// textSpecial has a '1' for each byte character data cannot simply be
// copied past: markup, references, quotes (for attribute values), ']'
// (for "]]>"), carriage returns (normalized), the other control characters
// except tab and newline, and the first byte of every non-ASCII sequence
// (which is then validated).
const textSpecial = "" +
	"1111111110011111111111111111111100100011000000000000000000001000" +
	"0000000000000000000000000000010000000000000000000000000000000000" +
	"1111111111111111111111111111111111111111111111111111111111111111" +
	"1111111111111111111111111111111111111111111111111111111111111111"

// text reads character data (quote 0), ending before '<' or at the end of
// the document, or an attribute value ending before quote. References are
// decoded and line ends normalized; without either, the result is a
// substring of the document.
func (p *Parser) text(quote byte) (string, error) {
	s := p.s
	start := p.pos
	i := start
	for i < len(s) {
		c := s[i]
		if textSpecial[c] == '0' {
			i++
			continue
		}
		switch {
		case c == quote && quote != 0:
			p.pos = i
			return s[start:i], nil
		case c == '<':
			p.pos = i
			if quote != 0 {
				return "", p.syntax("< in an attribute value")
			}
			return s[start:i], nil
		case c == '"' || c == '\'':
			i++
		case c == ']':
			if quote == 0 && strings.HasPrefix(s[i:], "]]>") {
				p.pos = i
				return "", p.syntax("]]> in character data")
			}
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isXMLChar(r, size) {
				p.pos = i
				return "", p.syntax("invalid UTF-8 or illegal character U+%04X", r)
			}
			i += size
		case c == '&' || c == '\r':
			p.pos = i
			return p.slowText(quote, start)
		default:
			p.pos = i
			return "", p.syntax("illegal character U+%04X", c)
		}
	}
	p.pos = i
	if quote != 0 {
		return "", p.syntax("unterminated attribute value")
	}
	return s[start:i], nil
}

// slowText continues text at p.pos (where a reference or carriage return
// is) into a new string.
func (p *Parser) slowText(quote byte, start int) (string, error) {
	s := p.s
	b := append(p.buf[:0], s[start:p.pos]...)
	i := p.pos
	for i < len(s) {
		c := s[i]
		switch {
		case c == quote && quote != 0, c == '<' && quote == 0:
			p.pos, p.buf = i, b
			return string(b), nil
		case c == '<':
			p.pos = i
			return "", p.syntax("< in an attribute value")
		case c == '\r':
			b = append(b, '\n')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
			continue
		case c == '&':
			p.pos = i
			r, n, err := p.reference(s[i:])
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, r)
			i += n
			continue
		case c == ']' && quote == 0 && strings.HasPrefix(s[i:], "]]>"):
			p.pos = i
			return "", p.syntax("]]> in character data")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isXMLChar(r, size) {
				p.pos = i
				return "", p.syntax("invalid UTF-8 or illegal character U+%04X", r)
			}
			b = append(b, s[i:i+size]...)
			i += size
			continue
		case c < 0x20 && c != '\t' && c != '\n':
			p.pos = i
			return "", p.syntax("illegal character U+%04X", c)
		}
		b = append(b, c)
		i++
	}
	p.pos, p.buf = i, b
	if quote != 0 {
		return "", p.syntax("unterminated attribute value")
	}
	return string(b), nil
}

// reference decodes the entity or character reference at the start of s
// and returns the character and the reference's length. Only the five
// predefined entities exist.
func (p *Parser) reference(s string) (rune, int, error) {
	end := strings.IndexByte(s[:min(len(s), 32)], ';')
	if end < 0 {
		return 0, 0, p.syntax("& that starts no reference (write &amp;)")
	}
	ref := s[1:end]
	switch ref {
	case "lt":
		return '<', end + 1, nil
	case "gt":
		return '>', end + 1, nil
	case "amp":
		return '&', end + 1, nil
	case "apos":
		return '\'', end + 1, nil
	case "quot":
		return '"', end + 1, nil
	}
	if len(ref) < 2 || ref[0] != '#' {
		return 0, 0, p.syntax("undefined entity &%s;", ref)
	}
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	r := rune(0)
	for j := 0; j < len(digits); j++ {
		c, d := digits[j], rune(0)
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, 0, p.syntax("bad character reference &%s;", ref)
		}
		if r = r*base + d; r > utf8.MaxRune {
			return 0, 0, p.syntax("bad character reference &%s;", ref)
		}
	}
	if digits == "" || !isXMLChar(r, 0) {
		return 0, 0, p.syntax("character reference &%s; to an illegal character", ref)
	}
	return r, end + 1, nil
}

// isXMLChar reports whether r, decoded from size bytes (0: not decoded),
// is a Char of XML 1.0.
func isXMLChar(r rune, size int) bool {
	if r == utf8.RuneError && size == 1 {
		return false
	}
	return r == 0x09 || r == 0x0A || r == 0x0D || 0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0x10FFFF
}

// checkChars checks that s (a comment, CDATA section, processing
// instruction or document type declaration) holds only characters XML
// allows.
func (p *Parser) checkChars(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && !isSpace(c) {
				return p.syntax("illegal character U+%04X", c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isXMLChar(r, size) {
			return p.syntax("invalid UTF-8 or illegal character U+%04X", r)
		}
		i += size
	}
	return nil
}

// normalizeNewlines appends s to dst with CR LF and lone CR as LF.
func normalizeNewlines(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' {
			dst = append(dst, '\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
