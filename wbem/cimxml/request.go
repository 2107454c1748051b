package cimxml

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// request is a decoded CIM-XML operation request: the envelope has been
// validated and checked against the HTTP headers; the parameters are still
// elements, typed by the operation that reads them.
type request struct {
	messageID       string
	protocolVersion string
	// dtdMinor is the minor DTDVERSION the client declared (2.x), which
	// decides the newer DSP0201 constructs it may receive.
	dtdMinor  int
	intrinsic bool
	method    string
	// ns is the target namespace: LOCALNAMESPACEPATH of an IMETHODCALL or
	// the namespace of a METHODCALL's object.
	ns string
	// target is the LOCALINSTANCEPATH or LOCALCLASSPATH of a METHODCALL.
	target *xmlcodec.Node
	params []*xmlcodec.Node
}

// decodeRequest parses and validates a request body (DSP0201 message
// envelope) with ps and cross-checks it with the CIM headers (DSP0200
// clause 7.3: header-mismatch). The request's elements belong to ps.
func decodeRequest(ps *xmlcodec.Parser, body []byte, h *requestHeaders) (request, *protocolError) {
	req, perr := decodeEnvelope(ps, body)
	if perr != nil {
		return request{}, perr
	}
	if perr := req.checkHeaders(h); perr != nil {
		return request{}, perr
	}
	return req, nil
}

// decodeEnvelope parses a request body and validates its message
// envelope.
func decodeEnvelope(ps *xmlcodec.Parser, body []byte) (request, *protocolError) {
	root, err := ps.Parse(body)
	if err != nil {
		if errors.Is(err, xmlcodec.ErrNotWellFormed) {
			return request{}, protoErrorf(http.StatusBadRequest, cimErrRequestNotWellFormed, "%v", err)
		}
		return request{}, notValid("%v", err)
	}
	if root.Name != "CIM" {
		return request{}, notValid("the root element is <%s>, not <CIM>", root.Name)
	}
	cimVersion, ok := root.Attr("CIMVERSION")
	if !ok {
		return request{}, notValid("CIM lacks its CIMVERSION attribute")
	}
	if !majorVersionIs(cimVersion, 2) {
		return request{}, protoErrorf(http.StatusNotImplemented, cimErrUnsupportedCIMVersion, "CIMVERSION %q is not supported (2.x is)", cimVersion)
	}
	dtdVersion, ok := root.Attr("DTDVERSION")
	if !ok {
		return request{}, notValid("CIM lacks its DTDVERSION attribute")
	}
	if !majorVersionIs(dtdVersion, 2) {
		return request{}, protoErrorf(http.StatusNotImplemented, cimErrUnsupportedDTDVersion, "DTDVERSION %q is not supported (2.x is)", dtdVersion)
	}
	req := request{dtdMinor: minorVersion(dtdVersion)}
	if len(root.Children) != 1 || root.Children[0].Name != "MESSAGE" {
		return request{}, notValid("CIM must contain exactly one MESSAGE (declarations are not operation requests)")
	}
	msg := root.Children[0]
	if req.messageID, ok = msg.Attr("ID"); !ok {
		return request{}, notValid("MESSAGE lacks its ID attribute")
	}
	if req.protocolVersion, ok = msg.Attr("PROTOCOLVERSION"); !ok {
		return request{}, notValid("MESSAGE lacks its PROTOCOLVERSION attribute")
	}
	if !majorVersionIs(req.protocolVersion, 1) {
		return request{}, protoErrorf(http.StatusNotImplemented, cimErrUnsupportedProtocolVersion, "PROTOCOLVERSION %q is not supported (1.x is)", req.protocolVersion)
	}
	if len(msg.Children) != 1 {
		return request{}, notValid("MESSAGE must contain exactly one request")
	}
	switch simple := msg.Children[0]; simple.Name {
	case "SIMPLEREQ":
		if err := req.decodeSimpleReq(simple); err != nil {
			return request{}, err
		}
	case "MULTIREQ":
		return request{}, protoErrorf(http.StatusNotImplemented, cimErrMultipleRequests, "multiple operation requests (MULTIREQ) are not supported")
	case "SIMPLEEXPREQ", "MULTIEXPREQ":
		return request{}, protoErrorf(http.StatusBadRequest, cimErrUnsupportedOperation, "%s is an export request for a listener; this is a CIM server", simple.Name)
	default:
		return request{}, notValid("MESSAGE cannot contain <%s> in a request", simple.Name)
	}
	return req, nil
}

