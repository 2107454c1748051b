package wsman

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/auth"
)

// Path is where the service listens (DSP0226 R5.3-1).
const Path = "/wsman"

// maxAnonymousBody bounds what is read of a request without credentials:
// an Identify is a few hundred octets.
const maxAnonymousBody = 64 << 10

// Authenticator is the server's user store as this adapter needs it: the
// same users, passwords, per-source rate limits and TLS client
// certificates as CIM-XML, plus HTTP Digest, which WS-Man clients such as
// Intel AMT tooling use. *auth.Store implements it.
type Authenticator interface {
	// Authenticate checks an HTTP Basic user name and password.
	Authenticate(user, password, remoteAddr string) (wbem.Principal, error)
	// AuthenticateDigest checks an "Authorization: Digest ..." value.
	AuthenticateDigest(authorization, method, requestURI, remoteAddr string) (wbem.Principal, error)
	// DigestChallenges returns the WWW-Authenticate values offering
	// Digest; stale renews an expired nonce.
	DigestChallenges(stale bool) []string
	// AuthenticateCertificate maps a TLS client certificate to a user.
	AuthenticateCertificate(cert *x509.Certificate, verified bool, remoteAddr string) (wbem.Principal, error)
	// Allowed reports whether a user has the read (or write) right on a
	// namespace: pushing events to an address of the subscriber's choice
	// takes the write right on root/interop.
	Allowed(p wbem.Principal, namespace string, write bool) bool
}

// errNoCredentials marks a request that carries no credentials at all.
var errNoCredentials = errors.New("no credentials")

// Config configures a Handler.
type Config struct {
	// Ops is the CIMOM core.
	Ops wbem.Operations
	// Auth authenticates requests. Nil serves every request as an
	// unrestricted principal: only for --no-auth development servers.
	Auth Authenticator
	// DefaultNamespace is used when a request names none (no
	// __cimnamespace selector); default "root/virt".
	DefaultNamespace string
	// ProductVendor and ProductVersion answer Identify.
	ProductVendor, ProductVersion string
	// Limits bound requests.
	Limits Limits
	// MaxEnvelopeSize caps responses when the client sets no
	// wsman:MaxEnvelopeSize (default 16 MiB); an enumeration batch stops
	// before it.
	MaxEnvelopeSize int
	// EnumerationExpiry is how long an enumeration context lives between
	// requests (default 10 minutes); a client's wsen:Expires may ask for
	// less.
	EnumerationExpiry time.Duration
	// MaxEnumerations caps the open enumeration contexts (default 4096);
	// past it Enumerate answers wsman:QuotaLimit.
	MaxEnumerations int
	// Log receives one entry per request; nil logs nothing.
	Log logrus.FieldLogger

	// Events is the core's indication service, on which WS-Eventing
	// subscriptions are made; nil answers WS-Eventing requests with
	// wsa:ActionNotSupported.
	Events *wbem.Indications
	// EventStore keeps the WS-Eventing subscriptions across restarts
	// (a ProviderStore of the server's database); nil keeps them in memory.
	EventStore wbem.ProviderStore
	// EventTLS configures HTTPS connections to event sinks (RootCAs for
	// sinks with private certificates); nil verifies sinks against the
	// system's roots.
	EventTLS *tls.Config
}

// Handler is the WS-Management service: an http.Handler for POST /wsman.
type Handler struct {
	cfg   Config
	enums *enumTable
	bufs  sync.Pool
	// itemBatches recycles the batches of Pulls encoded in parallel.
	itemBatches sync.Pool
	// prefetchBytes is the memory reserved by prefetched batches (see
	// startPrefetch).
	prefetchBytes atomic.Int64
	// events is the WS-Eventing service; nil without Config.Events.
	events *events
}

// NewHandler returns the service for cfg.
func NewHandler(cfg Config) *Handler {
	if cfg.DefaultNamespace == "" {
		cfg.DefaultNamespace = "root/virt"
	}
	if cfg.ProductVendor == "" {
		cfg.ProductVendor = "hypercim"
	}
	if cfg.MaxEnvelopeSize <= 0 {
		cfg.MaxEnvelopeSize = 16 << 20
	}
	if cfg.EnumerationExpiry <= 0 {
		cfg.EnumerationExpiry = 10 * time.Minute
	}
	if cfg.MaxEnumerations <= 0 {
		cfg.MaxEnumerations = 4096
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		cfg.Log = l
	}
	cfg.Limits = cfg.Limits.withDefaults()
	h := &Handler{cfg: cfg, enums: newEnumTable(cfg.MaxEnumerations)}
	h.bufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	h.events = newEvents(h)
	return h
}

