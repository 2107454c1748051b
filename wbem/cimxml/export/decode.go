package export

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// Limits of the XML a listener or client reads.
const (
	maxDepth         = 64 // element nesting
	maxEmbedding     = 8  // embedded instances within embedded instances
	maxAttrsPerElem  = 32
	maxElementsTotal = 1 << 20
)

// node is an element of a parsed document.
type node struct {
	name     string
	attrs    []xml.Attr
	children []*node
	text     strings.Builder
}

func (n *node) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// attrFold finds an attribute whatever its case (EmbeddedObject is also
// written EMBEDDEDOBJECT).
func (n *node) attrFold(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && strings.EqualFold(a.Name.Local, name) {
			return a.Value, true
		}
	}
	return "", false
}

func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// errNotWellFormed marks XML that does not parse (as opposed to XML that
// does not follow the DTD).
var errNotWellFormed = errors.New("not well-formed XML")

// parseTree parses a document into nodes. Document type declarations with
// an internal subset are refused and no entity but the predefined ones is
// known, so nothing is ever expanded.
func parseTree(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var root *node
	var stack []*node
	count := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotWellFormed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if count++; count > maxElementsTotal {
				return nil, fmt.Errorf("%w: too many elements", errNotWellFormed)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: elements nested deeper than %d", errNotWellFormed, maxDepth)
			}
			if len(t.Attr) > maxAttrsPerElem {
				return nil, fmt.Errorf("%w: element %s has too many attributes", errNotWellFormed, t.Name.Local)
			}
			n := &node{name: t.Name.Local, attrs: t.Attr}
			if t.Name.Space != "" {
				return nil, fmt.Errorf("%w: element %s:%s is in a namespace", errNotWellFormed, t.Name.Space, t.Name.Local)
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("%w: more than one root element", errNotWellFormed)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element", errNotWellFormed)
			}
		case xml.Directive:
			if bytes.ContainsRune(t, '[') {
				return nil, fmt.Errorf("%w: document type declarations with an internal subset are not accepted", errNotWellFormed)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", errNotWellFormed)
	}
	return root, nil
}

// invalid reports content that does not follow DSP0201.
func invalid(format string, args ...any) error {
	return cim.Errorf(cim.ErrInvalidParameter, format, args...)
}

// messageOf returns the MESSAGE of a CIM document and its ID.
func messageOf(root *node) (*node, string, error) {
	if root.name != "CIM" {
		return nil, "", invalid("the root element is %s, not CIM", root.name)
	}
	msg := root.child("MESSAGE")
	if msg == nil {
		return nil, "", invalid("CIM has no MESSAGE")
	}
	id, ok := msg.attr("ID")
	if !ok {
		return nil, "", invalid("MESSAGE has no ID")
	}
	if v, ok := msg.attr("PROTOCOLVERSION"); !ok || !strings.HasPrefix(v, "1.") {
		return nil, "", invalid("MESSAGE PROTOCOLVERSION %q is not 1.x", v)
	}
	return msg, id, nil
}

// decodeInstance reads INSTANCE; depth counts embedded instances.
func decodeInstance(n *node, depth int) (*cim.Instance, error) {
	if n.name != "INSTANCE" {
		return nil, invalid("%s found where INSTANCE was expected", n.name)
	}
	class, _ := n.attr("CLASSNAME")
	if !cim.ValidName(class) {
		return nil, invalid("INSTANCE CLASSNAME %q is not a valid class name", class)
	}
	inst := cim.NewInstance(class)
	for _, c := range n.children {
		if c.name == "QUALIFIER" {
			continue // instance qualifiers are deprecated and carry nothing here
		}
		p, err := decodeProperty(c, depth)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", class, nameOf(c), err)
		}
		if err := inst.AddProperty(p); err != nil {
			return nil, invalid("%s: %v", class, err)
		}
	}
	return inst, nil
}

func nameOf(n *node) string {
	v, _ := n.attr("NAME")
	return v
}

