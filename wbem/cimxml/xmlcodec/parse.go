package xmlcodec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits that bound what one request document may cost to parse. The size
// of the whole body is bounded separately (Config.MaxRequestSize).
const (
	// MaxDepth is the deepest element nesting accepted. CIM-XML requests
	// nest about a dozen levels; references inside references add a few
	// per level.
	MaxDepth = 64
	// MaxAttrs is the most attributes one element may carry (PROPERTY has
	// at most seven in DSP0203).
	MaxAttrs = 32
	// MaxEmbedding is how deep embedded objects (an INSTANCE escaped in
	// the VALUE of another) may nest.
	MaxEmbedding = 8
)

// Node is one element of a parsed document: CIM-XML has no mixed content,
// so an element holds either children or text.
type Node struct {
	Name     string
	Attrs    []xml.Attr
	Children []*Node
	Text     string
	// Textual is set when the element had non-blank character data.
	Textual bool
}

// Attr returns the value of the named attribute and whether it is present.
func (n *Node) Attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name && (a.Name.Space == "" || a.Name.Space == "xml") {
			return a.Value, true
		}
	}
	return "", false
}

// AttrFold is Attr with a case-insensitive name, for the attributes whose
// spelling differs between clients (EmbeddedObject, EMBEDDEDOBJECT).
func (n *Node) AttrFold(name string) (string, bool) {
	for _, a := range n.Attrs {
		if strings.EqualFold(a.Name.Local, name) {
			return a.Value, true
		}
	}
	return "", false
}