func minorVersion(v string) int {
	_, m, ok := strings.Cut(strings.TrimSpace(v), ".")
	if !ok {
		return 0
	}
	m, _, _ = strings.Cut(m, ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0
	}
	return n
}

func (req *request) decodeSimpleReq(simple *xmlcodec.Node) *protocolError {
	children := simple.Children
	for len(children) > 0 && children[0].Name == "CORRELATOR" {
		children = children[1:]
	}
	if len(children) != 1 {
		return notValid("SIMPLEREQ must contain exactly one IMETHODCALL or METHODCALL")
	}
	call := children[0]
	name, ok := call.Attr("NAME")
	if !ok || strings.TrimSpace(name) == "" {
		return notValid("%s lacks its NAME attribute", call.Name)
	}
	req.method = strings.TrimSpace(name)
	if len(call.Children) == 0 {
		return notValid("%s must start with the path of its target", call.Name)
	}
	paramElem := ""
	switch call.Name {
	case "IMETHODCALL":
		req.intrinsic = true
		ns, err := xmlcodec.DecodeLocalNamespace(call.Children[0])
		if err != nil {
			return asProtocolError(err)
		}
		req.ns = ns
		paramElem = "IPARAMVALUE"
	case "METHODCALL":
		target := call.Children[0]
		if target.Name != "LOCALINSTANCEPATH" && target.Name != "LOCALCLASSPATH" {
			return notValid("METHODCALL must start with LOCALINSTANCEPATH or LOCALCLASSPATH, not <%s>", target.Name)
		}
		if len(target.Children) != 2 {
			return notValid("%s must contain LOCALNAMESPACEPATH and a name", target.Name)
		}
		ns, err := xmlcodec.DecodeLocalNamespace(target.Children[0])
		if err != nil {
			return asProtocolError(err)
		}
		req.ns, req.target = ns, target
		paramElem = "PARAMVALUE"
	default:
		return notValid("SIMPLEREQ cannot contain <%s>", call.Name)
	}
	for _, p := range call.Children[1:] {
		if p.Name != paramElem {
			return notValid("%s cannot contain <%s>", call.Name, p.Name)
		}
		if _, ok := p.Attr("NAME"); !ok {
			return notValid("%s lacks its NAME attribute", paramElem)
		}
		if len(p.Children) > 1 {
			return notValid("%s %s holds more than one value", paramElem, mustAttr(p, "NAME"))
		}
		if p.HasText() {
			return notValid("%s %s holds text outside a VALUE element", paramElem, mustAttr(p, "NAME"))
		}
		if len(p.Children) == 1 && !paramValueElement(paramElem, p.Children[0].Name) {
			return notValid("%s %s cannot hold <%s>", paramElem, mustAttr(p, "NAME"), p.Children[0].Name)
		}
	}
	// Every element after the target is a parameter (checked above).
	req.params = call.Children[1:]
	return nil
}

// paramValueElement reports whether DSP0203 allows elem as the value of
// an IPARAMVALUE or PARAMVALUE. Which of them an operation accepts for
// which parameter is checked when the parameter is read
// (CIM_ERR_INVALID_PARAMETER).
func paramValueElement(param, elem string) bool {
	switch elem {
	case "VALUE", "VALUE.ARRAY", "VALUE.REFERENCE", "CLASSNAME", "INSTANCENAME", "CLASS", "INSTANCE", "VALUE.NAMEDINSTANCE":
		return true
	case "QUALIFIER.DECLARATION":
		return param == "IPARAMVALUE"
	case "VALUE.REFARRAY":
		return param == "PARAMVALUE"
	}
	return false
}

