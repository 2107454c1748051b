package export

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// DefaultMaxRequestSize bounds an export request unless ListenerConfig
// says otherwise.
const DefaultMaxRequestSize = 4 << 20

// Indication is one indication a Listener received.
type Indication struct {
	// Instance is the indication, with its embedded instances decoded.
	Instance *cim.Instance
	// MessageID is the MESSAGE ID of the export request.
	MessageID string
	// RemoteAddr is the sender's address ("ip:port").
	RemoteAddr string
	// User is the user the sender authenticated as, if any.
	User string
}

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// Handle is called with each indication received, in the goroutine
	// of its request; the sender waits for it. An error is answered as
	// the export's ERROR (a *cim.Error keeps its status, any other error
	// is CIM_ERR_FAILED). Required.
	Handle func(ctx context.Context, ind Indication) error
	// MaxRequestSize bounds request bodies (413 beyond); default
	// DefaultMaxRequestSize.
	MaxRequestSize int64
	// Username and Password, when Username is set, are the HTTP Basic
	// credentials senders must present (401 otherwise).
	Username, Password string
	// Realm is the Basic realm of 401 answers; default "CIM listener".
	Realm string
}

// Listener is an http.Handler that receives CIM-XML export requests
// (ExportIndication) at whatever path it is mounted on.
type Listener struct{ cfg ListenerConfig }

// NewListener returns a Listener for cfg.
func NewListener(cfg ListenerConfig) (*Listener, error) {
	if cfg.Handle == nil {
		return nil, errors.New("export: a listener needs a Handle function")
	}
	if cfg.MaxRequestSize < 0 {
		return nil, errors.New("export: negative MaxRequestSize")
	}
	if cfg.MaxRequestSize == 0 {
		cfg.MaxRequestSize = DefaultMaxRequestSize
	}
	if cfg.Realm == "" {
		cfg.Realm = "CIM listener"
	}
	return &Listener{cfg: cfg}, nil
}

// httpError answers a request refused as a whole: an HTTP status with a
// CIMError header (DSP0200) when the problem is a CIM one.
func httpError(w http.ResponseWriter, status int, cimError, msg string) {
	if cimError != "" {
		w.Header().Set("CIMError", cimError)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// ServeHTTP implements http.Handler.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != "M-POST" {
		w.Header().Set("Allow", "POST, M-POST")
		httpError(w, http.StatusMethodNotAllowed, "", "CIM-XML export requests are POSTed")
		return
	}
	user := ""
	if l.cfg.Username != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(l.cfg.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(l.cfg.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+strings.ReplaceAll(l.cfg.Realm, `"`, "'")+`"`)
			httpError(w, http.StatusUnauthorized, "", "authentication required")
			return
		}
		user = u
	}
	prefix, ok := cimHeaderPrefix(r)
	header := func(name string) string { return r.Header.Get(prefix + name) }
	if !ok {
		httpError(w, http.StatusNotExtended, "", "M-POST without the CIM mapping in its Man header")
		return
	}
	switch v := header("CIMExport"); {
	case v == "MethodRequest":
	case v == "MultipleExportRequest" || header("CIMExportBatch") != "":
		httpError(w, http.StatusNotImplemented, "multiple-requests-unsupported", "multiple export requests are not supported")
		return
	default:
		httpError(w, http.StatusBadRequest, "header-mismatch", "the CIMExport header must be MethodRequest")
		return
	}
	if v := header("CIMProtocolVersion"); v != "" && !strings.HasPrefix(v, "1.") {
		httpError(w, http.StatusNotImplemented, "unsupported-protocol-version", "CIMProtocolVersion "+v+" is not supported (1.x is)")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/xml" && mt != "text/xml" {
		httpError(w, http.StatusBadRequest, "request-not-valid", "the Content-Type must be application/xml")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, l.cfg.MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the request exceeds %d bytes", l.cfg.MaxRequestSize))
			return
		}
		httpError(w, http.StatusBadRequest, "", "reading the request: "+err.Error())
		return
	}
	root, err := xmlcodec.Parse(body)
	if err != nil {
		// Entity declarations and documents beyond the limits are
		// refused as not well-formed too.
		httpError(w, http.StatusBadRequest, "request-not-well-formed", err.Error())
		return
	}
	msg, id, err := messageOf(root)
	if err != nil {
		httpError(w, http.StatusBadRequest, "request-not-valid", errText(err))
		return
	}
	if msg.Child("MULTIEXPREQ") != nil {
		httpError(w, http.StatusNotImplemented, "multiple-requests-unsupported", "multiple export requests are not supported")
		return
	}
	req := msg.Child("SIMPLEEXPREQ")
	var call *xmlcodec.Node
	if req != nil {
		call = req.Child("EXPMETHODCALL")
	}
	if call == nil {
		httpError(w, http.StatusBadRequest, "request-not-valid", "MESSAGE holds no SIMPLEEXPREQ with an EXPMETHODCALL")
		return
	}
	method := nameOf(call)
	if hm := header("CIMExportMethod"); hm != method {
		httpError(w, http.StatusBadRequest, "header-mismatch", fmt.Sprintf("the CIMExportMethod header %q does not match the EXPMETHODCALL %q", hm, method))
		return
	}
	ind, cerr := decodeExport(method, call)
	if cerr == nil {
		ind.MessageID, ind.RemoteAddr, ind.User = id, r.RemoteAddr, user
		if err := l.cfg.Handle(r.Context(), ind); err != nil {
			if cerr = cim.AsError(err); cerr == nil {
				cerr = cim.NewError(cim.ErrFailed, err.Error())
			}
		}
	}
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	if r.Method == "M-POST" {
		w.Header().Set("Ext", "") // RFC 2774: the mandatory extension was understood
	}
	w.Header().Set(prefix+"CIMExport", "MethodResponse")
	w.WriteHeader(http.StatusOK)
	w.Write(exportResponse(id, method, cerr))
}

