package cimxml

import (
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// This file turns the elements of a parsed request into cim objects.
// Structural faults (a missing required attribute, an element where DSP0201
// allows none) are request-not-valid protocol errors; values that do not
// parse for their type are CIM_ERR_INVALID_PARAMETER.

// invalidParam is the CIM error for a bad parameter value.
func invalidParam(format string, args ...any) *cim.Error {
	return cim.Errorf(cim.ErrInvalidParameter, format, args...)
}

// requireAttr returns a required attribute.
func requireAttr(n *node, name string) (string, error) {
	v, ok := n.attr(name)
	if !ok {
		return "", notValid("element %s lacks its %s attribute", n.name, name)
	}
	return v, nil
}

// requireName returns a NAME-like attribute that must be a CIM identifier.
func requireName(n *node, attr string) (string, error) {
	v, err := requireAttr(n, attr)
	if err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	if !cim.ValidName(v) {
		return "", invalidParam("%s %s=%q is not a valid CIM name", n.name, attr, v)
	}
	return v, nil
}

// noChildren rejects element content where DSP0201 has none.
func noChildren(n *node) error {
	if len(n.children) > 0 {
		return notValid("element %s must be empty, found <%s>", n.name, n.children[0].name)
	}
	return nil
}

// onlyChild returns the single child element of n, naming what is
// allowed in the error otherwise.
func onlyChild(n *node, allowed ...string) (*node, error) {
	if len(n.children) != 1 {
		return nil, notValid("element %s must contain exactly one of %s", n.name, strings.Join(allowed, ", "))
	}
	c := n.children[0]
	for _, a := range allowed {
		if c.name == a {
			return c, nil
		}
	}
	return nil, notValid("element %s cannot contain <%s> (allowed: %s)", n.name, c.name, strings.Join(allowed, ", "))
}

// --- namespaces and paths -----------------------------------------------

// decodeLocalNamespace reads LOCALNAMESPACEPATH (NAMESPACE+) into
// "root/cimv2".
func decodeLocalNamespace(n *node) (string, error) {
	if n.name != "LOCALNAMESPACEPATH" {
		return "", notValid("expected LOCALNAMESPACEPATH, found <%s>", n.name)
	}
	if len(n.children) == 0 {
		return "", notValid("LOCALNAMESPACEPATH names no NAMESPACE")
	}
	parts := make([]string, 0, len(n.children))
	for _, c := range n.children {
		if c.name != "NAMESPACE" {
			return "", notValid("LOCALNAMESPACEPATH cannot contain <%s>", c.name)
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
func decodeNamespacePath(n *node) (host, ns string, err error) {
	if len(n.children) != 2 || n.children[0].name != "HOST" {
		return "", "", notValid("NAMESPACEPATH must contain HOST and LOCALNAMESPACEPATH")
	}
	if err := noChildren(n.children[0]); err != nil {
		return "", "", err
	}
	ns, err = decodeLocalNamespace(n.children[1])
	return strings.TrimSpace(n.children[0].text), ns, err
}

// decodeClassName reads CLASSNAME.
func decodeClassName(n *node) (string, error) {
	if n.name != "CLASSNAME" {
		return "", notValid("expected CLASSNAME, found <%s>", n.name)
	}
	if err := noChildren(n); err != nil {
		return "", err
	}
	return requireName(n, "NAME")
}

// decodeInstanceName reads INSTANCENAME: KEYBINDING*, or one unnamed
// KEYVALUE or VALUE.REFERENCE, whose key name comes from the class.
func (d *decoder) decodeInstanceName(n *node, ns string) (*cim.ObjectPath, error) {
	if n.name != "INSTANCENAME" {
		return nil, notValid("expected INSTANCENAME, found <%s>", n.name)
	}
	cls, err := requireName(n, "CLASSNAME")
	if err != nil {
		return nil, err
	}
	p := &cim.ObjectPath{ClassName: cls, Keys: make([]cim.KeyBinding, 0, len(n.children))}
	if len(n.children) == 1 && n.children[0].name != "KEYBINDING" {
		v, err := d.decodeKeyBindingValue(n.children[0])
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
	for _, kb := range n.children {
		if kb.name != "KEYBINDING" {
			return nil, notValid("INSTANCENAME cannot contain <%s> among KEYBINDINGs", kb.name)
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
func (d *decoder) singleKeyName(ns, className string) (string, error) {
	c, err := d.class(ns, className)
	if err != nil {
		return "", err
	}
	keys := c.KeyNames()
	if len(keys) != 1 {
		return "", invalidParam("an instance name of %s without KEYBINDING names needs a class with one key; it has %d", className, len(keys))
	}
	return keys[0], nil
}

func (d *decoder) decodeKeyBindingValue(n *node) (cim.Value, error) {
	switch n.name {
	case "KEYVALUE":
		return decodeKeyValue(n)
	case "VALUE.REFERENCE":
		p, err := d.decodeValueReference(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewReference(p), nil
	}
	return cim.Value{}, notValid("expected KEYVALUE or VALUE.REFERENCE, found <%s>", n.name)
}

// decodeKeyValue reads KEYVALUE. With a TYPE attribute the text is parsed
// as that type; without one (as wbemcli and most clients send it) the
// VALUETYPE decides: strings stay strings, numbers become uint64/sint64 or
// real64, booleans booleans. The core converts keys to the types the class
// declares.
func decodeKeyValue(n *node) (cim.Value, error) {
	if err := noChildren(n); err != nil {
		return cim.Value{}, err
	}
	valueType := "string"
	if vt, ok := n.attr("VALUETYPE"); ok {
		valueType = strings.ToLower(strings.TrimSpace(vt))
	}
	if ts, ok := n.attr("TYPE"); ok {
		t, err := cim.ParseType(strings.TrimSpace(ts))
		if err != nil || t == cim.TypeReference {
			return cim.Value{}, invalidParam("KEYVALUE TYPE=%q is not a CIM type", ts)
		}
		v, err := cim.ParseValue(t, n.text)
		if err != nil {
			return cim.Value{}, err
		}
		return v, nil
	}
	switch valueType {
	case "string":
		return cim.NewString(n.text), nil
	case "boolean":
		return cim.ParseValue(cim.TypeBoolean, n.text)
	case "numeric":
		v, err := cim.ParseNumeric(strings.TrimSpace(n.text))
		if err != nil {
			return cim.Value{}, invalidParam("KEYVALUE %q is not a number", n.text)
		}
		return v, nil
	}
	return cim.Value{}, notValid("KEYVALUE VALUETYPE=%q is not string, boolean or numeric", valueType)
}

// decodeValueReference reads VALUE.REFERENCE into a path; a path without
// a namespace is a model path.
func (d *decoder) decodeValueReference(n *node) (*cim.ObjectPath, error) {
	c, err := onlyChild(n, "CLASSPATH", "LOCALCLASSPATH", "CLASSNAME", "INSTANCEPATH", "LOCALINSTANCEPATH", "INSTANCENAME")
	if err != nil {
		return nil, err
	}
	return d.decodePath(c)
}

// decodePath reads any of the six path elements.
func (d *decoder) decodePath(c *node) (*cim.ObjectPath, error) {
	switch c.name {
	case "CLASSNAME":
		name, err := decodeClassName(c)
		if err != nil {
			return nil, err
		}
		return &cim.ObjectPath{ClassName: name}, nil
	case "INSTANCENAME":
		return d.decodeInstanceName(c, d.ns)
	case "CLASSPATH", "INSTANCEPATH":
		if len(c.children) != 2 || c.children[0].name != "NAMESPACEPATH" {
			return nil, notValid("%s must contain NAMESPACEPATH and a name", c.name)
		}
		host, ns, err := decodeNamespacePath(c.children[0])
		if err != nil {
			return nil, err
		}
		p, err := d.decodeLocalPart(c.name, c.children[1], ns)
		if err != nil {
			return nil, err
		}
		p.Host, p.Namespace = host, ns
		return p, nil
	case "LOCALCLASSPATH", "LOCALINSTANCEPATH":
		if len(c.children) != 2 {
			return nil, notValid("%s must contain LOCALNAMESPACEPATH and a name", c.name)
		}
		ns, err := decodeLocalNamespace(c.children[0])
		if err != nil {
			return nil, err
		}
		p, err := d.decodeLocalPart(c.name, c.children[1], ns)
		if err != nil {
			return nil, err
		}
		p.Namespace = ns
		return p, nil
	}
	return nil, notValid("expected an object path, found <%s>", c.name)
}

func (d *decoder) decodeLocalPart(elem string, n *node, ns string) (*cim.ObjectPath, error) {
	if strings.HasSuffix(elem, "CLASSPATH") {
		name, err := decodeClassName(n)
		if err != nil {
			return nil, err
		}
		return &cim.ObjectPath{ClassName: name}, nil
	}
	return d.decodeInstanceName(n, ns)
}

// --- values -------------------------------------------------------------

// decodeValue reads the VALUE or VALUE.ARRAY of an element of type t
// (VALUE.REFERENCE and VALUE.REFARRAY for references). A missing value
// element is NULL. embedded says how string text is to be read.
func (d *decoder) decodeValue(t cim.Type, isArray bool, embedded cim.EmbeddedKind, n *node) (cim.Value, error) {
	if n == nil {
		if isArray {
			return cim.NullArray(t), nil
		}
		return cim.Null(t), nil
	}
	switch n.name {
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
		return d.scalar(t, embedded, n.text)
	case "VALUE.ARRAY":
		if !isArray {
			return cim.Value{}, invalidParam("VALUE.ARRAY was given for a scalar %s", t)
		}
		return d.array(t, embedded, n)
	case "VALUE.REFERENCE":
		if t != cim.TypeReference || isArray {
			return cim.Value{}, invalidParam("VALUE.REFERENCE was given for a value of type %s", arrayTypeName(t, isArray))
		}
		p, err := d.decodeValueReference(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewReference(p), nil
	case "VALUE.REFARRAY":
		if t != cim.TypeReference || !isArray {
			return cim.Value{}, invalidParam("VALUE.REFARRAY was given for a value of type %s", arrayTypeName(t, isArray))
		}
		elems := make([]cim.Value, 0, len(n.children))
		for _, c := range n.children {
			switch c.name {
			case "VALUE.NULL":
				elems = append(elems, cim.Null(cim.TypeReference))
			case "VALUE.REFERENCE":
				p, err := d.decodeValueReference(c)
				if err != nil {
					return cim.Value{}, err
				}
				elems = append(elems, cim.NewReference(p))
			default:
				return cim.Value{}, notValid("VALUE.REFARRAY cannot contain <%s>", c.name)
			}
		}
		return cim.NewArray(cim.TypeReference, elems)
	}
	return cim.Value{}, notValid("expected a value element, found <%s>", n.name)
}

func arrayTypeName(t cim.Type, isArray bool) string {
	if isArray {
		return t.String() + "[]"
	}
	return t.String()
}

func (d *decoder) array(t cim.Type, embedded cim.EmbeddedKind, n *node) (cim.Value, error) {
	elems := make([]cim.Value, 0, len(n.children))
	for _, c := range n.children {
		switch c.name {
		case "VALUE":
			if err := noChildren(c); err != nil {
				return cim.Value{}, err
			}
			v, err := d.scalar(t, embedded, c.text)
			if err != nil {
				return cim.Value{}, err
			}
			elems = append(elems, v)
		case "VALUE.NULL":
			elems = append(elems, cim.Null(t))
		default:
			return cim.Value{}, notValid("VALUE.ARRAY cannot contain <%s>", c.name)
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
func (d *decoder) scalar(t cim.Type, embedded cim.EmbeddedKind, text string) (cim.Value, error) {
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
func (d *decoder) embeddedObject(kind cim.EmbeddedKind, text string) (cim.Value, error) {
	if strings.TrimSpace(text) == "" {
		return cim.Null(cim.TypeString), nil
	}
	if d.embedding >= maxEmbedding {
		return cim.Value{}, invalidParam("embedded objects nested deeper than %d levels", maxEmbedding)
	}
	root, err := parseTree([]byte(text))
	if err != nil {
		return cim.Value{}, invalidParam("an embedded object is not well-formed CIM-XML: %v", err)
	}
	inner := *d
	inner.embedding++
	switch root.name {
	case "INSTANCE":
		inst, err := inner.decodeInstance(root)
		if err != nil {
			return cim.Value{}, embeddedError(err)
		}
		return cim.NewEmbeddedInstance(inst), nil
	case "CLASS":
		if kind == cim.EmbeddedInstance {
			return cim.Value{}, invalidParam("an embedded instance holds a CLASS")
		}
		c, err := inner.decodeClass(root)
		if err != nil {
			return cim.Value{}, embeddedError(err)
		}
		return cim.NewEmbeddedClass(c), nil
	}
	return cim.Value{}, invalidParam("an embedded object must be an INSTANCE or a CLASS, not <%s>", root.name)
}

// embeddedError reports structural faults of an embedded object as the
// parameter errors they are: the enclosing request is valid.
func embeddedError(err error) error {
	if pe, ok := err.(*protocolError); ok {
		return invalidParam("embedded object: %s", pe.detail)
	}
	return err
}

// --- qualifiers, properties, instances, classes -------------------------

// parseTypeAttr reads a TYPE (or PARAMTYPE) attribute.
func parseTypeAttr(n *node, attr string) (cim.Type, bool, error) {
	s, ok := n.attr(attr)
	if !ok {
		return cim.TypeInvalid, false, nil
	}
	t, err := cim.ParseType(strings.TrimSpace(s))
	if err != nil {
		return cim.TypeInvalid, true, invalidParam("%s %s=%q is not a CIM type", n.name, attr, s)
	}
	return t, true, nil
}

// boolAttr reads a true/false attribute; absent gives def.
func boolAttr(n *node, name string, def bool) (bool, error) {
	s, ok := n.attr(name)
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalidParam("%s %s=%q is not true or false", n.name, name, s)
}

// flavorAttrs reads the qualifier flavor attributes given explicitly.
func flavorAttrs(n *node) (cim.Flavor, error) {
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
		if _, ok := n.attr(fa.attr); !ok {
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
func valueChild(n *node, start int, allowed ...string) (*node, error) {
	rest := n.children[start:]
	switch len(rest) {
	case 0:
		return nil, nil
	case 1:
		for _, a := range allowed {
			if rest[0].name == a {
				return rest[0], nil
			}
		}
	}
	return nil, notValid("element %s cannot contain <%s> here (allowed: QUALIFIER*, then one of %s)", n.name, rest[0].name, strings.Join(allowed, ", "))
}

// decodeQualifiers reads the leading QUALIFIER children of n and returns
// them with the index of the first other child.
func (d *decoder) decodeQualifiers(n *node) (cim.Qualifiers, int, error) {
	var qs cim.Qualifiers
	i := 0
	for ; i < len(n.children) && n.children[i].name == "QUALIFIER"; i++ {
		q, err := d.decodeQualifier(n.children[i])
		if err != nil {
			return nil, 0, err
		}
		if qs.Has(q.Name) {
			return nil, 0, invalidParam("qualifier %s given twice on %s", q.Name, n.name)
		}
		qs = append(qs, q)
	}
	return qs, i, nil
}

func (d *decoder) decodeQualifier(n *node) (cim.Qualifier, error) {
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
	v, err := d.decodeValue(t, vn != nil && vn.name == "VALUE.ARRAY", cim.EmbeddedNone, vn)
	if err != nil {
		return cim.Qualifier{}, err
	}
	return cim.Qualifier{Name: name, Value: v, Flavor: flavor, Propagated: propagated}, nil
}

// decodeProperty reads PROPERTY, PROPERTY.ARRAY or PROPERTY.REFERENCE, of
// a class or an instance.
func (d *decoder) decodeProperty(n *node) (cim.Property, error) {
	name, err := requireName(n, "NAME")
	if err != nil {
		return cim.Property{}, err
	}
	p := cim.Property{Name: name}
	if p.ClassOrigin, _ = n.attr("CLASSORIGIN"); p.ClassOrigin != "" && !cim.ValidName(p.ClassOrigin) {
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
	switch n.name {
	case "PROPERTY.REFERENCE":
		p.Type = cim.TypeReference
		if rc, ok := n.attr("REFERENCECLASS"); ok {
			if p.ReferenceClass = strings.TrimSpace(rc); !cim.ValidName(p.ReferenceClass) {
				return p, invalidParam("property %s: REFERENCECLASS=%q is not a class name", name, rc)
			}
		}
		vn, err := valueChild(n, next, "VALUE.REFERENCE")
		if err != nil {
			return p, err
		}
		p.Value, err = d.decodeValue(cim.TypeReference, false, cim.EmbeddedNone, vn)
		return p, err
	case "PROPERTY", "PROPERTY.ARRAY":
		p.IsArray = n.name == "PROPERTY.ARRAY"
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
		if s, ok := n.attr("ARRAYSIZE"); ok && p.IsArray {
			size, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || size < 0 {
				return p, invalidParam("property %s: ARRAYSIZE=%q is not a size", name, s)
			}
			p.ArraySize = size
		}
		if s, ok := n.attrFold("EmbeddedObject"); ok {
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
		p.Value, err = d.decodeValue(t, p.IsArray, p.EmbeddedKind(), vn)
		return p, err
	}
	return p, notValid("expected a property, found <%s>", n.name)
}

func isPropertyElem(name string) bool {
	return name == "PROPERTY" || name == "PROPERTY.ARRAY" || name == "PROPERTY.REFERENCE"
}

// decodeInstance reads INSTANCE.
func (d *decoder) decodeInstance(n *node) (*cim.Instance, error) {
	if n.name != "INSTANCE" {
		return nil, notValid("expected INSTANCE, found <%s>", n.name)
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
	for _, c := range n.children[next:] {
		if !isPropertyElem(c.name) {
			return nil, notValid("INSTANCE cannot contain <%s> after its properties began", c.name)
		}
		p, err := d.decodeProperty(c)
		if err != nil {
			return nil, err
		}
		if err := inst.AddProperty(p); err != nil {
			return nil, invalidParam("instance of %s: property %s given twice", cls, p.Name)
		}
	}
	return inst, nil
}

// decodeClass reads CLASS.
func (d *decoder) decodeClass(n *node) (*cim.Class, error) {
	if n.name != "CLASS" {
		return nil, notValid("expected CLASS, found <%s>", n.name)
	}
	name, err := requireName(n, "NAME")
	if err != nil {
		return nil, err
	}
	super := ""
	if s, ok := n.attr("SUPERCLASS"); ok && strings.TrimSpace(s) != "" {
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
	for _, child := range n.children[next:] {
		switch {
		case isPropertyElem(child.name) && !inMethods:
			p, err := d.decodeProperty(child)
			if err != nil {
				return nil, err
			}
			if err := c.AddProperty(p); err != nil {
				return nil, invalidParam("class %s: property %s declared twice", name, p.Name)
			}
		case child.name == "METHOD":
			inMethods = true
			m, err := d.decodeMethod(child)
			if err != nil {
				return nil, err
			}
			if err := c.AddMethod(m); err != nil {
				return nil, invalidParam("class %s: method %s declared twice", name, m.Name)
			}
		default:
			return nil, notValid("CLASS cannot contain <%s> here", child.name)
		}
	}
	return c, nil
}

func (d *decoder) decodeMethod(n *node) (cim.Method, error) {
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
	m.ClassOrigin, _ = n.attr("CLASSORIGIN")
	if m.Propagated, err = boolAttr(n, "PROPAGATED", false); err != nil {
		return m, err
	}
	qs, next, err := d.decodeQualifiers(n)
	if err != nil {
		return m, err
	}
	m.Qualifiers = qs
	for _, c := range n.children[next:] {
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

func (d *decoder) decodeParameter(n *node) (cim.Parameter, error) {
	switch n.name {
	case "PARAMETER", "PARAMETER.ARRAY", "PARAMETER.REFERENCE", "PARAMETER.REFARRAY":
	default:
		return cim.Parameter{}, notValid("METHOD cannot contain <%s>", n.name)
	}
	name, err := requireName(n, "NAME")
	if err != nil {
		return cim.Parameter{}, err
	}
	p := cim.Parameter{Name: name, IsArray: strings.HasSuffix(n.name, "ARRAY")}
	if strings.HasPrefix(n.name, "PARAMETER.REF") {
		p.Type = cim.TypeReference
		if rc, ok := n.attr("REFERENCECLASS"); ok {
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
			return p, notValid("%s %s lacks its TYPE attribute", n.name, name)
		}
		p.Type = t
	}
	if s, ok := n.attr("ARRAYSIZE"); ok && p.IsArray {
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
	if next != len(n.children) {
		return p, notValid("%s %s can only contain QUALIFIERs", n.name, name)
	}
	p.Qualifiers = qs
	return p, nil
}

// decodeQualifierDeclaration reads QUALIFIER.DECLARATION.
func (d *decoder) decodeQualifierDeclaration(n *node) (*cim.QualifierType, error) {
	if n.name != "QUALIFIER.DECLARATION" {
		return nil, notValid("expected QUALIFIER.DECLARATION, found <%s>", n.name)
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
	if s, ok := n.attr("ARRAYSIZE"); ok {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || size < 0 {
			return nil, invalidParam("qualifier %s: ARRAYSIZE=%q is not a size", name, s)
		}
		qt.ArraySize = size
	}
	if qt.Flavor, err = flavorAttrs(n); err != nil {
		return nil, err
	}
	rest := n.children
	if len(rest) > 0 && rest[0].name == "SCOPE" {
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
	var vn *node
	switch {
	case len(rest) == 1 && (rest[0].name == "VALUE" || rest[0].name == "VALUE.ARRAY"):
		vn = rest[0]
	case len(rest) > 0:
		return nil, notValid("QUALIFIER.DECLARATION cannot contain <%s> here", rest[0].name)
	}
	if qt.Default, err = d.decodeValue(t, qt.IsArray, cim.EmbeddedNone, vn); err != nil {
		return nil, err
	}
	if err := qt.Validate(); err != nil {
		return nil, err
	}
	return qt, nil
}
