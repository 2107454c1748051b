package cimxml

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
	// bufs recycles request and response buffers: a streamed response
	// reuses one buffer of about flushThreshold bytes, a small one fits
	// in it; parsers recycles the memory of request trees.
	bufs    sync.Pool
	parsers sync.Pool
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
	h.bufs.New = func() any { b := make([]byte, 0, flushThreshold+flushThreshold/4); return &b }
	h.parsers.New = func() any { return new(xmlcodec.Parser) }
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
	hdr, perr := readHeaders(r)
	if perr != nil {
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
	req, perr := decodeRequest(ps, *body, hdr)
	h.putBody(body)
	if perr != nil {
		h.protocolError(w, r, principal.User, perr)
		return
	}
	h.serveOperation(w, r, hdr, req, principal, start)
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
// putBody), refusing more than maxSize bytes.
func (h *Handler) readBody(r *http.Request) (*[]byte, *protocolError) {
	if r.ContentLength > h.maxSize {
		return nil, protoErrorf(http.StatusRequestEntityTooLarge, "", "the request has %d bytes; this server accepts at most %d", r.ContentLength, h.maxSize)
	}
	bp := h.bufs.Get().(*[]byte)
	buf := bytes.NewBuffer((*bp)[:0])
	_, err := buf.ReadFrom(io.LimitReader(r.Body, h.maxSize+1))
	*bp = buf.Bytes()
	switch {
	case err != nil:
		h.putBody(bp)
		return nil, protoErrorf(http.StatusBadRequest, "", "reading the request body: %v", err)
	case int64(len(*bp)) > h.maxSize:
		h.putBody(bp)
		return nil, protoErrorf(http.StatusRequestEntityTooLarge, "", "the request body exceeds the %d bytes this server accepts", h.maxSize)
	}
	return bp, nil
}

// putBody recycles a buffer, unless it grew unusually large.
func (h *Handler) putBody(bp *[]byte) {
	if cap(*bp) <= 4*flushThreshold {
		*bp = (*bp)[:0]
		h.bufs.Put(bp)
	}
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
func (h *Handler) serveOperation(w http.ResponseWriter, r *http.Request, hdr *requestHeaders, req *request, principal wbem.Principal, start time.Time) {
	ctx := wbem.WithPrincipal(r.Context(), principal)
	bp := h.bufs.Get().(*[]byte)
	rw := &responseWriter{
		w:                  w,
		enc:                xmlcodec.Encoder{B: (*bp)[:0], Host: requestHost(r), NullInArrays: req.dtdMinor >= 3},
		prefix:             hdr.prefix,
		trailers:           hdr.trailers,
		messageID:          req.messageID,
		protocolVersion:    req.protocolVersion,
		withErrorInstances: req.dtdMinor >= 2,
	}
	defer func() {
		*bp = rw.enc.B
		h.putBody(bp)
	}()
	c := &call{h: h, req: req, rw: rw, d: newDecoder(ctx, h.ops, req.ns)}
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
		c.p, err = newParams(c.d, req.params)
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
