package wsman

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Decoding of WS-Eventing requests (DSP0226 clause 10): the wse:Subscribe
// body with its delivery, expiry and filter, the credentials of the
// wst:IssuedTokens header, and the wse:Expires of Renew.

// endpoint is an endpoint reference of a subscriber: where events
// (NotifyTo) or the end notice (EndTo) go, the reference parameters to
// echo as header blocks, and credentials for it.
type endpoint struct {
	Address string `json:"address"`
	// Params are the reference parameters (or 2004/08 reference
	// properties) as standalone XML.
	Params string `json:"params,omitempty"`
	// User and Password authenticate the service to the endpoint, given
	// in the Subscribe's wst:IssuedTokens.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
}

// expiry is a requested wse:Expires: an instant, and whether the
// subscriber gave a duration (answers then speak in durations too).
type expiry struct {
	set        bool
	at         time.Time
	asDuration bool
	// duration is what was asked for, when asDuration.
	duration time.Duration
}

// subscribeRequest is a decoded wse:Subscribe body.
type subscribeRequest struct {
	mode     string
	notifyTo *endpoint
	endTo    *endpoint
	expires  expiry
	// filter is the wsman:Filter or wse:Filter element, dialect its
	// Dialect attribute.
	filter  *element
	dialect string
	// profile is the wsman:Auth Profile of delivery ("" when none).
	profile       string
	heartbeat     time.Duration
	sendBookmarks bool
	// bookmark is the text of a wsman:Bookmark to resume from.
	bookmark    string
	hasBookmark bool
	// maxEnvelope and envelopePolicy are the Delivery's
	// wsman:MaxEnvelopeSize and its Policy.
	maxEnvelope    int
	envelopePolicy string
}

// Policies of an event larger than the Delivery's MaxEnvelopeSize.
const (
	policyCancel = "CancelSubscription"
	policySkip   = "Skip"
	policyNotify = "Notify"
)

// maxExpiry bounds durations and dates of wse:Expires: beyond about a
// century a subscription does not expire in any useful sense (WinRM asks
// for 125 years), and time arithmetic stays in range.
const maxExpiry = 100 * 365 * 24 * time.Hour

// parseExpires reads a wse:Expires value: an xs:duration or an
// xs:dateTime (without a zone: UTC), which must lie in the future. A value
// that is neither is wse:UnsupportedExpirationType; zero, negative or past
// values are wse:InvalidExpirationTime.
func parseExpires(text string, now time.Time) (expiry, *Fault) {
	text = strings.TrimSpace(text)
	invalid := func(why string) (expiry, *Fault) {
		return expiry{}, senderFault(subEvtInvalidExpiration, "", "wse:Expires %q %s", text, why)
	}
	if strings.HasPrefix(text, "P") || strings.HasPrefix(text, "-P") {
		d, err := parseDurationMax(text, maxExpiry.Seconds())
		switch {
		case err == errDurationRange:
			d = maxExpiry
		case err != nil:
			return expiry{}, senderFault(subEvtUnsupportedExpType, "", "wse:Expires %q is not an xs:duration or an xs:dateTime", text)
		case d <= 0:
			return invalid("is not a positive duration")
		}
		return expiry{set: true, at: now.Add(d), asDuration: true, duration: d}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		t, err := time.Parse(layout, text)
		if err != nil {
			continue
		}
		if !t.After(now) {
			return invalid("lies in the past")
		}
		if t.Sub(now) > maxExpiry {
			t = now.Add(maxExpiry)
		}
		return expiry{set: true, at: t}, nil
	}
	return expiry{}, senderFault(subEvtUnsupportedExpType, "", "wse:Expires %q is not an xs:duration or an xs:dateTime", text)
}

// format writes an expiry as the subscriber expressed it: the remaining
// duration at now, or the instant.
func (e expiry) format(now time.Time) string {
	if e.asDuration {
		return formatDuration(max(e.at.Sub(now), 0).Round(time.Millisecond))
	}
	return e.at.UTC().Format(time.RFC3339Nano)
}

