package xmlcodec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// This file turns the elements of a parsed document into cim objects.
// Structural faults (a missing required attribute, an element where DSP0201
// allows none) are *NotValidError (a request-not-valid protocol error for
// a server); values that do not parse for their type are
// CIM_ERR_INVALID_PARAMETER.

// NotValidError is a well-formed document that does not follow DSP0201.
type NotValidError struct{ Detail string }

func (e *NotValidError) Error() string { return e.Detail }

func notValid(format string, args ...any) *NotValidError {
	return &NotValidError{Detail: fmt.Sprintf(format, args...)}
}

// Decoder decodes elements of a parsed document into cim objects.
type Decoder struct {
	// NS is the namespace of paths that name none (an INSTANCENAME of a
	// request addresses the request's namespace).
	NS string
	// Class returns the declaration of a class, for typing what the XML
	// leaves untyped (an INSTANCENAME holding a single unnamed key takes
	// the name of the class's only key); nil leaves such a key unnamed.
	Class func(ns, className string) (*cim.Class, error)
	// embedding counts the embedded objects being decoded around the
	// current element.
	embedding int
}

// invalidParam is the CIM error for a bad parameter value.
func invalidParam(format string, args ...any) *cim.Error {
	return cim.Errorf(cim.ErrInvalidParameter, format, args...)
}

// requireAttr returns a required attribute.
func requireAttr(n *Node, name string) (string, error) {
	v, ok := n.Attr(name)
	if !ok {
		return "", notValid("element %s lacks its %s attribute", n.Name, name)
	}
	return v, nil
}

// requireName returns a NAME-like attribute that must be a CIM identifier.
func requireName(n *Node, attr string) (string, error) {
	v, err := requireAttr(n, attr)
	if err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	if !cim.ValidName(v) {
		return "", invalidParam("%s %s=%q is not a valid CIM name", n.Name, attr, v)
	}
	return v, nil
}

// noChildren rejects element content where DSP0201 has none.
func noChildren(n *Node) error {
	if len(n.Children) > 0 {
		return notValid("element %s must be empty, found <%s>", n.Name, n.Children[0].Name)
	}
	return nil
}

// onlyChild returns the single child element of n, naming what is
// allowed in the error otherwise.
func onlyChild(n *Node, allowed ...string) (*Node, error) {
	if len(n.Children) != 1 {
		return nil, notValid("element %s must contain exactly one of %s", n.Name, strings.Join(allowed, ", "))
	}
	c := n.Children[0]
	for _, a := range allowed {
		if c.Name == a {
			return c, nil
		}
	}
	return nil, notValid("element %s cannot contain <%s> (allowed: %s)", n.Name, c.Name, strings.Join(allowed, ", "))
}

// --- namespaces and paths -----------------------------------------------

