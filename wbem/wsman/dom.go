package wsman

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// element is one element of a parsed request: its name resolved to a
// namespace URI, its attributes (also resolved), its children and its
// character data. Requests are small (bounded by Limits), so a tree is the
// simplest tolerant way to read them whatever prefixes the client chose.
type element struct {
	space, local string
	attrs        []attr
	children     []*element
	// text is the element's own character data, entities decoded and line
	// ends normalized, as one string.
	text string
	// doc and scope give the namespace bindings in scope at this element,
	// for attribute values that are QNames (xsi:type).
	doc   *document
	scope int32
	// parent and nchild serve the parser only.
	parent, nchild int32
}

// attr is an attribute with its name resolved to a namespace URI ("" for
// an unprefixed attribute).
type attr struct {
	space, local, value string
}

// binding is one namespace declaration; parent links to the declaration in
// scope before it (-1 for none), so each element's scope is a chain.
type binding struct {
	prefix, uri string
	parent      int32
}

// document holds the storage of a parsed request: every element, attribute
// and namespace binding in a few slices rather than one allocation each.
type document struct {
	elems    []element
	attrs    []attr
	bindings []binding
	// Storage for a typical request, so that it costs one allocation.
	elemArr    [24]element
	kidArr     [24]*element
	attrArr    [16]attr
	bindingArr [16]binding
}

// Limits bound what a request may hold; every one is checked while
// reading, so a hostile envelope costs at most these amounts.
type Limits struct {
	// MaxBytes is the largest request body read (default 4 MiB).
	MaxBytes int64
	// MaxDepth is the deepest element nesting accepted (default 64).
	MaxDepth int
	// MaxElements is the most elements in one envelope (default 100000).
	MaxElements int
	// MaxAttrs is the most attributes on one element (default 64).
	MaxAttrs int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 4 << 20
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxElements <= 0 {
		l.MaxElements = 100000
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = 64
	}
	return l
}

// maxScope bounds the namespace declarations in scope at one element, so
// that resolving a prefix costs a bounded walk (real clients declare about
// ten).
const maxScope = 256

var (
	// errTooLarge reports a request over a Limits bound.
	errTooLarge = errors.New("request exceeds the server's limits")
	// errCharset reports a document declared in an encoding other than
	// UTF-8 (DSP0226 R13.1-5 lets a service refuse them).
	errCharset = errors.New("unsupported character encoding")
)

// parseXML reads one XML 1.0 document, which must be well-formed and
// namespace-well-formed, into an element tree. It refuses document type
// declarations (SOAP 1.2 forbids them, and they are the door to entity
// tricks), entities other than the predefined ones and character
// references, characters XML does not allow, invalid UTF-8, encodings
// other than UTF-8, more than one root element and anything over the
// limits. A UTF-8 byte order mark is skipped.
//
// It reads the bytes directly, without a tokenizer: names, namespace URIs
// and character data without entities are substrings of one copy of the
// request, and the tree lives in a few slices.
func parseXML(data []byte, lim Limits) (*element, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, errTooLarge
	}
	p := parser{s: string(data), lim: lim}
	root, err := p.parse()
	if err != nil {
		if errors.Is(err, errTooLarge) || errors.Is(err, errCharset) {
			return nil, err
		}
		return nil, fmt.Errorf("line %d: %w", 1+strings.Count(p.s[:min(p.pos, len(p.s))], "\n"), err)
	}
	return root, nil
}

// openElement is an element whose end tag is still to come.
type openElement struct {
	index int32
	qname string
}

// parser reads one document.
type parser struct {
	s     string
	pos   int
	lim   Limits
	doc   *document
	stack []openElement
	// scopeLen is the number of bindings in scope, per open element.
	scopeLen []int
	raw      []rawAttr
	buf      []byte
	// Storage for a typical request.
	stackArr    [16]openElement
	scopeLenArr [16]int
	rawArr      [16]rawAttr
}

// rawAttr is an attribute as written, before namespace processing.
type rawAttr struct {
	prefix, local, value string
}

