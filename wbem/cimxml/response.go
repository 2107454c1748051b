package cimxml

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// flushThreshold is how much encoded output is buffered before it goes to
// the connection. A response that fits is sent with a Content-Length; a
// larger one is streamed in chunks of about this size while the core keeps
// producing results. Writes this large cost few system calls and chunk
// headers (a quarter of what 64 KiB did, for a few percent less CPU per
// streamed instance).
const flushThreshold = 256 << 10

// errClientGone wraps a failed write to the client: the operation stops
// and nothing more can be sent.
type errClientGone struct{ err error }

func (e *errClientGone) Error() string { return "writing the response: " + e.err.Error() }
func (e *errClientGone) Unwrap() error { return e.err }

// responseWriter sends one CIM-XML response. It buffers the encoder's
// output and commits to the HTTP status and headers only when the buffer
// fills up; until then an error replaces everything written so far with
// an ERROR response. After the commit an error goes into the
// CIMStatusCode trailers when the client accepts trailers (TE: trailers),
// and otherwise aborts the connection so that the client cannot mistake a
// truncated response for a complete one.
//
// A chunked response to a TE: trailers client declares all three trailers
// of DSP0200: CIMStatusCode (0 on success), CIMStatusCodeDescription and
// CIMError. CIMError carries one of DSP0200's values, which all describe a
// request refused as a whole (request-not-valid...); it is set when such
// a fault is found after the response began, and left out for a CIM error
// (a provider failing part way), for which DSP0200 defines no CIMError
// value: the CIMStatusCode trailer says what happened.
type responseWriter struct {
	w   http.ResponseWriter
	enc xmlcodec.Encoder
	// prefix is the M-POST header namespace ("73-"), empty for POST.
	prefix    string
	trailers  bool
	committed bool
	// elem is the response element opened by begin (IMETHODRESPONSE or
	// METHODRESPONSE); the message id and protocol version echo the
	// request's.
	elem, method, messageID, protocolVersion string
	// withErrorInstances puts CIM_Error instances into ERROR elements.
	withErrorInstances bool
}

func (rw *responseWriter) setHeaders() {
	h := rw.w.Header()
	h.Set("Content-Type", `application/xml; charset="utf-8"`)
	h.Set(rw.prefix+"CIMOperation", "MethodResponse")
	if rw.prefix != "" {
		// RFC 2774: the response to a mandatory extension names it.
		h.Set("Ext", "")
	}
}

// begin opens the response message.
func (rw *responseWriter) begin() {
	beginMessage(&rw.enc, rw.messageID, rw.protocolVersion, rw.elem, rw.method)
}

const xmlHeader = `<?xml version="1.0" encoding="utf-8" ?>` + "\n" + `<CIM CIMVERSION="2.0" DTDVERSION="2.0">`

// beginMessage starts <CIM><MESSAGE><SIMPLERSP> and the method response
// element (IMETHODRESPONSE or METHODRESPONSE).
func beginMessage(e *xmlcodec.Encoder, id, protocolVersion, responseElem, method string) {
	e.Str(xmlHeader)
	e.Str(`<MESSAGE`)
	e.Attr("ID", id)
	e.Attr("PROTOCOLVERSION", protocolVersion)
	e.Str(`><SIMPLERSP><`)
	e.Str(responseElem)
	e.Attr("NAME", method)
	e.B = append(e.B, '>')
}

// endMessage closes what beginMessage opened.
func endMessage(e *xmlcodec.Encoder, responseElem string) {
	e.Str(`</`)
	e.Str(responseElem)
	e.Str(`></SIMPLERSP></MESSAGE></CIM>` + "\n")
}

// maybeFlush sends the buffered output once there is enough of it; the
// streaming operations call it after each result.
func (rw *responseWriter) maybeFlush() error {
	if len(rw.enc.B) < flushThreshold {
		return nil
	}
	return rw.flush()
}

func (rw *responseWriter) flush() error {
	if !rw.committed {
		rw.setHeaders()
		if rw.trailers {
			rw.w.Header().Set("Trailer", rw.prefix+"CIMStatusCode, "+rw.prefix+"CIMStatusCodeDescription, "+rw.prefix+"CIMError")
		}
		rw.w.WriteHeader(http.StatusOK)
		rw.committed = true
	}
	_, err := rw.w.Write(rw.enc.B)
	rw.enc.B = rw.enc.B[:0]
	if err != nil {
		return &errClientGone{err}
	}
	return nil
}

// finish closes the message and sends what is left.
func (rw *responseWriter) finish() error {
	endMessage(&rw.enc, rw.elem)
	if !rw.committed {
		rw.setHeaders()
		rw.w.Header().Set("Content-Length", strconv.Itoa(len(rw.enc.B)))
		rw.w.WriteHeader(http.StatusOK)
		rw.committed = true
		_, err := rw.w.Write(rw.enc.B)
		rw.enc.B = rw.enc.B[:0]
		if err != nil {
			return &errClientGone{err}
		}
		return nil
	}
	if err := rw.flush(); err != nil {
		return err
	}
	if rw.trailers {
		rw.w.Header().Set(rw.prefix+"CIMStatusCode", "0")
	}
	return nil
}

// fail answers with the CIM error err: an ERROR element when nothing has
// been sent yet, trailers or an aborted connection otherwise (see
// responseWriter). A protocol error (one the handler answers with an HTTP
// status while nothing is sent) is CIM_ERR_FAILED with its CIMError
// value.
func (rw *responseWriter) fail(err error) {
	var gone *errClientGone
	if errors.As(err, &gone) {
		return
	}
	cerr, cimError := cim.AsError(err), ""
	if pe, ok := protocolErrorOf(err); ok {
		cerr, cimError = cim.NewError(cim.ErrFailed, pe.detail), pe.cimError
	}
	if !rw.committed {
		rw.enc.B = rw.enc.B[:0]
		rw.begin()
		rw.enc.Error(cerr, rw.withErrorInstances)
		_ = rw.finish()
		return
	}
	if !rw.trailers {
		// Without trailers there is no way to tell the client; closing the
		// connection before the final chunk makes it see an incomplete
		// response instead of a short one.
		panic(http.ErrAbortHandler)
	}
	rw.enc.B = rw.enc.B[:0]
	h := rw.w.Header()
	h.Set(rw.prefix+"CIMStatusCode", strconv.Itoa(int(cerr.Status)))
	h.Set(rw.prefix+"CIMStatusCodeDescription", headerEncode(xmlcodec.ErrorDescription(cerr)))
	if cimError != "" {
		h.Set(rw.prefix+"CIMError", cimError)
	}
}

// headerEncode percent-encodes a description for a header or trailer value
// (DSP0200 carries them URI-encoded, so they survive any character).
func headerEncode(s string) string { return url.PathEscape(s) }
