package wsman

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// resourceURIs turns class names into resource URIs (and instance element
// namespaces) in the style the client addressed the server with: DSP0227
// URIs, or WinRM's wmi/<namespace>/<class> form.
type resourceURIs struct {
	// wmiNamespace is set when the client used a WinRM-style URI.
	wmiNamespace string
}

// classURI is the resource URI of a class: hypercim's vendor prefix for
// HC_ classes, the DMTF prefix for the others (DSP0227 clause 5.1).
func (u resourceURIs) classURI(class string) string {
	return string(u.appendClassURI(nil, class))
}

// appendClassURI appends the resource URI of a class, escaped for XML
// (enumerations write one per instance, without building a string).
func (u resourceURIs) appendClassURI(dst []byte, class string) []byte {
	switch {
	case u.wmiNamespace != "":
		dst = append(dst, WMIPrefix...)
		dst = appendEscaped(dst, u.wmiNamespace)
		dst = append(dst, '/')
	case len(class) > 3 && strings.EqualFold(class[:3], "HC_"):
		dst = append(dst, VendorClassPrefix...)
	default:
		dst = append(dst, DMTFClassPrefix...)
	}
	return appendEscaped(dst, class)
}

type resourceKind int

const (
	resourceClass     resourceKind = iota // one class
	resourceAll                           // every class of a namespace (.../wscim/1/*)
	resourceIntrinsic                     // openwsman intrinsic class operations
	resourceSchema                        // a class's XML schema (<class URI>.xsd)
)

// resource is a parsed wsman:ResourceURI.
type resource struct {
	uri   string
	kind  resourceKind
	class string // resourceClass, resourceSchema, resourceIntrinsic (may be "")
	// namespace is the CIM namespace named by the URI itself (WinRM
	// style), "" when it comes from the __cimnamespace selector.
	namespace string
	uris      resourceURIs
}

// parseResourceURI maps a resource URI to what it addresses; unknown
// forms are wsa:DestinationUnreachable with InvalidResourceURI detail
// (DSP0226 R5.1.2.1-1).
func parseResourceURI(uri string) (resource, *Fault) {
	r := resource{uri: uri}
	bad := func() (resource, *Fault) {
		return r, destinationFault(detailInvalidResourceURI, "the resource URI %q does not address a resource of this service", uri)
	}
	u := strings.TrimSpace(uri)
	if i := strings.IndexByte(u, '?'); i >= 0 {
		// openwsman accepts selectors appended to the URI; its CLI turns
		// them into a SelectorSet before sending, so only the URI counts.
		u = u[:i]
	}
	switch {
	case u == AllClassesURI:
		r.kind = resourceAll
		return r, nil
	case u == IntrinsicURI:
		r.kind = resourceIntrinsic
		return r, nil
	case strings.HasPrefix(u, IntrinsicURI+"/"):
		r.kind, r.class = resourceIntrinsic, u[len(IntrinsicURI)+1:]
		if !cim.ValidName(r.class) {
			return bad()
		}
		return r, nil
	case strings.HasPrefix(u, WMIPrefix):
		rest := u[len(WMIPrefix):]
		i := strings.LastIndexByte(rest, '/')
		if i <= 0 {
			return bad()
		}
		r.namespace, r.class = rest[:i], rest[i+1:]
		r.uris.wmiNamespace = r.namespace
		if r.class == "*" {
			r.kind, r.class = resourceAll, ""
			return r, nil
		}
		if !cim.ValidName(r.class) {
			return bad()
		}
		return r, nil
	}
	for _, prefix := range []string{DMTFClassPrefix, VendorClassPrefix} {
		if !strings.HasPrefix(u, prefix) {
			continue
		}
		r.class = u[len(prefix):]
		if strings.HasSuffix(r.class, ".xsd") {
			r.kind, r.class = resourceSchema, strings.TrimSuffix(r.class, ".xsd")
		}
		if !cim.ValidName(r.class) {
			return bad()
		}
		return r, nil
	}
	return bad()
}

// selector is one wsman:Selector: a text value or a nested EPR (a
// reference-typed key, DSP0227 clause 5.3).
type selector struct {
	name  string
	value string
	epr   *element
}