func (p *parser) parse() (*element, error) {
	// Every element starts with a '<' that does not start an end tag:
	// their count bounds the elements, so the slice is never reallocated
	// and pointers into it stay valid.
	n := strings.Count(p.s, "<") - strings.Count(p.s, "</")
	if n > p.lim.MaxElements+1 {
		n = p.lim.MaxElements + 1
	}
	d := &document{}
	d.elems, d.attrs, d.bindings = d.elemArr[:0], d.attrArr[:0], d.bindingArr[:0]
	if n > len(d.elemArr) {
		d.elems = make([]element, 0, n)
	}
	p.doc = d
	p.stack, p.scopeLen, p.raw = p.stackArr[:0], p.scopeLenArr[:0], p.rawArr[:0]
	if strings.HasPrefix(p.s, "\uFEFF") {
		p.pos = 3
	}
	rootDone := false
	for p.pos < len(p.s) {
		if p.s[p.pos] != '<' {
			if len(p.stack) == 0 {
				start := p.pos
				p.skipSpace()
				if p.pos == start {
					return nil, errors.New("text outside the root element")
				}
				continue
			}
			if err := p.charData(); err != nil {
				return nil, err
			}
			continue
		}
		if p.pos+1 >= len(p.s) {
			return nil, errors.New("unexpected end of document")
		}
		var err error
		switch p.s[p.pos+1] {
		case '/':
			err = p.endTag()
			rootDone = rootDone || len(p.stack) == 0
		case '?':
			err = p.procInst(len(p.doc.elems) == 0)
		case '!':
			err = p.markupDecl()
		default:
			if rootDone {
				return nil, errors.New("more than one root element")
			}
			err = p.startTag()
			rootDone = len(p.stack) == 0
		}
		if err != nil {
			return nil, err
		}
	}
	if len(p.doc.elems) == 0 {
		return nil, errors.New("no root element")
	}
	if len(p.stack) != 0 {
		return nil, errors.New("unexpected end of document")
	}
	p.link()
	return &p.doc.elems[0], nil
}

