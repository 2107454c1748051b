package wbem

import (
	"context"

	"github.com/hypercim/hypercim/cim"
)

// InvokeMethod calls an extrinsic method (DSP0200 5.3.3). Methods may change
// what they act on, so the caller needs the write right on the namespace.
//
// Errors: CIM_ERR_INVALID_CLASS for an unknown class, CIM_ERR_METHOD_NOT_FOUND
// for a method the class does not declare, CIM_ERR_INVALID_PARAMETER for
// unknown, duplicated, output-only or unconvertible parameters and for a
// non-static method invoked on a class path, CIM_ERR_METHOD_NOT_AVAILABLE
// when no provider implements the method.
func (s *Server) InvokeMethod(ctx context.Context, ns string, object *cim.ObjectPath, method string, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	c, err := s.begin(ctx, "InvokeMethod", ns, className(object), true)
	if err != nil {
		return cim.Value{}, nil, err
	}
	rv, out, err := s.invokeMethod(ctx, c.ns, object, method, in)
	return rv, out, c.end(err)
}

func (s *Server) invokeMethod(ctx context.Context, ns string, object *cim.ObjectPath, method string, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	if object == nil {
		return cim.Value{}, nil, errorf(cim.ErrInvalidParameter, "the object of the method call is missing")
	}
	if err := mustName("class name", object.ClassName); err != nil {
		return cim.Value{}, nil, err
	}
	cls, err := s.Class(ns, object.ClassName)
	if err != nil {
		return cim.Value{}, nil, err
	}
	path := cim.NewClassPath(ns, cls.Name)
	if object.IsInstancePath() {
		if path, cls, err = s.instancePath(ns, object); err != nil {
			return cim.Value{}, nil, err
		}
	}
	m := cls.Method(method)
	if m == nil {
		return cim.Value{}, nil, errorf(cim.ErrMethodNotFound, "class %s has no method %s", cls.Name, method)
	}
	if !object.IsInstancePath() && !m.Qualifiers.Bool("Static") {
		return cim.Value{}, nil, errorf(cim.ErrInvalidParameter, "%s.%s is not a static method: invoke it on an instance", cls.Name, m.Name)
	}
	params, err := s.inParams(ns, cls, m, in)
	if err != nil {
		return cim.Value{}, nil, err
	}
	provider := s.methodProvider(ns, cls)
	if provider == nil {
		return cim.Value{}, nil, errorf(cim.ErrMethodNotAvailable, "no provider implements %s.%s", cls.Name, m.Name)
	}
	rv, out, err := provider.InvokeMethod(ctx, ns, cls, path, m, params)
	if err != nil {
		return cim.Value{}, nil, err
	}
	return outParams(cls, m, rv, out)
}

// methodProvider returns the method provider of cls, or of its nearest
// superclass that has one.
func (s *Server) methodProvider(ns string, cls *cim.Class) MethodProvider {
	for c, depth := cls, 0; c != nil && depth < 256; depth++ {
		if e := s.reg.lookup(ns, c.Name); e != nil && e.method != nil {
			return e.method
		}
		if c.SuperClass == "" {
			break
		}
		next, err := s.Class(ns, c.SuperClass)
		if err != nil {
			break
		}
		c = next
	}
	return nil
}