// parseSubscribe decodes a wse:Subscribe body and the credentials of its
// wst:IssuedTokens header.
func parseSubscribe(body, tokens *element, now time.Time) (*subscribeRequest, *Fault) {
	if body == nil || !body.Is(nsWSE, "Subscribe") {
		return nil, schemaFault("a Subscribe request must hold a wse:Subscribe body")
	}
	sr := &subscribeRequest{mode: deliveryPush}
	var delivery *element
	for _, c := range body.Children {
		switch {
		case c.Is(nsWSE, "Delivery"):
			if delivery != nil {
				return nil, invalidMessage("more than one wse:Delivery")
			}
			delivery = c
		case c.Is(nsWSE, "EndTo"):
			ep, f := parseEndpoint(c, "wse:EndTo")
			if f != nil {
				return nil, f
			}
			sr.endTo = ep
		case c.Is(nsWSE, "Expires"):
			e, f := parseExpires(c.Text, now)
			if f != nil {
				return nil, f
			}
			sr.expires = e
		case c.Is(nsWSMAN, "Filter") || c.Is(nsWSE, "Filter"):
			if sr.filter != nil {
				// DSP0226 R10.2.2: wsman:Filter and wse:Filter are
				// alternatives.
				return nil, invalidMessage("the Subscribe holds more than one filter (wsman:Filter and wse:Filter are alternatives)")
			}
			sr.filter = c
			d, ok := c.AttrNS("", "Dialect")
			sr.dialect = strings.TrimSpace(d)
			if !ok && c.Space == nsWSE {
				// WS-Eventing's default dialect.
				sr.dialect = dialectXPath
			}
		case c.Is(nsWSMAN, "SendBookmarks"):
			sr.sendBookmarks = true
		case c.Is(nsWSMAN, "Bookmark"):
			sr.bookmark, sr.hasBookmark = strings.TrimSpace(c.Text), true
			if sr.bookmark == "" && len(c.Children) > 0 {
				sr.bookmark = string(appendElementXML(nil, c.Children[0]))
			}
		case c.Space == nsWSE:
			return nil, invalidMessage("unexpected element wse:%s in Subscribe", c.Local)
		}
		// Other extensions (wsmb:PolymorphismMode, which DSP0227 lets a
		// service ignore on Subscribe, and vendor elements) are ignored.
	}
	if delivery != nil {
		if f := sr.parseDelivery(delivery); f != nil {
			return nil, f
		}
	}
	if sr.mode != deliveryPull && sr.notifyTo == nil {
		return nil, invalidMessage("the delivery mode %s needs a wse:NotifyTo in wse:Delivery", sr.mode)
	}
	if sr.mode == deliveryPull {
		sr.notifyTo = nil
	}
	if tokens != nil {
		if f := sr.parseTokens(tokens); f != nil {
			return nil, f
		}
	}
	if sr.profile != "" && sr.notifyTo != nil {
		secure := sr.profile == secProfileHTTPSBasic || sr.profile == secProfileHTTPSDig
		if secure && !strings.HasPrefix(strings.ToLower(sr.notifyTo.Address), "https:") {
			return nil, senderFault(subEventDeliverToUnusable, "", "the security profile %s needs an https:// NotifyTo address, not %q", sr.profile, sr.notifyTo.Address)
		}
		if sr.notifyTo.User == "" {
			return nil, senderFault(subInvalidParameter, detailMissingValues, "the security profile %s needs credentials for the event sink: give them in a wst:IssuedTokens header (wsman subscribe --delivery-username/--delivery-password)", sr.profile)
		}
	}
	return sr, nil
}

func invalidMessage(format string, args ...any) *Fault {
	return senderFault(subEvtInvalidMessage, "", format, args...)
}

