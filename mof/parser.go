package mof

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Parse parses one MOF source and returns its syntax tree. It does not
// follow #pragma include (see Loader for that) and knows nothing of CIM
// semantics. On syntax errors it returns the tree of everything it could
// parse together with an ErrorList holding one entry per error; it never
// stops at the first one.
func Parse(name string, src []byte) (*File, error) {
	text, err := decodeSource(src)
	if err == nil {
		err = checkText(text)
	}
	if err != nil {
		pos := Pos{File: name, Line: 1, Col: 1}
		var te *textError
		if errors.As(err, &te) {
			pos.Line, pos.Col = te.line, te.col
		}
		return &File{Name: name}, ErrorList{{Pos: pos, Msg: err.Error()}}
	}
	p := newParser(name, text)
	f := p.parseFile()
	return f, p.errs.Err()
}

// decodeSource turns the bytes of a MOF file into UTF-8 text. DSP0221 allows
// UTF-8 (with or without a byte-order mark) and UTF-16 with a byte-order
// mark, which some Windows tools write.
func decodeSource(src []byte) (string, error) {
	switch {
	case bytes.HasPrefix(src, []byte{0xEF, 0xBB, 0xBF}):
		src = src[3:]
	case bytes.HasPrefix(src, []byte{0xFF, 0xFE}), bytes.HasPrefix(src, []byte{0xFE, 0xFF}):
		var order binary.ByteOrder = binary.LittleEndian
		if src[0] == 0xFE {
			order = binary.BigEndian
		}
		body := src[2:]
		if len(body)%2 != 0 {
			return "", fmt.Errorf("not a MOF text file: UTF-16 source with an odd number of bytes")
		}
		units := make([]uint16, len(body)/2)
		for i := range units {
			units[i] = order.Uint16(body[2*i:])
		}
		return string(utf16.Decode(units)), nil
	case len(src) >= 2 && src[0] != 0 && src[1] == 0, len(src) >= 2 && src[0] == 0 && src[1] != 0:
		return "", fmt.Errorf("not a MOF text file: it looks like UTF-16 without a byte-order mark (save it as UTF-8, or as UTF-16 with a byte-order mark)")
	}
	return string(src), nil
}

// textError says where a source stops being text.
type textError struct {
	line, col int
	what      string
}

func (e *textError) Error() string {
	return "not a MOF text file: " + e.what + " (MOF is UTF-8 text, or UTF-16 with a byte-order mark)"
}

// checkText refuses binary input as a whole, with one message, rather
// than one "invalid character" per byte: a NUL byte or a byte sequence
// that is not UTF-8 does not occur in MOF text. Other stray control
// characters are left to the lexer, which reports each where it is.
func checkText(text string) error {
	line, col := 1, 1
	for off, r := range text {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(text[off:], string(utf8.RuneError)):
			return &textError{line, col, fmt.Sprintf("byte 0x%02X is not UTF-8", text[off])}
		case r == 0:
			return &textError{line, col, "it holds a NUL byte"}
		case r == '\n':
			line, col = line+1, 1
		default:
			col++
		}
	}
	return nil
}

// bailout unwinds the parser to the nearest recovery point after a syntax
// error has been recorded.
type bailout struct{}

type parser struct {
	lex  *lexer
	tok  token // current token
	peek []token
	errs ErrorList
	// lastErr suppresses a second message at the position of the first:
	// one mistake, one message.
	lastErr Pos
}

func newParser(name, text string) *parser {
	p := &parser{}
	p.lex = newLexer(name, text, p.errorf)
	p.next()
	return p
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	if pos == p.lastErr {
		return
	}
	p.lastErr = pos
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// fail records a syntax error at the current token and unwinds.
func (p *parser) fail(format string, args ...any) {
	if !p.lex.unterminated {
		p.errorf(p.tok.pos, format, args...)
	}
	panic(bailout{})
}

func (p *parser) expected(what string) {
	p.fail("expected %s, found %s", what, p.tok.describe())
}

// next advances to the next token. Illegal characters were reported by the
// lexer and are skipped here so that they produce exactly one message.
func (p *parser) next() {
	for {
		if len(p.peek) > 0 {
			p.tok = p.peek[0]
			p.peek = p.peek[1:]
		} else {
			p.tok = p.lex.next()
		}
		if p.tok.kind != tIllegal {
			return
		}
	}
}

// lookahead returns the token n places after the current one.
func (p *parser) lookahead(n int) token {
	for len(p.peek) < n {
		t := p.lex.next()
		if t.kind == tIllegal {
			continue
		}
		p.peek = append(p.peek, t)
	}
	return p.peek[n-1]
}

func (p *parser) isKeyword(word string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, word)
}