// link gives every element its children, as sub-slices of one slice.
func (p *parser) link() {
	elems := p.doc.elems
	if len(elems) < 2 {
		return
	}
	kids := p.doc.kidArr[:]
	if len(elems)-1 > len(kids) {
		kids = make([]*element, len(elems)-1)
	}
	var nextArr [len(p.doc.kidArr) + 1]int32
	next := nextArr[:]
	if len(elems) > len(next) {
		next = make([]int32, len(elems))
	}
	off := int32(0)
	for i := range elems {
		next[i] = off
		off += elems[i].nchild
	}
	for i := 1; i < len(elems); i++ {
		par := elems[i].parent
		kids[next[par]] = &elems[i]
		next[par]++
	}
	for i := range elems {
		if nc := elems[i].nchild; nc > 0 {
			end := next[i]
			elems[i].children = kids[end-nc : end : end]
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

// name reads an XML Name at the current position.
func (p *parser) name() (string, error) {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c < utf8.RuneSelf {
			if !isNameByte(c, p.pos == start) {
				break
			}
			p.pos++
			continue
		}
		r, size := utf8.DecodeRuneInString(p.s[p.pos:])
		if !isNameRune(r, p.pos == start) {
			break
		}
		p.pos += size
	}
	if p.pos == start {
		if p.pos >= len(p.s) {
			return "", errors.New("unexpected end of document")
		}
		return "", fmt.Errorf("expected a name, found %q", p.s[p.pos])
	}
	return p.s[start:p.pos], nil
}

func isNameByte(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == ':':
		return true
	case '0' <= c && c <= '9', c == '-', c == '.':
		return !first
	}
	return false
}

// isNameRune implements the non-ASCII part of XML 1.0's NameStartChar and
// NameChar productions.
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

// splitQName splits a qualified name; both parts must be non-empty and
// hold no further colon (Namespaces in XML 1.0, clause 3).
func splitQName(qn string) (prefix, local string, err error) {
	i := strings.IndexByte(qn, ':')
	if i < 0 {
		return "", qn, nil
	}
	prefix, local = qn[:i], qn[i+1:]
	if prefix == "" || local == "" || strings.IndexByte(local, ':') >= 0 {
		return "", "", fmt.Errorf("%q is not a qualified name", qn)
	}
	return prefix, local, nil
}

// lookup returns the namespace URI bound to prefix in the scope ending at
// binding head.
func (d *document) lookup(head int32, prefix string) (string, bool) {
	switch prefix {
	case "xml":
		return nsXML, true
	case "xmlns":
		return "", false
	}
	for i := head; i >= 0; i = d.bindings[i].parent {
		if b := &d.bindings[i]; b.prefix == prefix {
			return b.uri, true
		}
	}
	// Unprefixed element names are in no namespace unless one is declared.
	return "", prefix == ""
}

// startTag reads a start tag or an empty-element tag.
func (p *parser) startTag() error {
	p.pos++
	qname, err := p.name()
	if err != nil {
		return err
	}
	p.raw = p.raw[:0]
	empty := false
	for {
		spaced := p.pos < len(p.s) && isSpace(p.s[p.pos])
		p.skipSpace()
		if p.pos >= len(p.s) {
			return errors.New("unexpected end of document in a start tag")
		}
		if c := p.s[p.pos]; c == '>' {
			p.pos++
			break
		} else if c == '/' {
			if p.pos+1 >= len(p.s) || p.s[p.pos+1] != '>' {
				return fmt.Errorf("expected /> in <%s>", qname)
			}
			p.pos += 2
			empty = true
			break
		}
		if !spaced {
			return fmt.Errorf("expected white space before an attribute in <%s>", qname)
		}
		an, err := p.name()
		if err != nil {
			return fmt.Errorf("in <%s>: %w", qname, err)
		}
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '=' {
			return fmt.Errorf("attribute %s of <%s> has no value", an, qname)
		}
		p.pos++
		p.skipSpace()
		v, err := p.attrValue()
		if err != nil {
			return err
		}
		if len(p.raw) >= p.lim.MaxAttrs {
			return errTooLarge
		}
		prefix, local, err := splitQName(an)
		if err != nil {
			return err
		}
		for _, a := range p.raw {
			if a.prefix == prefix && a.local == local {
				return fmt.Errorf("attribute %s appears twice in <%s>", an, qname)
			}
		}
		p.raw = append(p.raw, rawAttr{prefix, local, v})
	}
	d := p.doc
	if len(d.elems) >= p.lim.MaxElements || len(p.stack) >= p.lim.MaxDepth {
		return errTooLarge
	}
	parent := int32(-1)
	scope := int32(-1)
	inScope := 0
	if len(p.stack) > 0 {
		parent = p.stack[len(p.stack)-1].index
		scope = d.elems[parent].scope
		inScope = p.scopeLen[len(p.scopeLen)-1]
	}
	// Namespace declarations first: they apply to the element's own name
	// and attributes whatever their order.
	nattrs := 0
	for _, a := range p.raw {
		switch {
		case a.prefix == "" && a.local == "xmlns":
			d.bindings = append(d.bindings, binding{"", a.value, scope})
		case a.prefix == "xmlns":
			if a.local == "xmlns" || (a.local == "xml") != (a.value == nsXML) {
				return fmt.Errorf("the prefix %s cannot be bound to %q", a.local, a.value)
			}
			d.bindings = append(d.bindings, binding{a.local, a.value, scope})
		default:
			nattrs++
			continue
		}
		scope = int32(len(d.bindings) - 1)
		if inScope++; inScope > maxScope {
			return errTooLarge
		}
	}
	prefix, local, err := splitQName(qname)
	if err != nil {
		return err
	}
	space, ok := d.lookup(scope, prefix)
	if !ok {
		return fmt.Errorf("undeclared namespace prefix %q", prefix)
	}
	e := element{space: space, local: local, doc: d, scope: scope, parent: parent}
	if nattrs > 0 {
		start := len(d.attrs)
		for _, a := range p.raw {
			if a.prefix == "xmlns" || (a.prefix == "" && a.local == "xmlns") {
				continue
			}
			as := ""
			if a.prefix != "" {
				if as, ok = d.lookup(scope, a.prefix); !ok {
					return fmt.Errorf("undeclared namespace prefix %q", a.prefix)
				}
			}
			for _, b := range d.attrs[start:] {
				if b.space == as && b.local == a.local {
					return fmt.Errorf("attribute {%s}%s appears twice in <%s>", as, a.local, qname)
				}
			}
			d.attrs = append(d.attrs, attr{as, a.local, a.value})
		}
		e.attrs = d.attrs[start:len(d.attrs):len(d.attrs)]
	}
	index := int32(len(d.elems))
	d.elems = append(d.elems, e)
	if parent >= 0 {
		d.elems[parent].nchild++
	}
	if !empty {
		p.stack = append(p.stack, openElement{index, qname})
		p.scopeLen = append(p.scopeLen, inScope)
	}
	return nil
}

// endTag reads an end tag, which must close the innermost open element.
func (p *parser) endTag() error {
	p.pos += 2
	qname, err := p.name()
	if err != nil {
		return err
	}
	p.skipSpace()
	if p.pos >= len(p.s) || p.s[p.pos] != '>' {
		return fmt.Errorf("expected > after </%s", qname)
	}
	p.pos++
	if len(p.stack) == 0 {
		return fmt.Errorf("end tag </%s> without a start tag", qname)
	}
	if top := p.stack[len(p.stack)-1]; top.qname != qname {
		return fmt.Errorf("element <%s> closed by </%s>", top.qname, qname)
	}
	p.stack = p.stack[:len(p.stack)-1]
	p.scopeLen = p.scopeLen[:len(p.scopeLen)-1]
	return nil
}

// markupDecl reads a comment or a CDATA section; anything else starting
// with <! is a document type declaration, which SOAP forbids.
func (p *parser) markupDecl() error {
	rest := p.s[p.pos:]
	switch {
	case strings.HasPrefix(rest, "<!--"):
		i := strings.Index(rest[4:], "--")
		if i < 0 {
			return errors.New("unterminated comment")
		}
		end := 4 + i
		if end+2 >= len(rest) || rest[end+2] != '>' {
			return errors.New(`"--" is not allowed in a comment`)
		}
		if err := checkChars(rest[4:end]); err != nil {
			return err
		}
		p.pos += end + 3
		return nil
	case strings.HasPrefix(rest, "<![CDATA["):
		if len(p.stack) == 0 {
			return errors.New("CDATA section outside the root element")
		}
		i := strings.Index(rest[9:], "]]>")
		if i < 0 {
			return errors.New("unterminated CDATA section")
		}
		content := rest[9 : 9+i]
		if err := checkChars(content); err != nil {
			return err
		}
		p.pos += 9 + i + 3
		if strings.IndexByte(content, '\r') >= 0 {
			content = string(normalizeNewlines(p.buf[:0], content))
		}
		p.addText(content)
		return nil
	case strings.HasPrefix(rest, "<!DOCTYPE"):
		return errors.New("document type declarations are not allowed in SOAP messages")
	}
	return errors.New("invalid markup declaration")
}

// procInst reads a processing instruction, which is ignored, or the XML
// declaration, which XML wants first but is accepted anywhere before the
// root element (after a comment, say), as encoding/xml does.
func (p *parser) procInst(prolog bool) error {
	p.pos += 2
	target, err := p.name()
	if err != nil {
		return err
	}
	if strings.EqualFold(target, "xml") {
		if !prolog || target != "xml" {
			return errors.New("an XML declaration is only allowed before the root element")
		}
		return p.xmlDecl()
	}
	i := strings.Index(p.s[p.pos:], "?>")
	if i < 0 {
		return errors.New("unterminated processing instruction")
	}
	body := p.s[p.pos : p.pos+i]
	if body != "" && !isSpace(body[0]) {
		return fmt.Errorf("invalid processing instruction %s", target)
	}
	if err := checkChars(body); err != nil {
		return err
	}
	p.pos += i + 2
	return nil
}

// xmlDecl reads the XML declaration: version 1.0, and an encoding (if
// any) that is UTF-8 or its ASCII subset.
func (p *parser) xmlDecl() error {
	end := strings.Index(p.s[p.pos:], "?>")
	if end < 0 {
		return errors.New("unterminated XML declaration")
	}
	decl := p.s[p.pos : p.pos+end]
	p.pos += end + 2
	for {
		decl = strings.TrimLeft(decl, " \t\r\n")
		if decl == "" {
			return nil
		}
		name, rest, ok := strings.Cut(decl, "=")
		if !ok {
			return errors.New("malformed XML declaration")
		}
		name = strings.TrimRight(name, " \t\r\n")
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
			return errors.New("malformed XML declaration")
		}
		j := strings.IndexByte(rest[1:], rest[0])
		if j < 0 {
			return errors.New("malformed XML declaration")
		}
		value := rest[1 : 1+j]
		decl = rest[2+j:]
		switch name {
		case "version":
			if value != "1.0" {
				return fmt.Errorf("unsupported XML version %q", value)
			}
		case "encoding":
			switch strings.ToLower(value) {
			case "utf-8", "utf8", "us-ascii", "ascii":
			default:
				return fmt.Errorf("%w %q", errCharset, value)
			}
		case "standalone":
		default:
			return fmt.Errorf("unexpected %s in the XML declaration", name)
		}
	}
}