func decodeProperty(n *node, depth int) (cim.Property, error) {
	name := nameOf(n)
	if !cim.ValidName(name) {
		return cim.Property{}, invalid("%s NAME %q is not a valid property name", n.name, name)
	}
	if n.name == "PROPERTY.REFERENCE" {
		p := cim.NewReferenceProperty(name, "")
		p.ReferenceClass, _ = n.attr("REFERENCECLASS")
		if vr := n.child("VALUE.REFERENCE"); vr != nil {
			ref, err := decodeValueReference(vr)
			if err != nil {
				return cim.Property{}, err
			}
			p.Value = cim.NewReference(ref)
		}
		return p, nil
	}
	if n.name != "PROPERTY" && n.name != "PROPERTY.ARRAY" {
		return cim.Property{}, invalid("unexpected element %s in INSTANCE", n.name)
	}
	t := cim.TypeString
	if tn, ok := n.attr("TYPE"); ok {
		var err error
		if t, err = cim.ParseType(tn); err != nil || t == cim.TypeReference {
			return cim.Property{}, invalid("invalid TYPE %q", tn)
		}
	}
	embedded := cim.EmbeddedNone
	if v, ok := n.attrFold("EmbeddedObject"); ok {
		k, err := cim.ParseEmbeddedKind(v)
		if err != nil {
			return cim.Property{}, invalid("invalid EmbeddedObject %q", v)
		}
		embedded = k
	}
	p := cim.Property{Name: name, Type: t, IsArray: n.name == "PROPERTY.ARRAY", Embedded: embedded}
	if p.IsArray {
		p.Value = cim.NullArray(t)
		if va := n.child("VALUE.ARRAY"); va != nil {
			elems := []cim.Value{}
			var insts []*cim.Instance
			for _, c := range va.children {
				switch c.name {
				case "VALUE.NULL":
					elems = append(elems, cim.Null(t))
					insts = append(insts, nil)
				case "VALUE":
					v, err := decodeScalar(t, embedded, c.text.String(), depth)
					if err != nil {
						return cim.Property{}, err
					}
					elems = append(elems, v)
					insts = append(insts, v.Instance())
				default:
					return cim.Property{}, invalid("unexpected %s in VALUE.ARRAY", c.name)
				}
			}
			if embedded != cim.EmbeddedNone && len(insts) > 0 && !containsNil(insts) {
				p.Value = cim.NewEmbeddedInstanceArray(insts)
			} else {
				v, err := cim.NewArray(t, elems)
				if err != nil {
					return cim.Property{}, invalid("%v", err)
				}
				p.Value = v
			}
		}
		return p, nil
	}
	p.Value = cim.Null(t)
	if vn := n.child("VALUE"); vn != nil {
		v, err := decodeScalar(t, embedded, vn.text.String(), depth)
		if err != nil {
			return cim.Property{}, err
		}
		p.Value = v
	}
	return p, nil
}

func containsNil(s []*cim.Instance) bool {
	for _, x := range s {
		if x == nil {
			return true
		}
	}
	return false
}

// decodeScalar types the text of a VALUE; an embedded object's text is
// the XML of an INSTANCE (a CLASS is kept as text).
func decodeScalar(t cim.Type, embedded cim.EmbeddedKind, text string, depth int) (cim.Value, error) {
	if embedded != cim.EmbeddedNone && t == cim.TypeString && strings.HasPrefix(strings.TrimSpace(text), "<INSTANCE") {
		if depth >= maxEmbedding {
			return cim.Value{}, invalid("embedded instances nested deeper than %d", maxEmbedding)
		}
		root, err := parseTree([]byte(text))
		if err != nil {
			return cim.Value{}, invalid("embedded instance: %v", err)
		}
		inst, err := decodeInstance(root, depth+1)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewEmbeddedInstance(inst), nil
	}
	v, err := cim.ParseValue(t, text)
	if err != nil {
		return cim.Value{}, invalid("%v", err)
	}
	return v, nil
}

// decodeValueReference reads VALUE.REFERENCE.
func decodeValueReference(n *node) (*cim.ObjectPath, error) {
	if len(n.children) != 1 {
		return nil, invalid("VALUE.REFERENCE must hold one path")
	}
	c := n.children[0]
	switch c.name {
	case "INSTANCEPATH", "CLASSPATH":
		nsp := c.child("NAMESPACEPATH")
		if nsp == nil {
			return nil, invalid("%s has no NAMESPACEPATH", c.name)
		}
		host := ""
		if h := nsp.child("HOST"); h != nil {
			host = strings.TrimSpace(h.text.String())
		}
		ns, err := localNamespace(nsp.child("LOCALNAMESPACEPATH"))
		if err != nil {
			return nil, err
		}
		p, err := pathTail(c)
		if err != nil {
			return nil, err
		}
		p.Host, p.Namespace = host, ns
		return p, nil
	case "LOCALINSTANCEPATH", "LOCALCLASSPATH":
		ns, err := localNamespace(c.child("LOCALNAMESPACEPATH"))
		if err != nil {
			return nil, err
		}
		p, err := pathTail(c)
		if err != nil {
			return nil, err
		}
		p.Namespace = ns
		return p, nil
	case "INSTANCENAME":
		return decodeInstanceName(c)
	case "CLASSNAME":
		name := nameOf(c)
		if !cim.ValidName(name) {
			return nil, invalid("invalid CLASSNAME %q", name)
		}
		return cim.NewClassPath("", name), nil
	}
	return nil, invalid("unexpected %s in VALUE.REFERENCE", c.name)
}

