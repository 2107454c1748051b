package wsman

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/hypercim/hypercim/wbem/internal/xmlscan"
)

// request is a decoded SOAP envelope: the WS-Addressing and WS-Management
// headers the service acts on, and the body's element.
type request struct {
	action    string
	messageID string
	to        string

	hasResourceURI bool
	resourceURI    string
	selectorSet    *element

	// maxEnvelope is the wsman:MaxEnvelopeSize, 0 when absent.
	maxEnvelope int
	// timeout is the wsman:OperationTimeout, 0 when absent.
	timeout time.Duration
	locale  string
	options map[string]string

	hasFragment     bool
	fragment        string
	requestEstimate bool
	// requestEPR asks for the EPR of the resource in a Put answer
	// (DSP0226 R6.5-1).
	requestEPR bool

	// identifier is the wse:Identifier header: the reference parameter of
	// a subscription manager EPR that Renew, GetStatus and Unsubscribe
	// carry.
	identifier    string
	hasIdentifier bool
	// issuedTokens is the wst:IssuedTokens header of a Subscribe: the
	// credentials for the event sink.
	issuedTokens *element

	// body is the first element of s:Body, nil for an empty body.
	body *element
}

// headerName identifies a header the service understands.
type headerName struct{ space, local string }

// understood returns the index of a header the service processes (so
// mustUnderstand on it is honoured), or -1: anything else with
// mustUnderstand="true" gets the SOAP MustUnderstand fault. Both
// WS-Addressing namespaces are read, for clients that use the 2005 one.
func understood(n headerName) int {
	i := -1
	switch n.space {
	case nsWSA, nsWSA10:
		i = indexOf(n.local, "Action", "To", "MessageID", "ReplyTo", "FaultTo", "From", "RelatesTo")
	case nsWSMAN:
		if i = indexOf(n.local, "ResourceURI", "SelectorSet", "OperationTimeout", "MaxEnvelopeSize", "Locale", "OptionSet",
			"FragmentTransfer", "RequestTotalItemsCountEstimate", "RequestEPR"); i >= 0 {
			i += 16
		}
	case nsMSWSMAN:
		// WinRM's data locale and session headers carry nothing we act on
		// but are harmless to accept.
		if i = indexOf(n.local, "DataLocale", "SessionId", "OperationID", "SequenceId"); i >= 0 {
			i += 32
		}
	case nsWSE:
		if n.local == "Identifier" {
			i = 40
		}
	case nsTrust:
		if n.local == "IssuedTokens" {
			i = 41
		}
	}
	return i
}

