package query

import (
	"math"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// Canonical language names.
const (
	WQL = "WQL"
	CQL = "DMTF:CQL"
	FQL = "DMTF:FQL"
)

// CanonicalLanguage returns the canonical name of a query language as a
// client names it (case-insensitive): WQL; DMTF:CQL, with CQL and CIM:CQL
// as aliases (SFCB accepts them); DMTF:FQL. Other names are
// CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED.
func CanonicalLanguage(name string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "WQL":
		return WQL, nil
	case "DMTF:CQL", "CQL", "CIM:CQL":
		return CQL, nil
	case "DMTF:FQL", "FQL":
		return FQL, nil
	}
	return "", cim.Errorf(cim.ErrQueryLanguageNotSupported, "query language %q is not supported (use WQL, DMTF:CQL or DMTF:FQL)", name)
}

// maxDepth bounds the nesting of conditions, so deep parentheses cannot
// exhaust the stack.
const maxDepth = 200

type parser struct {
	toks     []token
	i        int
	language string
	depth    int
}

func newParser(language, text string) (*parser, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	return &parser{toks: toks, language: language}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) error {
	where := "at end of query"
	if t.kind != tokEOF {
		where = "at position " + itoa(t.pos+1)
	}
	return cim.Errorf(cim.ErrInvalidQuery, where+": "+format, args...)
}

// isKeyword reports whether t is the identifier kw (case-insensitive).
func isKeyword(t token, kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) acceptKeyword(kw string) bool {
	if isKeyword(p.peek(), kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKeyword(kw string) error {
	if !p.acceptKeyword(kw) {
		return p.errorf(p.peek(), "expected %s, found %s", kw, describe(p.peek()))
	}
	return nil
}

func (p *parser) acceptPunct(s string) bool {
	if t := p.peek(); t.kind == tokPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectPunct(s string) error {
	if !p.acceptPunct(s) {
		return p.errorf(p.peek(), "expected %q, found %s", s, describe(p.peek()))
	}
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of query"
	case tokString:
		return "string '" + t.text + "'"
	}
	return "'" + t.text + "'"
}

// isReserved reports whether t is a word that cannot name a property or
// class.
func isReserved(t token) bool {
	if t.kind != tokIdent {
		return false
	}
	for _, r := range [...]string{"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IS", "ISA", "NULL", "TRUE", "FALSE", "ANY", "EVERY", "AS"} {
		if strings.EqualFold(t.text, r) {
			return true
		}
	}
	return false
}

func (p *parser) name(what string) (string, token, error) {
	t := p.peek()
	if t.kind != tokIdent || isReserved(t) {
		return "", t, p.errorf(t, "expected %s, found %s", what, describe(t))
	}
	p.i++
	return t.text, t, nil
}

// condition parses an OR-combination of AND-combinations.
func (p *parser) condition() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf(p.peek(), "conditions nested more than %d deep", maxDepth)
	}
	l, err := p.conjunction()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("OR") {
		r, err := p.conjunction()
		if err != nil {
			return nil, err
		}
		l = &orExpr{l, r}
	}
	return l, nil
}

func (p *parser) conjunction() (expr, error) {
	l, err := p.negation()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("AND") {
		r, err := p.negation()
		if err != nil {
			return nil, err
		}
		l = &andExpr{l, r}
	}
	return l, nil
}

func (p *parser) negation() (expr, error) {
	if p.acceptKeyword("NOT") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errorf(p.peek(), "conditions nested more than %d deep", maxDepth)
		}
		x, err := p.negation()
		if err != nil {
			return nil, err
		}
		return &notExpr{x}, nil
	}
	if t := p.peek(); t.kind == tokPunct && t.text == "(" {
		p.i++
		x, err := p.condition()
		if err != nil {
			return nil, err
		}
		return x, p.expectPunct(")")
	}
	return p.predicate()
}