// pathTail reads the INSTANCENAME or CLASSNAME of a path element.
func pathTail(c *node) (*cim.ObjectPath, error) {
	if in := c.child("INSTANCENAME"); in != nil {
		return decodeInstanceName(in)
	}
	if cn := c.child("CLASSNAME"); cn != nil && cim.ValidName(nameOf(cn)) {
		return cim.NewClassPath("", nameOf(cn)), nil
	}
	return nil, invalid("%s has no INSTANCENAME or CLASSNAME", c.name)
}

func localNamespace(n *node) (string, error) {
	if n == nil {
		return "", invalid("LOCALNAMESPACEPATH is missing")
	}
	var parts []string
	for _, c := range n.children {
		if c.name != "NAMESPACE" || nameOf(c) == "" {
			return "", invalid("invalid element %s in LOCALNAMESPACEPATH", c.name)
		}
		parts = append(parts, nameOf(c))
	}
	if len(parts) == 0 {
		return "", invalid("LOCALNAMESPACEPATH is empty")
	}
	return strings.Join(parts, "/"), nil
}

func decodeInstanceName(n *node) (*cim.ObjectPath, error) {
	class, _ := n.attr("CLASSNAME")
	if !cim.ValidName(class) {
		return nil, invalid("INSTANCENAME CLASSNAME %q is not a valid class name", class)
	}
	p := &cim.ObjectPath{ClassName: class, Keys: []cim.KeyBinding{}}
	for _, kb := range n.children {
		switch kb.name {
		case "KEYBINDING":
			if len(kb.children) != 1 {
				return nil, invalid("KEYBINDING must hold one value")
			}
			v, err := keyValue(kb.children[0])
			if err != nil {
				return nil, err
			}
			p.Keys = append(p.Keys, cim.KeyBinding{Name: nameOf(kb), Value: v})
		case "KEYVALUE", "VALUE.REFERENCE":
			// A single unnamed key: the class's one key, whose name a
			// listener cannot know.
			v, err := keyValue(kb)
			if err != nil {
				return nil, err
			}
			p.Keys = append(p.Keys, cim.KeyBinding{Value: v})
		default:
			return nil, invalid("unexpected %s in INSTANCENAME", kb.name)
		}
	}
	return p, nil
}

func keyValue(n *node) (cim.Value, error) {
	if n.name == "VALUE.REFERENCE" {
		ref, err := decodeValueReference(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewReference(ref), nil
	}
	if n.name != "KEYVALUE" {
		return cim.Value{}, invalid("unexpected %s in KEYBINDING", n.name)
	}
	text := n.text.String()
	if tn, ok := n.attr("TYPE"); ok {
		t, err := cim.ParseType(tn)
		if err != nil {
			return cim.Value{}, invalid("invalid KEYVALUE TYPE %q", tn)
		}
		v, err := cim.ParseValue(t, text)
		if err != nil {
			return cim.Value{}, invalid("%v", err)
		}
		return v, nil
	}
	vt, _ := n.attr("VALUETYPE")
	switch vt {
	case "", "string":
		return cim.NewString(text), nil
	case "boolean":
		return cim.ParseValue(cim.TypeBoolean, text)
	case "numeric":
		return cim.ParseNumeric(strings.TrimSpace(text))
	}
	return cim.Value{}, invalid("invalid KEYVALUE VALUETYPE %q", vt)
}

// decodeResponse reads an ExportIndication response: refused is the
// listener's ERROR, if any; err says the response is not one.
func decodeResponse(body []byte, wantID string) (refused *cim.Error, err error) {
	root, err := parseTree(body)
	if err != nil {
		return nil, err
	}
	msg, id, err := messageOf(root)
	if err != nil {
		return nil, err
	}
	if id != wantID {
		return nil, invalid("the response's MESSAGE ID %q does not match the request's %q", id, wantID)
	}
	rsp := msg.child("SIMPLEEXPRSP")
	if rsp == nil {
		return nil, invalid("MESSAGE has no SIMPLEEXPRSP")
	}
	mr := rsp.child("EXPMETHODRESPONSE")
	if mr == nil {
		return nil, invalid("SIMPLEEXPRSP has no EXPMETHODRESPONSE")
	}
	if e := mr.child("ERROR"); e != nil {
		code, _ := e.attr("CODE")
		n, err := strconv.Atoi(code)
		if err != nil || n <= 0 {
			return nil, invalid("ERROR CODE %q is not a status code", code)
		}
		desc, _ := e.attr("DESCRIPTION")
		return cim.NewError(cim.Status(n), desc), nil
	}
	return nil, nil
}