// Child returns the first child element with the given name, nil if none.
func (n *Node) Child(name string) *Node {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ErrNotWellFormed marks XML syntax errors (HTTP 400
// request-not-well-formed); Parse's other errors (a document type
// declaration with an internal subset, limits exceeded, mixed content)
// are request-not-valid.
var ErrNotWellFormed = errors.New("not well-formed")

// Parse reads one XML document into a tree. It is a small parser of
// its own (several times faster than encoding/xml's tokenizer, which the
// tests compare it with) that checks well-formedness as XML 1.0 defines
// it: one root element, matching tags, unique attributes, legal names and
// characters, valid UTF-8, and references only to the five predefined
// entities and to legal characters. It refuses a document type declaration
// with an internal subset (the vehicle of entity expansion attacks), so no
// entity is ever declared, expanded or fetched; it enforces MaxDepth and
// MaxAttrs. Line ends in text are normalized to \n as XML requires.
func Parse(data []byte) (*Node, error) {
	var ps Parser
	return ps.Parse(data)
}

// Parser is Parse with memory kept from one document to the next, for a
// server that parses many small requests. A tree a Parser returned is
// valid until its next Parse; strings taken from it stay valid. A Parser
// is used by one goroutine at a time.
type Parser struct{ p parser }

// Parse parses data like the package's Parse, reusing the Parser's memory.
func (ps *Parser) Parse(data []byte) (*Node, error) {
	p := &ps.p
	p.reset(data)
	root, err := p.document()
	p.s = nil // do not keep the document alive
	if err != nil {
		return nil, err
	}
	return root, nil
}

// Nodes returns how many nodes the Parser holds memory for, so that a pool
// can drop a Parser a very large document has grown.
func (ps *Parser) Nodes() int { return ps.p.capacity }

type parser struct {
	s   []byte
	i   int
	buf []byte // text being decoded
	// text accumulates the character data of the innermost open element
	// since its start tag or its last child: it becomes the text of a
	// leaf, and must be white space anywhere else.
	text []byte
	// blocks hand out nodes, to allocate once per block: slab is
	// blocks[block], of which used are taken; capacity counts them all.
	blocks   [][]Node
	block    int
	slab     []Node
	used     int
	capacity int
	// attrs and kids are shared backing arrays for the attribute and
	// child lists: each list is a capped sub-slice of the array as it
	// was when the list was complete (growing the array later copies,
	// leaving earlier lists where they are).
	attrs []xml.Attr
	kids  []*Node
	// open holds, for each open element, where its children start in
	// pending, the children not yet handed to their parent; stack holds
	// the open elements.
	open    []int
	pending []*Node
	stack   []*Node
}

// reset prepares the parser for data, keeping the memory it has.
func (p *parser) reset(data []byte) {
	p.s, p.i = data, 0
	p.buf, p.text = p.buf[:0], p.text[:0]
	p.block, p.slab, p.used = -1, nil, 0
	if cap(p.attrs) == 0 {
		// Room for a typical request's lists at once: about one element
		// and one attribute per 40 bytes.
		guess := min(len(data)/40+8, 1024)
		p.attrs = make([]xml.Attr, 0, guess)
		p.kids = make([]*Node, 0, guess)
		p.pending = make([]*Node, 0, 16)
		p.open = make([]int, 0, 16)
		p.stack = make([]*Node, 0, 16)
	}
	p.attrs, p.kids = p.attrs[:0], p.kids[:0]
	p.open, p.pending, p.stack = p.open[:0], p.pending[:0], p.stack[:0]
}

// newNode hands out a node from the blocks, adding a block (of about one
// node per 40 bytes of document at first, doubling) when they are used up.
func (p *parser) newNode(name string) *Node {
	if p.used == len(p.slab) {
		p.block++
		if p.block == len(p.blocks) {
			size := min(len(p.s)/40+8, 1024)
			if k := len(p.blocks); k > 0 {
				size = min(2*len(p.blocks[k-1]), 1024)
			}
			p.blocks = append(p.blocks, make([]Node, size))
			p.capacity += size
		}
		p.slab, p.used = p.blocks[p.block], 0
	}
	n := &p.slab[p.used]
	p.used++
	*n = Node{Name: name}
	return n
}

// syntax returns a not-well-formed error at the current position.
func (p *parser) syntax(format string, args ...any) error {
	line := 1 + bytes.Count(p.s[:min(p.i, len(p.s))], []byte{'\n'})
	return fmt.Errorf("%w: line %d: %s", ErrNotWellFormed, line, fmt.Sprintf(format, args...))
}

func (p *parser) has(prefix string) bool {
	return len(p.s)-p.i >= len(prefix) && string(p.s[p.i:p.i+len(prefix)]) == prefix
}

func (p *parser) skipSpace() bool {
	start := p.i
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
	return p.i > start
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// document parses prolog, root element and epilogue.
func (p *parser) document() (*Node, error) {
	if p.has("\xEF\xBB\xBF") {
		p.i += 3
	}
	if p.has("<?xml") && p.i+5 < len(p.s) && isSpace(p.s[p.i+5]) {
		if err := p.xmlDecl(); err != nil {
			return nil, err
		}
	}
	doctype := false
	for {
		p.skipSpace()
		switch {
		case p.i >= len(p.s):
			return nil, p.syntax("no root element")
		case p.has("<!--"):
			if err := p.comment(); err != nil {
				return nil, err
			}
		case p.has("<?"):
			if err := p.pi(); err != nil {
				return nil, err
			}
		case p.has("<!DOCTYPE"):
			if doctype {
				return nil, p.syntax("a second document type declaration")
			}
			doctype = true
			if err := p.doctype(); err != nil {
				return nil, err
			}
		case p.s[p.i] == '<':
			root, err := p.element()
			if err != nil {
				return nil, err
			}
			return root, p.epilogue()
		default:
			return nil, p.syntax("text outside the root element")
		}
	}
}

// epilogue allows only white space, comments and processing instructions
// after the root element.
func (p *parser) epilogue() error {
	for {
		p.skipSpace()
		switch {
		case p.i >= len(p.s):
			return nil
		case p.has("<!--"):
			if err := p.comment(); err != nil {
				return err
			}
		case p.has("<?"):
			if err := p.pi(); err != nil {
				return err
			}
		case p.s[p.i] == '<' && p.i+1 < len(p.s) && isNameStart(p.s[p.i+1]):
			return p.syntax("more than one root element")
		default:
			return p.syntax("content after the root element")
		}
	}
}

// xmlDecl checks <?xml version="1.x" encoding="..."?>: the body must be
// UTF-8, as DSP0200 requires.
func (p *parser) xmlDecl() error {
	end := bytes.Index(p.s[p.i:], []byte("?>"))
	if end < 0 {
		return p.syntax("unterminated XML declaration")
	}
	raw := p.s[p.i+5 : p.i+end]
	p.i += end + 2
	switch string(raw) {
	case ` version="1.0" encoding="utf-8" `, ` version="1.0" encoding="utf-8"`,
		` version="1.0" encoding="UTF-8" `, ` version="1.0" encoding="UTF-8"`, ` version="1.0"`:
		return nil // what clients send, without allocating
	}
	version, encoding, err := declAttrs(string(raw))
	if err != nil {
		return p.syntax("XML declaration: %v", err)
	}
	if version != "1.0" {
		return p.syntax("XML declaration: version %q is not 1.0", version)
	}
	if encoding != "" && !strings.EqualFold(encoding, "utf-8") && !strings.EqualFold(encoding, "utf8") {
		return p.syntax("the document is declared in %s; CIM-XML is UTF-8", encoding)
	}
	return nil
}

// declAttrs reads the name="value" pairs of an XML declaration.
func declAttrs(s string) (version, encoding string, err error) {
	for {
		rest := strings.TrimLeft(s, " \t\r\n")
		if rest == "" {
			return version, encoding, nil
		}
		if len(rest) == len(s) {
			return "", "", fmt.Errorf("no white space before %q", s)
		}
		s = rest
		name, rest, ok := strings.Cut(s, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return "", "", fmt.Errorf("malformed %q", s)
		}
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" || rest[0] != '"' && rest[0] != '\'' {
			return "", "", fmt.Errorf("unquoted value of %s", name)
		}
		end := strings.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return "", "", fmt.Errorf("unterminated value of %s", name)
		}
		switch name {
		case "version":
			version = rest[1 : 1+end]
		case "encoding":
			encoding = rest[1 : 1+end]
		case "standalone":
		default:
			return "", "", fmt.Errorf("unknown %s", name)
		}
		s = rest[end+2:]
	}
}

func (p *parser) comment() error {
	p.i += 4
	end := bytes.Index(p.s[p.i:], []byte("--"))
	if end < 0 {
		return p.syntax("unterminated comment")
	}
	if err := p.checkChars(p.s[p.i : p.i+end]); err != nil {
		return err
	}
	p.i += end
	if !p.has("-->") {
		return p.syntax("-- inside a comment")
	}
	p.i += 3
	return nil
}

func (p *parser) pi() error {
	p.i += 2
	start := p.i
	if p.i >= len(p.s) || !isNameStart(p.s[p.i]) {
		return p.syntax("processing instruction without a target")
	}
	for p.i < len(p.s) && isNameChar(p.s[p.i]) {
		p.i++
	}
	if !utf8.Valid(p.s[start:p.i]) {
		return p.syntax("a processing instruction target is not valid UTF-8")
	}
	if strings.EqualFold(string(p.s[start:p.i]), "xml") {
		return p.syntax("an XML declaration that is not at the start of the document")
	}
	end := bytes.Index(p.s[p.i:], []byte("?>"))
	if end < 0 {
		return p.syntax("unterminated processing instruction")
	}
	if err := p.checkChars(p.s[p.i : p.i+end]); err != nil {
		return err
	}
	p.i += end + 2
	return nil
}

// doctype skips a document type declaration without an internal subset.
// One with an internal subset is refused as not valid: CIM-XML has no use
// for entity declarations, and accepting them is how entity expansion and
// external entity attacks begin.
func (p *parser) doctype() error {
	p.i += len("<!DOCTYPE")
	for quote := byte(0); p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			return errors.New("document type declarations with an internal subset are not accepted")
		case c == '>':
			p.i++
			return nil
		}
	}
	return p.syntax("unterminated document type declaration")
}

