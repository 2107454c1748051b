package wsman

import (
	"context"
	"net/http"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// identify answers wsmid:Identify (DSP0226 clause 11).
func (h *Handler) identify(r *http.Request, req *request) *reply {
	b := []byte("<wsmid:IdentifyResponse>")
	b = appendElem(b, "wsmid:ProtocolVersion", protocolVersionURI)
	b = appendElem(b, "wsmid:ProductVendor", h.cfg.ProductVendor)
	b = appendElem(b, "wsmid:ProductVersion", h.cfg.ProductVersion)
	if h.cfg.Auth != nil {
		b = append(b, "<wsmid:SecurityProfiles>"...)
		if r.TLS != nil {
			b = appendElem(b, "wsmid:SecurityProfileName", secProfileHTTPSBasic)
			b = appendElem(b, "wsmid:SecurityProfileName", secProfileHTTPSDig)
		} else {
			b = appendElem(b, "wsmid:SecurityProfileName", secProfileHTTPBasic)
			b = appendElem(b, "wsmid:SecurityProfileName", secProfileHTTPDigest)
		}
		b = append(b, "</wsmid:SecurityProfiles>"...)
	}
	b = append(b, "</wsmid:IdentifyResponse>"...)
	action := ""
	if req.action != "" {
		action = actionIdentify + "Response"
	}
	return &reply{action: action, body: [][]byte{b}}
}

// target is the instance (or, for static methods, the class) a transfer
// or invoke request addresses.
type target struct {
	ns   string
	path *cim.ObjectPath
	keys []cim.KeyBinding
}

// resolveTarget reads the selectors of a request addressing one instance.
// Without key selectors the instance is the singleton of a keyless class;
// for a keyed class that is InsufficientSelectors, except for methods,
// where it names the class (a static method).
func (h *Handler) resolveTarget(ctx context.Context, req *request, res resource, classLevelOK bool) (target, error) {
	if res.kind != resourceClass {
		return target{}, destinationFault(detailInvalidResourceURI, "the resource URI %q does not name a class", res.uri)
	}
	sels, f := parseSelectorSet(req.selectorSet)
	if f != nil {
		return target{}, f
	}
	selNS, keySels := namespaceOf(sels)
	t := target{ns: h.namespace(res, selNS)}
	keys, f := keyBindings(keySels, 0)
	if f != nil {
		return target{}, f
	}
	t.keys = keys
	if len(keys) > 0 {
		t.path = cim.NewInstancePath("", res.class, keys...)
		return t, nil
	}
	cls, err := h.resourceClass(ctx, t.ns, res.class)
	if err != nil {
		return target{}, err
	}
	switch {
	case len(cls.KeyNames()) == 0:
		t.path = cim.NewInstancePath("", cls.Name)
	case classLevelOK:
		t.path = cim.NewClassPath("", cls.Name)
	default:
		return target{}, selectorFault(detailInsufficientSelectors, "the class %s has keys %s: give them as selectors",
			cls.Name, strings.Join(cls.KeyNames(), ", "))
	}
	return t, nil
}

// selectorError explains a core error about an addressed instance: when
// the selectors do not fit the class's keys the client gets
// InvalidSelectors with the precise detail (DSP0226 clause 14.6.15), else
// the error itself.
func (h *Handler) selectorError(ctx context.Context, t target, class string, err error) error {
	st := cim.StatusOf(err)
	if (st != cim.ErrInvalidParameter && st != cim.ErrNotFound) || len(t.keys) == 0 {
		return err
	}
	cls, cerr := h.cfg.Ops.GetClass(ctx, t.ns, class, cim.ClassFilter{IncludeQualifiers: true})
	if cerr != nil {
		return err
	}
	keyNames := cls.KeyNames()
	for _, k := range t.keys {
		p := cls.Property(k.Name)
		if p == nil || !p.IsKey() {
			return selectorFault(detailUnexpectedSelectors, "%s is not a key of %s (keys: %s)", k.Name, cls.Name, strings.Join(keyNames, ", "))
		}
	}
	for _, name := range keyNames {
		if _, ok := t.path.Key(name); !ok {
			return selectorFault(detailInsufficientSelectors, "the key %s of %s is missing", name, cls.Name)
		}
	}
	if _, nerr := cls.NormalizePath(t.path); nerr != nil {
		return selectorFault(detailTypeMismatch, "%v", cim.AsError(nerr).Description)
	}
	return err
}

// fragmentProperty reads a wsman:FragmentTransfer expression naming one
// property: "Name", "p:Name", "/p:Name" or ".../Name/text()".
func fragmentProperty(expr string) (name string, textOnly bool, f *Fault) {
	s := strings.TrimSpace(expr)
	if strings.HasSuffix(s, "/text()") {
		textOnly, s = true, strings.TrimSuffix(s, "/text()")
	}
	s = strings.TrimPrefix(s, "/")
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	if !cim.ValidName(s) {
		return "", false, senderFault(subInvalidRepresentation, detailInvalidFragment,
			"the fragment %q is not supported: name one property (XPath Name or Name/text())", expr)
	}
	return s, textOnly, nil
}

func (h *Handler) renderOptions(req *request, res resource) renderOptions {
	return renderOptions{uris: res.uris, excludeNil: req.excludeNil()}
}

// get is WS-Transfer Get: an instance, one of its properties
// (FragmentTransfer), or a class's XML schema.
func (h *Handler) get(ctx context.Context, req *request, res resource) (*reply, error) {
	if res.kind == resourceSchema {
		return h.getSchema(ctx, req, res)
	}
	t, err := h.resolveTarget(ctx, req, res, false)
	if err != nil {
		return nil, err
	}
	var o wbem.InstanceOptions
	var prop string
	var textOnly bool
	if req.hasFragment {
		var f *Fault
		if prop, textOnly, f = fragmentProperty(req.fragment); f != nil {
			return nil, f
		}
		o.PropertyList = []string{prop}
	}
	inst, err := h.cfg.Ops.GetInstance(ctx, t.ns, t.path, o)
	if err != nil {
		return nil, h.selectorError(ctx, t, res.class, err)
	}
	ro := h.renderOptions(req, res)
	buf := h.getBuf(4 << 10)
	if req.hasFragment {
		b, err := appendFragment(*buf, inst, prop, textOnly, &ro)
		if err != nil {
			h.putBuf(buf)
			return nil, err
		}
		*buf = b
	} else {
		*buf = appendInstance(*buf, inst, "p", false, &ro)
	}
	return &reply{action: actionGet + "Response", body: [][]byte{*buf}, recycle: []*[]byte{buf}}, nil
}

// appendFragment renders one property inside wsman:XmlFragment (DSP0226
// clause 7.7), unqualified as openwsman and wsl write it.
func appendFragment(b []byte, inst *cim.Instance, prop string, textOnly bool, ro *renderOptions) ([]byte, error) {
	p := inst.Property(prop)
	if p == nil {
		return nil, senderFault(subInvalidRepresentation, detailInvalidFragment, "the class %s has no property %s", inst.ClassName, prop)
	}
	b = append(b, "<wsman:XmlFragment>"...)
	if textOnly && !p.Value.IsArray() && !p.Value.IsNull() && p.Value.Type() != cim.TypeReference && p.Value.Type() != cim.TypeDatetime {
		b = appendValueText(b, p.Value)
	} else {
		nro := *ro
		nro.excludeNil = false
		b = appendPropertyValue(b, "", p.Name, p.Value, &nro)
	}
	return append(b, "</wsman:XmlFragment>"...), nil
}

// instanceClass returns the resolved class of the instance a request
// addresses, for typing the values the client sends.
func (h *Handler) instanceClass(ctx context.Context, t target, class string) (*cim.Class, error) {
	return h.cfg.Ops.GetClass(ctx, t.ns, class, cim.ClassFilter{IncludeQualifiers: true})
}

// put is WS-Transfer Put: a whole instance, or one property with
// FragmentTransfer. The answer is the instance (or fragment) as stored.
func (h *Handler) put(ctx context.Context, req *request, res resource) (*reply, error) {
	t, err := h.resolveTarget(ctx, req, res, false)
	if err != nil {
		return nil, err
	}
	if req.body == nil {
		return nil, senderFault(subInvalidRepresentation, detailMissingValues, "the Put body is empty")
	}
	ro := h.renderOptions(req, res)
	if req.hasFragment {
		return h.putFragment(ctx, req, res, t, &ro)
	}
	className := req.body.Local
	cls, err := h.instanceClass(ctx, t, className)
	if err != nil {
		if cim.StatusOf(err) != cim.ErrInvalidClass && cim.StatusOf(err) != cim.ErrNotFound {
			return nil, err
		}
		return nil, senderFault(subInvalidRepresentation, detailInvalidValue, "the Put body is a %s element, which names no class", className)
	}
	inst, names, f := decodeInstance(req.body, cls)
	if f != nil {
		return nil, f
	}
	inst.Path = t.path
	if err := h.cfg.Ops.ModifyInstance(ctx, t.ns, inst, false, names); err != nil {
		return nil, h.selectorError(ctx, t, res.class, err)
	}
	got, err := h.cfg.Ops.GetInstance(ctx, t.ns, t.path, wbem.InstanceOptions{})
	if err != nil {
		return nil, err
	}
	return &reply{action: actionPut + "Response", header: requestedEPR(req, got), body: [][]byte{appendInstance(nil, got, "p", false, &ro)}}, nil
}

// requestedEPR answers wsman:RequestEPR with the resource's EPR in the
// header of a Put answer (DSP0226 R6.5-1).
func requestedEPR(req *request, inst *cim.Instance) []byte {
	if !req.requestEPR || inst.Path == nil {
		return nil
	}
	b := []byte("<wsman:RequestedEPR>")
	b = appendEPR(b, inst.Path, resourceURIs{})
	return append(b, "</wsman:RequestedEPR>"...)
}

func (h *Handler) putFragment(ctx context.Context, req *request, res resource, t target, ro *renderOptions) (*reply, error) {
	prop, textOnly, f := fragmentProperty(req.fragment)
	if f != nil {
		return nil, f
	}
	frag := req.body
	if !frag.Is(nsWSMAN, "XmlFragment") {
		return nil, senderFault(subInvalidRepresentation, detailInvalidFragment, "a fragment Put body must be wsman:XmlFragment")
	}
	current, err := h.cfg.Ops.GetInstance(ctx, t.ns, t.path, wbem.InstanceOptions{PropertyList: []string{}})
	if err != nil {
		return nil, h.selectorError(ctx, t, res.class, err)
	}
	cls, err := h.instanceClass(ctx, t, current.ClassName)
	if err != nil {
		return nil, err
	}
	p := cls.Property(prop)
	if p == nil {
		return nil, senderFault(subInvalidRepresentation, detailInvalidFragment, "the class %s has no property %s", cls.Name, prop)
	}
	var elems []*element
	if textOnly || len(frag.Children) == 0 {
		elems = []*element{frag}
	} else {
		for _, c := range frag.Children {
			if !cim.EqualNames(c.Local, prop) {
				return nil, senderFault(subInvalidRepresentation, detailInvalidFragment, "the fragment holds %s, not the property %s", c.Local, prop)
			}
			elems = append(elems, c)
		}
	}
	v, err := decodeValue(elems, p.Type, p.IsArray)
	if err != nil {
		if f, ok := err.(*Fault); ok {
			return nil, f
		}
		return nil, senderFault(subInvalidRepresentation, detailInvalidValue, "property %s: %v", p.Name, err)
	}
	mod := cim.NewInstance(cls.Name)
	mod.Set(p.Name, v)
	mod.Path = t.path
	if err := h.cfg.Ops.ModifyInstance(ctx, t.ns, mod, false, []string{p.Name}); err != nil {
		return nil, err
	}
	got, err := h.cfg.Ops.GetInstance(ctx, t.ns, t.path, wbem.InstanceOptions{PropertyList: []string{p.Name}})
	if err != nil {
		return nil, err
	}
	b, err := appendFragment(nil, got, p.Name, textOnly, ro)
	if err != nil {
		return nil, err
	}
	if got.Path == nil {
		got.Path = t.path
	}
	return &reply{action: actionPut + "Response", header: requestedEPR(req, got), body: [][]byte{b}}, nil
}

// create is WS-Transfer Create: the body is the new instance in its class
// namespace; the answer its EPR (wxf:ResourceCreated).
func (h *Handler) create(ctx context.Context, req *request, res resource) (*reply, error) {
	if res.kind != resourceClass {
		return nil, destinationFault(detailInvalidResourceURI, "the resource URI %q does not name a class", res.uri)
	}
	sels, f := parseSelectorSet(req.selectorSet)
	if f != nil {
		return nil, f
	}
	selNS, keySels := namespaceOf(sels)
	if len(keySels) > 0 {
		return nil, selectorFault(detailUnexpectedSelectors, "Create takes no key selectors: the keys are in the body")
	}
	ns := h.namespace(res, selNS)
	if req.body == nil {
		return nil, senderFault(subInvalidRepresentation, detailMissingValues, "the Create body is empty")
	}
	if !cim.EqualNames(req.body.Local, res.class) {
		return nil, senderFault(subInvalidRepresentation, detailInvalidValue, "the body is a %s element, not %s", req.body.Local, res.class)
	}
	cls, err := h.resourceClass(ctx, ns, res.class)
	if err != nil {
		return nil, err
	}
	inst, _, f := decodeInstance(req.body, cls)
	if f != nil {
		return nil, f
	}
	path, err := h.cfg.Ops.CreateInstance(ctx, ns, inst)
	if err != nil {
		return nil, err
	}
	if path.Namespace == "" {
		path = path.WithNamespace("", ns)
	}
	b := []byte("<wxf:ResourceCreated>")
	b = appendEPRBody(b, path, res.uris)
	b = append(b, "</wxf:ResourceCreated>"...)
	return &reply{action: actionCreate + "Response", body: [][]byte{b}}, nil
}

// delete is WS-Transfer Delete.
func (h *Handler) delete(ctx context.Context, req *request, res resource) (*reply, error) {
	t, err := h.resolveTarget(ctx, req, res, false)
	if err != nil {
		return nil, err
	}
	if err := h.cfg.Ops.DeleteInstance(ctx, t.ns, t.path); err != nil {
		return nil, h.selectorError(ctx, t, res.class, err)
	}
	return &reply{action: actionDelete + "Response"}, nil
}