// addText appends character data to the innermost open element.
func (p *parser) addText(t string) {
	if t == "" {
		return
	}
	e := &p.doc.elems[p.stack[len(p.stack)-1].index]
	if e.text == "" {
		e.text = t
	} else {
		e.text += t
	}
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

// charData reads character data up to the next markup.
func (p *parser) charData() error {
	t, err := p.text(0)
	if err != nil {
		return err
	}
	p.addText(t)
	return nil
}

// attrValue reads a quoted attribute value.
func (p *parser) attrValue() (string, error) {
	if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\'') {
		return "", errors.New("attribute value not quoted")
	}
	q := p.s[p.pos]
	p.pos++
	v, err := p.text(q)
	if err != nil {
		return "", err
	}
	if p.pos >= len(p.s) {
		return "", errors.New("unterminated attribute value")
	}
	p.pos++
	return v, nil
}

// text reads character data (quote 0), ending before '<' or at the end of
// the document, or an attribute value ending before quote. Entities are
// decoded and line ends normalized; without either, the result is a
// substring of the document.
func (p *parser) text(quote byte) (string, error) {
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
			if quote != 0 {
				return "", errors.New("'<' in an attribute value")
			}
			p.pos = i
			return s[start:i], nil
		case c == '"' || c == '\'':
			i++
		case c == ']':
			if quote == 0 && strings.HasPrefix(s[i:], "]]>") {
				p.pos = i
				return "", errors.New(`"]]>" in character data`)
			}
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isXMLChar(r, size) {
				p.pos = i
				return "", fmt.Errorf("invalid character U+%04X or invalid UTF-8", r)
			}
			i += size
		case c == '&' || c == '\r':
			p.pos = i
			return p.slowText(quote, start)
		default:
			p.pos = i
			return "", fmt.Errorf("invalid character U+%04X", c)
		}
	}
	p.pos = i
	if quote != 0 {
		return "", errors.New("unterminated attribute value")
	}
	return s[start:i], nil
}