func mustAttr(n *xmlcodec.Node, name string) string {
	v, _ := n.Attr(name)
	return v
}

// asProtocolError maps a decoding error of the envelope to the protocol
// error it is; a bad name there makes the whole request invalid.
func asProtocolError(err error) *protocolError {
	if pe, ok := protocolErrorOf(err); ok {
		return pe
	}
	return notValid("%v", err)
}

// checkHeaders compares CIMMethod and CIMObject with the body.
func (req *request) checkHeaders(h *requestHeaders) *protocolError {
	if !cim.EqualNames(h.method, req.method) {
		return protoErrorf(http.StatusBadRequest, cimErrHeaderMismatch, "CIMMethod %q does not match the method %q in the body", h.method, req.method)
	}
	if req.intrinsic {
		if !sameNamespace(h.object, req.ns) {
			return protoErrorf(http.StatusBadRequest, cimErrHeaderMismatch, "CIMObject %q does not match the namespace %q in the body", h.object, req.ns)
		}
		return nil
	}
	// CIMObject of an extrinsic call is "namespace:Class[.keys]". Only the
	// namespace and class are compared: clients format key values in
	// the header loosely (wbemcli leaves reference keys unquoted).
	ns, rest, ok := strings.Cut(h.object, ":")
	if !ok || !sameNamespace(ns, req.ns) {
		return protoErrorf(http.StatusBadRequest, cimErrHeaderMismatch, "CIMObject %q does not name the namespace %q of the method's target", h.object, req.ns)
	}
	class := rest
	if i := strings.IndexAny(rest, ".="); i >= 0 {
		class = rest[:i]
	}
	want := mustAttr(req.target.Children[1], "NAME")
	if req.target.Name == "LOCALINSTANCEPATH" {
		want = mustAttr(req.target.Children[1], "CLASSNAME")
	}
	if !cim.EqualNames(strings.TrimSpace(class), strings.TrimSpace(want)) {
		return protoErrorf(http.StatusBadRequest, cimErrHeaderMismatch, "CIMObject %q does not name the class %q of the method's target", h.object, want)
	}
	return nil
}

func sameNamespace(a, b string) bool {
	return cim.EqualNames(strings.Trim(strings.TrimSpace(a), "/"), strings.Trim(strings.TrimSpace(b), "/"))
}

// decoder decodes parameter elements in the context of one request; it
// asks the core for the classes it needs to type values (once each).
type decoder struct {
	xmlcodec.Decoder
	ctx     context.Context
	ops     wbem.Operations
	classes map[string]*cim.Class
}

func newDecoder(ctx context.Context, ops wbem.Operations, ns string) *decoder {
	d := new(decoder)
	d.init(ctx, ops, ns)
	return d
}

// init readies a zero decoder (one that is part of a larger allocation).
func (d *decoder) init(ctx context.Context, ops wbem.Operations, ns string) {
	d.ctx, d.ops = ctx, ops
	d.NS = ns
	d.Class = d.class
}

// class returns a class with its qualifiers and inherited elements, as the
// core declares it.
func (d *decoder) class(ns, name string) (*cim.Class, error) {
	if d.ops == nil {
		return nil, cim.NewError(cim.ErrNotSupported, "no class information available")
	}
	if ns == "" {
		ns = d.NS
	}
	key := cim.FoldName(ns) + ":" + cim.FoldName(name)
	if c, ok := d.classes[key]; ok {
		return c, nil
	}
	c, err := d.ops.GetClass(d.ctx, ns, name, cim.ClassFilter{IncludeQualifiers: true})
	if err != nil {
		return nil, err
	}
	if d.classes == nil {
		d.classes = make(map[string]*cim.Class)
	}
	d.classes[key] = c
	return c, nil
}
