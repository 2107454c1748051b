package cimxml

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// invokeMethod serves an extrinsic method call (METHODCALL). Clients send
// parameter values without types (wbemcli sends no PARAMTYPE at all), so
// each value is typed from the method's declaration in the target's class,
// which also says which string parameters carry embedded instances.
func (c *call) invokeMethod() error {
	target, err := c.d.DecodePath(c.req.target)
	if err != nil {
		return err
	}
	target.Host = ""
	c.class = target.ClassName
	var decl *cim.Method
	if cls, err := c.d.class(c.ns(), target.ClassName); err == nil {
		decl = cls.Method(c.req.method)
	}
	in := make([]cim.ParamValue, 0, len(c.req.params))
	for _, pn := range c.req.params {
		name := strings.TrimSpace(mustAttr(pn, "NAME"))
		if !cim.ValidName(name) {
			return invalidParam("PARAMVALUE NAME=%q is not a parameter name", name)
		}
		for _, prev := range in {
			if cim.EqualNames(prev.Name, name) {
				return invalidParam("parameter %s given twice", name)
			}
		}
		var v cim.Value
		var elem *xmlcodec.Node
		if len(pn.Children) == 1 {
			elem = pn.Children[0]
		}
		var pdecl *cim.Parameter
		if decl != nil {
			pdecl = decl.Parameter(name)
		}
		if pdecl != nil {
			v, err = c.d.paramValue(pdecl, elem)
		} else {
			// Unknown to the class (or no class): pass it as sent, for
			// the core to reject or a provider to interpret.
			v, err = c.d.untypedValue(elem, mustAttr(pn, "PARAMTYPE"))
		}
		if err != nil {
			return err
		}
		in = append(in, cim.ParamValue{Name: name, Value: v})
	}
	ret, out, err := c.ops().InvokeMethod(c.d.ctx, c.ns(), target, c.req.method, in)
	if err != nil {
		return err
	}
	e := c.enc()
	// RETURNVALUE is always written, empty for a void method or a NULL
	// result: wbemcli rejects a METHODRESPONSE without it.
	if !ret.Type().Valid() && decl != nil && decl.ReturnType.Valid() {
		ret = cim.Null(decl.ReturnType)
	}
	e.ParamValue("RETURNVALUE", "", ret)
	for _, p := range out {
		if p.Value.IsNull() {
			// wbemcli cannot read an empty PARAMVALUE; a missing output
			// parameter means NULL to every client.
			continue
		}
		e.ParamValue("PARAMVALUE", p.Name, p.Value)
	}
	return nil
}

// paramValue types the value of an input parameter as declared.
func (d *decoder) paramValue(decl *cim.Parameter, n *xmlcodec.Node) (cim.Value, error) {
	if n != nil {
		switch n.Name {
		case "INSTANCE", "VALUE.NAMEDINSTANCE", "CLASS":
			// An object given as an element rather than escaped text.
			return d.untypedValue(n, "")
		case "CLASSNAME", "INSTANCENAME":
			if decl.Type != cim.TypeReference || decl.IsArray {
				return cim.Value{}, invalidParam("parameter %s is a %s, not a reference", decl.Name, decl.Type)
			}
			p, err := d.DecodePath(n)
			if err != nil {
				return cim.Value{}, err
			}
			return cim.NewReference(p), nil
		}
	}
	v, err := d.DecodeValue(decl.Type, decl.IsArray, decl.EmbeddedKind(), n)
	if err != nil {
		return cim.Value{}, wrapParam(decl.Name, err)
	}
	return v, nil
}

// wrapParam names the parameter in a value error.
func wrapParam(name string, err error) error {
	if ce, ok := err.(*cim.Error); ok {
		return cim.Errorf(ce.Status, "parameter %s: %s", name, ce.Description)
	}
	return err
}

// untypedValue reads a parameter value without a declaration to type it:
// PARAMTYPE when the client sent one, otherwise text as strings,
// references as references and objects as embedded objects.
func (d *decoder) untypedValue(n *xmlcodec.Node, paramType string) (cim.Value, error) {
	t, embedded := cim.TypeString, cim.EmbeddedNone
	switch pt := strings.ToLower(strings.TrimSpace(paramType)); pt {
	case "":
	case "object":
		embedded = cim.EmbeddedObject
	case "instance":
		embedded = cim.EmbeddedInstance
	default:
		var err error
		if t, err = cim.ParseType(pt); err != nil {
			return cim.Value{}, invalidParam("PARAMTYPE %q is not a CIM type", paramType)
		}
	}
	if n == nil {
		return cim.Null(t), nil
	}
	switch n.Name {
	case "VALUE":
		return d.DecodeValue(t, false, embedded, n)
	case "VALUE.ARRAY":
		return d.DecodeValue(t, true, embedded, n)
	case "VALUE.REFERENCE":
		return d.DecodeValue(cim.TypeReference, false, embedded, n)
	case "VALUE.REFARRAY":
		return d.DecodeValue(cim.TypeReference, true, embedded, n)
	case "CLASSNAME", "INSTANCENAME":
		p, err := d.DecodePath(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewReference(p), nil
	case "INSTANCE":
		inst, err := d.DecodeInstance(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewEmbeddedInstance(inst), nil
	case "VALUE.NAMEDINSTANCE":
		if len(n.Children) != 2 {
			return cim.Value{}, notValid("VALUE.NAMEDINSTANCE must contain INSTANCENAME and INSTANCE")
		}
		path, err := d.DecodeInstanceName(n.Children[0], d.NS)
		if err != nil {
			return cim.Value{}, err
		}
		inst, err := d.DecodeInstance(n.Children[1])
		if err != nil {
			return cim.Value{}, err
		}
		inst.Path = path
		return cim.NewEmbeddedInstance(inst), nil
	case "CLASS":
		cls, err := d.DecodeClass(n)
		if err != nil {
			return cim.Value{}, err
		}
		return cim.NewEmbeddedClass(cls), nil
	}
	return cim.Value{}, notValid("unexpected <%s> as a parameter value", n.Name)
}