// inParams checks the input parameters against the method's declaration
// and converts them to the declared types.
func (s *Server) inParams(ns string, cls *cim.Class, m *cim.Method, in []cim.ParamValue) ([]cim.ParamValue, error) {
	out := make([]cim.ParamValue, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, pv := range in {
		p := m.Parameter(pv.Name)
		if p == nil {
			return nil, errorf(cim.ErrInvalidParameter, "method %s.%s has no parameter %s", cls.Name, m.Name, pv.Name)
		}
		if !isInput(p) {
			return nil, errorf(cim.ErrInvalidParameter, "parameter %s of %s.%s is an output parameter", p.Name, cls.Name, m.Name)
		}
		key := cim.FoldName(p.Name)
		if seen[key] {
			return nil, errorf(cim.ErrInvalidParameter, "parameter %s of %s.%s is given twice", p.Name, cls.Name, m.Name)
		}
		seen[key] = true
		v, err := declaredValue(pv.Value, p.Type, p.IsArray)
		if err != nil {
			return nil, errorf(cim.ErrInvalidParameter, "parameter %s of %s.%s: %v", p.Name, cls.Name, m.Name, errText(err))
		}
		if want := p.Qualifiers.Str(cim.QualifierEmbeddedInstance); want != "" {
			if err := s.checkEmbedded(ns, v, want); err != nil {
				return nil, errorf(cim.ErrInvalidParameter, "parameter %s of %s.%s: %w", p.Name, cls.Name, m.Name, err)
			}
		}
		out = append(out, cim.ParamValue{Name: p.Name, Value: v})
	}
	return out, nil
}

// isInput reports whether a parameter takes input. DSP0004's In defaults
// to true, but a parameter declared [OUT] alone is output-only in every
// schema and client, so In counts only when given explicitly then.
func isInput(p *cim.Parameter) bool {
	if p.Qualifiers.Has(cim.QualifierIn) || !p.IsOut() {
		return p.IsIn()
	}
	return false
}

// checkEmbedded checks that the embedded instances in v are of class want
// or a subclass, when both classes are known in ns.
func (s *Server) checkEmbedded(ns string, v cim.Value, want string) error {
	var insts []*cim.Instance
	switch {
	case v.IsNull():
		return nil
	case v.IsArray():
		insts = v.InstanceArray()
	case v.Instance() != nil:
		insts = []*cim.Instance{v.Instance()}
	}
	for _, inst := range insts {
		if inst == nil || cim.EqualNames(inst.ClassName, want) {
			continue
		}
		if _, err := s.Class(ns, inst.ClassName); err != nil {
			continue // an unknown class: the provider judges
		}
		if _, err := s.Class(ns, want); err == nil && !s.IsA(ns, inst.ClassName, want) {
			return errorf(cim.ErrInvalidParameter, "an embedded instance of %s is not a %s", inst.ClassName, want)
		}
	}
	return nil
}

// declaredValue converts v to a declared type and array-ness; an untyped
// NULL becomes a NULL of that type.
func declaredValue(v cim.Value, t cim.Type, isArray bool) (cim.Value, error) {
	if v.Type() == cim.TypeInvalid {
		if isArray {
			return cim.NullArray(t), nil
		}
		return cim.Null(t), nil
	}
	if v.IsArray() != isArray {
		if isArray {
			return cim.Value{}, errorf(cim.ErrTypeMismatch, "an array is expected, not %s", v)
		}
		return cim.Value{}, errorf(cim.ErrTypeMismatch, "a %s is expected, not an array", t)
	}
	return v.Convert(t)
}

// errText is the description of an error without its status name.
func errText(err error) string {
	if ce := cim.AsError(err); ce != nil && ce.Description != "" {
		return ce.Description
	}
	return err.Error()
}

// outParams converts a provider's return value and output parameters to
// the declared types.
func outParams(cls *cim.Class, m *cim.Method, rv cim.Value, out []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	if m.ReturnType.Valid() {
		v, err := declaredValue(rv, m.ReturnType, false)
		if err != nil {
			return cim.Value{}, nil, errorf(cim.ErrFailed, "the provider of %s.%s returned %s: %v", cls.Name, m.Name, rv, errText(err))
		}
		rv = v
	}
	conv := make([]cim.ParamValue, 0, len(out))
	for _, pv := range out {
		p := m.Parameter(pv.Name)
		if p == nil || !p.IsOut() {
			return cim.Value{}, nil, errorf(cim.ErrFailed, "the provider of %s.%s returned %s, which is not an output parameter", cls.Name, m.Name, pv.Name)
		}
		v, err := declaredValue(pv.Value, p.Type, p.IsArray)
		if err != nil {
			return cim.Value{}, nil, errorf(cim.ErrFailed, "the provider of %s.%s returned parameter %s = %s: %v", cls.Name, m.Name, p.Name, pv.Value, errText(err))
		}
		conv = append(conv, cim.ParamValue{Name: p.Name, Value: v})
	}
	return rv, conv, nil
}