func indexOf(s string, list ...string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// mustUnderstand reads the attribute, qualified (s:mustUnderstand) or not,
// as WinRM clients send it.
func mustUnderstand(e *element) bool {
	v, ok := e.AttrNS(nsSOAP, "mustUnderstand")
	if !ok {
		v, ok = e.AttrNS("", "mustUnderstand")
	}
	v = strings.TrimSpace(v)
	return ok && (v == "true" || v == "1")
}

// decodeEnvelope parses and checks a request. The returned request is set
// (with whatever MessageID was read) even with a fault, so the fault can
// relate to the request.
func decodeEnvelope(data []byte, lim Limits) (*request, *Fault) {
	req := &request{}
	root, err := parseXML(data, lim)
	if err != nil {
		if errors.Is(err, xmlscan.ErrLimit) {
			return req, senderFault(subEncodingLimit, detailServiceEnvelopeLimit, "the request exceeds the service's limits (size, nesting or element count)")
		}
		if errors.Is(err, xmlscan.ErrCharset) {
			return req, senderFault(subEncodingLimit, detailCharacterSet, "%v; send UTF-8", err)
		}
		return req, schemaFault("the request is not well-formed XML: %v", err)
	}
	if root.Local != "Envelope" || root.Space != nsSOAP {
		if root.Local == "Envelope" && root.Space == nsSOAP11 {
			return req, &Fault{Code: "VersionMismatch", Action: actionSOAPFault, Reason: "only SOAP 1.2 envelopes are accepted"}
		}
		return req, schemaFault("the document is not a SOAP 1.2 Envelope (found {%s}%s)", root.Space, root.Local)
	}
	var header, body *element
	for _, c := range root.Children {
		switch {
		case c.Is(nsSOAP, "Header") && header == nil && body == nil:
			header = c
		case c.Is(nsSOAP, "Body") && body == nil:
			body = c
		default:
			return req, schemaFault("unexpected element {%s}%s in the Envelope", c.Space, c.Local)
		}
	}
	if body == nil {
		return req, schemaFault("the Envelope has no Body")
	}
	if len(body.Children) > 1 {
		return req, schemaFault("the Body holds more than one element")
	}
	if len(body.Children) == 1 {
		req.body = body.Children[0]
	}
	if header == nil {
		return req, nil
	}
	// First pass: the MessageID, so that every later fault relates to it.
	for _, h := range header.Children {
		if h.Local == "MessageID" && (h.Space == nsWSA || h.Space == nsWSA10) {
			req.messageID = h.TrimmedText()
		}
	}
	var seen uint64 // by understood's index
	for _, h := range header.Children {
		name := headerName{h.Space, h.Local}
		index := understood(name)
		if index < 0 {
			if mustUnderstand(h) {
				return req, &Fault{Code: "MustUnderstand", Action: actionSOAPFault,
					NotUnderstood: &qname{h.Space, "h", h.Local},
					Reason:        "the header {" + h.Space + "}" + h.Local + " is marked mustUnderstand and is not supported"}
			}
			continue
		}
		if name.space == nsWSA10 {
			name.space = nsWSA
		}
		if seen&(1<<index) != 0 {
			// DSP0226 R13.1-9: a duplicated header is a fault.
			return req, senderFault(subInvalidMIH, "", "the header %s appears more than once", h.Local)
		}
		seen |= 1 << index
		if f := req.readHeader(name, h); f != nil {
			return req, f
		}
	}
	return req, nil
}

func (req *request) readHeader(name headerName, h *element) *Fault {
	switch name {
	case headerName{nsWSA, "Action"}:
		req.action = h.TrimmedText()
	case headerName{nsWSA, "To"}:
		// Never validated: clients send the most varied addresses here
		// (relative "/wsman", hard-coded host names).
		req.to = h.TrimmedText()
	case headerName{nsWSA, "ReplyTo"}, headerName{nsWSA, "FaultTo"}:
		addr := ""
		for _, c := range h.Children {
			if c.Local == "Address" {
				addr = c.TrimmedText()
			}
		}
		if addr != "" && addr != anonymousAddress && addr != anonymousAddress10 {
			// DSP0226 R5.4.2-2: responses go back on the HTTP connection.
			return unsupportedFault(detailAddressingMode, "only the anonymous %s address is supported, not %q", h.Local, addr)
		}
	case headerName{nsWSMAN, "ResourceURI"}:
		req.hasResourceURI = true
		req.resourceURI = h.TrimmedText()
	case headerName{nsWSMAN, "SelectorSet"}:
		req.selectorSet = h
	case headerName{nsWSMAN, "OperationTimeout"}:
		d, err := parseDuration(h.TrimmedText())
		if err != nil || d <= 0 {
			return senderFault(subInvalidMIH, detailOperationTimeout, "wsman:OperationTimeout %q is not a positive xs:duration", h.TrimmedText())
		}
		req.timeout = d
	case headerName{nsWSMAN, "MaxEnvelopeSize"}:
		n, err := strconv.ParseUint(h.TrimmedText(), 10, 31)
		if err != nil {
			return senderFault(subInvalidMIH, detailMaxEnvelopeSize, "wsman:MaxEnvelopeSize %q is not a positive integer", h.TrimmedText())
		}
		if n < 8192 {
			// DSP0226 R6.2-4.
			return senderFault(subEncodingLimit, detailMinimumEnvelopeLimit, "wsman:MaxEnvelopeSize %d is below the minimum of 8192 octets", n)
		}
		req.maxEnvelope = int(n)
	case headerName{nsWSMAN, "Locale"}:
		lang, _ := h.AttrNS(nsXML, "lang")
		req.locale = lang
		if mustUnderstand(h) && lang != "" && !strings.HasPrefix(strings.ToLower(lang), "en") {
			// DSP0226 R6.3-2: messages are only available in English.
			return unsupportedFault(detailLocale, "the locale %q is not supported; messages are in English", lang)
		}
	case headerName{nsWSMAN, "OptionSet"}:
		req.options = map[string]string{}
		for _, o := range h.Children {
			if o.Local != "Option" {
				continue
			}
			n, _ := o.AttrNS("", "Name")
			req.options[n] = o.TrimmedText()
			if mc, _ := o.AttrNS("", "MustComply"); strings.TrimSpace(mc) == "true" && !knownOption(n) {
				return senderFault(subInvalidOptions, detailNotSupported, "the option %q is not supported", n)
			}
		}
	case headerName{nsWSMAN, "FragmentTransfer"}:
		if d, ok := h.AttrNS("", "Dialect"); ok && d != dialectXPath && d != "" {
			return senderFault(subFragmentDialect, "", "the fragment dialect %q is not supported; use XPath 1.0", d)
		}
		req.hasFragment = true
		req.fragment = h.TrimmedText()
	case headerName{nsWSMAN, "RequestTotalItemsCountEstimate"}:
		req.requestEstimate = true
	case headerName{nsWSMAN, "RequestEPR"}:
		req.requestEPR = true
	case headerName{nsWSE, "Identifier"}:
		req.identifier, req.hasIdentifier = h.TrimmedText(), true
	case headerName{nsTrust, "IssuedTokens"}:
		req.issuedTokens = h
	}
	return nil
}

// knownOption reports the OptionSet options the service honours; others
// are ignored unless they must be complied with.
func knownOption(name string) bool {
	return name == "ExcludeNilProperties"
}

// excludeNil reports openwsman's ExcludeNilProperties option.
func (req *request) excludeNil() bool {
	v, ok := req.options["ExcludeNilProperties"]
	return ok && (v == "" || strings.EqualFold(v, "true"))
}

// parseDuration parses an xs:duration (PnYnMnDTnHnMnS) of at most 10^9
// seconds; years and months count as 365 and 30 days, as they only appear
// in timeouts and expiry.
func parseDuration(s string) (time.Duration, error) { return parseDurationMax(s, 1e9) }

// errDurationRange reports a well-formed xs:duration beyond the maximum.
var errDurationRange = errors.New("xs:duration out of range")

// parseDurationMax parses an xs:duration of at most maxSeconds.
func parseDurationMax(s string, maxSeconds float64) (time.Duration, error) {
	bad := errors.New("not an xs:duration")
	if s == "" {
		return 0, bad
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) < 2 || s[0] != 'P' {
		return 0, bad
	}
	s = s[1:]
	var total float64
	inTime, any := false, false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime, s = true, s[1:]
			if s == "" {
				return 0, bad
			}
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, bad
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, bad
		}
		unit := s[i]
		s = s[i+1:]
		var sec float64
		switch {
		case !inTime && unit == 'Y':
			sec = 365 * 86400
		case !inTime && unit == 'M':
			sec = 30 * 86400
		case !inTime && unit == 'D':
			sec = 86400
		case inTime && unit == 'H':
			sec = 3600
		case inTime && unit == 'M':
			sec = 60
		case inTime && unit == 'S':
			sec = 1
		default:
			return 0, bad
		}
		total += n * sec
		any = true
	}
	if !any {
		return 0, bad
	}
	if total > maxSeconds {
		return 0, errDurationRange
	}
	d := time.Duration(total * float64(time.Second))
	if neg {
		d = -d
	}
	return d, nil
}
