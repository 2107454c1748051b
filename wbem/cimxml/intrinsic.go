package cimxml

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// call is one operation being served: its decoded request, the typed
// parameters and the response being written.
type call struct {
	h   *Handler
	req *request
	d   *decoder
	p   *params
	rw  *responseWriter
	// class names the class the operation is about, for the log.
	class string
}

// intrinsicOp returns the DSP0200 spelling of an intrinsic method name and
// the function serving it (method names are case-insensitive).
func intrinsicOp(name string) (string, func(*call) error, bool) {
	// Lower-case into a stack buffer: switching on string(lower) does not
	// allocate. No method name is longer than the buffer.
	var buf [32]byte
	if len(name) > len(buf) {
		return name, nil, false
	}
	lower := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower) {
	case "getclass":
		return "GetClass", (*call).getClass, true
	case "enumerateclasses":
		return "EnumerateClasses", (*call).enumerateClasses, true
	case "enumerateclassnames":
		return "EnumerateClassNames", (*call).enumerateClassNames, true
	case "createclass":
		return "CreateClass", (*call).createClass, true
	case "modifyclass":
		return "ModifyClass", (*call).modifyClass, true
	case "deleteclass":
		return "DeleteClass", (*call).deleteClass, true
	case "getinstance":
		return "GetInstance", (*call).getInstance, true
	case "enumerateinstances":
		return "EnumerateInstances", (*call).enumerateInstances, true
	case "enumerateinstancenames":
		return "EnumerateInstanceNames", (*call).enumerateInstanceNames, true
	case "createinstance":
		return "CreateInstance", (*call).createInstance, true
	case "modifyinstance":
		return "ModifyInstance", (*call).modifyInstance, true
	case "deleteinstance":
		return "DeleteInstance", (*call).deleteInstance, true
	case "associators":
		return "Associators", (*call).associators, true
	case "associatornames":
		return "AssociatorNames", (*call).associatorNames, true
	case "references":
		return "References", (*call).references, true
	case "referencenames":
		return "ReferenceNames", (*call).referenceNames, true
	case "getproperty":
		return "GetProperty", (*call).getProperty, true
	case "setproperty":
		return "SetProperty", (*call).setProperty, true
	case "getqualifier":
		return "GetQualifier", (*call).getQualifier, true
	case "setqualifier":
		return "SetQualifier", (*call).setQualifier, true
	case "deletequalifier":
		return "DeleteQualifier", (*call).deleteQualifier, true
	case "enumeratequalifiers":
		return "EnumerateQualifiers", (*call).enumerateQualifiers, true
	case "execquery":
		return "ExecQuery", (*call).execQuery, true
	case "openenumerateinstances":
		return "OpenEnumerateInstances", (*call).openEnumerateInstances, true
	case "openenumerateinstancepaths":
		return "OpenEnumerateInstancePaths", (*call).openEnumerateInstancePaths, true
	case "openassociatorinstances":
		return "OpenAssociatorInstances", (*call).openAssociatorInstances, true
	case "openassociatorinstancepaths":
		return "OpenAssociatorInstancePaths", (*call).openAssociatorInstancePaths, true
	case "openreferenceinstances":
		return "OpenReferenceInstances", (*call).openReferenceInstances, true
	case "openreferenceinstancepaths":
		return "OpenReferenceInstancePaths", (*call).openReferenceInstancePaths, true
	case "openqueryinstances":
		return "OpenQueryInstances", (*call).openQueryInstances, true
	case "pullinstanceswithpath":
		return "PullInstancesWithPath", (*call).pullInstancesWithPath, true
	case "pullinstancepaths":
		return "PullInstancePaths", (*call).pullInstancePaths, true
	case "pullinstances":
		return "PullInstances", (*call).pullInstances, true
	case "closeenumeration":
		return "CloseEnumeration", (*call).closeEnumeration, true
	case "enumerationcount":
		return "EnumerationCount", (*call).enumerationCount, true
	}
	return name, nil, false
}

func (c *call) ops() wbem.Operations   { return c.h.ops }
func (c *call) ns() string             { return c.req.ns }
func (c *call) enc() *xmlcodec.Encoder { return &c.rw.enc }

func (c *call) beginReturn() { c.enc().Str(`<IRETURNVALUE>`) }
func (c *call) endReturn()   { c.enc().Str(`</IRETURNVALUE>`) }

// done checks that every parameter was read, then opens IRETURNVALUE.
func (c *call) done() error {
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	c.beginReturn()
	return nil
}

