package cimxml

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/auth"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// DefaultMaxRequestSize bounds a request body unless Config says otherwise.
const DefaultMaxRequestSize = 16 << 20

// Path is where CIM-XML requests are posted (DSP0200).
const Path = "/cimom"

// Authenticator checks the credentials of HTTP requests. wbem/auth's Store
// implements it, so both protocol adapters authenticate the same users the
// same way, with the same rate limiting of failed logins.
type Authenticator interface {
	// Authenticate checks a user name and password sent with HTTP Basic
	// authentication from remoteAddr ("ip:port"). Every failure is an
	// error; an *auth.RateLimitError (a source address blocked after
	// repeated failures) also sets Retry-After.
	Authenticate(user, password, remoteAddr string) (wbem.Principal, error)
	// AuthenticateCertificate maps a TLS client certificate to a user;
	// verified says whether its chain was checked against the trusted
	// client CAs. An unmapped certificate is an error, and the client may
	// still authenticate with Basic.
	AuthenticateCertificate(cert *x509.Certificate, verified bool, remoteAddr string) (wbem.Principal, error)
}

// Config configures a Handler.
type Config struct {
	// Operations is the CIMOM core.
	Operations wbem.Operations
	// Auth authenticates requests; it is required unless NoAuth is set.
	Auth Authenticator
	// NoAuth serves every request as an unrestricted principal, for
	// development only.
	NoAuth bool
	// Realm is the HTTP Basic realm announced in 401 responses.
	Realm string
	// MaxRequestSize bounds request bodies (413 beyond it); zero means
	// DefaultMaxRequestSize.
	MaxRequestSize int64
	// Log receives one entry per operation (at debug level; failures at
	// info) and the protocol errors; nil discards.
	Log *logrus.Entry
}

// Handler serves CIM-XML operation requests (POST or M-POST to /cimom)
// on top of a wbem.Operations. It is safe for concurrent use.
type Handler struct {
	ops     wbem.Operations
	auth    Authenticator
	noAuth  bool
	realm   string
	maxSize int64
	log     *logrus.Entry
	// bufs recycles request bodies and responses that fit smallBuffer,
	// streams the buffers of about flushThreshold bytes a streamed
	// response reuses (small answers, most of them, do not hold on to a
	// streaming buffer); parsers recycles the memory of request trees,
	// exchanges the state of requests.
	bufs      sync.Pool
	streams   sync.Pool
	parsers   sync.Pool
	exchanges sync.Pool
	// Header values shared by every response (net/http copies the
	// header when the status is written and only reads the values).
	xmlContentType, methodResponse []string
}

// smallBuffer is the capacity of the pooled buffers of request bodies and
// unstreamed responses: a GetInstance answer of a few kilobytes fits.
const smallBuffer = 16 << 10

// exchange is the state of one request, allocated at once and recycled:
// nothing keeps a reference to it once the response is written.
type exchange struct {
	hdr requestHeaders
	req request
	rw  responseWriter
	c   call
	d   decoder
	p   params
}

// NewHandler returns a Handler for cfg.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Operations == nil {
		return nil, errors.New("cimxml: no Operations given")
	}
	if cfg.Auth == nil && !cfg.NoAuth {
		return nil, errors.New("cimxml: no Authenticator given (set NoAuth to serve without authentication)")
	}
	h := &Handler{
		ops:     cfg.Operations,
		auth:    cfg.Auth,
		noAuth:  cfg.NoAuth,
		realm:   cfg.Realm,
		maxSize: cfg.MaxRequestSize,
		log:     cfg.Log,
	}
	if h.realm == "" {
		h.realm = "hypercim"
	}
	if h.maxSize <= 0 {
		h.maxSize = DefaultMaxRequestSize
	}
	if h.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		h.log = logrus.NewEntry(l)
	}
	h.bufs.New = func() any { b := make([]byte, 0, smallBuffer); return &b }
	h.streams.New = func() any { b := make([]byte, 0, flushThreshold+flushThreshold/4); return &b }
	h.parsers.New = func() any { return new(xmlcodec.Parser) }
	h.exchanges.New = func() any { return new(exchange) }
	h.xmlContentType = []string{`application/xml; charset="utf-8"`}
	h.methodResponse = []string{"MethodResponse"}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	switch r.Method {
	case http.MethodPost, "M-POST":
	case http.MethodOptions:
		h.serveOptions(w)
		return
	default:
		w.Header().Set("Allow", "POST, M-POST, OPTIONS")
		h.protocolError(w, r, "", protoErrorf(http.StatusMethodNotAllowed, "", "CIM-XML operations are sent with POST or M-POST, not %s", r.Method))
		return
	}
	principal, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	x := h.exchanges.Get().(*exchange)
	defer h.putExchange(x)
	var perr *protocolError
	if x.hdr, perr = readHeaders(r); perr != nil {
		h.protocolError(w, r, principal.User, perr)
		return
	}
	body, perr := h.readBody(r)
	if perr != nil {
		h.protocolError(w, r, principal.User, perr)
		return
	}
	ps := h.parsers.Get().(*xmlcodec.Parser)
	defer h.putParser(ps)
	x.req, perr = decodeRequest(ps, *body, &x.hdr)
	h.putBuffer(body)
	if perr != nil {
		h.protocolError(w, r, principal.User, perr)
		return
	}
	h.serveOperation(w, r, x, principal, start)
}