func (p *parser) predicate() (expr, error) {
	if t := p.peek(); isKeyword(t, "ANY") || isKeyword(t, "EVERY") {
		return p.quantified()
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tokOp:
		p.i++
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		return p.comparison(t, l, r)
	case isKeyword(t, "LIKE") || isKeyword(t, "NOT") && isKeyword(p.toks[min(p.i+1, len(p.toks)-1)], "LIKE"):
		return p.like(l)
	case isKeyword(t, "IS"):
		p.i++
		not := p.acceptKeyword("NOT")
		if err := p.expectKeyword("NULL"); err != nil {
			return nil, err
		}
		pr, ok := l.(*propRef)
		if !ok {
			return nil, p.errorf(t, "IS NULL applies to a property, not to a literal")
		}
		return &nullExpr{x: pr, not: not}, nil
	case isKeyword(t, "ISA"):
		p.i++
		pr, ok := l.(*propRef)
		if !ok {
			return nil, p.errorf(t, "ISA applies to a property or to the class, not to a literal")
		}
		ct := p.peek()
		var class string
		switch {
		case ct.kind == tokString: // WMI writes ISA 'Class'
			p.i++
			class = ct.text
		default:
			class, _, err = p.name("a class name after ISA")
			if err != nil {
				return nil, err
			}
		}
		if !cim.ValidName(class) {
			return nil, p.errorf(ct, "%q is not a class name", class)
		}
		return &isaExpr{x: pr, class: class}, nil
	}
	return nil, p.errorf(t, "expected a comparison operator, LIKE, IS or ISA, found %s", describe(t))
}

func (p *parser) comparison(op token, l, r operand) (expr, error) {
	_, lLit := l.(*literal)
	_, rLit := r.(*literal)
	if lLit && rLit {
		return nil, p.errorf(op, "a comparison needs at least one property")
	}
	// "= NULL" and "<> NULL" mean IS NULL and IS NOT NULL (WMI and FQL).
	for _, side := range []struct{ prop, other operand }{{l, r}, {r, l}} {
		if lit, ok := side.other.(*literal); ok && lit.v.Type() == cim.TypeInvalid {
			pr := side.prop.(*propRef)
			switch op.text {
			case "=":
				return &nullExpr{x: pr}, nil
			case "<>":
				return &nullExpr{x: pr, not: true}, nil
			}
			return nil, p.errorf(op, "NULL can only be compared with = or <>")
		}
	}
	if lit, ok := r.(*literal); ok && lit.v.IsArray() && op.text != "=" && op.text != "<>" {
		return nil, p.errorf(op, "arrays can only be compared with = or <>")
	}
	return &compareExpr{op: op.text, l: l, r: r}, nil
}

func (p *parser) like(x operand) (expr, error) {
	not := p.acceptKeyword("NOT")
	p.i++ // LIKE
	t := p.peek()
	if t.kind != tokString {
		return nil, p.errorf(t, "LIKE needs a string pattern, found %s", describe(t))
	}
	p.i++
	if _, ok := x.(*literal); ok {
		return nil, p.errorf(t, "LIKE applies to a property, not to a literal")
	}
	match, err := compileLike(p.language, t.text)
	if err != nil {
		return nil, p.errorf(t, "%v", err)
	}
	return &likeExpr{x: x, not: not, pattern: t.text, match: match}, nil
}

// quantified parses ANY|EVERY arrayProp (op operand | [NOT] LIKE pattern).
func (p *parser) quantified() (expr, error) {
	every := isKeyword(p.advance(), "EVERY")
	t := p.peek()
	o, err := p.operand()
	if err != nil {
		return nil, err
	}
	arr, ok := o.(*propRef)
	if !ok || arr.index >= 0 {
		return nil, p.errorf(t, "ANY and EVERY apply to an array property")
	}
	q := &quantExpr{every: every, array: arr}
	op := p.peek()
	switch {
	case op.kind == tokOp:
		p.i++
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		if lit, ok := r.(*literal); ok && (lit.v.IsArray() || lit.v.Type() == cim.TypeInvalid && op.text != "=" && op.text != "<>") {
			return nil, p.errorf(op, "ANY and EVERY compare each element with a scalar")
		}
		q.op, q.r = op.text, r
	case isKeyword(op, "LIKE") || isKeyword(op, "NOT"):
		x, err := p.like(nil)
		if err != nil {
			return nil, err
		}
		q.like = x.(*likeExpr)
	default:
		return nil, p.errorf(op, "expected a comparison operator or LIKE, found %s", describe(op))
	}
	return q, nil
}

