package xmlscan

import (
	"encoding/xml"
	"strings"
)

// NamespaceXML is the namespace the xml prefix is bound to.
const NamespaceXML = "http://www.w3.org/XML/1998/namespace"

// Node is one element of a parsed document.
type Node struct {
	// Name is the element's name as written, prefix included.
	Name string
	// Space and Local are the two parts of the name. With
	// Options.Namespaces, Space is the namespace URI ("" for none);
	// without, it is the prefix as written, split off at the colon as
	// encoding/xml's RawToken does.
	Space, Local string
	// Attrs are the attributes in document order, their names split the
	// same way; with Options.Namespaces the namespace declarations
	// (xmlns, xmlns:p) are not among them.
	Attrs    []xml.Attr
	Children []*Node
	// Text is the element's character data (CDATA sections included),
	// references decoded and line ends normalized to \n. With
	// Options.NoMixedContent only an element without children has text.
	Text string
	// scope indexes the last namespace binding in scope at the element
	// (-1: none) in the bindings of p (Options.Namespaces only).
	scope int32
	p     *Parser
}

// Attr returns the value of the unprefixed attribute name (or of
// xml:name, as xml:lang is Attr("lang")) and whether it is present.
func (n *Node) Attr(name string) (string, bool) {
	for i := range n.Attrs {
		a := &n.Attrs[i]
		if a.Name.Local == name && (a.Name.Space == "" || a.Name.Space == "xml" || a.Name.Space == NamespaceXML) {
			return a.Value, true
		}
	}
	return "", false
}

// AttrFold is Attr for a case-insensitive local name, whatever the
// prefix (attributes whose spelling differs between clients).
func (n *Node) AttrFold(name string) (string, bool) {
	for i := range n.Attrs {
		if strings.EqualFold(n.Attrs[i].Name.Local, name) {
			return n.Attrs[i].Value, true
		}
	}
	return "", false
}

// AttrNS returns the value of the attribute with the given namespace and
// local name; space "" is an unqualified attribute.
func (n *Node) AttrNS(space, local string) (string, bool) {
	for i := range n.Attrs {
		a := &n.Attrs[i]
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value, true
		}
	}
	return "", false
}

// Child returns the first child element whose name as written is name,
// nil if none.
func (n *Node) Child(name string) *Node {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Is reports whether n is not nil and has the given namespace and local
// name.
func (n *Node) Is(space, local string) bool {
	return n != nil && n.Local == local && n.Space == space
}

// ChildNS returns the first child with the given namespace and local
// name, nil if none (or if n is nil, so that lookups chain).
func (n *Node) ChildNS(space, local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Local == local && c.Space == space {
			return c
		}
	}
	return nil
}

// ChildrenNS returns every child with the given namespace and local name.
func (n *Node) ChildrenNS(space, local string) []*Node {
	var out []*Node
	for _, c := range n.Children {
		if c.Local == local && c.Space == space {
			out = append(out, c)
		}
	}
	return out
}

// TrimmedText returns the element's text without surrounding white
// space, "" for a nil element.
func (n *Node) TrimmedText() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Text)
}

// HasText reports whether the element's text holds a character other
// than XML white space.
func (n *Node) HasText() bool {
	return !blank(n.Text)
}

// ResolveQName resolves a QName-valued attribute or text (such as
// xsi:type) in the namespace scope of n: an unprefixed name is in the
// default namespace, a prefix bound nowhere resolves to "". Without
// Options.Namespaces the space is always "".
func (n *Node) ResolveQName(v string) (space, local string) {
	v = strings.TrimSpace(v)
	prefix, local := "", v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		prefix, local = v[:i], v[i+1:]
	}
	if n.p == nil {
		return "", local
	}
	space, _ = n.p.lookup(n.scope, prefix)
	return space, local
}
