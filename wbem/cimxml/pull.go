package cimxml

import (
	"strconv"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// The pull operations (DSP0200 clauses 5.3.2.21 to 5.3.2.34). Each answers
// with its results in IRETURNVALUE, then the EndOfSequence and
// EnumerationContext output parameters as PARAMVALUEs.

// endPull closes IRETURNVALUE and writes the enumeration's state.
func (c *call) endPull(st wbem.PullState) {
	c.endReturn()
	c.enc().ParamValue("PARAMVALUE", "EndOfSequence", cim.NewBoolean(st.EndOfSequence))
	// An ended enumeration has no context; DSP0200 sends it as NULL, which
	// clients read from an empty VALUE as well.
	c.enc().Str(`<PARAMVALUE NAME="EnumerationContext" PARAMTYPE="string"><VALUE>`)
	c.enc().Text(st.Context)
	c.enc().Str(`</VALUE></PARAMVALUE>`)
}

// yieldInstanceWithPath writes VALUE.INSTANCEWITHPATH results.
func (c *call) yieldInstanceWithPath(inst *cim.Instance) error {
	if err := withPath(inst); err != nil {
		return err
	}
	c.enc().InstanceWithPath(inst, c.ns())
	return c.rw.maybeFlush()
}

// yieldInstancePath writes INSTANCEPATH results.
func (c *call) yieldInstancePath(p *cim.ObjectPath) error {
	c.enc().InstancePath(p, c.ns())
	return c.rw.maybeFlush()
}

// yieldInstance writes INSTANCE results (OpenQueryInstances, PullInstances).
func (c *call) yieldInstance(inst *cim.Instance) error {
	c.enc().Instance(inst)
	return c.rw.maybeFlush()
}

func (c *call) openEnumerateInstances() error {
	name, err := c.p.requiredClassName("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	o, err := c.p.instanceOptions(false, "DeepInheritance", "", true, false)
	if err != nil {
		return err
	}
	po, err := c.p.openOptions()
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	st, err := c.ops().OpenEnumerateInstances(c.d.ctx, c.ns(), name, o, po, c.yieldInstanceWithPath)
	if err != nil {
		return err
	}
	c.endPull(st)
	return nil
}

func (c *call) openEnumerateInstancePaths() error {
	name, err := c.p.requiredClassName("ClassName")
	if err != nil {
		return err
	}
	c.class = name
	po, err := c.p.openOptions()
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	st, err := c.ops().OpenEnumerateInstancePaths(c.d.ctx, c.ns(), name, po, c.yieldInstancePath)
	if err != nil {
		return err
	}
	c.endPull(st)
	return nil
}

// openAssoc serves the four Open operations that traverse associations
// from InstanceName.
func (c *call) openAssoc(associators, paths bool) error {
	obj, err := c.p.instanceName("InstanceName")
	if err != nil {
		return err
	}
	c.class = obj.ClassName
	f, err := c.p.assocFilter(associators, associators)
	if err != nil {
		return err
	}
	var o wbem.InstanceOptions
	if !paths {
		if o, err = c.p.instanceOptions(false, "", "", false, false); err != nil {
			return err
		}
	}
	po, err := c.p.openOptions()
	if err != nil {
		return err
	}
	if err := c.done(); err != nil {
		return err
	}
	var st wbem.PullState
	ctx, ns := c.d.ctx, c.ns()
	switch {
	case associators && paths:
		st, err = c.ops().OpenAssociatorInstancePaths(ctx, ns, obj, f, po, c.yieldInstancePath)
	case associators:
		st, err = c.ops().OpenAssociatorInstances(ctx, ns, obj, f, o, po, c.yieldInstanceWithPath)
	case paths:
		st, err = c.ops().OpenReferenceInstancePaths(ctx, ns, obj, f, po, c.yieldInstancePath)
	default:
		st, err = c.ops().OpenReferenceInstances(ctx, ns, obj, f, o, po, c.yieldInstanceWithPath)
	}
	if err != nil {
		return err
	}
	c.endPull(st)
	return nil
}

func (c *call) openAssociatorInstances() error     { return c.openAssoc(true, false) }
func (c *call) openAssociatorInstancePaths() error { return c.openAssoc(true, true) }
func (c *call) openReferenceInstances() error      { return c.openAssoc(false, false) }
func (c *call) openReferenceInstancePaths() error  { return c.openAssoc(false, true) }

func (c *call) openQueryInstances() error {
	lang, err := c.p.requiredStr("FilterQueryLanguage")
	if err != nil {
		return err
	}
	query, err := c.p.requiredStr("FilterQuery")
	if err != nil {
		return err
	}
	withClass, err := c.p.boolean("ReturnQueryResultClass", false)
	if err != nil {
		return err
	}
	// FilterQuery and FilterQueryLanguage are the query here, not a filter.
	po, err := c.p.openOptions()
	if err != nil {
		return err
	}
	po.FilterQuery, po.FilterQueryLanguage = "", ""
	if err := c.done(); err != nil {
		return err
	}
	cls, st, err := c.ops().OpenQueryInstances(c.d.ctx, c.ns(), lang, query, withClass, po, c.yieldInstance)
	if err != nil {
		return err
	}
	c.endPull(st)
	if cls != nil {
		c.enc().Str(`<PARAMVALUE NAME="QueryResultClass">`)
		c.enc().Class(cls)
		c.enc().Str(`</PARAMVALUE>`)
	}
	return nil
}

func (c *call) pullParams() (string, uint32, error) {
	ctxID, err := c.p.enumContext()
	if err != nil {
		return "", 0, err
	}
	max, err := c.p.maxObjectCount()
	if err != nil {
		return "", 0, err
	}
	return ctxID, max, c.done()
}

func (c *call) pullInstancesWithPath() error {
	ctxID, max, err := c.pullParams()
	if err != nil {
		return err
	}
	st, err := c.ops().PullInstancesWithPath(c.d.ctx, c.ns(), ctxID, max, c.yieldInstanceWithPath)
	if err != nil {
		return err
	}
	c.endPull(st)
	return nil
}

func (c *call) pullInstancePaths() error {
	ctxID, max, err := c.pullParams()
	if err != nil {
		return err
	}
	st, err := c.ops().PullInstancePaths(c.d.ctx, c.ns(), ctxID, max, c.yieldInstancePath)
	if err != nil {
		return err
	}
	c.endPull(st)
	return nil
}

func (c *call) pullInstances() error {
	ctxID, max, err := c.pullParams()
	if err != nil {
		return err
	}
	st, err := c.ops().PullInstances(c.d.ctx, c.ns(), ctxID, max, c.yieldInstance)
	if err != nil {
		return err
	}
	c.endPull(st)
	return nil
}

func (c *call) closeEnumeration() error {
	ctxID, err := c.p.enumContext()
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	if err := c.ops().CloseEnumeration(c.d.ctx, c.ns(), ctxID); err != nil {
		return err
	}
	return c.emptyReturn()
}

func (c *call) enumerationCount() error {
	ctxID, err := c.p.enumContext()
	if err != nil {
		return err
	}
	if err := c.p.done(c.req.method); err != nil {
		return err
	}
	n, ok, err := c.ops().EnumerationCount(c.d.ctx, c.ns(), ctxID)
	if err != nil {
		return err
	}
	c.beginReturn()
	if ok {
		c.enc().Str(`<VALUE>`)
		c.enc().B = strconv.AppendUint(c.enc().B, n, 10)
		c.enc().Str(`</VALUE>`)
	}
	c.endReturn()
	return nil
}