// DecodeLocalNamespace reads LOCALNAMESPACEPATH (NAMESPACE+) into
// "root/cimv2".
func DecodeLocalNamespace(n *Node) (string, error) {
	if n.Name != "LOCALNAMESPACEPATH" {
		return "", notValid("expected LOCALNAMESPACEPATH, found <%s>", n.Name)
	}
	if len(n.Children) == 0 {
		return "", notValid("LOCALNAMESPACEPATH names no NAMESPACE")
	}
	parts := make([]string, 0, len(n.Children))
	for _, c := range n.Children {
		if c.Name != "NAMESPACE" {
			return "", notValid("LOCALNAMESPACEPATH cannot contain <%s>", c.Name)
		}
		if err := noChildren(c); err != nil {
			return "", err
		}
		name, err := requireAttr(c, "NAME")
		if err != nil {
			return "", err
		}
		name = strings.Trim(strings.TrimSpace(name), "/")
		if name == "" {
			return "", invalidParam("empty NAMESPACE name")
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, "/"), nil
}

// decodeNamespacePath reads NAMESPACEPATH (HOST, LOCALNAMESPACEPATH).
func decodeNamespacePath(n *Node) (host, ns string, err error) {
	if len(n.Children) != 2 || n.Children[0].Name != "HOST" {
		return "", "", notValid("NAMESPACEPATH must contain HOST and LOCALNAMESPACEPATH")
	}
	if err := noChildren(n.Children[0]); err != nil {
		return "", "", err
	}
	ns, err = DecodeLocalNamespace(n.Children[1])
	return strings.TrimSpace(n.Children[0].Text), ns, err
}

// DecodeClassName reads CLASSNAME.
func DecodeClassName(n *Node) (string, error) {
	if n.Name != "CLASSNAME" {
		return "", notValid("expected CLASSNAME, found <%s>", n.Name)
	}
	if err := noChildren(n); err != nil {
		return "", err
	}
	return requireName(n, "NAME")
}

// DecodeInstanceName reads INSTANCENAME: KEYBINDING*, or one unnamed
// KEYVALUE or VALUE.REFERENCE, whose key name comes from the class.
func (d *Decoder) DecodeInstanceName(n *Node, ns string) (*cim.ObjectPath, error) {
	if n.Name != "INSTANCENAME" {
		return nil, notValid("expected INSTANCENAME, found <%s>", n.Name)
	}
	cls, err := requireName(n, "CLASSNAME")
	if err != nil {
		return nil, err
	}
	p := &cim.ObjectPath{ClassName: cls, Keys: make([]cim.KeyBinding, 0, len(n.Children))}
	if len(n.Children) == 1 && n.Children[0].Name != "KEYBINDING" {
		v, err := d.decodeKeyBindingValue(n.Children[0])
		if err != nil {
			return nil, err
		}
		key, err := d.singleKeyName(ns, cls)
		if err != nil {
			return nil, err
		}
		p.Keys = append(p.Keys, cim.KeyBinding{Name: key, Value: v})
		return p, nil
	}
	for _, kb := range n.Children {
		if kb.Name != "KEYBINDING" {
			return nil, notValid("INSTANCENAME cannot contain <%s> among KEYBINDINGs", kb.Name)
		}
		name, err := requireName(kb, "NAME")
		if err != nil {
			return nil, err
		}
		if _, dup := p.Key(name); dup {
			return nil, invalidParam("key %s given twice in the instance name of %s", name, cls)
		}
		c, err := onlyChild(kb, "KEYVALUE", "VALUE.REFERENCE")
		if err != nil {
			return nil, err
		}
		v, err := d.decodeKeyBindingValue(c)
		if err != nil {
			return nil, err
		}
		p.Keys = append(p.Keys, cim.KeyBinding{Name: name, Value: v})
	}
	return p, nil
}

// singleKeyName names the one key of a class, for INSTANCENAME forms that
// give a value without a name.
func (d *Decoder) singleKeyName(ns, className string) (string, error) {
	if d.Class == nil {
		// Without the schema the name stays unknown: a listener keeps
		// the value under an empty name.
		return "", nil
	}
	if ns == "" {
		ns = d.NS
	}
	c, err := d.Class(ns, className)
	if err != nil {
		return "", err
	}
	keys := c.KeyNames()
	if len(keys) != 1 {
		return "", invalidParam("an instance name of %s without KEYBINDING names needs a class with one key; it has %d", className, len(keys))
	}
	return keys[0], nil
}

func (d *Decoder) decodeKeyBindingValue(n *Node) (cim.Value, error) {
	switch n.Name {
	case "KEYVALUE":
		return decodeKeyValue(n)
	case "VALUE.REFERENCE":
		p, err := d.DecodeValueReference(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewReference(p), nil
	}
	return cim.Value{}, notValid("expected KEYVALUE or VALUE.REFERENCE, found <%s>", n.Name)
}

// decodeKeyValue reads KEYVALUE. With a TYPE attribute the text is parsed
// as that type; without one (as wbemcli and most clients send it) the
// VALUETYPE decides: strings stay strings, numbers become uint64/sint64 or
// real64, booleans booleans. The core converts keys to the types the class
// declares.
func decodeKeyValue(n *Node) (cim.Value, error) {
	if err := noChildren(n); err != nil {
		return cim.Value{}, err
	}
	valueType := "string"
	if vt, ok := n.Attr("VALUETYPE"); ok {
		valueType = strings.ToLower(strings.TrimSpace(vt))
	}
	if ts, ok := n.Attr("TYPE"); ok {
		t, err := cim.ParseType(strings.TrimSpace(ts))
		if err != nil || t == cim.TypeReference {
			return cim.Value{}, invalidParam("KEYVALUE TYPE=%q is not a CIM type", ts)
		}
		v, err := cim.ParseValue(t, n.Text)
		if err != nil {
			return cim.Value{}, err
		}
		return v, nil
	}
	switch valueType {
	case "string":
		return cim.NewString(n.Text), nil
	case "boolean":
		return cim.ParseValue(cim.TypeBoolean, n.Text)
	case "numeric":
		v, err := cim.ParseNumeric(strings.TrimSpace(n.Text))
		if err != nil {
			return cim.Value{}, invalidParam("KEYVALUE %q is not a number", n.Text)
		}
		return v, nil
	}
	return cim.Value{}, notValid("KEYVALUE VALUETYPE=%q is not string, boolean or numeric", valueType)
}

// DecodeValueReference reads VALUE.REFERENCE into a path; a path without
// a namespace is a model path.
func (d *Decoder) DecodeValueReference(n *Node) (*cim.ObjectPath, error) {
	c, err := onlyChild(n, "CLASSPATH", "LOCALCLASSPATH", "CLASSNAME", "INSTANCEPATH", "LOCALINSTANCEPATH", "INSTANCENAME")
	if err != nil {
		return nil, err
	}
	return d.DecodePath(c)
}

// DecodePath reads any of the six path elements.
func (d *Decoder) DecodePath(c *Node) (*cim.ObjectPath, error) {
	switch c.Name {
	case "CLASSNAME":
		name, err := DecodeClassName(c)
		if err != nil {
			return nil, err
		}
		return &cim.ObjectPath{ClassName: name}, nil
	case "INSTANCENAME":
		return d.DecodeInstanceName(c, d.NS)
	case "CLASSPATH", "INSTANCEPATH":
		if len(c.Children) != 2 || c.Children[0].Name != "NAMESPACEPATH" {
			return nil, notValid("%s must contain NAMESPACEPATH and a name", c.Name)
		}
		host, ns, err := decodeNamespacePath(c.Children[0])
		if err != nil {
			return nil, err
		}
		p, err := d.decodeLocalPart(c.Name, c.Children[1], ns)
		if err != nil {
			return nil, err
		}
		p.Host, p.Namespace = host, ns
		return p, nil
	case "LOCALCLASSPATH", "LOCALINSTANCEPATH":
		if len(c.Children) != 2 {
			return nil, notValid("%s must contain LOCALNAMESPACEPATH and a name", c.Name)
		}
		ns, err := DecodeLocalNamespace(c.Children[0])
		if err != nil {
			return nil, err
		}
		p, err := d.decodeLocalPart(c.Name, c.Children[1], ns)
		if err != nil {
			return nil, err
		}
		p.Namespace = ns
		return p, nil
	}
	return nil, notValid("expected an object path, found <%s>", c.Name)
}

func (d *Decoder) decodeLocalPart(elem string, n *Node, ns string) (*cim.ObjectPath, error) {
	if strings.HasSuffix(elem, "CLASSPATH") {
		name, err := DecodeClassName(n)
		if err != nil {
			return nil, err
		}
		return &cim.ObjectPath{ClassName: name}, nil
	}
	return d.DecodeInstanceName(n, ns)
}

// --- values -------------------------------------------------------------

// DecodeValue reads the VALUE or VALUE.ARRAY of an element of type t
// (VALUE.REFERENCE and VALUE.REFARRAY for references). A missing value
// element is NULL. embedded says how string text is to be read.
func (d *Decoder) DecodeValue(t cim.Type, isArray bool, embedded cim.EmbeddedKind, n *Node) (cim.Value, error) {
	if n == nil {
		if isArray {
			return cim.NullArray(t), nil
		}
		return cim.Null(t), nil
	}
	switch n.Name {
	case "VALUE.NULL":
		if isArray {
			return cim.NullArray(t), nil
		}
		return cim.Null(t), nil
	case "VALUE":
		if isArray {
			return cim.Value{}, invalidParam("a single VALUE was given for an array of %s", t)
		}
		if err := noChildren(n); err != nil {
			return cim.Value{}, err
		}
		return d.scalar(t, embedded, n.Text)
	case "VALUE.ARRAY":
		if !isArray {
			return cim.Value{}, invalidParam("VALUE.ARRAY was given for a scalar %s", t)
		}
		return d.array(t, embedded, n)
	case "VALUE.REFERENCE":
		if t != cim.TypeReference || isArray {
			return cim.Value{}, invalidParam("VALUE.REFERENCE was given for a value of type %s", arrayTypeName(t, isArray))
		}
		p, err := d.DecodeValueReference(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewReference(p), nil
	case "VALUE.REFARRAY":
		if t != cim.TypeReference || !isArray {
			return cim.Value{}, invalidParam("VALUE.REFARRAY was given for a value of type %s", arrayTypeName(t, isArray))
		}
		elems := make([]cim.Value, 0, len(n.Children))
		for _, c := range n.Children {
			switch c.Name {
			case "VALUE.NULL":
				elems = append(elems, cim.Null(cim.TypeReference))
			case "VALUE.REFERENCE":
				p, err := d.DecodeValueReference(c)
				if err != nil {
					return cim.Value{}, err
				}
				elems = append(elems, cim.NewReference(p))
			default:
				return cim.Value{}, notValid("VALUE.REFARRAY cannot contain <%s>", c.Name)
			}
		}
		return cim.NewArray(cim.TypeReference, elems)
	}
	return cim.Value{}, notValid("expected a value element, found <%s>", n.Name)
}

func arrayTypeName(t cim.Type, isArray bool) string {
	if isArray {
		return t.String() + "[]"
	}
	return t.String()
}

func (d *Decoder) array(t cim.Type, embedded cim.EmbeddedKind, n *Node) (cim.Value, error) {
	elems := make([]cim.Value, 0, len(n.Children))
	for _, c := range n.Children {
		switch c.Name {
		case "VALUE":
			if err := noChildren(c); err != nil {
				return cim.Value{}, err
			}
			v, err := d.scalar(t, embedded, c.Text)
			if err != nil {
				return cim.Value{}, err
			}
			elems = append(elems, v)
		case "VALUE.NULL":
			elems = append(elems, cim.Null(t))
		default:
			return cim.Value{}, notValid("VALUE.ARRAY cannot contain <%s>", c.Name)
		}
	}
	if embedded != cim.EmbeddedNone && t == cim.TypeString {
		return embeddedArray(elems)
	}
	return cim.NewArray(t, elems)
}

// embeddedArray builds a string array of embedded objects; the elements
// must all be instances or all classes.
func embeddedArray(elems []cim.Value) (cim.Value, error) {
	var insts []*cim.Instance
	var classes []*cim.Class
	for _, e := range elems {
		switch {
		case e.IsNull():
			insts = append(insts, nil)
			classes = append(classes, nil)
		case e.Instance() != nil:
			insts = append(insts, e.Instance())
		case e.Class() != nil:
			classes = append(classes, e.Class())
		}
	}
	switch {
	case len(insts) == len(elems):
		return cim.NewEmbeddedInstanceArray(insts), nil
	case len(classes) == len(elems):
		return cim.NewEmbeddedClassArray(classes), nil
	}
	return cim.Value{}, invalidParam("an array of embedded objects mixes instances and classes")
}

// scalar parses the text of one VALUE as type t. Embedded objects are
// CIM-XML INSTANCE or CLASS elements carried as escaped text.
func (d *Decoder) scalar(t cim.Type, embedded cim.EmbeddedKind, text string) (cim.Value, error) {
	if embedded != cim.EmbeddedNone && t == cim.TypeString {
		return d.embeddedObject(embedded, text)
	}
	if t == cim.TypeReference {
		// A reference given as text: an object path.
		p, err := cim.ParseObjectPath(strings.TrimSpace(text))
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewReference(p), nil
	}
	return cim.ParseValue(t, text)
}

// embeddedObject parses the CIM-XML of an embedded instance or class.
func (d *Decoder) embeddedObject(kind cim.EmbeddedKind, text string) (cim.Value, error) {
	if strings.TrimSpace(text) == "" {
		return cim.Null(cim.TypeString), nil
	}
	if d.embedding >= MaxEmbedding {
		return cim.Value{}, invalidParam("embedded objects nested deeper than %d levels", MaxEmbedding)
	}
	root, err := Parse([]byte(text))
	if err != nil {
		return cim.Value{}, invalidParam("an embedded object is not well-formed CIM-XML: %v", err)
	}
	inner := *d
	inner.embedding++
	switch root.Name {
	case "INSTANCE":
		inst, err := inner.DecodeInstance(root)
		if err != nil {
			return cim.Value{}, embeddedError(err)
		}
		return cim.NewEmbeddedInstance(inst), nil
	case "CLASS":
		if kind == cim.EmbeddedInstance {
			return cim.Value{}, invalidParam("an embedded instance holds a CLASS")
		}
		c, err := inner.DecodeClass(root)
		if err != nil {
			return cim.Value{}, embeddedError(err)
		}
		return cim.NewEmbeddedClass(c), nil
	}
	return cim.Value{}, invalidParam("an embedded object must be an INSTANCE or a CLASS, not <%s>", root.Name)
}

// embeddedError reports structural faults of an embedded object as the
// parameter errors they are: the enclosing document is valid.
func embeddedError(err error) error {
	var nv *NotValidError
	if errors.As(err, &nv) {
		return invalidParam("embedded object: %s", nv.Detail)
	}
	return err
}

// --- qualifiers, properties, instances, classes -------------------------

// parseTypeAttr reads a TYPE (or PARAMTYPE) attribute.
func parseTypeAttr(n *Node, attr string) (cim.Type, bool, error) {
	s, ok := n.Attr(attr)
	if !ok {
		return cim.TypeInvalid, false, nil
	}
	t, err := cim.ParseType(strings.TrimSpace(s))
	if err != nil {
		return cim.TypeInvalid, true, invalidParam("%s %s=%q is not a CIM type", n.Name, attr, s)
	}
	return t, true, nil
}

// boolAttr reads a true/false attribute; absent gives def.
func boolAttr(n *Node, name string, def bool) (bool, error) {
	s, ok := n.Attr(name)
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalidParam("%s %s=%q is not true or false", n.Name, name, s)
}

// flavorAttrs reads the qualifier flavor attributes given explicitly.
func flavorAttrs(n *Node) (cim.Flavor, error) {
	var f cim.Flavor
	for _, fa := range []struct {
		attr     string
		yes, not cim.Flavor
	}{
		{"OVERRIDABLE", cim.FlavorEnableOverride, cim.FlavorDisableOverride},
		{"TOSUBCLASS", cim.FlavorToSubclass, cim.FlavorRestricted},
		{"TOINSTANCE", cim.FlavorToInstance, 0},
		{"TRANSLATABLE", cim.FlavorTranslatable, 0},
	} {
		if _, ok := n.Attr(fa.attr); !ok {
			continue
		}
		v, err := boolAttr(n, fa.attr, false)
		if err != nil {
			return 0, err
		}
		if v {
			f |= fa.yes
		} else {
			f |= fa.not
		}
	}
	return f, nil
}

// valueChild returns the optional value element after the QUALIFIERs of
// an element; more than one is invalid.
func valueChild(n *Node, start int, allowed ...string) (*Node, error) {
	rest := n.Children[start:]
	switch len(rest) {
	case 0:
		return nil, nil
	case 1:
		for _, a := range allowed {
			if rest[0].Name == a {
				return rest[0], nil
			}
		}
	}
	return nil, notValid("element %s cannot contain <%s> here (allowed: QUALIFIER*, then one of %s)", n.Name, rest[0].Name, strings.Join(allowed, ", "))
}

// decodeQualifiers reads the leading QUALIFIER children of n and returns
// them with the index of the first other child.
func (d *Decoder) decodeQualifiers(n *Node) (cim.Qualifiers, int, error) {
	var qs cim.Qualifiers
	i := 0
	for ; i < len(n.Children) && n.Children[i].Name == "QUALIFIER"; i++ {
		q, err := d.decodeQualifier(n.Children[i])
		if err != nil {
			return nil, 0, err
		}
		if qs.Has(q.Name) {
			return nil, 0, invalidParam("qualifier %s given twice on %s", q.Name, n.Name)
		}
		qs = append(qs, q)
	}
	return qs, i, nil
}

func (d *Decoder) decodeQualifier(n *Node) (cim.Qualifier, error) {
	name, err := requireName(n, "NAME")
	if err != nil {
		return cim.Qualifier{}, err
	}
	t, ok, err := parseTypeAttr(n, "TYPE")
	if err != nil {
		return cim.Qualifier{}, err
	}
	if !ok {
		return cim.Qualifier{}, notValid("QUALIFIER %s lacks its TYPE attribute", name)
	}
	flavor, err := flavorAttrs(n)
	if err != nil {
		return cim.Qualifier{}, err
	}
	propagated, err := boolAttr(n, "PROPAGATED", false)
	if err != nil {
		return cim.Qualifier{}, err
	}
	vn, err := valueChild(n, 0, "VALUE", "VALUE.ARRAY")
	if err != nil {
		return cim.Qualifier{}, err
	}
	v, err := d.DecodeValue(t, vn != nil && vn.Name == "VALUE.ARRAY", cim.EmbeddedNone, vn)
	if err != nil {
		return cim.Qualifier{}, err
	}
	return cim.Qualifier{Name: name, Value: v, Flavor: flavor, Propagated: propagated}, nil
}

// DecodeProperty reads PROPERTY, PROPERTY.ARRAY or PROPERTY.REFERENCE, of
// a class or an instance.
func (d *Decoder) DecodeProperty(n *Node) (cim.Property, error) {
	name, err := requireName(n, "NAME")
	if err != nil {
		return cim.Property{}, err
	}
	p := cim.Property{Name: name}
	if p.ClassOrigin, _ = n.Attr("CLASSORIGIN"); p.ClassOrigin != "" && !cim.ValidName(p.ClassOrigin) {
		return p, invalidParam("property %s: CLASSORIGIN=%q is not a class name", name, p.ClassOrigin)
	}
	if p.Propagated, err = boolAttr(n, "PROPAGATED", false); err != nil {
		return p, err
	}
	qs, next, err := d.decodeQualifiers(n)
	if err != nil {
		return p, err
	}
	p.Qualifiers = qs
	switch n.Name {
	case "PROPERTY.REFERENCE":
		p.Type = cim.TypeReference
		if rc, ok := n.Attr("REFERENCECLASS"); ok {
			if p.ReferenceClass = strings.TrimSpace(rc); !cim.ValidName(p.ReferenceClass) {
				return p, invalidParam("property %s: REFERENCECLASS=%q is not a class name", name, rc)
			}
		}
		vn, err := valueChild(n, next, "VALUE.REFERENCE")
		if err != nil {
			return p, err
		}
		p.Value, err = d.DecodeValue(cim.TypeReference, false, cim.EmbeddedNone, vn)
		return p, err
	case "PROPERTY", "PROPERTY.ARRAY":
		p.IsArray = n.Name == "PROPERTY.ARRAY"
		t, ok, err := parseTypeAttr(n, "TYPE")
		if err != nil {
			return p, err
		}
		if !ok {
			// DSP0201 requires TYPE; a client that leaves it out gets its
			// text as a string, which the core converts to the declared
			// type.
			t = cim.TypeString
		}
		if t == cim.TypeReference {
			return p, invalidParam("property %s: TYPE reference needs PROPERTY.REFERENCE", name)
		}
		p.Type = t
		if s, ok := n.Attr("ARRAYSIZE"); ok && p.IsArray {
			size, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || size < 0 {
				return p, invalidParam("property %s: ARRAYSIZE=%q is not a size", name, s)
			}
			p.ArraySize = size
		}
		if s, ok := n.AttrFold("EmbeddedObject"); ok {
			if p.Embedded, err = cim.ParseEmbeddedKind(strings.TrimSpace(s)); err != nil {
				return p, invalidParam("property %s: EmbeddedObject=%q is not object or instance", name, s)
			}
		}
		allowed := "VALUE"
		if p.IsArray {
			allowed = "VALUE.ARRAY"
		}
		vn, err := valueChild(n, next, allowed)
		if err != nil {
			return p, err
		}
		p.Value, err = d.DecodeValue(t, p.IsArray, p.EmbeddedKind(), vn)
		return p, err
	}
	return p, notValid("expected a property, found <%s>", n.Name)
}

func isPropertyElem(name string) bool {
	return name == "PROPERTY" || name == "PROPERTY.ARRAY" || name == "PROPERTY.REFERENCE"
}

// DecodeInstance reads INSTANCE.
func (d *Decoder) DecodeInstance(n *Node) (*cim.Instance, error) {
	if n.Name != "INSTANCE" {
		return nil, notValid("expected INSTANCE, found <%s>", n.Name)
	}
	cls, err := requireName(n, "CLASSNAME")
	if err != nil {
		return nil, err
	}
	inst := cim.NewInstance(cls)
	qs, next, err := d.decodeQualifiers(n)
	if err != nil {
		return nil, err
	}
	inst.Qualifiers = qs
	for _, c := range n.Children[next:] {
		if !isPropertyElem(c.Name) {
			return nil, notValid("INSTANCE cannot contain <%s> after its properties began", c.Name)
		}
		p, err := d.DecodeProperty(c)
		if err != nil {
			return nil, err
		}
		if err := inst.AddProperty(p); err != nil {
			return nil, invalidParam("instance of %s: property %s given twice", cls, p.Name)
		}
	}
	return inst, nil
}

// DecodeClass reads CLASS.
func (d *Decoder) DecodeClass(n *Node) (*cim.Class, error) {
	if n.Name != "CLASS" {
		return nil, notValid("expected CLASS, found <%s>", n.Name)
	}
	name, err := requireName(n, "NAME")
	if err != nil {
		return nil, err
	}
	super := ""
	if s, ok := n.Attr("SUPERCLASS"); ok && strings.TrimSpace(s) != "" {
		if super = strings.TrimSpace(s); !cim.ValidName(super) {
			return nil, invalidParam("class %s: SUPERCLASS=%q is not a class name", name, s)
		}
	}
	c := cim.NewClass(name, super)
	qs, next, err := d.decodeQualifiers(n)
	if err != nil {
		return nil, err
	}
	c.Qualifiers = qs
	inMethods := false
	for _, child := range n.Children[next:] {
		switch {
		case isPropertyElem(child.Name) && !inMethods:
			p, err := d.DecodeProperty(child)
			if err != nil {
				return nil, err
			}
			if err := c.AddProperty(p); err != nil {
				return nil, invalidParam("class %s: property %s declared twice", name, p.Name)
			}
		case child.Name == "METHOD":
			inMethods = true
			m, err := d.decodeMethod(child)
			if err != nil {
				return nil, err
			}
			if err := c.AddMethod(m); err != nil {
				return nil, invalidParam("class %s: method %s declared twice", name, m.Name)
			}
		default:
			return nil, notValid("CLASS cannot contain <%s> here", child.Name)
		}
	}
	return c, nil
}

func (d *Decoder) decodeMethod(n *Node) (cim.Method, error) {
	name, err := requireName(n, "NAME")
	if err != nil {
		return cim.Method{}, err
	}
	m := cim.Method{Name: name}
	t, ok, err := parseTypeAttr(n, "TYPE")
	if err != nil {
		return m, err
	}
	if ok {
		m.ReturnType = t
	}
	m.ClassOrigin, _ = n.Attr("CLASSORIGIN")
	if m.Propagated, err = boolAttr(n, "PROPAGATED", false); err != nil {
		return m, err
	}
	qs, next, err := d.decodeQualifiers(n)
	if err != nil {
		return m, err
	}
	m.Qualifiers = qs
	for _, c := range n.Children[next:] {
		p, err := d.decodeParameter(c)
		if err != nil {
			return m, err
		}
		if m.Parameter(p.Name) != nil {
			return m, invalidParam("method %s: parameter %s declared twice", name, p.Name)
		}
		m.Parameters = append(m.Parameters, p)
	}
	return m, nil
}

func (d *Decoder) decodeParameter(n *Node) (cim.Parameter, error) {
	switch n.Name {
	case "PARAMETER", "PARAMETER.ARRAY", "PARAMETER.REFERENCE", "PARAMETER.REFARRAY":
	default:
		return cim.Parameter{}, notValid("METHOD cannot contain <%s>", n.Name)
	}
	name, err := requireName(n, "NAME")
	if err != nil {
		return cim.Parameter{}, err
	}
	p := cim.Parameter{Name: name, IsArray: strings.HasSuffix(n.Name, "ARRAY")}
	if strings.HasPrefix(n.Name, "PARAMETER.REF") {
		p.Type = cim.TypeReference
		if rc, ok := n.Attr("REFERENCECLASS"); ok {
			if p.ReferenceClass = strings.TrimSpace(rc); !cim.ValidName(p.ReferenceClass) {
				return p, invalidParam("parameter %s: REFERENCECLASS=%q is not a class name", name, rc)
			}
		}
	} else {
		t, ok, err := parseTypeAttr(n, "TYPE")
		if err != nil {
			return p, err
		}
		if !ok {
			return p, notValid("%s %s lacks its TYPE attribute", n.Name, name)
		}
		p.Type = t
	}
	if s, ok := n.Attr("ARRAYSIZE"); ok && p.IsArray {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || size < 0 {
			return p, invalidParam("parameter %s: ARRAYSIZE=%q is not a size", name, s)
		}
		p.ArraySize = size
	}
	qs, next, err := d.decodeQualifiers(n)
	if err != nil {
		return p, err
	}
	if next != len(n.Children) {
		return p, notValid("%s %s can only contain QUALIFIERs", n.Name, name)
	}
	p.Qualifiers = qs
	return p, nil
}

// DecodeQualifierDeclaration reads QUALIFIER.DECLARATION.
func (d *Decoder) DecodeQualifierDeclaration(n *Node) (*cim.QualifierType, error) {
	if n.Name != "QUALIFIER.DECLARATION" {
		return nil, notValid("expected QUALIFIER.DECLARATION, found <%s>", n.Name)
	}
	name, err := requireName(n, "NAME")
	if err != nil {
		return nil, err
	}
	t, ok, err := parseTypeAttr(n, "TYPE")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notValid("QUALIFIER.DECLARATION %s lacks its TYPE attribute", name)
	}
	qt := &cim.QualifierType{Name: name, Type: t}
	if qt.IsArray, err = boolAttr(n, "ISARRAY", false); err != nil {
		return nil, err
	}
	if s, ok := n.Attr("ARRAYSIZE"); ok {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || size < 0 {
			return nil, invalidParam("qualifier %s: ARRAYSIZE=%q is not a size", name, s)
		}
		qt.ArraySize = size
	}
	if qt.Flavor, err = flavorAttrs(n); err != nil {
		return nil, err
	}
	rest := n.Children
	if len(rest) > 0 && rest[0].Name == "SCOPE" {
		if err := noChildren(rest[0]); err != nil {
			return nil, err
		}
		for _, s := range []struct {
			attr  string
			scope cim.Scope
		}{
			{"CLASS", cim.ScopeClass}, {"ASSOCIATION", cim.ScopeAssociation},
			{"REFERENCE", cim.ScopeReference}, {"PROPERTY", cim.ScopeProperty},
			{"METHOD", cim.ScopeMethod}, {"PARAMETER", cim.ScopeParameter},
			{"INDICATION", cim.ScopeIndication},
		} {
			on, err := boolAttr(rest[0], s.attr, false)
			if err != nil {
				return nil, err
			}
			if on {
				qt.Scopes |= s.scope
			}
		}
		rest = rest[1:]
	}
	var vn *Node
	switch {
	case len(rest) == 1 && (rest[0].Name == "VALUE" || rest[0].Name == "VALUE.ARRAY"):
		vn = rest[0]
	case len(rest) > 0:
		return nil, notValid("QUALIFIER.DECLARATION cannot contain <%s> here", rest[0].Name)
	}
	if qt.Default, err = d.DecodeValue(t, qt.IsArray, cim.EmbeddedNone, vn); err != nil {
		return nil, err
	}
	if err := qt.Validate(); err != nil {
		return nil, err
	}
	return qt, nil
}