// element parses an element and everything inside it. It keeps an
// explicit stack rather than recursing, so depth costs no Go stack.
func (p *parser) element() (*Node, error) {
	stack := p.stack[:0]
	defer func() { p.stack = stack[:0] }()
	var root *Node
	for {
		// p.s[p.i] == '<' and a start tag follows.
		if len(stack) >= MaxDepth {
			return nil, fmt.Errorf("elements nested deeper than %d levels", MaxDepth)
		}
		n, selfClosing, err := p.startTag()
		if err != nil {
			return nil, err
		}
		if len(stack) == 0 {
			root = n
		} else {
			p.pending = append(p.pending, n)
		}
		if !selfClosing {
			stack = append(stack, n)
			p.open = append(p.open, len(p.pending))
		}
		if err := p.content(&stack); err != nil {
			return nil, err
		}
		if len(stack) == 0 {
			return root, nil
		}
	}
}

// close ends the innermost open element: its pending children become its
// child list.
func (p *parser) close(n *Node) {
	start := p.open[len(p.open)-1]
	p.open = p.open[:len(p.open)-1]
	if k := len(p.pending) - start; k > 0 {
		at := len(p.kids)
		p.kids = append(p.kids, p.pending[start:]...)
		n.Children = p.kids[at : at+k : at+k]
		p.pending = p.pending[:start]
	}
}

