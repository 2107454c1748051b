package xmlscan

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// Options say how a document is read. A zero MaxDepth or MaxElements is
// no limit (the reader's memory grows with the document either way, and
// whoever reads the input bounds its size); a zero MaxAttrs is
// defaultMaxAttrs, as the check for repeated attributes costs the square
// of their number.
type Options struct {
	// Namespaces resolves names to namespace URIs and checks
	// namespace-well-formedness (declared prefixes, QNames, at most
	// maxScope declarations in scope).
	Namespaces bool
	// AllowDoctype skips a document type declaration without an internal
	// subset; without it any document type declaration is ErrDoctype.
	AllowDoctype bool
	// NoMixedContent refuses non-blank text beside child elements
	// (ErrMixedContent) and drops the white space between children.
	NoMixedContent bool
	// MaxDepth is the deepest nesting of elements accepted.
	MaxDepth int
	// MaxElements is the most elements in the document.
	MaxElements int
	// MaxAttrs is the most attributes on one element, namespace
	// declarations included.
	MaxAttrs int
}

// defaultMaxAttrs is the most attributes on one element when
// Options.MaxAttrs is zero.
const defaultMaxAttrs = 256

// maxScope bounds the namespace declarations in scope at one element, so
// that resolving a prefix costs a bounded walk (real clients declare
// about ten).
const maxScope = 256

// The kinds of error Parse returns, to be tested with errors.Is: every
// error is an *Error wrapping one of them.
var (
	// ErrNotWellFormed is a violation of XML 1.0 or Namespaces in XML.
	ErrNotWellFormed = errors.New("not well-formed")
	// ErrCharset is a document declared in an encoding other than UTF-8
	// (or its ASCII subset).
	ErrCharset = errors.New("unsupported character encoding")
	// ErrLimit is a document over an Options limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrDoctype is a document type declaration that is not accepted:
	// any, or with Options.AllowDoctype one with an internal subset (the
	// vehicle of entity expansion and external entity attacks).
	ErrDoctype = errors.New("document type declaration refused")
	// ErrMixedContent is text beside child elements, with
	// Options.NoMixedContent.
	ErrMixedContent = errors.New("mixed content")
)

