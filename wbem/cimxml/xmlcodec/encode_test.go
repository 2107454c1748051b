package xmlcodec

import (
	"strings"
	"testing"
)

func TestAppendEscaped(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{`a<b>c&d"e'f`, `a&lt;b&gt;c&amp;d&quot;e'f`},
		{"tab\tnl\ncr\r", "tab\tnl\ncr\r"},
		{"nul\x00bell\x07", "nul\uFFFDbell\uFFFD"},
		{"ünïcode ✓", "ünïcode ✓"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"trunc\xe2\x9c", "trunc\uFFFD\uFFFD"},
		{"nonchar\uFFFE", "nonchar\uFFFD"},
		{"", ""},
	} {
		if got := string(appendEscaped(nil, tc.in, false)); got != tc.want {
			t.Errorf("appendEscaped(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// With EscapeWhitespace, tab, line feed and carriage return become
// character references, which survive a receiver's normalization.
func TestEscapeWhitespace(t *testing.T) {
	e := Encoder{EscapeWhitespace: true}
	e.Attr("A", "x\ty\r\nz")
	e.Text("<\r>")
	if got, want := string(e.B), ` A="x&#9;y&#13;&#10;z"&lt;&#13;&gt;`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// plain8 agrees with the byte table on words of every byte value.
func TestPlain8(t *testing.T) {
	for b := 0; b < 256; b++ {
		for _, fill := range []byte{'a', ' ', '0', 'Z'} {
			for pos := 0; pos < 8; pos++ {
				w := []byte{fill, fill, fill, fill, fill, fill, fill, fill}
				w[pos] = byte(b)
				want := escapeTable[b] == '0'
				if got := plain8(load8(string(w))); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", w, got, want)
				}
			}
		}
	}
}

func BenchmarkAppendEscaped(b *testing.B) {
	for _, tc := range []struct{ name, s string }{
		{"letters", strings.Repeat("a", 520)},
		{"text", strings.Repeat("generated 12345 Name-of.item ", 18)},
		{"markup", strings.Repeat(`a<b>&"c" `, 58)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.s)))
			buf := make([]byte, 0, 4096)
			for i := 0; i < b.N; i++ {
				buf = appendEscaped(buf[:0], tc.s, false)
			}
		})
	}
}