// content reads character data, comments, processing instructions and
// end tags, popping stack, until the next start tag or the end of the
// root element.
func (p *parser) content(stack *[]*Node) error {
	p.text = p.text[:0]
	for len(*stack) > 0 {
		cur := (*stack)[len(*stack)-1]
		text, err := p.charData()
		if err != nil {
			return err
		}
		p.text = append(p.text, text...)
		switch {
		case p.i >= len(p.s):
			return p.syntax("document ends inside <%s>", cur.Name)
		case p.has("</"):
			if err := p.endTag(cur); err != nil {
				return err
			}
			p.close(cur)
			if len(cur.Children) == 0 {
				cur.Text = internText(p.text)
				cur.Textual = len(bytes.TrimLeft(p.text, " \t\r\n")) > 0
			} else if !blank(p.text) {
				return fmt.Errorf("element %s mixes text with child elements", cur.Name)
			}
			p.text = p.text[:0]
			*stack = (*stack)[:len(*stack)-1]
		case p.has("<!--"):
			if err := p.comment(); err != nil {
				return err
			}
		case p.has("<?"):
			if err := p.pi(); err != nil {
				return err
			}
		case p.has("<!"):
			return p.syntax("markup declaration inside the document")
		case p.i+1 >= len(p.s) || !isNameStart(p.s[p.i+1]):
			return p.syntax("< that starts no element (write &lt;)")
		default:
			// A child element starts.
			if !blank(p.text) {
				return fmt.Errorf("element %s mixes text with child elements", cur.Name)
			}
			return nil
		}
	}
	return nil
}

func blank(b []byte) bool { return len(bytes.TrimLeft(b, " \t\r\n")) == 0 }

// internText returns the string of a leaf element's text; the common
// values cost no allocation.
func internText(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "TRUE":
		return "TRUE"
	case "FALSE":
		return "FALSE"
	case "true":
		return "true"
	case "false":
		return "false"
	}
	return string(b)
}

