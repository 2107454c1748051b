package export

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// Config configures a Client.
type Config struct {
	// Timeout bounds one export (connect, send, answer) when the context
	// has no earlier deadline; default 30 s.
	Timeout time.Duration
	// RootCAs verifies the certificates of https listeners; nil means
	// the system's roots.
	RootCAs *x509.CertPool
	// InsecureSkipVerify accepts any listener certificate: for tests and
	// listeners with self-signed certificates only.
	InsecureSkipVerify bool
	// Certificates are client certificates offered to https listeners
	// that ask for one.
	Certificates []tls.Certificate
	// MaxResponseSize bounds the listener's answer; default 1 MiB.
	MaxResponseSize int64
	// UserAgent is sent with each request; default "hypercim".
	UserAgent string
}

// Client sends indications to CIM-XML listeners. It is safe for concurrent
// use and keeps connections open between exports; Close releases them.
type Client struct {
	cfg Config
	hc  *http.Client
	ids atomic.Uint64
}

var _ wbem.IndicationExporter = (*Client)(nil)

// NewClient returns a Client for cfg.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Timeout < 0 || cfg.MaxResponseSize < 0 {
		return nil, errors.New("export: negative Timeout or MaxResponseSize")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxResponseSize == 0 {
		cfg.MaxResponseSize = 1 << 20
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hypercim"
	}
	tr := &http.Transport{
		Proxy:               nil, // listeners are reached directly
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: cfg.Timeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            cfg.RootCAs,
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // documented opt-in
			Certificates:       cfg.Certificates,
		},
		ForceAttemptHTTP2: false,
	}
	hc := &http.Client{
		Transport: tr,
		// A listener that redirects is misconfigured: following would
		// send the indication (and credentials) elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Client{cfg: cfg, hc: hc}, nil
}

// Close closes the idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Target is where one export goes.
type Target struct {
	// URL of the listener: http:// or https://, with the listener's path.
	URL string
	// Username and Password, when Username is set, are sent with HTTP
	// Basic authentication.
	Username, Password string
}

// Error is a failed export: the listener's CIM error, an HTTP status, or a
// transport failure.
type Error struct {
	// URL is the listener's address.
	URL string
	// Status is the CIM status of an ERROR the listener answered, else 0.
	Status cim.Status
	// HTTPStatus is the HTTP status of a non-200 answer, else 0;
	// CIMError the CIMError header of the answer, if any.
	HTTPStatus int
	CIMError   string
	// Description says what happened.
	Description string
	// Err is the transport error, if any.
	Err       error
	permanent bool
}

func (e *Error) Error() string {
	s := "exporting an indication to " + e.URL + ": " + e.Description
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether sending the same indication again cannot
// succeed: the listener refused it (a CIM error other than
// CIM_ERR_FAILED, an HTTP client error other than 408 and 429, a
// redirect). Network errors, timeouts and server errors are not permanent.
func (e *Error) Permanent() bool { return e.permanent }

// ExportIndication implements wbem.IndicationExporter.
func (c *Client) ExportIndication(ctx context.Context, dest wbem.ListenerDestination, indication *cim.Instance) error {
	return c.Export(ctx, Target{URL: dest.URL, Username: dest.Username, Password: dest.Password}, indication)
}

// Export sends one indication to a listener and reads its answer.
func (c *Client) Export(ctx context.Context, t Target, indication *cim.Instance) error {
	if indication == nil {
		return &Error{URL: t.URL, Description: "no indication", permanent: true}
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Error{URL: t.URL, Description: "the listener URL is not an http:// or https:// URL", Err: err, permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout) // an earlier deadline of ctx wins
	defer cancel()
	id := strconv.FormatUint(c.ids.Add(1)%1e9+1000, 10)
	body := exportRequest(id, indication)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return &Error{URL: t.URL, Description: "building the request", Err: err, permanent: true}
	}
	h := req.Header
	h.Set("Content-Type", `application/xml; charset="utf-8"`)
	h.Set("Accept", "application/xml, text/xml")
	h.Set("CIMExport", "MethodRequest")
	h.Set("CIMExportMethod", "ExportIndication")
	h.Set("CIMProtocolVersion", "1.0")
	h.Set("User-Agent", c.cfg.UserAgent)
	if t.Username != "" {
		req.SetBasicAuth(t.Username, t.Password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &Error{URL: t.URL, Description: "the listener cannot be reached", Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseSize+1))
	if err != nil {
		return &Error{URL: t.URL, HTTPStatus: resp.StatusCode, Description: "reading the listener's answer", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		code := resp.StatusCode
		perm := code >= 300 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests ||
			code == http.StatusNotImplemented
		return &Error{URL: t.URL, HTTPStatus: code, CIMError: resp.Header.Get("CIMError"),
			Description: fmt.Sprintf("the listener answered HTTP %d %s", code, http.StatusText(code)), permanent: perm}
	}
	if int64(len(data)) > c.cfg.MaxResponseSize {
		return &Error{URL: t.URL, HTTPStatus: resp.StatusCode, Description: "the listener's answer is too large", permanent: true}
	}
	if ce := resp.Header.Get("CIMError"); ce != "" {
		return &Error{URL: t.URL, HTTPStatus: resp.StatusCode, CIMError: ce, Description: "the listener refused the request: " + ce, permanent: true}
	}
	refused, err := decodeResponse(data, id)
	switch {
	case err != nil:
		return &Error{URL: t.URL, HTTPStatus: resp.StatusCode, Description: "the listener's answer is not a valid export response", Err: err, permanent: true}
	case refused != nil:
		// CIM_ERR_FAILED and a listener shutting down may succeed later.
		return &Error{URL: t.URL, Status: refused.Status, Description: "the listener answered " + refused.Error(),
			permanent: refused.Status != cim.ErrFailed && refused.Status != cim.ErrServerIsShuttingDown}
	}
	return nil
}