// Error is an error of Parse: its kind (one of the Err values), the line
// where it was found, and what is wrong.
type Error struct {
	Kind error
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap returns the kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

// Parser reads documents into trees, keeping its memory from one document
// to the next: a server that parses many small requests pools Parsers.
// A tree a Parser returned is valid until its next Parse (strings taken
// from it stay valid). A Parser is used by one goroutine at a time and
// must not be copied.
type Parser struct {
	opts Options
	s    string
	pos  int
	// The nodes come from slab, which is nodeArr or one of blocks (block
	// is its index, -1 for nodeArr), of which used are taken; capacity
	// counts them all.
	slab     []Node
	used     int
	blocks   [][]Node
	block    int
	capacity int
	elements int
	// attrs and kids are shared backing arrays for the attribute and
	// child lists: each list is a capped sub-slice of the array as it was
	// when the list was complete (growing the array later copies, leaving
	// earlier lists where they are).
	attrs []xml.Attr
	kids  []*Node
	// pending holds the children not yet handed to their parent, segs
	// the pieces of text not yet handed to their element (text, CDATA
	// sections, text between comments or children); stack the open
	// elements.
	pending  []*Node
	segs     []string
	stack    []openElement
	bindings []binding
	// joined holds the texts of more than one piece, which become
	// substrings of one string when the document is read (at fixups).
	joined []byte
	fixups []fixup
	buf    []byte
	// Storage for a typical request, so that a new Parser costs one
	// allocation.
	nodeArr    [24]Node
	kidArr     [24]*Node
	attrArr    [32]xml.Attr
	pendingArr [16]*Node
	segArr     [16]string
	stackArr   [16]openElement
	bindingArr [16]binding
}

// openElement is an element whose end tag is still to come.
type openElement struct {
	n *Node
	// kids and segs are where its children and pieces of text start in
	// pending and segs; inScope counts the namespace bindings in scope.
	kids, segs, inScope int
}

// fixup says that the text of n is joined[start:end].
type fixup struct {
	n          *Node
	start, end int
}

// binding is one namespace declaration; parent links to the declaration
// in scope before it (-1 for none), so each element's scope is a chain.
type binding struct {
	prefix, uri string
	parent      int32
}

// Parse reads one document. It takes a copy of data, which the caller may
// reuse as soon as Parse returns.
func (p *Parser) Parse(data []byte, opts Options) (*Node, error) {
	p.reset(data, opts)
	root, err := p.document()
	p.s = ""
	if err != nil {
		return nil, err
	}
	if len(p.fixups) > 0 {
		joined := string(p.joined)
		for _, f := range p.fixups {
			f.n.Text = joined[f.start:f.end]
		}
		clear(p.fixups)
	}
	// Keep no buffer a large document grew.
	if cap(p.buf) > 64<<10 {
		p.buf = nil
	}
	if cap(p.joined) > 64<<10 {
		p.joined = nil
	}
	return root, nil
}

// Nodes returns how many nodes the Parser holds memory for, so that a pool
// can drop a Parser a very large document has grown.
func (p *Parser) Nodes() int { return p.capacity }

func (p *Parser) reset(data []byte, opts Options) {
	if p.capacity > 0 {
		p.clearTree()
	}
	p.opts = opts
	p.s, p.pos = string(data), 0
	if p.capacity == 0 {
		p.capacity = len(p.nodeArr)
		p.attrs, p.kids = p.attrArr[:0], p.kidArr[:0]
		p.pending, p.segs, p.stack, p.bindings = p.pendingArr[:0], p.segArr[:0], p.stackArr[:0], p.bindingArr[:0]
	}
	p.slab, p.used, p.block, p.elements = p.nodeArr[:], 0, -1, 0
	p.attrs, p.kids = p.attrs[:0], p.kids[:0]
	p.pending, p.segs, p.stack, p.bindings = p.pending[:0], p.segs[:0], p.stack[:0], p.bindings[:0]
	p.joined, p.fixups = p.joined[:0], p.fixups[:0]
}

// clearTree zeroes the nodes and lists of the last document: newNode
// hands out zeroed nodes, and a pooled Parser keeps no document alive.
func (p *Parser) clearTree() {
	if p.block < 0 {
		clear(p.nodeArr[:p.used])
	} else {
		clear(p.nodeArr[:])
		for _, b := range p.blocks[:p.block] {
			clear(b)
		}
		clear(p.blocks[p.block][:p.used])
	}
	clear(p.attrs)
	clear(p.kids)
	clear(p.bindings)
	// Lists that outgrew their first storage left strings in it.
	if len(p.attrs) > 0 && &p.attrs[0] != &p.attrArr[0] {
		clear(p.attrArr[:])
	}
	if len(p.bindings) > 0 && &p.bindings[0] != &p.bindingArr[0] {
		clear(p.bindingArr[:])
	}
}

// newNode hands out a zeroed node, adding a block (twice the size of the
// last, up to 1024 nodes) when the blocks are used up.
func (p *Parser) newNode() *Node {
	if p.used == len(p.slab) {
		p.block++
		if p.block == len(p.blocks) {
			size := min(2*len(p.slab), 1024)
			p.blocks = append(p.blocks, make([]Node, size))
			p.capacity += size
		}
		p.slab, p.used = p.blocks[p.block], 0
	}
	n := &p.slab[p.used]
	p.used++
	return n
}

// fail returns an error of the given kind at the current position.
func (p *Parser) fail(kind error, format string, args ...any) error {
	line := 1 + strings.Count(p.s[:min(p.pos, len(p.s))], "\n")
	return &Error{Kind: kind, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *Parser) syntax(format string, args ...any) error {
	return p.fail(ErrNotWellFormed, format, args...)
}

// document reads the prolog, the root element and what follows it.
func (p *Parser) document() (*Node, error) {
	s := p.s
	if strings.HasPrefix(s, "\uFEFF") {
		p.pos = 3
	}
	var root *Node
	doctype := false
	for p.pos < len(s) {
		if s[p.pos] != '<' {
			if len(p.stack) > 0 {
				t, err := p.text(0)
				if err != nil {
					return nil, err
				}
				if !p.dropsAnyway(t) {
					p.addText(t)
				}
				continue
			}
			if !isSpace(s[p.pos]) {
				return nil, p.syntax("text outside the root element")
			}
			p.pos++
			continue
		}
		if p.pos+1 >= len(s) {
			return nil, p.syntax("the document ends with <")
		}
		var err error
		switch s[p.pos+1] {
		case '/':
			err = p.endTag()
		case '?':
			err = p.procInst(root == nil)
		case '!':
			err = p.markup(root == nil, &doctype)
		default:
			if root != nil && len(p.stack) == 0 {
				return nil, p.syntax("more than one root element")
			}
			var n *Node
			n, err = p.startTag()
			if root == nil {
				root = n
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if root == nil {
		return nil, p.syntax("no root element")
	}
	if len(p.stack) > 0 {
		return nil, p.syntax("the document ends inside <%s>", p.stack[len(p.stack)-1].n.Name)
	}
	return root, nil
}

// startTag reads a start tag or an empty-element tag and opens the
// element.
func (p *Parser) startTag() (*Node, error) {
	o := &p.opts
	depth := len(p.stack)
	if o.MaxDepth > 0 && depth >= o.MaxDepth {
		return nil, p.fail(ErrLimit, "elements nested deeper than %d levels", o.MaxDepth)
	}
	if o.MaxElements > 0 && p.elements >= o.MaxElements {
		return nil, p.fail(ErrLimit, "more than %d elements", o.MaxElements)
	}
	p.elements++
	maxAttrs := o.MaxAttrs
	if maxAttrs <= 0 {
		maxAttrs = defaultMaxAttrs
	}
	p.pos++
	name, colon, err := p.name()
	if err != nil {
		return nil, err
	}
	var parent *openElement
	if depth > 0 {
		parent = &p.stack[depth-1]
		if o.NoMixedContent && len(p.segs) > parent.segs {
			if err := p.dropBlank(parent); err != nil {
				return nil, err
			}
		}
	}
	n := p.newNode()
	n.Name = name
	first := len(p.attrs)
	s := p.s
	empty := false
	for {
		spaced := p.skipSpace()
		if p.pos >= len(s) {
			return nil, p.syntax("unterminated start tag <%s", name)
		}
		if c := s[p.pos]; c == '>' {
			p.pos++
			break
		} else if c == '/' {
			if p.pos+1 >= len(s) || s[p.pos+1] != '>' {
				return nil, p.syntax("/ in start tag <%s", name)
			}
			p.pos += 2
			empty = true
			break
		}
		if !spaced {
			return nil, p.syntax("attributes of <%s> must be separated by white space", name)
		}
		if len(p.attrs)-first >= maxAttrs {
			return nil, p.fail(ErrLimit, "element %s has more than %d attributes", name, maxAttrs)
		}
		aname, acolon, err := p.name()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(s) || s[p.pos] != '=' {
			return nil, p.syntax("attribute %s of <%s> has no value", aname, name)
		}
		p.pos++
		p.skipSpace()
		value, err := p.attrValue()
		if err != nil {
			return nil, err
		}
		a := xml.Attr{Value: value}
		if a.Name, err = p.split(aname, acolon); err != nil {
			return nil, err
		}
		for i := first; i < len(p.attrs); i++ {
			if p.attrs[i].Name == a.Name {
				return nil, p.syntax("attribute %s repeated on <%s>", aname, name)
			}
		}
		p.attrs = append(p.attrs, a)
	}
	xn, err := p.split(name, colon)
	if err != nil {
		return nil, err
	}
	n.Space, n.Local = xn.Space, xn.Local
	inScope := 0
	if o.Namespaces {
		if inScope, err = p.resolve(n, first, parent); err != nil {
			return nil, err
		}
	}
	if k := len(p.attrs) - first; k > 0 {
		n.Attrs = p.attrs[first : first+k : first+k]
	}
	if parent != nil {
		p.pending = append(p.pending, n)
	}
	if !empty {
		p.stack = append(p.stack, openElement{n: n, kids: len(p.pending), segs: len(p.segs), inScope: inScope})
	}
	return n, nil
}

// split splits a name at its colon (at colon, -1 for none) as
// encoding/xml's RawToken does: a name that starts or ends with its colon
// stays whole, which Namespaces refuses.
func (p *Parser) split(name string, colon int) (xml.Name, error) {
	if colon <= 0 || colon == len(name)-1 {
		if colon >= 0 && p.opts.Namespaces {
			return xml.Name{}, p.syntax("%q is not a qualified name", name)
		}
		return xml.Name{Local: name}, nil
	}
	return xml.Name{Space: name[:colon], Local: name[colon+1:]}, nil
}

// resolve applies the namespace declarations among the attributes of n
// (from first in p.attrs), removes them from the attributes and resolves
// the prefixes of n and its other attributes. It returns the number of
// bindings in scope.
func (p *Parser) resolve(n *Node, first int, parent *openElement) (int, error) {
	scope, inScope := int32(-1), 0
	if parent != nil {
		scope, inScope = parent.n.scope, parent.inScope
	}
	attrs := p.attrs[first:]
	decls := 0
	for i := range attrs {
		a := &attrs[i]
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
		case a.Name.Space == "xmlns":
			if a.Name.Local == "xmlns" || (a.Name.Local == "xml") != (a.Value == NamespaceXML) || a.Value == "" {
				return 0, p.syntax("the prefix %s cannot be bound to %q", a.Name.Local, a.Value)
			}
		default:
			continue
		}
		prefix := a.Name.Local
		if a.Name.Space == "" {
			prefix = ""
		}
		p.bindings = append(p.bindings, binding{prefix, a.Value, scope})
		scope = int32(len(p.bindings) - 1)
		decls++
		if inScope++; inScope > maxScope {
			return 0, p.fail(ErrLimit, "more than %d namespace declarations in scope", maxScope)
		}
	}
	n.scope, n.p = scope, p
	space, ok := p.lookup(scope, n.Space)
	if !ok {
		return 0, p.syntax("undeclared namespace prefix %q", n.Space)
	}
	n.Space = space
	w := first
	for i := range attrs {
		a := attrs[i]
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		if a.Name.Space != "" {
			if a.Name.Space, ok = p.lookup(scope, a.Name.Space); !ok {
				return 0, p.syntax("undeclared namespace prefix %q", attrs[i].Name.Space)
			}
			// Distinct prefixes may name one namespace.
			for j := first; j < w; j++ {
				if p.attrs[j].Name == a.Name {
					return 0, p.syntax("attribute {%s}%s repeated on <%s>", a.Name.Space, a.Name.Local, n.Name)
				}
			}
		}
		p.attrs[w] = a
		w++
	}
	if decls > 0 {
		clear(p.attrs[w:])
		p.attrs = p.attrs[:w]
	}
	return inScope, nil
}

// lookup returns the namespace URI bound to prefix in the scope ending at
// binding head.
func (p *Parser) lookup(head int32, prefix string) (string, bool) {
	switch prefix {
	case "xml":
		return NamespaceXML, true
	case "xmlns":
		return "", false
	}
	for i := head; i >= 0; i = p.bindings[i].parent {
		if b := &p.bindings[i]; b.prefix == prefix {
			return b.uri, true
		}
	}
	// Unprefixed names are in no namespace unless one is declared.
	return "", prefix == ""
}

// endTag reads an end tag, which must close the innermost open element,
// and hands the element its children.
func (p *Parser) endTag() error {
	if len(p.stack) == 0 {
		return p.syntax("an end tag without a start tag")
	}
	top := &p.stack[len(p.stack)-1]
	n := top.n
	p.pos += 2
	s := p.s
	if end := p.pos + len(n.Name); end < len(s) && s[end] == '>' && s[p.pos:end] == n.Name {
		p.pos = end + 1
	} else {
		name, _, err := p.name()
		if err != nil {
			return err
		}
		if name != n.Name {
			return p.syntax("end tag </%s> does not match <%s>", name, n.Name)
		}
		p.skipSpace()
		if p.pos >= len(s) || s[p.pos] != '>' {
			return p.syntax("unterminated end tag </%s>", n.Name)
		}
		p.pos++
	}
	if k := len(p.pending) - top.kids; k > 0 {
		at := len(p.kids)
		p.kids = append(p.kids, p.pending[top.kids:]...)
		n.Children = p.kids[at : at+k : at+k]
		p.pending = p.pending[:top.kids]
		if p.opts.NoMixedContent {
			if err := p.dropBlank(top); err != nil {
				return err
			}
		}
	}
	switch segs := p.segs[top.segs:]; len(segs) {
	case 0:
	case 1:
		n.Text = segs[0]
	default:
		start := len(p.joined)
		for _, t := range segs {
			p.joined = append(p.joined, t...)
		}
		p.fixups = append(p.fixups, fixup{n, start, len(p.joined)})
	}
	clear(p.segs[top.segs:])
	p.segs = p.segs[:top.segs]
	p.stack = p.stack[:len(p.stack)-1]
	return nil
}

// addText adds a piece of character data to the innermost open element.
func (p *Parser) addText(t string) {
	if t != "" {
		p.segs = append(p.segs, t)
	}
}

// dropsAnyway reports whether text t, just read, is white space that
// Options.NoMixedContent drops: before a child element, or before the end
// tag of an element that has children. Not keeping it saves the work of
// dropping it (requests from wbemcli put a line end after most tags).
func (p *Parser) dropsAnyway(t string) bool {
	s := p.s
	if !p.opts.NoMixedContent || p.pos+1 >= len(s) {
		return false
	}
	switch s[p.pos+1] {
	case '/':
		if top := &p.stack[len(p.stack)-1]; len(p.pending) == top.kids {
			return false // the element's only text so far
		}
	case '!', '?':
		return false
	}
	return blank(t)
}

// dropBlank drops the text of e since its start tag or its last child,
// which Options.NoMixedContent allows only blank.
func (p *Parser) dropBlank(e *openElement) error {
	for _, t := range p.segs[e.segs:] {
		if !blank(t) {
			return p.fail(ErrMixedContent, "element %s mixes text with child elements", e.n.Name)
		}
	}
	clear(p.segs[e.segs:])
	p.segs = p.segs[:e.segs]
	return nil
}

// markup reads what starts with <!: a comment, a CDATA section or a
// document type declaration (in the prolog, with Options.AllowDoctype).
func (p *Parser) markup(prolog bool, doctype *bool) error {
	rest := p.s[p.pos:]
	switch {
	case strings.HasPrefix(rest, "<!--"):
		return p.comment()
	case strings.HasPrefix(rest, "<![CDATA["):
		if len(p.stack) == 0 {
			return p.syntax("a CDATA section outside the root element")
		}
		return p.cdata()
	case strings.HasPrefix(rest, "<!DOCTYPE"):
		switch {
		case !p.opts.AllowDoctype:
			return p.fail(ErrDoctype, "document type declarations are not accepted")
		case !prolog:
			return p.syntax("a document type declaration after the root element")
		case *doctype:
			return p.syntax("a second document type declaration")
		}
		*doctype = true
		return p.doctype()
	}
	return p.syntax("markup declaration inside the document")
}

func (p *Parser) comment() error {
	rest := p.s[p.pos+4:]
	i := strings.Index(rest, "--")
	if i < 0 {
		return p.syntax("unterminated comment")
	}
	if i+2 >= len(rest) || rest[i+2] != '>' {
		return p.syntax(`"--" inside a comment`)
	}
	if err := p.checkChars(rest[:i]); err != nil {
		return err
	}
	p.pos += 4 + i + 3
	return nil
}

// cdata reads a CDATA section into the text of the innermost element.
func (p *Parser) cdata() error {
	rest := p.s[p.pos+9:]
	i := strings.Index(rest, "]]>")
	if i < 0 {
		return p.syntax("unterminated CDATA section")
	}
	content := rest[:i]
	if err := p.checkChars(content); err != nil {
		return err
	}
	p.pos += 9 + i + 3
	if strings.IndexByte(content, '\r') >= 0 {
		p.buf = normalizeNewlines(p.buf[:0], content)
		content = string(p.buf)
	}
	p.addText(content)
	return nil
}

// doctype skips a document type declaration without an internal subset.
func (p *Parser) doctype() error {
	s := p.s
	p.pos += len("<!DOCTYPE")
	if p.pos >= len(s) || !isSpace(s[p.pos]) {
		return p.syntax("<!DOCTYPE without white space after it")
	}
	start := p.pos
	for quote := byte(0); p.pos < len(s); p.pos++ {
		c := s[p.pos]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			return p.fail(ErrDoctype, "document type declarations with an internal subset are not accepted")
		case c == '>':
			if err := p.checkChars(s[start:p.pos]); err != nil {
				return err
			}
			p.pos++
			return nil
		}
	}
	return p.syntax("unterminated document type declaration")
}

// procInst reads a processing instruction, which is skipped, or the XML
// declaration, accepted anywhere before the root element (after a
// comment, say) as encoding/xml accepts it.
func (p *Parser) procInst(prolog bool) error {
	p.pos += 2
	target, _, err := p.name()
	if err != nil {
		return err
	}
	if strings.EqualFold(target, "xml") {
		if !prolog || target != "xml" {
			return p.syntax("an XML declaration is only allowed before the root element")
		}
		return p.xmlDecl()
	}
	i := strings.Index(p.s[p.pos:], "?>")
	if i < 0 {
		return p.syntax("unterminated processing instruction")
	}
	body := p.s[p.pos : p.pos+i]
	if body != "" && !isSpace(body[0]) {
		return p.syntax("white space must follow the target of processing instruction %s", target)
	}
	if err := p.checkChars(body); err != nil {
		return err
	}
	p.pos += i + 2
	return nil
}

// xmlDecl reads the XML declaration after <?xml: version 1.0, and an
// encoding (if any) that is UTF-8 or its ASCII subset.
func (p *Parser) xmlDecl() error {
	end := strings.Index(p.s[p.pos:], "?>")
	if end < 0 {
		return p.syntax("unterminated XML declaration")
	}
	raw := p.s[p.pos : p.pos+end]
	switch raw {
	case ` version="1.0" encoding="utf-8" `, ` version="1.0" encoding="utf-8"`,
		` version="1.0" encoding="UTF-8" `, ` version="1.0" encoding="UTF-8"`, ` version="1.0"`:
		// What clients send.
	default:
		version, encoding, err := declAttrs(raw)
		if err != nil {
			return p.syntax("XML declaration: %v", err)
		}
		if version != "1.0" {
			return p.syntax("XML declaration: version %q is not 1.0", version)
		}
		switch strings.ToLower(encoding) {
		case "", "utf-8", "utf8", "us-ascii", "ascii":
		default:
			return p.fail(ErrCharset, "the document is declared in %q, not UTF-8", encoding)
		}
	}
	p.pos += end + 2
	return nil
}

// declAttrs reads the name="value" pairs of an XML declaration, each
// after white space.
func declAttrs(s string) (version, encoding string, err error) {
	for {
		rest := strings.TrimLeft(s, " \t\r\n")
		if rest == "" {
			return version, encoding, nil
		}
		if len(rest) == len(s) {
			return "", "", fmt.Errorf("no white space before %q", s)
		}
		name, value, ok := strings.Cut(rest, "=")
		name = strings.TrimRight(name, " \t\r\n")
		if !ok {
			return "", "", fmt.Errorf("malformed %q", rest)
		}
		value = strings.TrimLeft(value, " \t\r\n")
		if value == "" || value[0] != '"' && value[0] != '\'' {
			return "", "", fmt.Errorf("unquoted value of %s", name)
		}
		end := strings.IndexByte(value[1:], value[0])
		if end < 0 {
			return "", "", fmt.Errorf("unterminated value of %s", name)
		}
		v := value[1 : 1+end]
		switch name {
		case "version":
			version = v
		case "encoding":
			encoding = v
		case "standalone":
			if v != "yes" && v != "no" {
				return "", "", fmt.Errorf("standalone=%q", v)
			}
		default:
			return "", "", fmt.Errorf("unknown %s", name)
		}
		s = value[end+2:]
	}
}