// slowText continues text at p.pos (where a reference or carriage return
// is) into a new string.
func (p *parser) slowText(quote byte, start int) (string, error) {
	s := p.s
	b := append(p.buf[:0], s[start:p.pos]...)
	i := p.pos
	for i < len(s) {
		c := s[i]
		switch {
		case c == '<' && quote == 0, c == quote && quote != 0:
			p.pos, p.buf = i, b
			return string(b), nil
		case c == '<':
			p.pos = i
			return "", errors.New("'<' in an attribute value")
		case c == '\r':
			b = append(b, '\n')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
			continue
		case c == '&':
			r, n, err := reference(s[i:])
			if err != nil {
				p.pos = i
				return "", err
			}
			b = utf8.AppendRune(b, r)
			i += n
			continue
		case c == ']' && quote == 0 && strings.HasPrefix(s[i:], "]]>"):
			p.pos = i
			return "", errors.New(`"]]>" in character data`)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isXMLChar(r, size) {
				p.pos = i
				return "", fmt.Errorf("invalid character U+%04X or invalid UTF-8", r)
			}
			b = append(b, s[i:i+size]...)
			i += size
			continue
		case c < 0x20 && c != '\t' && c != '\n':
			p.pos = i
			return "", fmt.Errorf("invalid character U+%04X", c)
		}
		b = append(b, c)
		i++
	}
	p.pos, p.buf = i, b
	if quote != 0 {
		return "", errors.New("unterminated attribute value")
	}
	return string(b), nil
}

