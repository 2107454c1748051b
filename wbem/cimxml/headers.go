package cimxml

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// cimMapping is the extension URI of DSP0200's HTTP mapping, named by the
// Man header of an M-POST request and the Opt header of an OPTIONS
// response.
const cimMapping = "http://www.dmtf.org/cim/mapping/http/v1.0"

// requestHeaders are the CIM headers of an operation request, read with
// the M-POST prefix already applied.
type requestHeaders struct {
	// prefix is "NN-" for M-POST (RFC 2774 header namespace), else "".
	prefix          string
	operation       string
	method          string
	object          string // percent-decoded CIMObject
	objectPresent   bool
	protocolVersion string
	trailers        bool
}

// readHeaders validates the HTTP headers of a CIM operation request
// (DSP0200 clause 7): the M-POST extension declaration, Content-Type,
// Accept and the CIM headers. It returns the CIM headers for the checks
// against the body.
func readHeaders(r *http.Request) (requestHeaders, *protocolError) {
	var h requestHeaders
	if r.Method == "M-POST" {
		ns, ok := manNamespace(r.Header.Values("Man"))
		if !ok {
			return h, protoErrorf(http.StatusNotExtended, "", "an M-POST request must declare %s in its Man header", cimMapping)
		}
		h.prefix = ns + "-"
	}
	// The server stores header names canonicalized (CIMOperation as
	// Cimoperation, 73-CIMOperation as 73-Cimoperation): looking them up
	// in that form saves canonicalizing each name on every request.
	get := func(canonical string) (string, bool) {
		vs := r.Header[h.prefix+canonical]
		if len(vs) == 0 {
			return "", false
		}
		return strings.TrimSpace(vs[0]), true
	}

	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return h, err
	}
	if err := checkAccept(r.Header); err != nil {
		return h, err
	}
	if _, batch := get("Cimbatch"); batch {
		return h, protoErrorf(http.StatusNotImplemented, cimErrMultipleRequests, "batched (multiple) operation requests are not supported")
	}
	if v, ok := get("Cimprotocolversion"); ok {
		if !majorVersionIs(v, 1) {
			return h, protoErrorf(http.StatusNotImplemented, cimErrUnsupportedProtocolVersion, "CIMProtocolVersion %q is not supported (1.x is)", v)
		}
		h.protocolVersion = v
	}
	op, ok := get("Cimoperation")
	if !ok {
		if _, export := get("Cimexport"); export {
			return h, protoErrorf(http.StatusBadRequest, cimErrUnsupportedOperation, "this is a CIM server, not an export listener: CIMExport requests are not accepted")
		}
		return h, protoErrorf(http.StatusBadRequest, cimErrUnsupportedOperation, "the CIMOperation header is missing")
	}
	if !strings.EqualFold(op, "MethodCall") {
		return h, protoErrorf(http.StatusBadRequest, cimErrUnsupportedOperation, "CIMOperation %q is not supported (MethodCall is)", op)
	}
	h.operation = op
	if h.method, ok = get("Cimmethod"); !ok || h.method == "" {
		return h, protoErrorf(http.StatusBadRequest, cimErrHeaderMismatch, "the CIMMethod header is missing")
	}
	if raw, ok := get("Cimobject"); ok {
		obj := raw
		if strings.IndexByte(raw, '%') >= 0 {
			var err error
			if obj, err = url.PathUnescape(raw); err != nil {
				return h, protoErrorf(http.StatusBadRequest, cimErrHeaderMismatch, "the CIMObject header %q is not validly percent-encoded", raw)
			}
		}
		h.object, h.objectPresent = obj, true
	}
	if !h.objectPresent {
		return h, protoErrorf(http.StatusBadRequest, cimErrHeaderMismatch, "the CIMObject header is missing")
	}
	h.trailers = acceptsTrailers(r.Header)
	return h, nil
}