// operand parses a literal or a property reference.
func (p *parser) operand() (operand, error) {
	t := p.peek()
	switch {
	case t.kind == tokString:
		p.i++
		return &literal{v: cim.NewString(t.text), str: true, pos: t.pos}, nil
	case t.kind == tokNumber || t.kind == tokPunct && (t.text == "-" || t.text == "+"):
		return p.number()
	case t.kind == tokPunct && t.text == "{":
		return p.arrayLiteral()
	case isKeyword(t, "TRUE"), isKeyword(t, "FALSE"):
		p.i++
		return &literal{v: cim.NewBoolean(isKeyword(t, "TRUE")), pos: t.pos}, nil
	case isKeyword(t, "NULL"):
		p.i++
		return &literal{pos: t.pos}, nil
	case isKeyword(t, "DATETIME") && p.toks[min(p.i+1, len(p.toks)-1)].text == "(":
		p.i += 2
		s := p.peek()
		if s.kind != tokString {
			return nil, p.errorf(s, "DATETIME needs a string, found %s", describe(s))
		}
		p.i++
		d, err := cim.ParseDatetime(s.text)
		if err != nil {
			return nil, p.errorf(s, "invalid datetime %q", s.text)
		}
		return &literal{v: cim.NewDatetime(d), pos: s.pos}, p.expectPunct(")")
	}
	return p.property()
}

func (p *parser) property() (*propRef, error) {
	name, t, err := p.name("a property name")
	if err != nil {
		return nil, err
	}
	ref := &propRef{path: []string{name}, index: -1, pos: t.pos}
	for p.acceptPunct(".") {
		if p.acceptPunct("*") {
			// alias.* in a select list; the caller checks where it is allowed.
			ref.path = append(ref.path, "*")
			return ref, nil
		}
		name, _, err := p.name("a property name after '.'")
		if err != nil {
			return nil, err
		}
		ref.path = append(ref.path, name)
	}
	if p.acceptPunct("[") {
		t := p.peek()
		if t.kind != tokNumber {
			return nil, p.errorf(t, "expected an array index, found %s", describe(t))
		}
		p.i++
		n, err := strconv.ParseUint(t.text, 10, 31)
		if err != nil {
			return nil, p.errorf(t, "invalid array index %s", t.text)
		}
		ref.index = int(n)
		if err := p.expectPunct("]"); err != nil {
			return nil, err
		}
	}
	return ref, nil
}

func (p *parser) number() (*literal, error) {
	neg := false
	start := p.peek()
	for {
		t := p.peek()
		if t.kind == tokPunct && (t.text == "-" || t.text == "+") {
			p.i++
			if t.text == "-" {
				neg = !neg
			}
			continue
		}
		break
	}
	t := p.peek()
	if t.kind != tokNumber {
		return nil, p.errorf(t, "expected a number, found %s", describe(t))
	}
	p.i++
	v, err := decodeNumber(t.text, neg)
	if err != nil {
		return nil, p.errorf(t, "%v", err)
	}
	return &literal{v: v, pos: start.pos}, nil
}

