package wsman

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"
)

// The client side of event delivery: HTTP(S) POSTs of SOAP messages to
// event sinks, authenticated as the subscriber asked (none, Basic,
// Digest), and the reading of their answers (PushWithAck and Events
// acknowledgements, wsman:DeliveryRefused).

// sinkClient posts messages to event sinks.
type sinkClient struct {
	http      *http.Client
	userAgent string
}

// maxSinkAnswer bounds what is read of a sink's answer: an Ack or a fault
// is a few hundred octets.
const maxSinkAnswer = 64 << 10

func newSinkClient(tlsConfig *tls.Config, userAgent string) *sinkClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // sinks are reached directly, whatever the environment says
	if tlsConfig != nil {
		t.TLSClientConfig = tlsConfig.Clone()
	}
	t.MaxIdleConnsPerHost = 4
	return &sinkClient{
		http: &http.Client{
			Transport: t,
			// A redirect is a sink that refuses: credentials must not follow it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: userAgent,
	}
}

// sinkTarget is where one message goes and how to authenticate there.
type sinkTarget struct {
	ep *endpoint
	// profile is the wsman:Auth profile: Basic ones send credentials with
	// the first request; Digest ones and none answer the sink's challenge
	// (Digest preferred).
	profile string
}

// deliveryError is a failed delivery, as the core's retry logic needs it:
// a permanent one ends the subscription.
type deliveryError struct {
	err       error
	permanent bool
	// refused marks a wsman:DeliveryRefused fault, after which no
	// SubscriptionEnd is sent (DSP0226 R10.8-1).
	refused bool
}

func (e *deliveryError) Error() string   { return e.err.Error() }
func (e *deliveryError) Unwrap() error   { return e.err }
func (e *deliveryError) Permanent() bool { return e.permanent }

func retryable(format string, args ...any) error {
	return &deliveryError{err: fmt.Errorf(format, args...)}
}

func refusal(format string, args ...any) error {
	return &deliveryError{err: fmt.Errorf(format, args...), permanent: true}
}

// post sends one message and returns the sink's status and answer.
func (c *sinkClient) post(ctx context.Context, t sinkTarget, msg []byte) (int, []byte, error) {
	send := func(authz string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.ep.Address, bytes.NewReader(msg))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		req.Header.Set("User-Agent", c.userAgent)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		return c.http.Do(req)
	}
	authz := ""
	if t.ep.User != "" && (t.profile == secProfileHTTPBasic || t.profile == secProfileHTTPSBasic) {
		authz = basicAuthorization(t.ep.User, t.ep.Password)
	}
	resp, err := send(authz)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && t.ep.User != "" && authz == "" {
		challenges := resp.Header.Values("WWW-Authenticate")
		drain(resp)
		authz = answerChallenge(challenges, t, http.MethodPost)
		if authz == "" {
			return http.StatusUnauthorized, nil, nil
		}
		if resp, err = send(authz); err != nil {
			return 0, nil, err
		}
	}
	defer drain(resp)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSinkAnswer))
	if err != nil && resp.StatusCode/100 == 2 {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSinkAnswer))
	resp.Body.Close()
}

func basicAuthorization(user, password string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

// answerChallenge answers a 401's challenges with the target's
// credentials: Digest when offered (SHA-256 before MD5), else Basic unless
// the profile is a Digest one.
func answerChallenge(challenges []string, t sinkTarget, method string) string {
	var best map[string]string
	for _, c := range challenges {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(c), " ")
		if !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := parseAuthParams(rest)
		switch strings.ToUpper(p["algorithm"]) {
		case "SHA-256":
			best = p
		case "", "MD5":
			if best == nil {
				best = p
			}
		}
	}
	if best != nil {
		return answerDigest(best, t.ep.User, t.ep.Password, method, requestURI(t.ep.Address))
	}
	if t.profile == secProfileHTTPDigest || t.profile == secProfileHTTPSDig {
		return ""
	}
	for _, c := range challenges {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(c), " "); strings.EqualFold(scheme, "Basic") {
			return basicAuthorization(t.ep.User, t.ep.Password)
		}
	}
	return ""
}

func requestURI(address string) string {
	r, err := http.NewRequest(http.MethodPost, address, nil)
	if err != nil {
		return "/"
	}
	return r.URL.RequestURI()
}

// parseAuthParams reads the comma-separated auth-params of a challenge
// (RFC 7235), quoted or not.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest = strings.TrimSpace(rest)
		var v string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			v, rest = b.String(), rest[min(i+1, len(rest)):]
		} else {
			v, rest, _ = strings.Cut(rest, ",")
			v = strings.TrimSpace(v)
			rest = "," + rest
		}
		out[k] = v
		_, s, _ = strings.Cut(rest, ",")
	}
	return out
}