// Close releases every open enumeration context in the core and stops the
// WS-Eventing subscriptions' work; stored subscriptions stay for the next
// Handler on the same store.
func (h *Handler) Close() {
	h.events.close()
	for _, e := range h.enums.drain() {
		h.discard(context.Background(), e)
	}
}

// reply is a successful response: its action, extra header elements and
// body content, each already XML.
type reply struct {
	action string
	header []byte
	body   [][]byte
	// recycle are pooled buffers to return once written.
	recycle []*[]byte
}

// getBuf returns an empty pooled buffer of at least size octets.
func (h *Handler) getBuf(size int) *[]byte {
	b := h.bufs.Get().(*[]byte)
	if cap(*b) < size {
		h.bufs.Put(b)
		nb := make([]byte, 0, size)
		return &nb
	}
	*b = (*b)[:0]
	return b
}

// putBuf returns a buffer to the pool; very large ones are left to the
// garbage collector.
func (h *Handler) putBuf(b *[]byte) {
	if cap(*b) <= 4<<20 {
		h.bufs.Put(b)
	}
}

// ServeHTTP answers one WS-Management request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "WS-Management requests are SOAP envelopes sent with POST", http.StatusMethodNotAllowed)
		return
	}
	if f := checkContentType(r.Header.Get("Content-Type")); f != nil {
		h.writeFault(w, &request{}, f)
		return
	}
	limit := h.cfg.Limits.MaxBytes
	anonymous := h.cfg.Auth != nil && r.Header.Get("Authorization") == "" && (r.TLS == nil || len(r.TLS.PeerCertificates) == 0)
	if anonymous && limit > maxAnonymousBody {
		// Without credentials only Identify can succeed: read no more than
		// one could need.
		limit = maxAnonymousBody
	}
	data, err := h.readBody(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	if err != nil {
		h.putBuf(data)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) && anonymous {
			h.authenticate(w, r, false)
			return
		}
		if errors.As(err, &tooBig) {
			f := senderFault(subEncodingLimit, detailServiceEnvelopeLimit, "the request is larger than the service's limit of %d octets", h.cfg.Limits.MaxBytes)
			f.HTTPStatus = http.StatusRequestEntityTooLarge
			h.writeFault(w, &request{}, f)
			return
		}
		h.cfg.Log.WithError(err).Debug("reading a wsman request")
		return
	}
	// The decoded request holds copies: the buffer can be reused at once.
	req, fault := decodeEnvelope(*data, h.cfg.Limits)
	h.putBuf(data)
	identify := fault == nil && req.body != nil && req.body.Is(nsWSMID, "Identify") &&
		(req.action == "" || req.action == actionIdentify)

	principal, ok := h.authenticate(w, r, identify)
	if !ok {
		return
	}
	if fault != nil {
		h.writeFault(w, req, fault)
		h.logRequest(logrus.InfoLevel, principal, req, identify, start, fault)
		return
	}
	ctx := wbem.WithPrincipal(r.Context(), principal)
	if req.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.timeout)
		defer cancel()
	}
	out, err := h.dispatch(ctx, r, req, identify)
	if err != nil {
		f := h.toFault(ctx, err)
		h.writeFault(w, req, f)
		h.logRequest(logrus.InfoLevel, principal, req, identify, start, f)
		return
	}
	h.writeReply(w, req, out)
	h.logRequest(logrus.DebugLevel, principal, req, identify, start, nil)
}