func (p *parser) expect(kind tokenKind) token {
	t := p.tok
	if t.kind != kind {
		p.expected(kind.String())
	}
	p.next()
	return t
}

func (p *parser) expectKeyword(word string) token {
	t := p.tok
	if !p.isKeyword(word) {
		p.expected(fmt.Sprintf("%q", word))
	}
	p.next()
	return t
}

func (p *parser) ident(what string) token {
	t := p.tok
	if t.kind != tIdent {
		p.expected(what)
	}
	p.next()
	return t
}

// recover turns a bailout into a normal return; any other panic goes on.
func recoverBailout(failed *bool) {
	if r := recover(); r != nil {
		if _, ok := r.(bailout); !ok {
			panic(r)
		}
		*failed = true
	}
}

func (p *parser) parseFile() *File {
	f := &File{Name: p.lex.file}
	for p.tok.kind != tEOF {
		if prod := p.parseProductionRecovering(); prod != nil {
			f.Productions = append(f.Productions, prod)
		}
	}
	return f
}

func (p *parser) parseProductionRecovering() (prod Production) {
	failed := false
	func() {
		defer recoverBailout(&failed)
		prod = p.parseProduction()
	}()
	if failed {
		p.syncTopLevel()
		p.lex.unterminated = false
		return nil
	}
	return prod
}

// syncTopLevel skips to the start of the next production: past the ';'
// that closes the current one at brace depth zero, or to a token that can
// only start a production.
func (p *parser) syncTopLevel() {
	depth := 0
	for p.tok.kind != tEOF {
		switch p.tok.kind {
		case tLBrace:
			depth++
		case tRBrace:
			if depth > 0 {
				depth--
			}
		case tSemi:
			if depth == 0 {
				p.next()
				return
			}
		case tPragma:
			return
		case tIdent:
			if depth == 0 && p.tok.pos.Col == 1 && (p.isKeyword("class") || p.isKeyword("instance") || p.isKeyword("qualifier")) {
				return
			}
		}
		p.next()
	}
}

func (p *parser) parseProduction() Production {
	switch {
	case p.tok.kind == tPragma:
		return p.parsePragma()
	case p.isKeyword("qualifier"):
		return p.parseQualifierDecl()
	case p.tok.kind == tLBrack:
		quals := p.parseQualifierList()
		return p.parseClassOrInstance(quals)
	case p.isKeyword("class"), p.isKeyword("instance"):
		return p.parseClassOrInstance(nil)
	case p.tok.kind == tSemi:
		p.fail("unexpected ';' between declarations")
	}
	p.expected("a class, instance or qualifier declaration or a #pragma")
	return nil
}

func (p *parser) parseClassOrInstance(quals []*Qualifier) Production {
	switch {
	case p.isKeyword("class"):
		return p.parseClass(quals)
	case p.isKeyword("instance"):
		return p.parseInstance(quals, true)
	}
	p.expected(`"class" or "instance" after the qualifier list`)
	return nil
}

