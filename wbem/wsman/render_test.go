package wsman

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestAppendEscapedExhaustive checks appendEscaped against
// escapeReference for every byte value at every position of strings long
// enough for the escaping routine's sixteen- and eight-byte fast paths and
// its byte-wise tail, and for random strings.
func TestAppendEscapedExhaustive(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := string(appendEscaped([]byte("x"), s)), "x"+escapeReference(s); got != want {
			t.Fatalf("appendEscaped(%q) = %q, want %q", s, got, want)
		}
	}
	base := []byte("abcdefghijklmnopqrstuvwx")
	for c := 0; c < 256; c++ {
		for pos := range base {
			w := append([]byte(nil), base...)
			w[pos] = byte(c)
			check(string(w))
			check(string(w[:pos+1]))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		w := make([]byte, 8+r.IntN(25))
		for j := range w {
			// Mostly printable ASCII, sometimes anything.
			if r.IntN(8) == 0 {
				w[j] = byte(r.IntN(256))
			} else {
				w[j] = byte(0x20 + r.IntN(0x5f))
			}
		}
		check(string(w))
	}
}

// escapeReference is appendEscaped one byte at a time, as specified.
func escapeReference(s string) string {
	var out []byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '&':
			out = append(out, "&amp;"...)
		case c == '<':
			out = append(out, "&lt;"...)
		case c == '>':
			out = append(out, "&gt;"...)
		case c == '"':
			out = append(out, "&quot;"...)
		case c == '\r':
			out = append(out, "&#xD;"...)
		case c == '\t' || c == '\n':
			out = append(out, c)
		case c < 0x20:
			out = append(out, "\uFFFD"...)
		case c < utf8.RuneSelf:
			out = append(out, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && n == 1) || r == 0xFFFE || r == 0xFFFF {
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return string(out)
}

func FuzzAppendEscaped(f *testing.F) {
	for _, s := range []string{"", "plain text of some length, more than sixteen bytes", "a&b<c>d\"e'f\rg\th\ni\x01j",
		"ünïcödé and 𝄞 and \uFFFE and \xff\xfe broken", "0123456789abcdef&0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendEscaped([]byte("x"), s)), "x"+escapeReference(s); got != want {
			t.Fatalf("appendEscaped(%q) = %q, want %q", s, got, want)
		}
	})
}