// startTag parses <Name attr="v" ...> or <Name .../>.
func (p *parser) startTag() (*Node, bool, error) {
	p.i++
	name, err := p.name()
	if err != nil {
		return nil, false, err
	}
	n := p.newNode(name)
	first := len(p.attrs)
	for {
		space := p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false, p.syntax("unterminated start tag <%s", name)
		}
		switch p.s[p.i] {
		case '>', '/':
			selfClosing := p.s[p.i] == '/'
			if selfClosing && !p.has("/>") {
				return nil, false, p.syntax("/ in start tag <%s", name)
			}
			p.i++
			if selfClosing {
				p.i++
			}
			if k := len(p.attrs) - first; k > 0 {
				n.Attrs = p.attrs[first : first+k : first+k]
			}
			return n, selfClosing, nil
		}
		if !space {
			return nil, false, p.syntax("attributes of <%s> must be separated by white space", name)
		}
		if len(p.attrs)-first >= MaxAttrs {
			return nil, false, fmt.Errorf("element %s has more than %d attributes", name, MaxAttrs)
		}
		aname, err := p.name()
		if err != nil {
			return nil, false, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '=' {
			return nil, false, p.syntax("attribute %s of <%s> has no value", aname, name)
		}
		p.i++
		p.skipSpace()
		value, err := p.attrValue()
		if err != nil {
			return nil, false, err
		}
		a := xml.Attr{Value: value}
		if prefix, local, ok := strings.Cut(aname, ":"); ok {
			a.Name.Space, a.Name.Local = prefix, local
		} else {
			a.Name.Local = aname
		}
		for _, prev := range p.attrs[first:] {
			if prev.Name == a.Name {
				return nil, false, p.syntax("attribute %s repeated on <%s>", aname, name)
			}
		}
		p.attrs = append(p.attrs, a)
	}
}

func (p *parser) endTag(cur *Node) error {
	p.i += 2
	name, err := p.name()
	if err != nil {
		return err
	}
	if name != cur.Name {
		return p.syntax("end tag </%s> does not match <%s>", name, cur.Name)
	}
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '>' {
		return p.syntax("unterminated end tag </%s>", name)
	}
	p.i++
	return nil
}

// name parses an XML name, returning the CIM-XML element and attribute
// names without allocating.
func (p *parser) name() (string, error) {
	start := p.i
	if p.i >= len(p.s) || !isNameStart(p.s[p.i]) {
		return "", p.syntax("a name is expected")
	}
	for p.i < len(p.s) && isNameChar(p.s[p.i]) {
		p.i++
	}
	b := p.s[start:p.i]
	if !utf8.Valid(b) {
		return "", p.syntax("a name is not valid UTF-8")
	}
	return internName(b), nil
}

// isNameStart and isNameChar accept the ASCII name characters of XML and
// every non-ASCII byte (sequences are validated as UTF-8 after).
func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

func isNameChar(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// attrValue parses a quoted attribute value.
func (p *parser) attrValue() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '\'' {
		return "", p.syntax("an attribute value must be quoted")
	}
	quote := p.s[p.i]
	p.i++
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != quote {
		switch c := p.s[p.i]; {
		case c == '<':
			return "", p.syntax("< in an attribute value")
		case c == '&' || c == '\r' || c >= 0x80 || c < 0x20:
			return p.decodeAttr(start, quote)
		}
		p.i++
	}
	if p.i >= len(p.s) {
		return "", p.syntax("unterminated attribute value")
	}
	v := internValue(p.s[start:p.i])
	p.i++
	return v, nil
}

// decodeAttr finishes an attribute value that holds references, line
// ends or non-ASCII characters.
func (p *parser) decodeAttr(start int, quote byte) (string, error) {
	p.buf = append(p.buf[:0], p.s[start:p.i]...)
	for p.i < len(p.s) && p.s[p.i] != quote {
		if p.s[p.i] == '<' {
			return "", p.syntax("< in an attribute value")
		}
		if err := p.decodeOne(); err != nil {
			return "", err
		}
	}
	if p.i >= len(p.s) {
		return "", p.syntax("unterminated attribute value")
	}
	p.i++
	return string(p.buf), nil
}