// readBody reads a request body into a pooled buffer, which the caller
// returns with putBuf. Content-Length, which the client chooses, only
// sizes the first read.
func (h *Handler) readBody(r io.Reader, contentLength int64) (*[]byte, error) {
	b := h.getBuf(int(min(max(contentLength, 0), 64<<10)) + 1)
	for {
		if len(*b) == cap(*b) {
			*b = append(*b, 0)[:len(*b)]
		}
		n, err := r.Read((*b)[len(*b):cap(*b)])
		*b = (*b)[:len(*b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// logRequest logs one request, a success (fault nil) or a fault, if the
// level is enabled: the fields cost allocations that a busy server at the
// default level should not pay.
func (h *Handler) logRequest(level logrus.Level, p wbem.Principal, req *request, identify bool, start time.Time, fault *Fault) {
	if !levelEnabled(h.cfg.Log, level) {
		return
	}
	entry := h.cfg.Log.WithFields(logrus.Fields{"proto": "wsman", "user": p.User, "op": opName(req, identify), "duration": time.Since(start)})
	if fault != nil {
		entry.WithField("fault", fault.Error()).Log(level, "wsman fault")
		return
	}
	entry.Log(level, "wsman request")
}

// levelEnabled reports whether l logs at level; loggers other than
// logrus's own are assumed to.
func levelEnabled(l logrus.FieldLogger, level logrus.Level) bool {
	switch l := l.(type) {
	case *logrus.Logger:
		return l.IsLevelEnabled(level)
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(level)
	}
	return true
}

// opName names the operation for the log.
func opName(req *request, identify bool) string {
	if identify {
		return "Identify"
	}
	if i := strings.LastIndexByte(req.action, '/'); i >= 0 {
		return req.action[i+1:]
	}
	return req.action
}

// toFault turns any error of an operation into the fault to send.
func (h *Handler) toFault(ctx context.Context, err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	if errors.Is(err, context.DeadlineExceeded) || (ctx.Err() == context.DeadlineExceeded && cim.StatusOf(err) == cim.ErrFailed) {
		return receiverFault(subTimedOut, "", "the operation did not complete within the wsman:OperationTimeout")
	}
	return faultFromCIM(err)
}

// checkContentType accepts SOAP 1.2's media type (and text/xml, which some
// clients send) in UTF-8.
func checkContentType(ct string) *Fault {
	if ct == "" || strings.EqualFold(ct, "application/soap+xml;charset=UTF-8") || strings.EqualFold(ct, "application/soap+xml; charset=UTF-8") {
		// What nearly every client sends, without the parser's map.
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return schemaFault("the Content-Type %q cannot be parsed", ct)
	}
	switch mt {
	case "application/soap+xml", "text/xml", "application/xml":
	default:
		f := schemaFault("the Content-Type %q is not application/soap+xml", mt)
		f.HTTPStatus = http.StatusUnsupportedMediaType
		return f
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return senderFault(subEncodingLimit, detailCharacterSet, "the character set %q is not supported; send UTF-8", cs)
	}
	return nil
}

// authenticate returns the caller. Identify is anonymous (DSP0226
// clause 11): it is answered whatever credentials come with it (wsl sends
// them), which are not checked, so that neither a wrong password nor an
// address blocked for failed logins stops it, and it counts as no login.
// Every other request must authenticate, with a TLS client certificate,
// HTTP Basic (preemptive or after the challenge) or HTTP Digest, and gets
// 401 with both challenges otherwise.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, identify bool) (wbem.Principal, bool) {
	a := h.cfg.Auth
	if a == nil {
		return wbem.Principal{User: "(no-auth)", Unrestricted: true}, true
	}
	if identify {
		return wbem.Principal{User: "(anonymous)"}, true
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		if p, err := a.AuthenticateCertificate(r.TLS.VerifiedChains[0][0], true, r.RemoteAddr); err == nil {
			return p, true
		}
	}
	authz := r.Header.Get("Authorization")
	var p wbem.Principal
	var err error
	switch scheme, _, _ := strings.Cut(authz, " "); {
	case authz == "":
		err = errNoCredentials
	case strings.EqualFold(scheme, "Basic"):
		user, password, ok := r.BasicAuth()
		if !ok {
			err = auth.ErrUnauthorized
			break
		}
		p, err = a.Authenticate(user, password, r.RemoteAddr)
	case strings.EqualFold(scheme, "Digest"):
		p, err = a.AuthenticateDigest(authz, r.Method, r.RequestURI, r.RemoteAddr)
	default:
		err = fmt.Errorf("unsupported authentication scheme %q", scheme)
	}
	if err == nil {
		return p, true
	}
	hd := w.Header()
	hd.Add("WWW-Authenticate", `Basic realm="`+auth.DigestRealm+`"`)
	for _, c := range a.DigestChallenges(errors.Is(err, auth.ErrStaleNonce)) {
		hd.Add("WWW-Authenticate", c)
	}
	var rl *auth.RateLimitError
	if errors.As(err, &rl) {
		hd.Set("Retry-After", strconv.Itoa(int(rl.RetryAfter.Seconds()+0.5)))
	}
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, "401 Unauthorized: this WS-Management service requires HTTP Basic or Digest authentication\n")
	if !errors.Is(err, errNoCredentials) {
		h.cfg.Log.WithField("remote", r.RemoteAddr).WithError(err).Info("wsman authentication failed")
	}
	return wbem.Principal{}, false
}

// newMessageID returns a fresh uuid: URI.
func newMessageID() string { return string(appendMessageID(nil)) }

// appendMessageID appends a fresh uuid: URI (a random, version 4 UUID).
func appendMessageID(dst []byte) []byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	dst = append(dst, "uuid:"...)
	return append(dst, s[:]...)
}

const envelopeOpen = `<?xml version="1.0" encoding="UTF-8"?>` +
	`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:wsa="` + nsWSA + `" xmlns:wsman="` + nsWSMAN +
	`" xmlns:wsen="` + nsWSEN + `" xmlns:wxf="` + nsWXF + `" xmlns:wsmb="` + nsWSMB +
	`" xmlns:wsmid="` + nsWSMID + `" xmlns:xsi="` + nsXSI + `">`

// appendHeader appends the response header: WS-Addressing To, Action,
// MessageID and RelatesTo (DSP0226 R5.4.4-3), then extra.
func appendHeader(dst []byte, req *request, action string, extra []byte) []byte {
	dst = append(dst, envelopeOpen...)
	if action == "" && req.action == "" && req.messageID == "" && extra == nil {
		// An Identify without addressing headers is answered in kind.
		return append(dst, "<s:Header/><s:Body>"...)
	}
	dst = append(dst, "<s:Header><wsa:To>"+anonymousAddress+"</wsa:To>"...)
	if action != "" {
		dst = appendElem(dst, "wsa:Action", action)
	}
	if req.messageID != "" {
		dst = appendElem(dst, "wsa:RelatesTo", req.messageID)
	}
	dst = append(dst, "<wsa:MessageID>"...)
	dst = appendMessageID(dst)
	dst = append(dst, "</wsa:MessageID>"...)
	dst = append(dst, extra...)
	return append(dst, "</s:Header><s:Body>"...)
}

const envelopeClose = "</s:Body></s:Envelope>"

func (h *Handler) writeReply(w http.ResponseWriter, req *request, out *reply) {
	defer func() {
		for _, b := range out.recycle {
			h.putBuf(b)
		}
	}()
	hb := h.getBuf(1024 + len(out.header))
	defer h.putBuf(hb)
	head := appendHeader(*hb, req, out.action, out.header)
	*hb = head
	n := len(head) + len(envelopeClose)
	for _, b := range out.body {
		n += len(b)
	}
	if limit := h.envelopeLimit(req); n > limit {
		h.writeFault(w, req, senderFault(subEncodingLimit, detailMaxEnvelopeSize,
			"the response of %d octets exceeds the envelope limit of %d octets", n, limit))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	hd.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(head)
	for _, b := range out.body {
		_, _ = w.Write(b)
	}
	_, _ = io.WriteString(w, envelopeClose)
}

// envelopeLimit is the largest response the client accepts.
func (h *Handler) envelopeLimit(req *request) int {
	if req.maxEnvelope > 0 && req.maxEnvelope < h.cfg.MaxEnvelopeSize {
		return req.maxEnvelope
	}
	return h.cfg.MaxEnvelopeSize
}

// writeFault sends f as a SOAP fault (DSP0226 clause 14).
func (h *Handler) writeFault(w http.ResponseWriter, req *request, f *Fault) {
	action := f.Action
	if action == "" {
		action = actionWSMANFault
	}
	var extra []byte
	if f.NotUnderstood != nil {
		extra = append(extra, `<s:NotUnderstood xmlns:h="`...)
		extra = appendEscaped(extra, f.NotUnderstood.space)
		extra = append(extra, `" qname="h:`...)
		extra = appendEscaped(extra, f.NotUnderstood.local)
		extra = append(extra, `"/>`...)
	}
	b := appendHeader(nil, req, action, extra)
	b = append(b, "<s:Fault><s:Code><s:Value>s:"...)
	b = append(b, f.Code...)
	b = append(b, "</s:Value>"...)
	if f.Subcode.local != "" {
		b = append(b, `<s:Subcode><s:Value xmlns:`...)
		b = append(b, f.Subcode.prefix...)
		b = append(b, `="`...)
		b = append(b, f.Subcode.space...)
		b = append(b, `">`...)
		b = append(b, f.Subcode.String()...)
		b = append(b, "</s:Value></s:Subcode>"...)
	}
	b = append(b, `</s:Code><s:Reason><s:Text xml:lang="en-US">`...)
	b = appendEscaped(b, f.Reason)
	b = append(b, "</s:Text></s:Reason>"...)
	if f.Detail != "" || f.DetailXML != "" || f.CIM != nil {
		b = append(b, "<s:Detail>"...)
		if f.Detail != "" {
			b = appendElem(b, "wsman:FaultDetail", faultDetailPrefix+f.Detail)
		}
		b = append(b, f.DetailXML...)
		if f.CIM != nil {
			// DSP0227 clause 11: the CIM error as a CIM_Error instance.
			o := renderOptions{}
			b = appendInstance(b, f.CIM.CIMErrorInstance("hypercim"), "e", false, &o)
		}
		b = append(b, "</s:Detail>"...)
	}
	b = append(b, "</s:Fault>"...)
	b = append(b, envelopeClose...)
	hd := w.Header()
	hd.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(f.status())
	_, _ = w.Write(b)
}

// dispatch runs the operation the request's action names.
func (h *Handler) dispatch(ctx context.Context, r *http.Request, req *request, identify bool) (*reply, error) {
	if identify {
		return h.identify(r, req), nil
	}
	if req.action == "" {
		return nil, senderFault(subMIHRequired, "", "the wsa:Action header is missing")
	}
	if req.messageID == "" {
		return nil, senderFault(subMIHRequired, "", "the wsa:MessageID header is missing")
	}
	switch req.action {
	case actionIdentify:
		return nil, schemaFault("an Identify request must hold a wsmid:Identify body")
	case actionRenew, actionGetStatus:
		return nil, senderFault(subActionNotSupported, detailActionMismatch, "%s is not supported: enumeration contexts expire on their own", req.action)
	case actionSubscribe, actionEvtRenew, actionEvtGetStatus, actionUnsubscribe:
		return h.eventingDispatch(ctx, r, req)
	}
	switch req.action {
	case actionPull:
		// The context names the enumeration; the resource URI a client
		// repeats on Pull and Release is not looked at.
		return h.pull(ctx, req)
	case actionRelease:
		return h.release(ctx, req)
	}
	if !req.hasResourceURI {
		return nil, destinationFault(detailInvalidResourceURI, "the wsman:ResourceURI header is missing")
	}
	res, f := parseResourceURI(req.resourceURI)
	if f != nil {
		return nil, f
	}
	if res.kind == resourceIntrinsic && req.action != actionEnumerate {
		return h.intrinsic(ctx, req, res)
	}
	switch req.action {
	case actionGet:
		return h.get(ctx, req, res)
	case actionPut:
		return h.put(ctx, req, res)
	case actionCreate:
		return h.create(ctx, req, res)
	case actionDelete:
		return h.delete(ctx, req, res)
	case actionEnumerate:
		return h.enumerate(ctx, req, res)
	}
	return h.invoke(ctx, req, res)
}

// resourceClass returns the resolved class a resource URI names; a class
// that does not exist is an unknown resource (DestinationUnreachable with
// InvalidResourceURI), whatever status the core gives it.
func (h *Handler) resourceClass(ctx context.Context, ns, class string) (*cim.Class, error) {
	cls, err := h.cfg.Ops.GetClass(ctx, ns, class, cim.ClassFilter{IncludeQualifiers: true})
	if err != nil {
		switch cim.StatusOf(err) {
		case cim.ErrNotFound, cim.ErrInvalidClass:
			f := destinationFault(detailInvalidResourceURI, "the class %s does not exist in the namespace %s", class, ns)
			f.CIM = cim.AsError(err)
			return nil, f
		}
		return nil, err
	}
	return cls, nil
}

// namespace returns the CIM namespace of a request: the one in a WinRM
// resource URI, else the __cimnamespace selector, else the default.
func (h *Handler) namespace(res resource, selNS string) string {
	switch {
	case res.namespace != "":
		return res.namespace
	case selNS != "":
		return selNS
	}
	return h.cfg.DefaultNamespace
}