// answerDigest computes an RFC 7616 response (qop "auth", or the
// RFC 2069 form when the challenge offers no qop).
func answerDigest(ch map[string]string, user, password, method, uri string) string {
	var newHash func() hash.Hash = md5.New
	algorithm := "MD5"
	if strings.EqualFold(ch["algorithm"], "SHA-256") {
		newHash, algorithm = sha256.New, "SHA-256"
	}
	h := func(s string) string {
		x := newHash()
		io.WriteString(x, s)
		return hex.EncodeToString(x.Sum(nil))
	}
	realm, nonce := ch["realm"], ch["nonce"]
	ha1 := h(user + ":" + realm + ":" + password)
	ha2 := h(method + ":" + uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s`,
		quoteParam(user), quoteParam(realm), quoteParam(nonce), quoteParam(uri), algorithm)
	qopAuth := false
	for _, q := range strings.Split(ch["qop"], ",") {
		if strings.TrimSpace(q) == "auth" {
			qopAuth = true
		}
	}
	if qopAuth {
		var c [12]byte
		_, _ = rand.Read(c[:])
		cnonce := hex.EncodeToString(c[:])
		fmt.Fprintf(&b, `, qop=auth, nc=00000001, cnonce="%s", response="%s"`, cnonce, h(ha1+":"+nonce+":00000001:"+cnonce+":auth:"+ha2))
	} else {
		fmt.Fprintf(&b, `, response="%s"`, h(ha1+":"+nonce+":"+ha2))
	}
	if o, ok := ch["opaque"]; ok {
		fmt.Fprintf(&b, `, opaque="%s"`, quoteParam(o))
	}
	return b.String()
}

// isQName reports whether the QName text v, read in the scope of e, is q.
func isQName(e *element, v string, q qname) bool {
	space, local := e.ResolveQName(v)
	return space == q.space && local == q.local
}

func quoteParam(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// classifyAnswer turns a sink's answer to an event into the outcome the
// core acts on. With ackWanted (PushWithAck, Events) only a wsman:Ack that
// relates to the message counts as delivered (DSP0226 10.2.9.2);
// otherwise any 2xx does. A wsman:DeliveryRefused fault is a refusal
// without SubscriptionEnd; other refusals (HTTP 4xx, redirects, missing
// acks) end the subscription; timeouts, 408, 429 and 5xx are retried.
func classifyAnswer(status int, body []byte, messageID string, ackWanted bool) error {
	root, perr := parseXML(body, Limits{MaxBytes: maxSinkAnswer})
	if perr == nil {
		if f := root.ChildNS(nsSOAP, "Body").ChildNS(nsSOAP, "Fault"); f != nil {
			reason := f.ChildNS(nsSOAP, "Reason").ChildNS(nsSOAP, "Text").TrimmedText()
			sub := f.ChildNS(nsSOAP, "Code").ChildNS(nsSOAP, "Subcode").ChildNS(nsSOAP, "Value")
			if sub != nil && isQName(sub, sub.TrimmedText(), subDeliveryRefused) {
				return &deliveryError{err: fmt.Errorf("the event sink refused delivery (wsman:DeliveryRefused): %s", reason), permanent: true, refused: true}
			}
			if status/100 == 2 {
				status = http.StatusInternalServerError
			}
		}
	}
	switch {
	case status/100 == 2:
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status/100 == 5:
		return retryable("the event sink answered HTTP %d", status)
	default:
		return refusal("the event sink refused the event with HTTP %d", status)
	}
	if !ackWanted {
		return nil
	}
	if perr != nil {
		return refusal("the event sink did not acknowledge the event (its answer is not XML: %v)", perr)
	}
	action, relates := "", ""
	if h := root.ChildNS(nsSOAP, "Header"); h != nil {
		for _, c := range h.Children {
			if c.Space != nsWSA && c.Space != nsWSA10 {
				continue
			}
			switch c.Local {
			case "Action":
				action = c.TrimmedText()
			case "RelatesTo":
				relates = c.TrimmedText()
			}
		}
	}
	if action != actionAck || relates != messageID {
		return refusal("the event sink did not acknowledge the event (Action %q, RelatesTo %q)", action, relates)
	}
	return nil
}

// sendWithRetries sends a message that is not an event (SubscriptionEnd)
// a few times, until the sink takes it or ctx ends.
func (c *sinkClient) sendWithRetries(ctx context.Context, t sinkTarget, msg []byte, attempts int, pause time.Duration) error {
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(pause):
			}
		}
		var status int
		status, _, err = c.post(ctx, t, msg)
		if err == nil && status/100 == 2 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d", status)
			if status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
				return err
			}
		}
	}
	return err
}