// charData decodes the character data up to the next markup, nil when
// there is none.
func (p *parser) charData() ([]byte, error) {
	start := p.i
	simple := true
	for p.i < len(p.s) && p.s[p.i] != '<' {
		c := p.s[p.i]
		if c == '&' || c == '\r' || c >= 0x80 || c < 0x20 && c != '\t' && c != '\n' || c == ']' {
			simple = false
			break
		}
		p.i++
	}
	if simple {
		text := p.s[start:p.i]
		if p.i < len(p.s) && p.has("<![CDATA[") {
			return p.cdata(append(p.buf[:0], text...))
		}
		if len(text) == 0 {
			return nil, nil
		}
		return text, nil
	}
	p.buf = append(p.buf[:0], p.s[start:p.i]...)
	for {
		for p.i < len(p.s) && p.s[p.i] != '<' {
			if p.has("]]>") {
				return nil, p.syntax("]]> in character data")
			}
			if err := p.decodeOne(); err != nil {
				return nil, err
			}
		}
		if p.has("<![CDATA[") {
			return p.cdata(p.buf)
		}
		return p.buf, nil
	}
}

// cdata appends CDATA sections (and the text between them) to text.
func (p *parser) cdata(text []byte) ([]byte, error) {
	for p.has("<![CDATA[") {
		p.i += len("<![CDATA[")
		end := bytes.Index(p.s[p.i:], []byte("]]>"))
		if end < 0 {
			return nil, p.syntax("unterminated CDATA section")
		}
		section := p.s[p.i : p.i+end]
		if err := p.checkChars(section); err != nil {
			return nil, err
		}
		text = appendNormalized(text, section)
		p.i += end + 3
		for p.i < len(p.s) && p.s[p.i] != '<' {
			if p.has("]]>") {
				return nil, p.syntax("]]> in character data")
			}
			p.buf = text
			if err := p.decodeOne(); err != nil {
				return nil, err
			}
			text = p.buf
		}
	}
	p.buf = text
	return text, nil
}

// appendNormalized appends s with \r\n and lone \r turned into \n.
func appendNormalized(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' {
			dst = append(dst, '\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			continue
		}
		dst = append(dst, s[i])
	}
	return dst
}

// decodeOne appends to p.buf the decoding of one character or reference
// at p.i.
func (p *parser) decodeOne() error {
	c := p.s[p.i]
	switch {
	case c == '&':
		return p.reference()
	case c == '\r':
		p.buf = append(p.buf, '\n')
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '\n' {
			p.i++
		}
	case c < 0x80:
		if c < 0x20 && c != '\t' && c != '\n' {
			return p.syntax("illegal character U+%04X", c)
		}
		p.buf = append(p.buf, c)
		p.i++
	default:
		r, n := utf8.DecodeRune(p.s[p.i:])
		if r == utf8.RuneError && n == 1 {
			return p.syntax("invalid UTF-8")
		}
		if !isXMLChar(r) {
			return p.syntax("illegal character U+%04X", r)
		}
		p.buf = append(p.buf, p.s[p.i:p.i+n]...)
		p.i += n
	}
	return nil
}

// reference decodes &name; or &#n; / &#xh;.
func (p *parser) reference() error {
	end := bytes.IndexByte(p.s[p.i:min(len(p.s), p.i+12)], ';')
	if end < 0 {
		return p.syntax("& that starts no reference (write &amp;)")
	}
	ref := string(p.s[p.i+1 : p.i+end])
	p.i += end + 1
	switch ref {
	case "lt":
		p.buf = append(p.buf, '<')
	case "gt":
		p.buf = append(p.buf, '>')
	case "amp":
		p.buf = append(p.buf, '&')
	case "quot":
		p.buf = append(p.buf, '"')
	case "apos":
		p.buf = append(p.buf, '\'')
	default:
		if len(ref) < 2 || ref[0] != '#' {
			return p.syntax("undefined entity &%s;", ref)
		}
		var r rune
		digits, base := ref[1:], rune(10)
		if digits[0] == 'x' {
			digits, base = digits[1:], 16
		}
		if digits == "" {
			return p.syntax("bad character reference &%s;", ref)
		}
		for _, d := range digits {
			var v rune
			switch {
			case '0' <= d && d <= '9':
				v = d - '0'
			case base == 16 && 'a' <= d && d <= 'f':
				v = d - 'a' + 10
			case base == 16 && 'A' <= d && d <= 'F':
				v = d - 'A' + 10
			default:
				return p.syntax("bad character reference &%s;", ref)
			}
			r = r*base + v
			if r > utf8.MaxRune {
				return p.syntax("bad character reference &%s;", ref)
			}
		}
		if !isXMLChar(r) {
			return p.syntax("character reference &%s; to an illegal character", ref)
		}
		p.buf = utf8.AppendRune(p.buf, r)
	}
	return nil
}