// decodeNumber reads an integer (decimal, 0x hexadecimal or B-suffixed
// binary) as uint64, or sint64 when negative, and a real as real64.
func decodeNumber(s string, neg bool) (cim.Value, error) {
	var mag uint64
	var err error
	isInt := true
	switch {
	case len(s) > 2 && (s[1] == 'x' || s[1] == 'X'):
		mag, err = strconv.ParseUint(s[2:], 16, 64)
	case len(s) > 1 && (s[len(s)-1] == 'b' || s[len(s)-1] == 'B'):
		mag, err = strconv.ParseUint(s[:len(s)-1], 2, 64)
	case strings.ContainsAny(s, ".eE"):
		isInt = false
	default:
		mag, err = strconv.ParseUint(s, 10, 64)
	}
	if !isInt {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return cim.Value{}, cim.Errorf(cim.ErrInvalidQuery, "invalid number %s", s)
		}
		if neg {
			f = -f
		}
		return cim.NewReal64(f), nil
	}
	if err != nil {
		return cim.Value{}, cim.Errorf(cim.ErrInvalidQuery, "integer %s is invalid or out of range", s)
	}
	if !neg || mag == 0 {
		return cim.NewUint64(mag), nil
	}
	if mag > 1<<63 {
		return cim.Value{}, cim.Errorf(cim.ErrInvalidQuery, "integer -%s is out of range", s)
	}
	return cim.NewSint64(int64(-mag)), nil
}