// parseSelectorSet reads a wsman:SelectorSet; duplicate names are
// InvalidSelectors/DuplicateSelectors (DSP0226 R5.1.2.2-4).
func parseSelectorSet(set *element) ([]selector, *Fault) {
	if set == nil {
		return nil, nil
	}
	var out []selector
	for _, s := range set.Children {
		if s.Local != "Selector" {
			return nil, selectorFault("", "unexpected element %q in the SelectorSet", s.Local)
		}
		name, ok := s.AttrNS("", "Name")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, selectorFault(detailInsufficientSelectors, "a Selector has no Name attribute")
		}
		name = strings.TrimSpace(name)
		for _, prev := range out {
			if strings.EqualFold(prev.name, name) {
				return nil, selectorFault(detailDuplicateSelectors, "the selector %q is given twice", name)
			}
		}
		sel := selector{name: name, value: s.TrimmedText()}
		if len(s.Children) > 0 {
			sel.epr = s.Children[0]
			if sel.epr.Local != "EndpointReference" && sel.epr.Local != "Address" && sel.epr.Local != "ReferenceParameters" {
				return nil, selectorFault(detailTypeMismatch, "the selector %q holds an unexpected %q element", name, sel.epr.Local)
			}
			if sel.epr.Local != "EndpointReference" {
				// The EPR's parts directly inside the selector.
				sel.epr = s
			}
		}
		out = append(out, sel)
	}
	return out, nil
}

// namespaceOf returns the __cimnamespace selector's value and the other
// selectors.
func namespaceOf(sels []selector) (ns string, keys []selector) {
	for _, s := range sels {
		if strings.EqualFold(s.name, cimNamespaceSelector) {
			ns = strings.Trim(s.value, "/")
			continue
		}
		keys = append(keys, s)
	}
	return ns, keys
}

// keyBindings turns selectors into keybindings: text values as strings
// (the core types them as the class declares, as it does for untyped
// CIM-XML keys), EPR values as references.
func keyBindings(sels []selector, depth int) ([]cim.KeyBinding, *Fault) {
	keys := make([]cim.KeyBinding, 0, len(sels))
	for _, s := range sels {
		if s.epr != nil {
			p, f := parseEPR(s.epr, depth+1)
			if f != nil {
				return nil, f
			}
			keys = append(keys, cim.KeyBinding{Name: s.name, Value: cim.NewReference(p)})
			continue
		}
		keys = append(keys, cim.KeyBinding{Name: s.name, Value: cim.NewString(s.value)})
	}
	return keys, nil
}

// maxEPRDepth bounds references nested in selectors.
const maxEPRDepth = 8

// parseEPR reads an endpoint reference (the EndpointReference element, or
// any element holding wsa:Address and wsa:ReferenceParameters, in either
// WS-Addressing namespace) into an object path. The namespace comes from
// its __cimnamespace selector, if any.
func parseEPR(e *element, depth int) (*cim.ObjectPath, *Fault) {
	if depth > maxEPRDepth {
		return nil, selectorFault(detailInvalidValue, "endpoint references are nested too deeply")
	}
	var params *element
	for _, c := range e.Children {
		if c.Local == "ReferenceParameters" && (c.Space == nsWSA || c.Space == nsWSA10) {
			params = c
		}
	}
	if params == nil {
		return nil, selectorFault(detailInvalidValue, "the endpoint reference has no ReferenceParameters")
	}
	var uri string
	var set *element
	for _, c := range params.Children {
		switch {
		case c.Is(nsWSMAN, "ResourceURI"):
			uri = c.TrimmedText()
		case c.Is(nsWSMAN, "SelectorSet"):
			set = c
		}
	}
	res, f := parseResourceURI(uri)
	if f != nil {
		return nil, f
	}
	if res.kind != resourceClass {
		return nil, destinationFault(detailInvalidResourceURI, "the endpoint reference's resource URI %q does not name a class", uri)
	}
	sels, f := parseSelectorSet(set)
	if f != nil {
		return nil, f
	}
	ns, keySels := namespaceOf(sels)
	if res.namespace != "" {
		ns = res.namespace
	}
	keys, f := keyBindings(keySels, depth)
	if f != nil {
		return nil, f
	}
	return cim.NewInstancePath(ns, res.class, keys...), nil
}