// decodeExport reads the NewIndication of an ExportIndication call.
func decodeExport(method string, call *xmlcodec.Node) (Indication, *cim.Error) {
	if method != "ExportIndication" {
		return Indication{}, cim.Errorf(cim.ErrNotSupported, "export method %q is not supported (ExportIndication is)", method)
	}
	for _, pv := range call.Children {
		if pv.Name != "EXPPARAMVALUE" || !strings.EqualFold(nameOf(pv), "NewIndication") {
			continue
		}
		in := pv.Child("INSTANCE")
		if in == nil {
			return Indication{}, cim.NewError(cim.ErrInvalidParameter, "NewIndication holds no INSTANCE")
		}
		inst, err := decodeIndication(in)
		if err != nil {
			return Indication{}, cim.NewError(cim.ErrInvalidParameter, "NewIndication: "+errText(err))
		}
		return Indication{Instance: inst}, nil
	}
	return Indication{}, cim.NewError(cim.ErrInvalidParameter, "the NewIndication parameter is missing")
}

// errText is an error's description without the status name.
func errText(err error) string {
	var ce *cim.Error
	if errors.As(err, &ce) && ce.Description != "" {
		return ce.Description
	}
	return err.Error()
}

// cimHeaderPrefix returns the prefix of the CIM headers of a request:
// none for POST, "NN-" when an M-POST's Man header declares the CIM mapping
// with ns=NN (RFC 2774). ok is false for an M-POST that does not declare
// it.
func cimHeaderPrefix(r *http.Request) (string, bool) {
	if r.Method != "M-POST" {
		return "", true
	}
	for _, man := range r.Header.Values("Man") {
		for _, ext := range strings.Split(man, ",") {
			parts := strings.Split(ext, ";")
			if strings.TrimSpace(strings.Trim(parts[0], `"`)) != "http://www.dmtf.org/cim/mapping/http/v1.0" {
				continue
			}
			for _, p := range parts[1:] {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "ns" {
					return strings.TrimSpace(v) + "-", true
				}
			}
		}
	}
	return "", false
}