// reference decodes the entity or character reference at the start of s
// and returns the character and the reference's length.
func reference(s string) (rune, int, error) {
	end := strings.IndexByte(s, ';')
	if end < 0 || end > 32 {
		end = min(len(s), 32)
		return 0, 0, fmt.Errorf("invalid reference %q (no semicolon)", s[:end])
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
		return 0, 0, fmt.Errorf("undefined entity &%s;", ref)
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	r := 0
	for j := 0; j < len(digits); j++ {
		c, d := digits[j], 0
		switch {
		case '0' <= c && c <= '9':
			d = int(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = int(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = int(c-'A') + 10
		default:
			return 0, 0, fmt.Errorf("invalid character reference &%s;", ref)
		}
		if r = r*base + d; r > unicode.MaxRune {
			return 0, 0, fmt.Errorf("invalid character reference &%s;", ref)
		}
	}
	if digits == "" || !isXMLChar(rune(r), 0) {
		return 0, 0, fmt.Errorf("invalid character reference &%s;", ref)
	}
	return rune(r), end + 1, nil
}

// isXMLChar reports whether r, decoded from size bytes (0: not decoded),
// is a character XML 1.0 allows.
func isXMLChar(r rune, size int) bool {
	if r == utf8.RuneError && size == 1 {
		return false
	}
	return r == 0x09 || r == 0x0A || r == 0x0D || 0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0x10FFFF
}

// checkChars checks that s holds only characters XML allows.
func checkChars(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return fmt.Errorf("invalid character U+%04X", c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isXMLChar(r, size) {
			return fmt.Errorf("invalid character U+%04X or invalid UTF-8", r)
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

// is reports whether e has the given namespace and local name.
func (e *element) is(space, local string) bool {
	return e != nil && e.space == space && e.local == local
}

// child returns the first child with the given name, or nil.
func (e *element) child(space, local string) *element {
	if e == nil {
		return nil
	}
	for _, c := range e.children {
		if c.space == space && c.local == local {
			return c
		}
	}
	return nil
}

// childrenNamed returns every child with the given name.
func (e *element) childrenNamed(space, local string) []*element {
	var out []*element
	for _, c := range e.children {
		if c.space == space && c.local == local {
			out = append(out, c)
		}
	}
	return out
}

// attr returns the value of the attribute with the given name; space ""
// matches an unqualified attribute.
func (e *element) attr(space, local string) (string, bool) {
	for _, a := range e.attrs {
		if a.space == space && a.local == local {
			return a.value, true
		}
	}
	return "", false
}

// trimmed returns the element's character data without surrounding white
// space.
func (e *element) trimmed() string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.text)
}

// isNil reports xsi:nil="true".
func (e *element) isNil() bool {
	v, ok := e.attr(nsXSI, "nil")
	return ok && (strings.TrimSpace(v) == "true" || strings.TrimSpace(v) == "1")
}

// resolveQName resolves a QName attribute value (such as xsi:type) in the
// scope of e.
func (e *element) resolveQName(v string) (space, local string) {
	v = strings.TrimSpace(v)
	prefix, local := "", v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		prefix, local = v[:i], v[i+1:]
	}
	if e.doc == nil {
		return "", local
	}
	space, _ = e.doc.lookup(e.scope, prefix)
	return space, local
}