// checkChars validates the characters of a comment, CDATA section or
// processing instruction.
func (p *parser) checkChars(b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			if c < 0x20 && !isSpace(c) {
				return p.syntax("illegal character U+%04X", c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || !isXMLChar(r) {
			return p.syntax("invalid UTF-8 or illegal character")
		}
		i += n
	}
	return nil
}

// isXMLChar reports whether r is a Char of XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// internName returns the string of an element or attribute name; the
// names of DSP0201 cost no allocation.
func internName(b []byte) string {
	switch string(b) {
	case "CIM":
		return "CIM"
	case "MESSAGE":
		return "MESSAGE"
	case "SIMPLEREQ":
		return "SIMPLEREQ"
	case "IMETHODCALL":
		return "IMETHODCALL"
	case "METHODCALL":
		return "METHODCALL"
	case "LOCALNAMESPACEPATH":
		return "LOCALNAMESPACEPATH"
	case "NAMESPACE":
		return "NAMESPACE"
	case "IPARAMVALUE":
		return "IPARAMVALUE"
	case "PARAMVALUE":
		return "PARAMVALUE"
	case "VALUE":
		return "VALUE"
	case "VALUE.ARRAY":
		return "VALUE.ARRAY"
	case "VALUE.REFERENCE":
		return "VALUE.REFERENCE"
	case "CLASSNAME":
		return "CLASSNAME"
	case "INSTANCENAME":
		return "INSTANCENAME"
	case "KEYBINDING":
		return "KEYBINDING"
	case "KEYVALUE":
		return "KEYVALUE"
	case "INSTANCE":
		return "INSTANCE"
	case "PROPERTY":
		return "PROPERTY"
	case "PROPERTY.ARRAY":
		return "PROPERTY.ARRAY"
	case "PROPERTY.REFERENCE":
		return "PROPERTY.REFERENCE"
	case "QUALIFIER":
		return "QUALIFIER"
	case "NAME":
		return "NAME"
	case "TYPE":
		return "TYPE"
	case "VALUETYPE":
		return "VALUETYPE"
	case "ID":
		return "ID"
	case "PROTOCOLVERSION":
		return "PROTOCOLVERSION"
	case "CIMVERSION":
		return "CIMVERSION"
	case "DTDVERSION":
		return "DTDVERSION"
	case "PARAMTYPE":
		return "PARAMTYPE"
	}
	return string(b)
}

// internValue returns the string of an attribute value; the common ones
// (versions, namespaces, types, intrinsic method and parameter names, key
// names) cost no allocation.
func internValue(b []byte) string {
	switch string(b) {
	case "2.0":
		return "2.0"
	case "1.0":
		return "1.0"
	case "root":
		return "root"
	case "string":
		return "string"
	case "numeric":
		return "numeric"
	case "boolean":
		return "boolean"
	case "cimv2":
		return "cimv2"
	case "interop":
		return "interop"
	case "ClassName":
		return "ClassName"
	case "InstanceName":
		return "InstanceName"
	case "LocalOnly":
		return "LocalOnly"
	case "DeepInheritance":
		return "DeepInheritance"
	case "IncludeQualifiers":
		return "IncludeQualifiers"
	case "IncludeClassOrigin":
		return "IncludeClassOrigin"
	case "PropertyList":
		return "PropertyList"
	case "GetInstance":
		return "GetInstance"
	case "GetClass":
		return "GetClass"
	case "EnumerateInstances":
		return "EnumerateInstances"
	case "EnumerateInstanceNames":
		return "EnumerateInstanceNames"
	case "Name":
		return "Name"
	case "CreationClassName":
		return "CreationClassName"
	case "InstanceID":
		return "InstanceID"
	}
	return string(b)
}
