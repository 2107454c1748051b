package wsman

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// element is one element of a parsed request: its name resolved to a
// namespace URI, its attributes (also resolved), its children and its
// character data. Requests are small (bounded by Limits), so a tree is the
// simplest tolerant way to read them whatever prefixes the client chose.
type element struct {
	space, local string
	attrs        []xml.Attr
	children     []*element
	text         strings.Builder
	// scope maps the prefixes in scope at this element to their URIs, for
	// attribute values that are QNames (xsi:type).
	scope map[string]string
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

// errTooLarge reports a request over a Limits bound.
var errTooLarge = errors.New("request exceeds the server's limits")

// parseXML reads one XML document into an element tree. It refuses
// document type declarations (SOAP 1.2 forbids them, and they are the door
// to entity tricks), unknown entities, more than one root element and
// anything over the limits.
func parseXML(data []byte, lim Limits) (*element, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, errTooLarge
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// Only UTF-8 (and its ASCII subset) is accepted: DSP0226 R13.1-5 lets a
	// service refuse other encodings.
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("unsupported character encoding %q", label)
	}
	var (
		root  *element
		stack []*element
		// names are the raw start tags, for matching end tags (RawToken
		// does not check them).
		names []xml.Name
		count int
	)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > lim.MaxElements || len(stack) >= lim.MaxDepth || len(t.Attr) > lim.MaxAttrs {
				return nil, errTooLarge
			}
			if len(stack) == 0 && root != nil {
				return nil, errors.New("more than one root element")
			}
			e := &element{}
			var parentScope map[string]string
			if len(stack) > 0 {
				parentScope = stack[len(stack)-1].scope
			}
			e.scope = parentScope
			ownScope := false
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					if !ownScope {
						e.scope, ownScope = copyScope(parentScope), true
					}
					prefix := a.Name.Local
					if a.Name.Space == "" {
						prefix = ""
					}
					e.scope[prefix] = a.Value
				}
			}
			space, ok := resolvePrefix(e.scope, t.Name.Space, true)
			if !ok {
				return nil, fmt.Errorf("undeclared namespace prefix %q", t.Name.Space)
			}
			e.space, e.local = space, t.Name.Local
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				as := ""
				if a.Name.Space != "" {
					if a.Name.Space == "xml" {
						as = nsXML
					} else if as, ok = resolvePrefix(e.scope, a.Name.Space, false); !ok {
						return nil, fmt.Errorf("undeclared namespace prefix %q", a.Name.Space)
					}
				}
				e.attrs = append(e.attrs, xml.Attr{Name: xml.Name{Space: as, Local: a.Name.Local}, Value: a.Value})
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, e)
			} else {
				root = e
			}
			stack = append(stack, e)
			names = append(names, t.Name)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, errors.New("unbalanced end element")
			}
			if open := names[len(names)-1]; open != t.Name {
				return nil, fmt.Errorf("element <%s> closed by </%s>", rawName(open), rawName(t.Name))
			}
			stack = stack[:len(stack)-1]
			names = names[:len(names)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		case xml.Directive:
			return nil, errors.New("document type declarations are not allowed in SOAP messages")
		case xml.ProcInst, xml.Comment:
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	if len(stack) != 0 {
		return nil, errors.New("unexpected end of document")
	}
	return root, nil
}

func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func copyScope(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+2)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// resolvePrefix maps a prefix to its URI; elements take the default
// namespace when unprefixed, attributes do not.
func resolvePrefix(scope map[string]string, prefix string, isElement bool) (string, bool) {
	if prefix == "" {
		if !isElement {
			return "", true
		}
		return scope[""], true
	}
	if prefix == "xml" {
		return nsXML, true
	}
	uri, ok := scope[prefix]
	return uri, ok
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
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
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
	return strings.TrimSpace(e.text.String())
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
	if i := strings.IndexByte(v, ':'); i >= 0 {
		return e.scope[v[:i]], v[i+1:]
	}
	return e.scope[""], v
}
