package cimxml

import (
	"strings"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// params gives typed access to the IPARAMVALUEs of an intrinsic call. The
// order in which a client sends them does not matter; a parameter given
// twice, or one the operation does not define, is CIM_ERR_INVALID_PARAMETER
// (DSP0200 clause 5.3.1).
type params struct {
	d     *decoder
	nodes []*xmlcodec.Node
	used  []bool
	// usedArr holds used for the few parameters an operation has.
	usedArr [8]bool
}

// init readies p for the parameter elements nodes. p must not be copied
// afterwards.
func (p *params) init(d *decoder, nodes []*xmlcodec.Node) error {
	for i, n := range nodes {
		name := strings.TrimSpace(mustAttr(n, "NAME"))
		for _, prev := range nodes[:i] {
			if cim.EqualNames(strings.TrimSpace(mustAttr(prev, "NAME")), name) {
				return invalidParam("parameter %s given twice", name)
			}
		}
	}
	p.d, p.nodes = d, nodes
	if len(nodes) <= len(p.usedArr) {
		p.used = p.usedArr[:len(nodes)]
	} else {
		p.used = make([]bool, len(nodes))
	}
	return nil
}

// value returns the value element of the named parameter: present is
// false when the client did not send the parameter, and the element is nil
// when it sent it without a value (NULL).
func (p *params) value(name string) (elem *xmlcodec.Node, present bool) {
	for i, n := range p.nodes {
		if !cim.EqualNames(strings.TrimSpace(mustAttr(n, "NAME")), name) {
			continue
		}
		p.used[i] = true
		if len(n.Children) == 0 {
			return nil, true
		}
		return n.Children[0], true
	}
	return nil, false
}

// done reports the parameters the operation did not read.
func (p *params) done(method string) error {
	for i, n := range p.nodes {
		if !p.used[i] {
			return invalidParam("%s has no parameter %s", method, mustAttr(n, "NAME"))
		}
	}
	return nil
}

// valueText returns the text of a VALUE element, which holds nothing else.
func valueText(n *xmlcodec.Node) (string, error) {
	if len(n.Children) > 0 {
		return "", notValid("element %s must be empty, found <%s>", n.Name, n.Children[0].Name)
	}
	return n.Text, nil
}

func expectElem(name string, n *xmlcodec.Node, want ...string) error {
	for _, w := range want {
		if n.Name == w {
			return nil
		}
	}
	return invalidParam("parameter %s must be given as %s, not <%s>", name, strings.Join(want, " or "), n.Name)
}

// boolean reads a boolean parameter; absent or NULL gives def.
func (p *params) boolean(name string, def bool) (bool, error) {
	n, _ := p.value(name)
	if n == nil {
		return def, nil
	}
	if err := expectElem(name, n, "VALUE"); err != nil {
		return false, err
	}
	text, err := valueText(n)
	if err != nil {
		return false, err
	}
	v, err := cim.ParseValue(cim.TypeBoolean, text)
	if err != nil {
		return false, invalidParam("parameter %s: %q is not TRUE or FALSE", name, text)
	}
	return v.Bool(), nil
}

// str reads a string parameter; ok is false when absent or NULL.
func (p *params) str(name string) (s string, ok bool, err error) {
	n, _ := p.value(name)
	if n == nil {
		return "", false, nil
	}
	if err := expectElem(name, n, "VALUE"); err != nil {
		return "", false, err
	}
	text, err := valueText(n)
	return text, err == nil, err
}

// requiredStr reads a string parameter that must be given.
func (p *params) requiredStr(name string) (string, error) {
	s, ok, err := p.str(name)
	if err == nil && !ok {
		err = invalidParam("parameter %s is required", name)
	}
	return s, err
}

// className reads a CLASSNAME parameter; "" when absent or NULL.
func (p *params) className(name string) (string, error) {
	n, _ := p.value(name)
	if n == nil {
		return "", nil
	}
	if err := expectElem(name, n, "CLASSNAME"); err != nil {
		return "", err
	}
	return xmlcodec.DecodeClassName(n)
}

func (p *params) requiredClassName(name string) (string, error) {
	s, err := p.className(name)
	if err == nil && s == "" {
		err = invalidParam("parameter %s is required", name)
	}
	return s, err
}

// uint32p reads an optional uint32 parameter (nil when absent or NULL).
func (p *params) uint32p(name string) (*uint32, error) {
	n, _ := p.value(name)
	if n == nil {
		return nil, nil
	}
	if err := expectElem(name, n, "VALUE"); err != nil {
		return nil, err
	}
	text, err := valueText(n)
	if err != nil {
		return nil, err
	}
	v, err := cim.ParseValue(cim.TypeUint32, text)
	if err != nil {
		return nil, invalidParam("parameter %s: %q is not a uint32", name, text)
	}
	u := v.Uint32()
	return &u, nil
}

// propertyList reads PropertyList: nil when absent or NULL (all
// properties), a non-nil slice otherwise (possibly empty: none).
func (p *params) propertyList() ([]string, error) {
	n, _ := p.value("PropertyList")
	if n == nil {
		return nil, nil
	}
	if err := expectElem("PropertyList", n, "VALUE.ARRAY"); err != nil {
		return nil, err
	}
	list := make([]string, 0, len(n.Children))
	for _, c := range n.Children {
		switch c.Name {
		case "VALUE":
			text, err := valueText(c)
			if err != nil {
				return nil, err
			}
			name := strings.TrimSpace(text)
			if !cim.ValidName(name) {
				return nil, invalidParam("PropertyList: %q is not a property name", c.Text)
			}
			list = append(list, name)
		case "VALUE.NULL":
		default:
			return nil, notValid("VALUE.ARRAY cannot contain <%s>", c.Name)
		}
	}
	return list, nil
}

// instanceName reads a required INSTANCENAME parameter.
func (p *params) instanceName(name string) (*cim.ObjectPath, error) {
	n, _ := p.value(name)
	if n == nil {
		return nil, invalidParam("parameter %s is required", name)
	}
	if err := expectElem(name, n, "INSTANCENAME"); err != nil {
		return nil, err
	}
	return p.d.DecodeInstanceName(n, p.d.NS)
}

// objectName reads ObjectName: a CLASSNAME (class-level association
// traversal) or an INSTANCENAME.
func (p *params) objectName() (*cim.ObjectPath, error) {
	n, _ := p.value("ObjectName")
	if n == nil {
		return nil, invalidParam("parameter ObjectName is required")
	}
	if err := expectElem("ObjectName", n, "CLASSNAME", "INSTANCENAME"); err != nil {
		return nil, err
	}
	return p.d.DecodePath(n)
}

// instanceOptions reads DeepInheritance, IncludeQualifiers,
// IncludeClassOrigin and PropertyList with the operation's defaults;
// parameters the operation does not define are passed as "".
//
// LocalOnly, which GetInstance and EnumerateInstances define
// (withLocalOnly), is read and checked (a boolean, given once) but not
// honoured: the instances keep their inherited properties whatever it
// says, as with OpenPegasus and SFCB. DSP0200 deprecated LocalOnly for
// instances in version 1.2, its definition (TRUE by default) having been
// implemented in incompatible ways, and recommends FALSE; a request that
// leaves it out would otherwise get the instance of a subclass stripped of
// every property its superclasses declare, keys included, and a
// PropertyList naming them would select nothing.
func (p *params) instanceOptions(withLocalOnly bool, deep, qualifiers string, defDeep, defQualifiers bool) (o wbem.InstanceOptions, err error) {
	if withLocalOnly {
		if _, err = p.boolean("LocalOnly", false); err != nil {
			return o, err
		}
	}
	o.DeepInheritance = defDeep
	if deep != "" {
		if o.DeepInheritance, err = p.boolean(deep, defDeep); err != nil {
			return o, err
		}
	}
	if qualifiers != "" {
		if o.IncludeQualifiers, err = p.boolean(qualifiers, defQualifiers); err != nil {
			return o, err
		}
	}
	if o.IncludeClassOrigin, err = p.boolean("IncludeClassOrigin", false); err != nil {
		return o, err
	}
	o.PropertyList, err = p.propertyList()
	return o, err
}

// assocFilter reads the association filters the operation defines.
func (p *params) assocFilter(assocClass, resultRole bool) (f wbem.AssocFilter, err error) {
	if assocClass {
		if f.AssocClass, err = p.className("AssocClass"); err != nil {
			return f, err
		}
	}
	if f.ResultClass, err = p.className("ResultClass"); err != nil {
		return f, err
	}
	if f.Role, err = p.roleName("Role"); err != nil {
		return f, err
	}
	if resultRole {
		if f.ResultRole, err = p.roleName("ResultRole"); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (p *params) roleName(name string) (string, error) {
	s, ok, err := p.str(name)
	if err != nil || !ok {
		return "", err
	}
	s = strings.TrimSpace(s)
	if s != "" && !cim.ValidName(s) {
		return "", invalidParam("parameter %s: %q is not a property name", name, s)
	}
	return s, nil
}

// openOptions reads the parameters every Open* pull operation has.
func (p *params) openOptions() (o wbem.OpenOptions, err error) {
	if o.FilterQueryLanguage, _, err = p.str("FilterQueryLanguage"); err != nil {
		return o, err
	}
	if o.FilterQuery, _, err = p.str("FilterQuery"); err != nil {
		return o, err
	}
	if (o.FilterQuery == "") != (o.FilterQueryLanguage == "") {
		return o, invalidParam("FilterQuery and FilterQueryLanguage must be given together")
	}
	timeout, err := p.uint32p("OperationTimeout")
	if err != nil {
		return o, err
	}
	if timeout != nil {
		d := time.Duration(*timeout) * time.Second
		o.OperationTimeout = &d
	}
	if o.ContinueOnError, err = p.boolean("ContinueOnError", false); err != nil {
		return o, err
	}
	max, err := p.uint32p("MaxObjectCount")
	if err != nil {
		return o, err
	}
	if max != nil {
		o.MaxObjectCount = *max
	}
	return o, nil
}

// enumContext reads the EnumerationContext of a Pull or Close.
func (p *params) enumContext() (string, error) {
	return p.requiredStr("EnumerationContext")
}

// maxObjectCount reads the MaxObjectCount a Pull requires.
func (p *params) maxObjectCount() (uint32, error) {
	max, err := p.uint32p("MaxObjectCount")
	if err != nil {
		return 0, err
	}
	if max == nil {
		return 0, invalidParam("parameter MaxObjectCount is required")
	}
	return *max, nil
}