// emptyReturn answers an operation that returns nothing: DSP0201 allows
// an IMETHODRESPONSE without IRETURNVALUE, but wbemcli does not.
func (c *call) emptyReturn() error {
	c.beginReturn()
	c.endReturn()
	return nil
}

// withPath checks that an instance the core yields carries its path,
// which the response needs.
func withPath(inst *cim.Instance) error {
	if inst == nil || inst.Path == nil {
		return cim.NewError(cim.ErrFailed, "internal error: an instance was produced without its path")
	}
	return nil
}

// --- classes ------------------------------------------------------------

func (c *call) getClass() error {
	name, err := c.p.requiredClassName("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	var f cim.ClassFilter
	if f.LocalOnly, err = c.p.boolean("LocalOnly", true); err != nil {
		return err
	}
	if f.IncludeQualifiers, err = c.p.boolean("IncludeQualifiers", true); err != nil {
		return err
	}
	if f.IncludeClassOrigin, err = c.p.boolean("IncludeClassOrigin", false); err != nil {
		return err
	}
	if f.PropertyList, err = c.p.propertyList(); err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	cls, err := c.ops().GetClass(c.d.ctx, c.ns(), name, f)
	if err != nil {
		return err
	}
	c.beginReturn()
	c.enc().Class(cls)
	c.endReturn()
	return nil
}

func (c *call) enumerateClasses() error {
	name, err := c.p.className("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	deep, err := c.p.boolean("DeepInheritance", false)
	if err != nil {
		return err
	}
	var f cim.ClassFilter
	if f.LocalOnly, err = c.p.boolean("LocalOnly", true); err != nil {
		return err
	}
	if f.IncludeQualifiers, err = c.p.boolean("IncludeQualifiers", true); err != nil {
		return err
	}
	if f.IncludeClassOrigin, err = c.p.boolean("IncludeClassOrigin", false); err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	err = c.ops().EnumerateClasses(c.d.ctx, c.ns(), name, deep, f, func(cls *cim.Class) error {
		c.enc().Class(cls)
		return c.rw.maybeFlush()
	})
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}

func (c *call) enumerateClassNames() error {
	name, err := c.p.className("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	deep, err := c.p.boolean("DeepInheritance", false)
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	err = c.ops().EnumerateClassNames(c.d.ctx, c.ns(), name, deep, func(n string) error {
		c.enc().ClassName(n)
		return c.rw.maybeFlush()
	})
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}

func (c *call) classParam(name string) (*cim.Class, error) {
	n, _ := c.p.value(name)
	if n == nil {
		return nil, invalidParam("parameter %s is required", name)
	}
	if err := expectElem(name, n, "CLASS"); err != nil {
		return nil, err
	}
	return c.d.DecodeClass(n)
}

func (c *call) createClass() error {
	cls, err := c.classParam("NewClass")
	if err != nil {
		return err
	}
	c.class = cls.Name
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().CreateClass(c.d.ctx, c.ns(), cls); err != nil {
		return err
	}
	return c.emptyReturn()
}

func (c *call) modifyClass() error {
	cls, err := c.classParam("ModifiedClass")
	if err != nil {
		return err
	}
	c.class = cls.Name
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().ModifyClass(c.d.ctx, c.ns(), cls); err != nil {
		return err
	}
	return c.emptyReturn()
}

func (c *call) deleteClass() error {
	name, err := c.p.requiredClassName("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().DeleteClass(c.d.ctx, c.ns(), name); err != nil {
		return err
	}
	return c.emptyReturn()
}

// --- instances ----------------------------------------------------------

func (c *call) getInstance() error {
	path, err := c.p.instanceName("InstanceName")
	if err != nil {
		return err
	}
	c.class = path.ClassName
	o, err := c.p.instanceOptions(true, "", "IncludeQualifiers", false, false)
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	inst, err := c.ops().GetInstance(c.d.ctx, c.ns(), path, o)
	if err != nil {
		return err
	}
	c.beginReturn()
	c.enc().Instance(inst)
	c.endReturn()
	return nil
}

func (c *call) enumerateInstances() error {
	name, err := c.p.requiredClassName("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	o, err := c.p.instanceOptions(true, "DeepInheritance", "IncludeQualifiers", true, false)
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	// Instances are shaped where they are encoded: on the workers of a
	// large enumeration, so that the producing goroutine does not read
	// every property first.
	out := newResultStream(c.rw, func(e *xmlcodec.Encoder, u wbem.Unshaped) { e.NamedInstance(u.Shape()) })
	err = out.close(c.ops().EnumerateInstancesUnshaped(c.d.ctx, c.ns(), name, o, func(u wbem.Unshaped) error {
		if err := withPath(u.Instance); err != nil {
			return err
		}
		return out.add(u)
	}))
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}

func (c *call) enumerateInstanceNames() error {
	name, err := c.p.requiredClassName("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	if err := c.done(); err != nil {
		return err
	}
	err = c.ops().EnumerateInstanceNames(c.d.ctx, c.ns(), name, func(p *cim.ObjectPath) error {
		c.enc().InstanceName(p)
		return c.rw.maybeFlush()
	})
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}

func (c *call) createInstance() error {
	n, _ := c.p.value("NewInstance")
	if n == nil {
		return invalidParam("parameter NewInstance is required")
	}
	if err := expectElem("NewInstance", n, "INSTANCE"); err != nil {
		return err
	}
	inst, err := c.d.DecodeInstance(n)
	if err != nil {
		return err
	}
	c.class = inst.ClassName
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	path, err := c.ops().CreateInstance(c.d.ctx, c.ns(), inst)
	if err != nil {
		return err
	}
	c.beginReturn()
	c.enc().InstanceName(path)
	c.endReturn()
	return nil
}

func (c *call) modifyInstance() error {
	n, _ := c.p.value("ModifiedInstance")
	if n == nil {
		return invalidParam("parameter ModifiedInstance is required")
	}
	if err := expectElem("ModifiedInstance", n, "VALUE.NAMEDINSTANCE"); err != nil {
		return err
	}
	if len(n.Children) != 2 {
		return notValid("VALUE.NAMEDINSTANCE must contain INSTANCENAME and INSTANCE")
	}
	path, err := c.d.DecodeInstanceName(n.Children[0], c.ns())
	if err != nil {
		return err
	}
	inst, err := c.d.DecodeInstance(n.Children[1])
	if err != nil {
		return err
	}
	inst.Path = path
	c.class = path.ClassName
	qualifiers, err := c.p.boolean("IncludeQualifiers", true)
	if err != nil {
		return err
	}
	list, err := c.p.propertyList()
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().ModifyInstance(c.d.ctx, c.ns(), inst, qualifiers, list); err != nil {
		return err
	}
	return c.emptyReturn()
}

func (c *call) deleteInstance() error {
	path, err := c.p.instanceName("InstanceName")
	if err != nil {
		return err
	}
	c.class = path.ClassName
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().DeleteInstance(c.d.ctx, c.ns(), path); err != nil {
		return err
	}
	return c.emptyReturn()
}

// --- associations -------------------------------------------------------

func (c *call) associators() error { return c.assocObjects(true) }
func (c *call) references() error  { return c.assocObjects(false) }

// assocObjects serves Associators and References: VALUE.OBJECTWITHPATH
// for each associated (or referencing) instance or class.
func (c *call) assocObjects(associators bool) error {
	obj, err := c.p.objectName()
	if err != nil {
		return err
	}
	c.class = obj.ClassName
	f, err := c.p.assocFilter(associators, associators)
	if err != nil {
		return err
	}
	o, err := c.p.instanceOptions(false, "", "IncludeQualifiers", false, false)
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	ns := c.ns()
	out := newResultStream(c.rw, func(e *xmlcodec.Encoder, r wbem.AssocResult) {
		if r.Class == nil {
			e.ObjectWithPathInstance(r.Instance, ns)
			return
		}
		path := r.Path
		if path == nil {
			path = &cim.ObjectPath{ClassName: r.Class.Name}
		}
		e.ObjectWithPathClass(path, r.Class, ns)
	})
	yield := func(r wbem.AssocResult) error {
		if r.Class == nil {
			if err := withPath(r.Instance); err != nil {
				return err
			}
		}
		return out.add(r)
	}
	if associators {
		err = c.ops().Associators(c.d.ctx, ns, obj, f, o, yield)
	} else {
		err = c.ops().References(c.d.ctx, ns, obj, f, o, yield)
	}
	err = out.close(err)
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}

func (c *call) associatorNames() error { return c.assocNames(true) }
func (c *call) referenceNames() error  { return c.assocNames(false) }

// assocNames serves AssociatorNames and ReferenceNames: OBJECTPATH each.
func (c *call) assocNames(associators bool) error {
	obj, err := c.p.objectName()
	if err != nil {
		return err
	}
	c.class = obj.ClassName
	f, err := c.p.assocFilter(associators, associators)
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	yield := func(p *cim.ObjectPath) error {
		c.enc().ObjectPath(p, c.ns())
		return c.rw.maybeFlush()
	}
	if associators {
		err = c.ops().AssociatorNames(c.d.ctx, c.ns(), obj, f, yield)
	} else {
		err = c.ops().ReferenceNames(c.d.ctx, c.ns(), obj, f, yield)
	}
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}

// --- properties ---------------------------------------------------------

func (c *call) getProperty() error {
	path, err := c.p.instanceName("InstanceName")
	if err != nil {
		return err
	}
	c.class = path.ClassName
	prop, err := c.p.requiredStr("PropertyName")
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	v, err := c.ops().GetProperty(c.d.ctx, c.ns(), path, strings.TrimSpace(prop))
	if err != nil {
		return err
	}
	c.beginReturn()
	if !v.IsNull() {
		c.enc().Value(v)
	}
	c.endReturn()
	return nil
}

func (c *call) setProperty() error {
	path, err := c.p.instanceName("InstanceName")
	if err != nil {
		return err
	}
	c.class = path.ClassName
	prop, err := c.p.requiredStr("PropertyName")
	if err != nil {
		return err
	}
	prop = strings.TrimSpace(prop)
	n, _ := c.p.value("NewValue")
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	v, err := c.newPropertyValue(path, prop, n)
	if err != nil {
		return err
	}
	if err := c.ops().SetProperty(c.d.ctx, c.ns(), path, prop, v); err != nil {
		return err
	}
	return c.emptyReturn()
}

// newPropertyValue types the untyped NewValue of SetProperty as the class
// declares the property. When the class or property is unknown the value
// is passed as sent (text as strings) and the core reports the error.
func (c *call) newPropertyValue(path *cim.ObjectPath, prop string, n *xmlcodec.Node) (cim.Value, error) {
	if cls, err := c.d.class(c.ns(), path.ClassName); err == nil {
		if decl := cls.Property(prop); decl != nil {
			return c.d.DecodeValue(decl.Type, decl.IsArray, decl.EmbeddedKind(), n)
		}
	}
	return c.d.untypedValue(n, "")
}

// --- qualifiers ---------------------------------------------------------

func (c *call) getQualifier() error {
	name, err := c.p.requiredStr("QualifierName")
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	qt, err := c.ops().GetQualifier(c.d.ctx, c.ns(), strings.TrimSpace(name))
	if err != nil {
		return err
	}
	c.beginReturn()
	c.enc().QualifierDeclaration(qt)
	c.endReturn()
	return nil
}

func (c *call) setQualifier() error {
	n, _ := c.p.value("QualifierDeclaration")
	if n == nil {
		return invalidParam("parameter QualifierDeclaration is required")
	}
	if err := expectElem("QualifierDeclaration", n, "QUALIFIER.DECLARATION"); err != nil {
		return err
	}
	qt, err := c.d.DecodeQualifierDeclaration(n)
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().SetQualifier(c.d.ctx, c.ns(), qt); err != nil {
		return err
	}
	return c.emptyReturn()
}

func (c *call) deleteQualifier() error {
	name, err := c.p.requiredStr("QualifierName")
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().DeleteQualifier(c.d.ctx, c.ns(), strings.TrimSpace(name)); err != nil {
		return err
	}
	return c.emptyReturn()
}

func (c *call) enumerateQualifiers() error {
	if err := c.done(); err != nil {
		return err
	}
	err := c.ops().EnumerateQualifiers(c.d.ctx, c.ns(), func(qt *cim.QualifierType) error {
		c.enc().QualifierDeclaration(qt)
		return c.rw.maybeFlush()
	})
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}

// --- queries ------------------------------------------------------------

func (c *call) execQuery() error {
	lang, err := c.p.requiredStr("QueryLanguage")
	if err != nil {
		return err
	}
	query, err := c.p.requiredStr("Query")
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	// The results of one query are all whole instances (with paths, sent
	// as VALUE.OBJECTWITHPATH) or all projections (VALUE.OBJECT); the
	// first result decides, as IRETURNVALUE holds one kind of element.
	first, withPaths, ns := true, false, c.ns()
	out := newResultStream(c.rw, func(e *xmlcodec.Encoder, inst *cim.Instance) {
		if withPaths {
			e.ObjectWithPathInstance(inst, ns)
			return
		}
		e.Str(`<VALUE.OBJECT>`)
		e.Instance(inst)
		e.Str(`</VALUE.OBJECT>`)
	})
	err = out.close(c.ops().ExecQuery(c.d.ctx, ns, strings.TrimSpace(lang), query, func(inst *cim.Instance) error {
		if first {
			first, withPaths = false, inst.Path != nil
		}
		if withPaths {
			if err := withPath(inst); err != nil {
				return err
			}
		}
		return out.add(inst)
	}))
	if err != nil {
		return err
	}
	c.endReturn()
	return nil
}
