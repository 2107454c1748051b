package xmlesc

import "unicode/utf8"

// Whitespace says how Append writes tab, line feed and carriage return.
type Whitespace uint8

const (
	// KeepWhitespace copies them as they are, for receivers that decode
	// no character references (sblim-wbemcli).
	KeepWhitespace Whitespace = iota
	// EscapeCR writes a carriage return as &#xD;, which XML's line-end
	// normalization would otherwise turn into a line feed; tab and line
	// feed are copied.
	EscapeCR
	// EscapeWhitespace writes all three as character references (&#x9;
	// &#xA; &#xD;), which also survive attribute-value normalization.
	EscapeWhitespace
)

// table has a '1' for each byte that cannot be copied as is: the markup
// characters & < > ", the control characters and the first byte of every
// non-ASCII sequence (which is then validated).
const table = "" +
	"1111111111111111111111111111111100100010000000000000000000001010" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"1111111111111111111111111111111111111111111111111111111111111111" +
	"1111111111111111111111111111111111111111111111111111111111111111"

// Append appends s to dst escaped for character data or a double-quoted
// attribute value.
func Append(dst []byte, s string, ws Whitespace) []byte {
	// Short values (keys, names, numbers as text) are common: two
	// overlapping words cover eight to sixteen bytes.
	if len(s) >= 8 && len(s) <= 16 && plain8(load8(s)) && plain8(load8(s[len(s)-8:])) {
		return append(dst, s...)
	}
	start, i := 0, 0
	// vector: runs are skipped with the vector test where the CPU has one
	// (it finds the exact end of a run), until a short run shows markup
	// dense enough that each call would cost more than the words do.
	vector := true
	for i < len(s) {
		// Skip plain bytes: most text needs no escaping.
		skipped := false
		if vector {
			var n int
			if n, skipped = vectorPrefix(s[i:]); skipped {
				vector = n >= vectorMin
				i += n
			}
		}
		// In dense markup the next word needs care: no call for it.
		if !skipped && (i+8 > len(s) || plain8(load8(s[i:i+8]))) {
			i = plainWords(s, i)
		}
		if i == len(s) {
			break
		}
		// Then byte by byte to the end of the word that needs care.
		for stop := min(i+8, len(s)); i < stop; {
			c := s[i]
			if table[c] == '0' {
				i++
				continue
			}
			var repl string
			width := 1
			switch {
			case c == '&':
				repl = "&amp;"
			case c == '<':
				repl = "&lt;"
			case c == '>':
				repl = "&gt;"
			case c == '"':
				repl = "&quot;"
			case c == '\r' && ws != KeepWhitespace:
				repl = "&#xD;"
			case (c == '\t' || c == '\n') && ws == EscapeWhitespace:
				repl = "&#x9;"
				if c == '\n' {
					repl = "&#xA;"
				}
			case c == '\t' || c == '\n' || c == '\r':
				i++
				continue
			case c < 0x20:
				repl = "\uFFFD"
			default:
				r, n := utf8.DecodeRuneInString(s[i:])
				if (r != utf8.RuneError || n > 1) && r != 0xFFFE && r != 0xFFFF {
					i += n
					continue
				}
				repl, width = "\uFFFD", n
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, repl...)
			i += width
			start = i
		}
	}
	return append(dst, s[start:]...)
}

// plainWords returns an index from which Append goes on byte by byte:
// plain bytes from i are skipped thirty-two, sixteen and eight at a time.
// Runs of letters (0x40 to 0x7F) take two operations per word; other words
// get plain8's full test. It returns len(s) when the rest is plain, else
// an index at most eight bytes before the first byte that is not.
func plainWords(s string, i int) int {
	for i+32 <= len(s) {
		t := s[i : i+32] // one bounds check for the four loads
		w, x, y, z := load8(t), load8(t[8:]), load8(t[16:]), load8(t[24:])
		if (w|x|y|z)&highs != 0 || (w+0x40*ones)&(x+0x40*ones)&(y+0x40*ones)&(z+0x40*ones)&highs != highs {
			break
		}
		i += 32
	}
	for i+16 <= len(s) {
		t := s[i : i+16]
		x, y := load8(t), load8(t[8:])
		if (x|y)&highs != 0 || (x+0x40*ones)&(y+0x40*ones)&highs != highs {
			break
		}
		i += 16
	}
	for i+8 <= len(s) && plain8(load8(s[i:i+8])) {
		i += 8
	}
	// A tail shorter than a word, in a string of at least a word:
	// test the string's last eight bytes at once (those before i are
	// done already; the test is only false more often for them).
	if i < len(s) && i+8 > len(s) && len(s) >= 8 && plain8(load8(s[len(s)-8:])) {
		return len(s)
	}
	return i
}

// vectorMin is the shortest string vectorPrefix takes: shorter ones cost
// more in the call than the vector instructions save.
const vectorMin = 32

// ones and highs are the byte-wise constants of plain8's word tests.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load8 returns the first eight bytes of s as a little-endian word (one
// load).
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plain8 reports whether none of the eight bytes of x needs escaping: no
// byte below 0x20 or from 0x80, and none of & < > ". It tests all eight at
// once (the bit tricks of "Bit Twiddling Hacks": x has a zero byte exactly
// when (x-0x01..) &^ x has a high bit set). Two such tests find the four
// markup characters: < and > are the bytes b with b|0x02 == 0x3E, " and &
// those with b|0x04 == 0x26.
func plain8(x uint64) bool {
	angle, quoteAmp := (x|0x02*ones)^0x3E*ones, (x|0x04*ones)^0x26*ones
	bad := x | (x-0x20*ones)&^x // non-ASCII, below 0x20
	bad |= (angle-ones)&^angle | (quoteAmp-ones)&^quoteAmp
	return bad&highs == 0
}