// supportedModes is the detail of wse:DeliveryModeRequestedUnavailable.
const supportedModes = `<wse:SupportedDeliveryMode xmlns:wse="` + nsWSE + `">` + deliveryPush + `</wse:SupportedDeliveryMode>` +
	`<wse:SupportedDeliveryMode xmlns:wse="` + nsWSE + `">` + deliveryPushWithAck + `</wse:SupportedDeliveryMode>` +
	`<wse:SupportedDeliveryMode xmlns:wse="` + nsWSE + `">` + deliveryEvents + `</wse:SupportedDeliveryMode>` +
	`<wse:SupportedDeliveryMode xmlns:wse="` + nsWSE + `">` + deliveryPull + `</wse:SupportedDeliveryMode>`

// parseDelivery reads wse:Delivery: the mode and its options.
func (sr *subscribeRequest) parseDelivery(d *element) *Fault {
	if m, ok := d.AttrNS("", "Mode"); ok {
		switch m = strings.TrimSpace(m); m {
		case deliveryPush, deliveryPushWithAck, deliveryEvents, deliveryPull:
			sr.mode = m
		default:
			f := senderFault(subDeliveryModeUnavail, "", "the delivery mode %q is not supported", m)
			f.DetailXML = supportedModes
			return f
		}
	}
	var f *Fault
	for _, c := range d.Children {
		switch {
		case c.Is(nsWSE, "NotifyTo"):
			if sr.notifyTo, f = parseEndpoint(c, "wse:NotifyTo"); f != nil {
				return f
			}
		case c.Is(nsWSMAN, "Heartbeats"):
			if sr.heartbeat, f = parseHeartbeats(c); f != nil {
				return f
			}
		case c.Is(nsWSMAN, "ConnectionRetry"):
			return unsupportedFault(detailDeliveryRetries, "wsman:ConnectionRetry is not supported: the service retries failed deliveries on its own schedule (CIM_IndicationService DeliveryRetryAttempts and DeliveryRetryInterval)")
		case c.Is(nsWSMAN, "Auth"):
			if hb := c.ChildNS(nsWSMAN, "Heartbeats"); hb != nil && sr.heartbeat == 0 {
				// openwsman's client writes Heartbeats inside Auth when both
				// are given.
				if sr.heartbeat, f = parseHeartbeats(hb); f != nil {
					return f
				}
			}
			p, _ := c.AttrNS("", "Profile")
			switch p = strings.TrimSpace(p); p {
			case secProfileHTTPBasic, secProfileHTTPDigest, secProfileHTTPSBasic, secProfileHTTPSDig:
				sr.profile = p
			default:
				return unsupportedFault(detailAuthorizationMode, "the delivery security profile %q is not supported; use http/basic, http/digest, https/basic or https/digest", p)
			}
		case c.Is(nsWSMAN, "MaxEnvelopeSize"):
			n, err := strconv.ParseUint(c.TrimmedText(), 10, 31)
			if err != nil {
				return invalidMessage("wsman:MaxEnvelopeSize %q is not a positive integer", c.TrimmedText())
			}
			if n < 8192 {
				return senderFault(subEncodingLimit, detailMinimumEnvelopeLimit, "wsman:MaxEnvelopeSize %d is below the minimum of 8192 octets", n)
			}
			sr.maxEnvelope = int(n)
			sr.envelopePolicy = policyNotify
			if p, ok := c.AttrNS("", "Policy"); ok {
				switch p = strings.TrimSpace(p); p {
				case policyCancel, policySkip, policyNotify:
					sr.envelopePolicy = p
				default:
					return invalidMessage("the MaxEnvelopeSize Policy %q is not CancelSubscription, Skip or Notify", p)
				}
			}
		case c.Is(nsWSMAN, "MaxElements"):
			if n, err := strconv.ParseUint(c.TrimmedText(), 10, 31); err != nil || n == 0 {
				return invalidMessage("wsman:MaxElements %q is not a positive integer", c.TrimmedText())
			}
		case c.Is(nsWSMAN, "MaxTime"):
			if d, err := parseDuration(c.TrimmedText()); err != nil || d <= 0 {
				return invalidMessage("wsman:MaxTime %q is not a positive xs:duration", c.TrimmedText())
			}
		case c.Space == nsWSE:
			return invalidMessage("unexpected element wse:%s in Delivery", c.Local)
		}
		// wsman:Locale and wsman:ContentEncoding are hints: events are sent
		// in UTF-8 with English text whatever they ask.
	}
	return nil
}

