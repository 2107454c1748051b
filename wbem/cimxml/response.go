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
	w http.ResponseWriter
	h *Handler
	// buf is the pooled buffer enc writes into, given back by release.
	buf *[]byte
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
	h["Content-Type"] = rw.h.xmlContentType
	h[rw.prefix+"Cimoperation"] = rw.h.methodResponse // CIMOperation, canonicalized
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
// streaming operations call it after each result. A response outgrowing
// half the small buffer it started in moves to a streaming buffer, which
// it then fills and sends over and over.
func (rw *responseWriter) maybeFlush() error {
	if len(rw.enc.B) < flushThreshold {
		if len(rw.enc.B) > smallBuffer/2 && cap(rw.enc.B) < flushThreshold {
			stream := rw.h.streams.Get().(*[]byte)
			*stream = append((*stream)[:0], rw.enc.B...)
			rw.release()
			rw.buf, rw.enc.B = stream, *stream
		}
		return nil
	}
	if !rw.committed {
		rw.commit(true)
	}
	return rw.write()
}

// write sends the buffered output.
func (rw *responseWriter) write() error {
	_, err := rw.w.Write(rw.enc.B)
	rw.enc.B = rw.enc.B[:0]
	if err != nil {
		return &errClientGone{err}
	}
	return nil
}

// commit writes the status line and the headers: those of a chunked
// response, or with a Content-Length when the response is complete in
// the buffer.
func (rw *responseWriter) commit(chunked bool) {
	rw.setHeaders()
	h := rw.w.Header()
	if !chunked {
		h.Set("Content-Length", strconv.Itoa(len(rw.enc.B)))
	} else if rw.trailers {
		h.Set("Trailer", rw.prefix+"CIMStatusCode, "+rw.prefix+"CIMStatusCodeDescription, "+rw.prefix+"CIMError")
	}
	rw.w.WriteHeader(http.StatusOK)
	rw.committed = true
}

// release gives the buffer back to its pool.
func (rw *responseWriter) release() {
	if rw.buf != nil {
		*rw.buf = rw.enc.B
		rw.h.putBuffer(rw.buf)
		rw.buf, rw.enc.B = nil, nil
	}
}

// finish closes the message and sends what is left.
func (rw *responseWriter) finish() error {
	endMessage(&rw.enc, rw.elem)
	chunked := rw.committed
	if !chunked {
		rw.commit(false)
	}
	if err := rw.write(); err != nil {
		return err
	}
	if chunked && rw.trailers {
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
	// Results produced before the failure still go out: each is a whole
	// element, and the trailers say the list is incomplete.
	if err := rw.write(); err != nil {
		return
	}
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