// serveOptions answers OPTIONS with the CIM mapping's capabilities
// (DSP0200 clause 7.5).
func (h *Handler) serveOptions(w http.ResponseWriter) {
	const ns = "57"
	hd := w.Header()
	hd.Set("Opt", cimMapping+" ; ns="+ns)
	hd.Set(ns+"-CIMProtocolVersion", "1.0")
	hd.Set(ns+"-CIMSupportedFunctionalGroups", "basic-read, basic-write, schema-manipulation, instance-manipulation, qualifier-declaration, association-traversal, query-execution")
	hd.Set(ns+"-CIMSupportedQueryLanguages", "WQL, DMTF:CQL")
	hd.Set("Allow", "POST, M-POST, OPTIONS")
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// authenticate establishes the principal of r, answering 401 when it
// cannot. A verified TLS client certificate that maps to a user is
// enough; otherwise HTTP Basic credentials are required.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (wbem.Principal, bool) {
	if h.noAuth {
		return wbem.Principal{User: "(no-auth)", Unrestricted: true}, true
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		verified := len(r.TLS.VerifiedChains) > 0
		if p, err := h.auth.AuthenticateCertificate(r.TLS.PeerCertificates[0], verified, r.RemoteAddr); err == nil {
			return p, true
		}
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		h.unauthorized(w, r, "", errors.New("no credentials"))
		return wbem.Principal{}, false
	}
	p, err := h.auth.Authenticate(user, password, r.RemoteAddr)
	if err != nil {
		h.unauthorized(w, r, user, err)
		return wbem.Principal{}, false
	}
	return p, true
}

func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, user string, why error) {
	h.log.WithFields(logrus.Fields{"remote": r.RemoteAddr, "user": user}).Info("cimxml: authentication failed: ", why)
	hd := w.Header()
	hd.Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", h.realm))
	var limited *auth.RateLimitError
	if errors.As(why, &limited) {
		hd.Set("Retry-After", strconv.Itoa(int((limited.RetryAfter+time.Second-1)/time.Second)))
	}
	// The body stays unread: close the connection rather than drain an
	// unauthenticated client's upload.
	hd.Set("Connection", "close")
	http.Error(w, "401 Unauthorized: this CIM server requires HTTP Basic authentication", http.StatusUnauthorized)
}

// readBody reads the request body into a pooled buffer (given back with
// putBuffer), refusing more than maxSize bytes.
func (h *Handler) readBody(r *http.Request) (*[]byte, *protocolError) {
	if r.ContentLength > h.maxSize {
		return nil, protoErrorf(http.StatusRequestEntityTooLarge, "", "the request has %d bytes; this server accepts at most %d", r.ContentLength, h.maxSize)
	}
	bp := h.bufs.Get().(*[]byte)
	buf := (*bp)[:0]
	if r.ContentLength >= int64(cap(buf)) {
		buf = make([]byte, 0, r.ContentLength+1) // +1: room to see the end
	}
	// Read up to one byte more than allowed, to tell a body at the limit
	// from one over it.
	limit := math.MaxInt
	if h.maxSize < math.MaxInt {
		limit = int(h.maxSize) + 1
	}
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), 512), limit-len(buf)))
		}
		n, err := r.Body.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = buf
			h.putBuffer(bp)
			return nil, protoErrorf(http.StatusBadRequest, "", "reading the request body: %v", err)
		}
	}
	*bp = buf
	if len(buf) == limit {
		h.putBuffer(bp)
		return nil, protoErrorf(http.StatusRequestEntityTooLarge, "", "the request body exceeds the %d bytes this server accepts", h.maxSize)
	}
	return bp, nil
}

// putBuffer recycles a buffer into the pool of its size, unless it grew
// unusually large.
func (h *Handler) putBuffer(bp *[]byte) {
	*bp = (*bp)[:0]
	switch c := cap(*bp); {
	case c >= flushThreshold && c <= 4*flushThreshold:
		h.streams.Put(bp)
	case c >= smallBuffer && c <= 4*smallBuffer:
		h.bufs.Put(bp)
	}
}

