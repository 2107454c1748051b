package xmlesc

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		in                  string
		keep, cr, allSpaces string
	}{
		{"plain", "plain", "plain", "plain"},
		{`a<b>c&d"e'f`, `a&lt;b&gt;c&amp;d&quot;e'f`, `a&lt;b&gt;c&amp;d&quot;e'f`, `a&lt;b&gt;c&amp;d&quot;e'f`},
		{"tab\tnl\ncr\r", "tab\tnl\ncr\r", "tab\tnl\ncr&#xD;", "tab&#x9;nl&#xA;cr&#xD;"},
		{"nul\x00bell\x07", "nul\uFFFDbell\uFFFD", "nul\uFFFDbell\uFFFD", "nul\uFFFDbell\uFFFD"},
		{"ünïcode ✓", "ünïcode ✓", "ünïcode ✓", "ünïcode ✓"},
		{"bad\xffutf8", "bad\uFFFDutf8", "bad\uFFFDutf8", "bad\uFFFDutf8"},
		{"trunc\xe2\x9c", "trunc\uFFFD\uFFFD", "trunc\uFFFD\uFFFD", "trunc\uFFFD\uFFFD"},
		{"nonchar\uFFFE\uFFFF", "nonchar\uFFFD\uFFFD", "nonchar\uFFFD\uFFFD", "nonchar\uFFFD\uFFFD"},
		{strings.Repeat("abcdefgh", 4) + "<" + strings.Repeat("x", 17), strings.Repeat("abcdefgh", 4) + "&lt;" + strings.Repeat("x", 17), "", ""},
		{"", "", "", ""},
	} {
		for ws, want := range map[Whitespace]string{KeepWhitespace: tc.keep, EscapeCR: tc.cr, EscapeWhitespace: tc.allSpaces} {
			if want == "" && tc.in != "" {
				continue
			}
			if got := string(Append([]byte("prefix:"), tc.in, ws)); got != "prefix:"+want {
				t.Errorf("Append(%q, %d) = %q, want %q", tc.in, ws, got, "prefix:"+want)
			}
		}
	}
}

// plain8 agrees with the byte table on words of every byte value.
func TestPlain8(t *testing.T) {
	for b := 0; b < 256; b++ {
		for _, fill := range []byte{'a', ' ', '0', 'Z'} {
			for pos := 0; pos < 8; pos++ {
				w := []byte{fill, fill, fill, fill, fill, fill, fill, fill}
				w[pos] = byte(b)
				want := table[b] == '0'
				if got := plain8(load8(string(w))); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", w, got, want)
				}
			}
		}
	}
}

// FuzzAppend compares Append with the rune-by-rune reference in every
// whitespace mode, and checks with encoding/xml that the output is
// well-formed in an attribute and in content, and reads back as the input:
// exactly with EscapeWhitespace, with what XML cannot carry replaced by
// U+FFFD.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "a<b>&\"c\"'", "x\ty\r\nz\r", "\x00\x1f\x7f", "\xff\xe2\x9c", "\uFFFE ünï ✓", strings.Repeat("letters&", 9), strings.Repeat("long plain run ", 9) + "<" + strings.Repeat("x", 70) + "\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ws := range []Whitespace{KeepWhitespace, EscapeCR, EscapeWhitespace} {
			if got, want := string(Append(nil, s, ws)), reference(s, ws); got != want {
				t.Fatalf("Append(%q, %d) = %q, want %q", s, ws, got, want)
			}
		}
		esc := string(Append(nil, s, EscapeWhitespace))
		var doc struct {
			A    string `xml:"a,attr"`
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte(`<e a="`+esc+`">`+esc+`</e>`), &doc); err != nil {
			t.Fatalf("Append(%q) = %q: not well-formed: %v", s, esc, err)
		}
		if want := carried(s); doc.A != want || doc.Text != want {
			t.Fatalf("Append(%q) = %q reads back as %q (attribute) and %q (content), want %q", s, esc, doc.A, doc.Text, want)
		}
	})
}

// carried is s with what XML 1.0 cannot carry replaced by U+FFFD.
func carried(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1, r == 0xFFFE, r == 0xFFFF, r < 0x20 && r != '\t' && r != '\n' && r != '\r':
			b.WriteRune(0xFFFD)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// TestAppendEveryPosition puts a byte that needs care at every position of
// strings of every length around the word sizes of Append's fast paths
// (32-, 16- and 8-byte runs, the tail test on the last word) and compares
// with a rune-by-rune reference.
func TestAppendEveryPosition(t *testing.T) {
	for n := 1; n <= 136; n++ {
		for pos := 0; pos < n; pos++ {
			for _, special := range []string{"<", "&", "\r", "\t", "\x01", "\xff", "é", "\uFFFE"} {
				s := strings.Repeat("a", pos) + special + strings.Repeat("b", max(n-pos-1, 0))
				for _, ws := range []Whitespace{KeepWhitespace, EscapeCR, EscapeWhitespace} {
					if got, want := string(Append(nil, s, ws)), reference(s, ws); got != want {
						t.Fatalf("Append(%q, %d) = %q, want %q", s, ws, got, want)
					}
				}
			}
		}
	}
}

// reference is Append written plainly, one rune at a time.
func reference(s string, ws Whitespace) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\r' && ws != KeepWhitespace:
			b.WriteString("&#xD;")
		case (r == '\t' || r == '\n') && ws == EscapeWhitespace:
			fmt.Fprintf(&b, "&#x%X;", r)
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteRune(r)
		case r < 0x20, r == utf8.RuneError && n == 1, r == 0xFFFE, r == 0xFFFF:
			b.WriteRune(0xFFFD)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// firstNotPlain is the index of the first byte of s the table marks, or
// len(s).
func firstNotPlain(s string) int {
	for i := 0; i < len(s); i++ {
		if table[s[i]] == '1' {
			return i
		}
	}
	return len(s)
}

// TestPlainSkips puts every byte value at every position of strings
// around the block sizes of the two skipping routines and checks them
// against the table: vectorPrefix (where the CPU has it) must find the
// exact first byte that needs care, plainWords must stop at most a word
// before it (and so return len(s) only when everything is plain).
func TestPlainSkips(t *testing.T) {
	vector := false
	for n := 1; n <= 136; n++ {
		for pos := 0; pos < n; pos++ {
			for b := 0; b < 256; b++ {
				for _, fill := range []byte{'a', ' ', '~'} {
					buf := []byte(strings.Repeat(string(fill), n))
					buf[pos] = byte(b)
					s := string(buf)
					want := firstNotPlain(s)
					if got, ok := vectorPrefix(s); ok {
						vector = true
						if got != want {
							t.Fatalf("vectorPrefix(%q) = %d, want %d", s, got, want)
						}
					}
					got := plainWords(s, 0)
					if got > want || want-got > 8 {
						t.Fatalf("plainWords(%q, 0) = %d; the first byte that needs care is at %d", s, got, want)
					}
				}
			}
		}
	}
	t.Logf("vector test used: %v", vector)
}