// manNamespace finds the header namespace of the CIM mapping in Man
// headers such as `http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73`.
func manNamespace(values []string) (string, bool) {
	for _, v := range values {
		for _, ext := range strings.Split(v, ",") {
			parts := strings.Split(ext, ";")
			uri := strings.Trim(strings.TrimSpace(parts[0]), `"`)
			if uri != cimMapping {
				continue
			}
			for _, p := range parts[1:] {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "ns") {
					continue
				}
				val = strings.TrimSpace(val)
				if _, err := strconv.Atoi(val); err == nil && len(val) <= 4 {
					return val, true
				}
			}
		}
	}
	return "", false
}

// checkContentType accepts application/xml and text/xml with a UTF-8
// charset or none; DSP0200 requires UTF-8 bodies.
func checkContentType(ct string) *protocolError {
	switch ct {
	case "":
		return protoErrorf(http.StatusBadRequest, cimErrRequestNotValid, "the Content-Type header is missing (want application/xml; charset=\"utf-8\")")
	case `application/xml; charset="utf-8"`, `application/xml; charset=utf-8`, "application/xml",
		`text/xml; charset="utf-8"`, `text/xml; charset=utf-8`, "text/xml":
		return nil // what clients send, without parsing
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return protoErrorf(http.StatusBadRequest, cimErrRequestNotValid, "the Content-Type header %q cannot be parsed", ct)
	}
	if mt != "application/xml" && mt != "text/xml" {
		return protoErrorf(http.StatusBadRequest, cimErrRequestNotValid, "Content-Type %q is not supported (want application/xml or text/xml)", mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return protoErrorf(http.StatusBadRequest, cimErrRequestNotValid, "charset %q is not supported (want utf-8)", cs)
	}
	return nil
}

// checkAccept answers 406 when the client's Accept or Accept-Charset
// headers exclude a UTF-8 XML response.
func checkAccept(h http.Header) *protocolError {
	if vs := h.Values("Accept"); len(vs) > 0 {
		if !acceptsAny(strings.Join(vs, ","), []string{"application/xml", "text/xml", "application/*", "text/*", "*/*"}) {
			return protoErrorf(http.StatusNotAcceptable, "", "the response is application/xml or text/xml, which Accept %q excludes", strings.Join(vs, ", "))
		}
	}
	if vs := h.Values("Accept-Charset"); len(vs) > 0 {
		if !acceptsAny(strings.Join(vs, ","), []string{"utf-8", "*"}) {
			return protoErrorf(http.StatusNotAcceptable, "", "the response is UTF-8, which Accept-Charset %q excludes", strings.Join(vs, ", "))
		}
	}
	return nil
}

// acceptsAny reports whether an Accept-style list names one of want with
// a non-zero quality. An empty list accepts everything.
func acceptsAny(list string, want []string) bool {
	if strings.TrimSpace(list) == "" {
		return true
	}
	for _, item := range strings.Split(list, ",") {
		parts := strings.Split(item, ";")
		name := strings.ToLower(strings.TrimSpace(parts[0]))
		if name == "" {
			continue
		}
		q := 1.0
		for _, p := range parts[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q <= 0 {
			continue
		}
		for _, w := range want {
			if name == w {
				return true
			}
		}
	}
	return false
}

// acceptsTrailers reports whether the client sent TE: trailers.
func acceptsTrailers(h http.Header) bool {
	for _, v := range h["Te"] { // TE, canonicalized
		for _, item := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(item, ";")
			if strings.EqualFold(strings.TrimSpace(name), "trailers") {
				return true
			}
		}
	}
	return false
}

// majorVersionIs reports whether a version string "M.m" (or "M") has
// major version major; DSP8044 asks to check only the major version.
func majorVersionIs(v string, major int) bool {
	m, _, _ := strings.Cut(strings.TrimSpace(v), ".")
	n, err := strconv.Atoi(m)
	return err == nil && n == major
}