// putExchange recycles the state of a request, zeroed so that the pool
// keeps nothing of it alive (nor a class the decoder cached).
func (h *Handler) putExchange(x *exchange) {
	*x = exchange{}
	h.exchanges.Put(x)
}

// putParser recycles a parser once its tree is no longer used, unless a
// large request grew it.
func (h *Handler) putParser(ps *xmlcodec.Parser) {
	if ps.Nodes() <= maxPooledNodes {
		h.parsers.Put(ps)
	}
}

// maxPooledNodes bounds the parsers kept for reuse: requests of a few
// kilobytes, as most are, need a few dozen nodes.
const maxPooledNodes = 4096

// protocolError answers a request refused as a whole.
func (h *Handler) protocolError(w http.ResponseWriter, r *http.Request, user string, e *protocolError) {
	h.log.WithFields(logrus.Fields{"remote": r.RemoteAddr, "user": user, "status": e.status, "cimerror": e.cimError}).Info("cimxml: request refused: ", e.detail)
	hd := w.Header()
	if e.cimError != "" {
		prefix := ""
		if r.Method == "M-POST" {
			if ns, ok := manNamespace(r.Header.Values("Man")); ok {
				prefix = ns + "-"
			}
		}
		hd.Set(prefix+"CIMError", e.cimError)
	}
	hd.Set("PGErrorDetail", headerEncode(e.detail))
	if e.status == http.StatusRequestEntityTooLarge || e.status == http.StatusBadRequest {
		// The body may be partly unread (or unreadable): do not reuse the
		// connection.
		hd.Set("Connection", "close")
	}
	http.Error(w, fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.detail), e.status)
}

// serveOperation runs one decoded operation and writes its response.
func (h *Handler) serveOperation(w http.ResponseWriter, r *http.Request, x *exchange, principal wbem.Principal, start time.Time) {
	ctx := wbem.WithPrincipal(r.Context(), principal)
	req := &x.req
	bp := h.bufs.Get().(*[]byte)
	rw := &x.rw
	*rw = responseWriter{
		w:                  w,
		h:                  h,
		buf:                bp,
		enc:                xmlcodec.Encoder{B: (*bp)[:0], Host: requestHost(r), NullInArrays: req.dtdMinor >= 3},
		prefix:             x.hdr.prefix,
		trailers:           x.hdr.trailers,
		messageID:          req.messageID,
		protocolVersion:    req.protocolVersion,
		withErrorInstances: req.dtdMinor >= 2,
	}
	defer rw.release()
	x.d.init(ctx, h.ops, req.ns)
	c := &x.c
	*c = call{h: h, req: req, rw: rw, d: &x.d}
	var run func(*call) error
	if req.intrinsic {
		rw.elem = "IMETHODRESPONSE"
		name, fn, ok := intrinsicOp(req.method)
		rw.method = name
		if ok {
			run = fn
		} else {
			run = func(*call) error {
				return cim.Errorf(cim.ErrNotSupported, "the intrinsic method %s is not supported", req.method)
			}
		}
	} else {
		rw.elem, rw.method = "METHODRESPONSE", req.method
		run = (*call).invokeMethod
	}
	rw.begin()
	var err error
	if req.intrinsic {
		c.p = &x.p
		err = c.p.init(c.d, req.params)
	}
	if err == nil {
		err = run(c)
	}
	pe, isProtocolError := protocolErrorOf(err)
	switch {
	case isProtocolError && !rw.committed:
		// A structural fault found while decoding parameters, which
		// precedes every write: an HTTP error as for the request itself.
		h.protocolError(w, r, principal.User, pe)
		return
	case err != nil:
		rw.fail(err)
	default:
		err = rw.finish()
	}
	h.logOperation(r, req, c, principal, err, time.Since(start))
}

func (h *Handler) logOperation(r *http.Request, req *request, c *call, p wbem.Principal, err error, d time.Duration) {
	level := logrus.DebugLevel
	if err != nil {
		level = logrus.InfoLevel
	}
	if !h.log.Logger.IsLevelEnabled(level) {
		return
	}
	e := h.log.WithFields(logrus.Fields{
		"op":        c.rw.method,
		"namespace": req.ns,
		"class":     c.class,
		"user":      p.User,
		"remote":    r.RemoteAddr,
		"duration":  d,
	})
	if err != nil {
		e.Log(level, "cimxml: operation failed: ", err)
		return
	}
	e.Log(level, "cimxml: operation")
}

// requestHost is the host the client reached the server as, for the HOST
// of returned paths: the Host header, else the local address.
func requestHost(r *http.Request) string {
	if host := strings.TrimSpace(r.Host); host != "" {
		return host
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return "localhost"
}