// parsePragma parses #pragma name(arg, ...). Arguments are strings
// (adjacent strings concatenate) or, for vendor pragmas such as
// deleteclass("C", FAIL), identifiers.
func (p *parser) parsePragma() *Pragma {
	pr := &Pragma{Pos: p.tok.pos}
	p.next()
	pr.Name = p.ident("a pragma name after #pragma").text
	p.expect(tLParen)
	for p.tok.kind != tRParen {
		switch p.tok.kind {
		case tString:
			pr.Args = append(pr.Args, p.parseString())
		case tIdent:
			pr.Args = append(pr.Args, &Value{Pos: p.tok.pos, Kind: StringValue, Str: p.tok.text, Raw: p.tok.text})
			p.next()
		default:
			p.expected("a string argument of #pragma " + pr.Name)
		}
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	p.expect(tRParen)
	// A ';' after a pragma is not in the grammar but is common and harmless.
	if p.tok.kind == tSemi {
		p.next()
	}
	return pr
}

func (p *parser) parseString() *Value {
	v := &Value{Pos: p.tok.pos, Kind: StringValue, Str: p.tok.text, Raw: p.tok.raw, bad: p.tok.bad}
	p.next()
	if p.tok.kind != tString {
		return v
	}
	// Adjacent string literals concatenate ("a" "b" is "ab").
	var b strings.Builder
	b.WriteString(v.Str)
	for p.tok.kind == tString {
		b.WriteString(p.tok.text)
		v.bad = v.bad || p.tok.bad
		p.next()
	}
	v.Str = b.String()
	return v
}

// parseQualifierDecl parses
// Qualifier Name : type [array] [= default], Scope(...) [, Flavor(...)];
func (p *parser) parseQualifierDecl() *QualifierDecl {
	q := &QualifierDecl{Pos: p.tok.pos}
	p.next()
	name := p.ident("a qualifier name")
	q.Name, q.NamePos = name.text, name.pos
	p.expect(tColon)
	q.Type = p.parseDataType(false)
	if p.tok.kind == tLBrack {
		q.Array = p.parseArraySpec()
	}
	if p.tok.kind == tEquals {
		p.next()
		q.Default = p.parseInitializer()
	}
	sawScope := false
	for p.tok.kind == tComma {
		p.next()
		switch {
		case p.isKeyword("scope") && !sawScope:
			p.next()
			q.Scopes = p.parseIdentList("a scope (class, association, indication, property, reference, method, parameter, qualifier, schema or any)")
			sawScope = true
		case p.isKeyword("flavor") && q.Flavors == nil:
			p.next()
			q.Flavors = p.parseIdentList("a flavor (EnableOverride, DisableOverride, Restricted, ToSubclass or Translatable)")
			if q.Flavors == nil {
				q.Flavors = []Ident{}
			}
		default:
			p.expected(`"Scope(...)" or "Flavor(...)"`)
		}
	}
	if !sawScope {
		p.errorf(p.tok.pos, "qualifier declaration %s has no Scope(...); add one, e.g. \", Scope(any)\"", q.Name)
	}
	p.expect(tSemi)
	return q
}

// parseIdentList parses ( word, word, ... ).
func (p *parser) parseIdentList(what string) []Ident {
	p.expect(tLParen)
	var ids []Ident
	for {
		t := p.ident(what)
		ids = append(ids, Ident{Pos: t.pos, Name: t.text})
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	p.expect(tRParen)
	return ids
}

// isIntrinsicType reports whether a lower-case MOF keyword names one of
// DSP0004's data types.
func isIntrinsicType(lower string) bool {
	switch lower {
	case "boolean", "string", "char16", "datetime",
		"uint8", "sint8", "uint16", "sint16",
		"uint32", "sint32", "uint64", "sint64",
		"real32", "real64":
		return true
	}
	return false
}

// parseDataType parses an intrinsic type or, when refOK, "Class REF".
func (p *parser) parseDataType(refOK bool) DataType {
	t := p.tok
	if t.kind != tIdent {
		p.expected("a data type")
	}
	lower := strings.ToLower(t.text)
	if isIntrinsicType(lower) {
		p.next()
		return DataType{Pos: t.pos, Name: lower}
	}
	if refOK && p.lookahead(1).kind == tIdent && strings.EqualFold(p.lookahead(1).text, "ref") {
		p.next()
		p.next()
		return DataType{Pos: t.pos, Name: "ref", RefClass: t.text}
	}
	if refOK {
		p.fail("unknown data type %q (expected boolean, string, char16, datetime, uint8..uint64, sint8..sint64, real32, real64 or \"ClassName REF\")", t.text)
	}
	p.fail("unknown data type %q (expected boolean, string, char16, datetime, uint8..uint64, sint8..sint64, real32 or real64)", t.text)
	return DataType{}
}

func (p *parser) parseArraySpec() *ArraySpec {
	a := &ArraySpec{Pos: p.tok.pos}
	p.expect(tLBrack)
	if p.tok.kind == tInt {
		if p.tok.neg || p.tok.base != 10 || p.tok.num == 0 || p.tok.num > 1<<31 {
			if !p.tok.bad {
				p.fail("array size must be a positive decimal integer, found %s", p.tok.raw)
			}
		}
		a.Size = int(p.tok.num)
		p.next()
	}
	p.expect(tRBrack)
	return a
}

func (p *parser) parseQualifierList() []*Qualifier {
	p.expect(tLBrack)
	var quals []*Qualifier
	for {
		quals = append(quals, p.parseQualifier())
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	p.expect(tRBrack)
	return quals
}

// parseQualifier parses Name, Name(value), Name{array} and the optional
// ": flavor flavor..." of MOF v2.
func (p *parser) parseQualifier() *Qualifier {
	name := p.ident("a qualifier name")
	q := &Qualifier{Pos: name.pos, Name: name.text}
	switch p.tok.kind {
	case tLParen:
		p.next()
		q.Value = p.parseInitializer()
		if q.Value.Kind == AliasValue || q.Value.Kind == InstanceValue {
			p.errorf(q.Value.Pos, "qualifier %s: a qualifier value must be a constant, not %s", q.Name, q.Value.Kind)
		}
		p.expect(tRParen)
	case tLBrace:
		q.Value = p.parseArray()
	}
	if p.tok.kind == tColon {
		p.next()
		for p.tok.kind == tIdent && isFlavorName(p.tok.text) {
			q.Flavors = append(q.Flavors, Ident{Pos: p.tok.pos, Name: p.tok.text})
			p.next()
		}
		if len(q.Flavors) == 0 {
			p.expected("a flavor (EnableOverride, DisableOverride, Restricted, ToSubclass or Translatable)")
		}
	}
	return q
}

func isFlavorName(s string) bool {
	switch strings.ToLower(s) {
	case "enableoverride", "disableoverride", "restricted", "tosubclass", "translatable", "toinstance":
		return true
	}
	return false
}

// parseClass parses class Name [as $Alias] [: Super] { features };
func (p *parser) parseClass(quals []*Qualifier) *ClassDecl {
	c := &ClassDecl{Pos: p.tok.pos, Qualifiers: quals}
	if len(quals) > 0 {
		c.Pos = quals[0].Pos
	}
	p.next()
	name := p.ident("a class name")
	c.Name, c.NamePos = name.text, name.pos
	if p.isKeyword("as") {
		p.next()
		c.Alias = p.expect(tAlias).text
	}
	if p.tok.kind == tColon {
		p.next()
		super := p.ident("a superclass name")
		c.Super, c.SuperPos = super.text, super.pos
	}
	p.expect(tLBrace)
	for p.tok.kind != tRBrace && p.tok.kind != tEOF {
		p.parseFeatureRecovering(c)
	}
	p.expect(tRBrace)
	p.expect(tSemi)
	return c
}

// parseFeatureRecovering parses one property, reference or method. After a
// syntax error it skips to the end of that feature so the rest of the class
// is still checked.
func (p *parser) parseFeatureRecovering(c *ClassDecl) {
	failed := false
	func() {
		defer recoverBailout(&failed)
		p.parseFeature(c)
	}()
	if failed {
		p.syncInBlock()
	}
}

func (p *parser) parseFeature(c *ClassDecl) {
	var quals []*Qualifier
	start := p.tok.pos
	if p.tok.kind == tLBrack {
		quals = p.parseQualifierList()
	}
	typ := p.parseDataType(true)
	name := p.ident("a property or method name")
	if p.tok.kind == tLParen {
		m := &MethodDecl{Pos: start, Qualifiers: quals, ReturnType: typ, Name: name.text, NamePos: name.pos}
		p.next()
		for p.tok.kind != tRParen {
			m.Params = append(m.Params, p.parseParam())
			if p.tok.kind != tComma {
				break
			}
			p.next()
		}
		p.expect(tRParen)
		p.expect(tSemi)
		c.Methods = append(c.Methods, m)
		return
	}
	prop := &PropertyDecl{Pos: start, Qualifiers: quals, Type: typ, Name: name.text, NamePos: name.pos}
	if p.tok.kind == tLBrack {
		prop.Array = p.parseArraySpec()
	}
	if p.tok.kind == tEquals {
		p.next()
		prop.Default = p.parseInitializer()
	}
	if p.tok.kind != tSemi {
		p.expected("';' after the declaration of " + prop.Name)
	}
	p.next()
	c.Properties = append(c.Properties, prop)
}

func (p *parser) parseParam() *ParamDecl {
	par := &ParamDecl{Pos: p.tok.pos}
	if p.tok.kind == tLBrack {
		par.Qualifiers = p.parseQualifierList()
	}
	par.Type = p.parseDataType(true)
	name := p.ident("a parameter name")
	par.Name, par.NamePos = name.text, name.pos
	if p.tok.kind == tLBrack {
		par.Array = p.parseArraySpec()
	}
	if p.tok.kind == tEquals {
		p.next()
		par.Default = p.parseInitializer()
	}
	return par
}

// parseInstance parses instance of Class [as $Alias] { Name = value; ... }
// and, when topLevel, the closing ';'. An embedded instance used as a value
// (MOF v3) has no ';' of its own.
func (p *parser) parseInstance(quals []*Qualifier, topLevel bool) *InstanceDecl {
	inst := &InstanceDecl{Pos: p.tok.pos, Qualifiers: quals}
	if len(quals) > 0 {
		inst.Pos = quals[0].Pos
	}
	p.next()
	p.expectKeyword("of")
	class := p.ident("a class name after \"instance of\"")
	inst.Class, inst.ClassPos = class.text, class.pos
	if p.isKeyword("as") {
		p.next()
		alias := p.expect(tAlias)
		inst.Alias, inst.AliasPos = alias.text, alias.pos
	}
	p.expect(tLBrace)
	for p.tok.kind != tRBrace && p.tok.kind != tEOF {
		p.parsePropertyValueRecovering(inst)
	}
	p.expect(tRBrace)
	if topLevel {
		p.expect(tSemi)
	}
	return inst
}

func (p *parser) parsePropertyValueRecovering(inst *InstanceDecl) {
	failed := false
	func() {
		defer recoverBailout(&failed)
		pv := &PropertyValue{Pos: p.tok.pos}
		if p.tok.kind == tLBrack {
			pv.Qualifiers = p.parseQualifierList()
		}
		pv.Name = p.ident("a property name").text
		p.expect(tEquals)
		pv.Value = p.parseInitializer()
		if p.tok.kind != tSemi {
			p.expected("';' after the value of " + pv.Name)
		}
		p.next()
		inst.Properties = append(inst.Properties, pv)
	}()
	if failed {
		p.syncInBlock()
	}
}

// syncInBlock resynchronises after a syntax error inside a class or
// instance body: it skips past the next ';' at the current brace depth, or
// up to the '}' that closes the block. A #pragma means the block was never
// closed, so it unwinds to let the top level resynchronise. Either way the
// error of an unterminated literal has been reported once and is cleared.
func (p *parser) syncInBlock() {
	defer func() { p.lex.unterminated = false }()
	depth := 0
	for p.tok.kind != tEOF {
		switch p.tok.kind {
		case tLBrace:
			depth++
		case tRBrace:
			if depth == 0 {
				return
			}
			depth--
		case tSemi:
			if depth == 0 {
				p.next()
				return
			}
		case tPragma:
			panic(bailout{})
		}
		p.next()
	}
}

// parseInitializer parses a constant, an array of constants, an alias
// ($name), or an embedded "instance of" (MOF v3).
func (p *parser) parseInitializer() *Value {
	switch {
	case p.tok.kind == tLBrace:
		return p.parseArray()
	case p.tok.kind == tAlias:
		v := &Value{Pos: p.tok.pos, Kind: AliasValue, Str: p.tok.text, Raw: p.tok.raw}
		p.next()
		return v
	case p.isKeyword("instance"):
		pos := p.tok.pos
		return &Value{Pos: pos, Kind: InstanceValue, Instance: p.parseInstance(nil, false)}
	}
	return p.parseConstant()
}

func (p *parser) parseArray() *Value {
	v := &Value{Pos: p.tok.pos, Kind: ArrayValue}
	p.expect(tLBrace)
	for p.tok.kind != tRBrace {
		var e *Value
		switch {
		case p.tok.kind == tLBrace:
			p.fail("arrays cannot be nested")
		case p.tok.kind == tAlias:
			e = &Value{Pos: p.tok.pos, Kind: AliasValue, Str: p.tok.text, Raw: p.tok.raw}
			p.next()
		case p.isKeyword("instance"):
			pos := p.tok.pos
			e = &Value{Pos: pos, Kind: InstanceValue, Instance: p.parseInstance(nil, false)}
		default:
			e = p.parseConstant()
		}
		v.Elems = append(v.Elems, e)
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	p.expect(tRBrace)
	return v
}

// parseConstant parses one literal: integer, real, string (with adjacent
// concatenation), char16, TRUE, FALSE or NULL.
func (p *parser) parseConstant() *Value {
	t := p.tok
	switch t.kind {
	case tInt:
		p.next()
		return &Value{Pos: t.pos, Kind: IntValue, Raw: t.raw, Int: t.num, Neg: t.neg, Base: t.base, bad: t.bad}
	case tReal:
		p.next()
		return &Value{Pos: t.pos, Kind: RealValue, Raw: t.raw, Real: t.fval, bad: t.bad}
	case tString:
		return p.parseString()
	case tChar:
		p.next()
		return &Value{Pos: t.pos, Kind: CharValue, Raw: t.raw, Str: t.text, bad: t.bad}
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true", "false":
			p.next()
			return &Value{Pos: t.pos, Kind: BoolValue, Raw: t.text, Bool: strings.EqualFold(t.text, "true")}
		case "null":
			p.next()
			return &Value{Pos: t.pos, Kind: NullValue, Raw: t.text}
		}
		p.fail("bad value %s: expected a number, a string, a char16, TRUE, FALSE, NULL, an array or an alias (strings need double quotes)", t.describe())
	}
	p.expected("a value")
	return nil
}