// parseHeartbeats reads wsman:Heartbeats: an interval of at least a
// second.
func parseHeartbeats(e *element) (time.Duration, *Fault) {
	d, err := parseDuration(e.TrimmedText())
	if err != nil || d < time.Second {
		return 0, unsupportedFault(detailHeartbeats, "wsman:Heartbeats %q is not an xs:duration of at least one second", e.TrimmedText())
	}
	return d, nil
}

// parseEndpoint reads an endpoint reference of the subscriber: its
// address, which must be an http:// or https:// URL without credentials,
// and its reference parameters.
func parseEndpoint(e *element, what string) (*endpoint, *Fault) {
	var ep endpoint
	found := false
	for _, c := range e.Children {
		if c.Space != nsWSA && c.Space != nsWSA10 {
			continue // wsp:Policy and other extensions
		}
		switch c.Local {
		case "Address":
			ep.Address, found = c.TrimmedText(), true
		case "ReferenceParameters", "ReferenceProperties":
			for _, p := range c.Children {
				ep.Params += string(appendElementXML(nil, p))
			}
		}
	}
	if !found || ep.Address == "" {
		return nil, invalidMessage("%s has no wsa:Address", what)
	}
	u, err := url.Parse(ep.Address)
	switch {
	case err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Hostname() == "":
		return nil, senderFault(subEventDeliverToUnusable, "", "the %s address %q is not an http:// or https:// URL with a host", what, ep.Address)
	case u.User != nil:
		return nil, senderFault(subEventDeliverToUnusable, "", "the %s address %q carries credentials: give them in a wst:IssuedTokens header", what, ep.Address)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, senderFault(subEventDeliverToUnusable, "", "the %s address %q has an invalid port", what, ep.Address)
		}
	}
	return &ep, nil
}

// parseTokens reads the credentials of wst:IssuedTokens: each
// wst:RequestSecurityTokenResponse holds a user name token and, in
// wsp:AppliesTo, the address it is for (the NotifyTo's when absent).
func (sr *subscribeRequest) parseTokens(tokens *element) *Fault {
	for _, r := range tokens.Children {
		if !r.Is(nsTrust, "RequestSecurityTokenResponse") {
			continue
		}
		tt := r.ChildNS(nsTrust, "TokenType").TrimmedText()
		switch tt {
		case tokenUsername:
		case tokenCertThumbprint:
			return unsupportedFault(detailAuthorizationMode, "certificate thumbprint tokens are not supported: the service authenticates to event sinks with user names and passwords only")
		default:
			return senderFault(subInvalidOptions, detailNotSupported, "the token type %q is not supported; send a user name token", tt)
		}
		ut := r.ChildNS(nsTrust, "RequestedSecurityToken").ChildNS(nsWSSE, "UsernameToken")
		user, password := ut.ChildNS(nsWSSE, "Username").TrimmedText(), ut.ChildNS(nsWSSE, "Password").Text
		if user == "" {
			return senderFault(subInvalidParameter, detailMissingValues, "the user name token has no wsse:Username")
		}
		target := sr.notifyTo
		if a := r.ChildNS(nsPolicy, "AppliesTo"); a != nil {
			addr := ""
			for _, c := range a.Children {
				if c.Local == "EndpointReference" {
					for _, x := range c.Children {
						if x.Local == "Address" {
							addr = x.TrimmedText()
						}
					}
				}
			}
			switch {
			case sr.notifyTo != nil && addr == sr.notifyTo.Address:
			case sr.endTo != nil && addr == sr.endTo.Address:
				target = sr.endTo
			default:
				return senderFault(subInvalidParameter, detailInvalidValue, "the credentials apply to %q, which is neither the NotifyTo nor the EndTo address", addr)
			}
		}
		if target == nil {
			return senderFault(subInvalidParameter, detailInvalidValue, "credentials were given but there is no NotifyTo (Pull delivery) for them to apply to")
		}
		target.User, target.Password = user, password
	}
	return nil
}
