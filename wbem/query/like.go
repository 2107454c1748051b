package query

import (
	"fmt"
	"regexp"
	"strings"
)

// compileLike turns a LIKE pattern into a matcher of whole strings. WQL
// patterns use the SQL wildcards; CQL and FQL patterns are DSP1001 regular
// expressions. Go's regexp runs in linear time, so no pattern can make a
// match slow.
func compileLike(language, pattern string) (func(string) bool, error) {
	var body string
	var err error
	if language == WQL {
		body, err = translateWQLLike(pattern)
	} else {
		body, err = translateDSP1001(pattern)
	}
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`^(?:` + body + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid LIKE pattern %q: %w", pattern, err)
	}
	return re.MatchString, nil
}

// translateWQLLike translates WQL's wildcards: % any sequence, _ any one
// character, [abc], [a-z] and [^abc] a character set; everything else is
// literal (WMI writes [%] for a literal percent sign).
func translateWQLLike(p string) (string, error) {
	var b strings.Builder
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '%':
			b.WriteString(`(?s:.*)`)
		case '_':
			b.WriteString(`(?s:.)`)
		case '[':
			j, set, err := charSet(rs, i)
			if err != nil {
				return "", fmt.Errorf("invalid LIKE pattern %q: %w", p, err)
			}
			b.WriteString(set)
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String(), nil
}

// charSet reads a bracketed character set starting at rs[i] == '[' and
// returns the index of the closing bracket and the set in Go syntax. A
// leading ^ negates; a-z is a range; a backslash escapes.
func charSet(rs []rune, i int) (int, string, error) {
	var b strings.Builder
	b.WriteByte('[')
	j := i + 1
	if j < len(rs) && rs[j] == '^' {
		b.WriteByte('^')
		j++
	}
	first := j
	for ; j < len(rs); j++ {
		c := rs[j]
		switch {
		case c == ']' && j > first:
			b.WriteByte(']')
			return j, b.String(), nil
		case c == '\\' && j+1 < len(rs):
			j++
			b.WriteString(regexp.QuoteMeta(string(rs[j])))
		case c == '-' && j > first && j+1 < len(rs) && rs[j+1] != ']':
			b.WriteByte('-')
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return 0, "", fmt.Errorf("unterminated [ at position %d", i+1)
}

// translateDSP1001 translates the regular expressions of DSP1001 (as used
// by CQL's and FQL's LIKE) into Go syntax: . any character, \ escapes,
// [set] (DSP1001 negates a set with a ^ after the closing bracket; the
// common [^set] is accepted too), * + ? and {n,m} multipliers, ( ) groups,
// | alternatives, and ^ $ anchors.
func translateDSP1001(p string) (string, error) {
	var b strings.Builder
	rs := []rune(p)
	depth := 0
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '.':
			b.WriteString(`(?s:.)`)
		case '\\':
			if i+1 >= len(rs) {
				return "", fmt.Errorf("invalid LIKE pattern %q: it ends with a backslash", p)
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '[':
			j, set, err := charSet(rs, i)
			if err != nil {
				return "", fmt.Errorf("invalid LIKE pattern %q: %w", p, err)
			}
			i = j
			if i+1 < len(rs) && rs[i+1] == '^' && !strings.HasPrefix(set, "[^") {
				set = "[^" + set[1:]
				i++
			}
			b.WriteString(set)
		case '*', '+', '?', '|', '^', '$':
			b.WriteRune(c)
		case '(':
			depth++
			b.WriteString("(?:")
		case ')':
			if depth == 0 {
				return "", fmt.Errorf("invalid LIKE pattern %q: unbalanced )", p)
			}
			depth--
			b.WriteByte(')')
		case '{':
			j := i + 1
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ',') {
				j++
			}
			if j >= len(rs) || rs[j] != '}' || j == i+1 {
				return "", fmt.Errorf("invalid LIKE pattern %q: bad {n,m} multiplier at position %d", p, i+1)
			}
			b.WriteString(string(rs[i : j+1]))
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if depth != 0 {
		return "", fmt.Errorf("invalid LIKE pattern %q: unbalanced (", p)
	}
	return b.String(), nil
}