// arrayLiteral parses {lit, lit, ...} (FQL); elements share one type.
func (p *parser) arrayLiteral() (*literal, error) {
	start := p.advance()
	var elems []*literal
	if !p.acceptPunct("}") {
		for {
			o, err := p.operand()
			if err != nil {
				return nil, err
			}
			lit, ok := o.(*literal)
			if !ok || lit.v.IsArray() || lit.v.Type() == cim.TypeInvalid {
				return nil, p.errorf(p.toks[p.i-1], "array literals hold scalar constants")
			}
			elems = append(elems, lit)
			if p.acceptPunct("}") {
				break
			}
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
	}
	return buildArrayLiteral(elems, start.pos, p)
}

func buildArrayLiteral(elems []*literal, pos int, p *parser) (*literal, error) {
	if len(elems) == 0 {
		return &literal{v: cim.NewStringArray([]string{}), str: true, pos: pos}, nil
	}
	t := elems[0].v.Type()
	allStr := true
	vals := make([]cim.Value, len(elems))
	for i, e := range elems {
		vals[i] = e.v
		allStr = allStr && e.str
		if e.v.Type().IsNumeric() && t.IsNumeric() {
			if e.v.Type() == cim.TypeReal64 || e.v.Type() == cim.TypeSint64 && t == cim.TypeUint64 {
				t = e.v.Type()
			}
			continue
		}
		if e.v.Type() != t {
			return nil, cim.Errorf(cim.ErrInvalidQuery, "at position %d: array literal mixes %s and %s elements", pos+1, t, e.v.Type())
		}
	}
	v, err := cim.NewArray(t, vals)
	if err != nil {
		return nil, cim.Errorf(cim.ErrInvalidQuery, "at position %d: invalid array literal: %w", pos+1, err)
	}
	return &literal{v: v, str: allStr, pos: pos}, nil
}

// Select is a parsed WQL or CQL SELECT statement.
type Select struct {
	// Language is WQL or CQL.
	Language string
	// ClassName is the class of the FROM clause, and Alias its alias if
	// any.
	ClassName string
	Alias     string
	// Properties are the selected property names, nil for *.
	Properties []string
	where      expr
	text       string
}

// ParseSelect parses a WQL or CQL query (language as CanonicalLanguage
// accepts it).
func ParseSelect(language, text string) (*Select, error) {
	lang, err := CanonicalLanguage(language)
	if err != nil {
		return nil, err
	}
	if lang == FQL {
		return nil, cim.NewError(cim.ErrQueryLanguageNotSupported, "DMTF:FQL is a filter language for the pull operations, not a query language for ExecQuery")
	}
	p, err := newParser(lang, text)
	if err != nil {
		return nil, err
	}
	s := &Select{Language: lang, text: text}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	var items []*propRef
	if !p.acceptPunct("*") {
		for {
			ref, err := p.property()
			if err != nil {
				return nil, err
			}
			items = append(items, ref)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	class, ct, err := p.name("a class name after FROM")
	if err != nil {
		return nil, err
	}
	if !cim.ValidName(class) {
		return nil, p.errorf(ct, "%q is not a class name", class)
	}
	s.ClassName = class
	if p.acceptKeyword("AS") {
		if s.Alias, _, err = p.name("an alias after AS"); err != nil {
			return nil, err
		}
	} else if t := p.peek(); t.kind == tokIdent && !isReserved(t) {
		s.Alias = t.text
		p.i++
	}
	if t := p.peek(); t.kind == tokPunct && t.text == "," {
		return nil, p.errorf(t, "queries over several classes (joins) are not supported")
	}
	if p.acceptKeyword("WHERE") {
		if s.where, err = p.condition(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t, "unexpected %s after the query", describe(t))
	}
	if err := s.resolveNames(items); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveNames strips class and alias prefixes from property references
// (CIM_Foo.Name, a.Name), marks references to the instance itself, and
// builds the select list.
func (s *Select) resolveNames(items []*propRef) error {
	for _, ref := range items {
		s.stripPrefix(ref)
		switch {
		case len(ref.path) == 1 && ref.path[0] == "*":
			if len(items) != 1 {
				return cim.NewError(cim.ErrInvalidQuery, "* cannot be combined with other items in the select list")
			}
			s.Properties = nil
		case ref.self || len(ref.path) > 1 || ref.index >= 0:
			return cim.Errorf(cim.ErrInvalidQuery, "select list item %s: only properties of %s can be selected", ref, s.ClassName)
		default:
			s.Properties = append(s.Properties, ref.path[0])
		}
	}
	var err error
	if s.where != nil {
		s.where.walk(func(ref *propRef) {
			s.stripPrefix(ref)
			if len(ref.path) > 0 && ref.path[len(ref.path)-1] == "*" && err == nil {
				err = cim.Errorf(cim.ErrInvalidQuery, "%s can only appear in the select list", ref)
			}
		})
	}
	return err
}

// stripPrefix removes a leading class name or alias from ref and reports
// whether it did; a reference that is only the class or alias names the
// instance itself.
func (s *Select) stripPrefix(ref *propRef) bool {
	if len(ref.path) == 0 {
		return false
	}
	first := ref.path[0]
	if !cim.EqualNames(first, s.ClassName) && !(s.Alias != "" && cim.EqualNames(first, s.Alias)) {
		return false
	}
	if len(ref.path) == 1 {
		ref.self = true
		ref.path = nil
		return true
	}
	ref.path = ref.path[1:]
	return true
}

// String returns the query text as parsed.
func (s *Select) String() string { return s.text }

// Filter is a parsed FQL filter (DSP0212).
type Filter struct {
	where expr
	text  string
}

// ParseFilter parses a filter query for the pull operations; language
// must name DMTF:FQL.
func ParseFilter(language, text string) (*Filter, error) {
	lang, err := CanonicalLanguage(language)
	if err != nil {
		return nil, err
	}
	if lang != FQL {
		return nil, cim.Errorf(cim.ErrQueryLanguageNotSupported, "FilterQueryLanguage %q is not supported: the pull operations filter with DMTF:FQL", language)
	}
	if strings.TrimSpace(text) == "" {
		return nil, cim.NewError(cim.ErrInvalidQuery, "the filter query is empty")
	}
	p, err := newParser(FQL, text)
	if err != nil {
		return nil, err
	}
	w, err := p.condition()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t, "unexpected %s after the filter", describe(t))
	}
	var bad error
	w.walk(func(ref *propRef) {
		if bad == nil && (ref.self || len(ref.path) > 0 && ref.path[len(ref.path)-1] == "*") {
			bad = cim.Errorf(cim.ErrInvalidQuery, "%s is not a property", ref)
		}
	})
	if bad != nil {
		return nil, bad
	}
	return &Filter{where: w, text: text}, nil
}

// String returns the filter text as parsed.
func (f *Filter) String() string { return f.text }
