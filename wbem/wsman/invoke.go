package wsman

import (
	"context"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// invoke calls an extrinsic method (DSP0227 clause 9): the action is the
// resource URI followed by /<Method>, the body <Method>_INPUT with one
// element per input parameter, the answer <Method>_OUTPUT with ReturnValue
// and the output parameters.
func (h *Handler) invoke(ctx context.Context, req *request, res resource) (*reply, error) {
	notSupported := senderFault(subActionNotSupported, detailActionMismatch, "the action %q is not supported for the resource %q", req.action, res.uri)
	i := strings.LastIndexByte(req.action, '/')
	if res.kind != resourceClass || i <= 0 {
		return nil, notSupported
	}
	ar, f := parseResourceURI(req.action[:i])
	if f != nil || ar.kind != resourceClass || !cim.EqualNames(ar.class, res.class) {
		return nil, notSupported
	}
	method := req.action[i+1:]
	t, err := h.resolveTarget(ctx, req, res, true)
	if err != nil {
		return nil, err
	}
	cls, err := h.resourceClass(ctx, t.ns, res.class)
	if err != nil {
		return nil, err
	}
	m := cls.Method(method)
	if m == nil {
		return nil, senderFault(subActionNotSupported, detailActionMismatch, "the class %s has no method %s", cls.Name, method)
	}
	if !t.path.IsInstancePath() && !m.Qualifiers.Bool("Static") {
		// No selectors name the instance the method needs (AMT tooling
		// leaves them out for its singleton services): as for Get.
		return nil, selectorFault(detailInsufficientSelectors, "%s.%s is not a static method: the class has keys %s, give them as selectors",
			cls.Name, m.Name, strings.Join(cls.KeyNames(), ", "))
	}
	var in []cim.ParamValue
	if body := req.body; body != nil {
		if !strings.EqualFold(body.Local, m.Name+"_INPUT") {
			return nil, senderFault(subInvalidParameter, detailInvalidName, "the body of %s must be %s_INPUT, not %s", m.Name, m.Name, body.Local)
		}
		for _, g := range groupChildren(body) {
			p := m.Parameter(g.name)
			if p == nil || !p.IsIn() {
				return nil, senderFault(subInvalidParameter, detailInvalidName, "%s has no input parameter %s", m.Name, g.name)
			}
			v, err := decodeValue(g.elems, p.Type, p.IsArray)
			if err != nil {
				if f, ok := err.(*Fault); ok {
					return nil, f
				}
				return nil, senderFault(subInvalidParameter, detailInvalidValue, "parameter %s: %v", p.Name, err)
			}
			in = append(in, cim.ParamValue{Name: p.Name, Value: v})
		}
	}
	rv, out, err := h.cfg.Ops.InvokeMethod(ctx, t.ns, t.path, m.Name, in)
	if err != nil {
		return nil, h.selectorError(ctx, t, res.class, err)
	}
	ro := h.renderOptions(req, res)
	ro.excludeNil = false
	tag := m.Name + "_OUTPUT"
	b := []byte("<p:")
	b = append(b, tag...)
	b = append(b, ` xmlns:p="`...)
	b = appendEscaped(b, res.uri)
	b = append(b, `">`...)
	b = appendPropertyValue(b, "p", "ReturnValue", rv, &ro)
	for _, pv := range out {
		b = appendPropertyValue(b, "p", pv.Name, pv.Value, &ro)
	}
	b = append(b, "</p:"...)
	b = append(b, tag...)
	b = append(b, '>')
	return &reply{action: req.action + "Response", body: [][]byte{b}}, nil
}

// intrinsic serves openwsman's class operations on
// http://schemas.openwsman.org/wbem/wscim/1/intrinsic, in openwsman's
// shapes, which wsl's wslecn parses: EnumerateClassNames (one n1:name per
// class, as namespace:class) and <Class>/GetClass.
func (h *Handler) intrinsic(ctx context.Context, req *request, res resource) (*reply, error) {
	sels, f := parseSelectorSet(req.selectorSet)
	if f != nil {
		return nil, f
	}
	selNS, keySels := namespaceOf(sels)
	ns := h.namespace(res, selNS)
	switch {
	case res.class == "" && req.action == IntrinsicURI+"/EnumerateClassNames":
		className, deep := "", true
		for _, s := range keySels {
			switch {
			case strings.EqualFold(s.name, "ClassName"):
				className = s.value
			case strings.EqualFold(s.name, "DeepInheritance"):
				deep = !strings.EqualFold(s.value, "false")
			}
		}
		b := []byte(`<n1:EnumerateClassNames xmlns:n1="` + IntrinsicURI + `">`)
		err := h.cfg.Ops.EnumerateClassNames(ctx, ns, className, deep, func(name string) error {
			b = appendElem(b, "n1:name", ns+":"+name)
			return nil
		})
		if err != nil {
			return nil, err
		}
		b = append(b, "</n1:EnumerateClassNames>"...)
		return &reply{action: req.action + "Response", body: [][]byte{b}}, nil
	case res.class != "" && strings.EqualFold(req.action, res.uri+"/GetClass"):
		cls, err := h.cfg.Ops.GetClass(ctx, ns, res.class, cim.ClassFilter{IncludeQualifiers: true, IncludeClassOrigin: true})
		if err != nil {
			return nil, err
		}
		b := []byte(`<n1:GetClass xmlns:n1="`)
		b = appendEscaped(b, res.uri)
		b = append(b, `">`...)
		b = appendElem(b, "n1:name", cls.Name)
		if cls.SuperClass != "" {
			b = appendElem(b, "n1:super_class", cls.SuperClass)
		}
		b = appendQualifiers(b, cls.Qualifiers)
		if props := cls.Properties(); len(props) > 0 {
			b = append(b, "<n1:properties>"...)
			for i := range props {
				p := &props[i]
				b = append(b, "<n1:property>"...)
				b = appendElem(b, "n1:name", p.Name)
				b = appendTypeElem(b, p.Type, p.IsArray, p.ReferenceClass)
				if !p.Value.IsNull() {
					o := renderOptions{}
					b = appendPropertyValue(b, "n1", "value", p.Value, &o)
				}
				if p.ClassOrigin != "" {
					b = appendElem(b, "n1:class_origin", p.ClassOrigin)
				}
				b = appendQualifiers(b, p.Qualifiers)
				b = append(b, "</n1:property>"...)
			}
			b = append(b, "</n1:properties>"...)
		}
		if methods := cls.Methods(); len(methods) > 0 {
			b = append(b, "<n1:methods>"...)
			for i := range methods {
				m := &methods[i]
				b = append(b, "<n1:method>"...)
				b = appendElem(b, "n1:name", m.Name)
				b = appendTypeElem(b, m.ReturnType, false, "")
				b = appendQualifiers(b, m.Qualifiers)
				for j := range m.Parameters {
					p := &m.Parameters[j]
					b = append(b, "<n1:parameter>"...)
					b = appendElem(b, "n1:name", p.Name)
					b = appendTypeElem(b, p.Type, p.IsArray, p.ReferenceClass)
					b = appendQualifiers(b, p.Qualifiers)
					b = append(b, "</n1:parameter>"...)
				}
				b = append(b, "</n1:method>"...)
			}
			b = append(b, "</n1:methods>"...)
		}
		b = append(b, "</n1:GetClass>"...)
		return &reply{action: req.action + "Response", body: [][]byte{b}}, nil
	}
	return nil, senderFault(subActionNotSupported, detailActionMismatch, "the action %q is not an intrinsic operation of %q", req.action, res.uri)
}

func appendTypeElem(b []byte, t cim.Type, isArray bool, refClass string) []byte {
	name := t.String()
	if t == cim.TypeReference && refClass != "" {
		name = refClass + " REF"
	}
	if isArray {
		b = append(b, "<n1:type>"...)
		b = appendElem(b, "n1:array", name)
		return append(b, "</n1:type>"...)
	}
	return appendElem(b, "n1:type", name)
}

func appendQualifiers(b []byte, qs cim.Qualifiers) []byte {
	if len(qs) == 0 {
		return b
	}
	b = append(b, "<n1:qualifiers>"...)
	for _, q := range qs {
		b = append(b, "<n1:qualifier>"...)
		b = appendElem(b, "n1:name", q.Name)
		b = appendTypeElem(b, q.Value.Type(), q.Value.IsArray(), "")
		o := renderOptions{}
		b = appendPropertyValue(b, "n1", "value", q.Value, &o)
		b = append(b, "</n1:qualifier>"...)
	}
	return append(b, "</n1:qualifiers>"...)
}
