package wsman

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hypercim/hypercim/cim"
)

// qname is a namespace-qualified name, written with a fixed prefix.
type qname struct {
	space, prefix, local string
}

func (q qname) String() string { return q.prefix + ":" + q.local }

// Fault subcodes (DSP0226 clause 14.6).
var (
	subAccessDenied          = qname{nsWSMAN, "wsman", "AccessDenied"}
	subAlreadyExists         = qname{nsWSMAN, "wsman", "AlreadyExists"}
	subEncodingLimit         = qname{nsWSMAN, "wsman", "EncodingLimit"}
	subInternalError         = qname{nsWSMAN, "wsman", "InternalError"}
	subInvalidOptions        = qname{nsWSMAN, "wsman", "InvalidOptions"}
	subInvalidParameter      = qname{nsWSMAN, "wsman", "InvalidParameter"}
	subInvalidSelectors      = qname{nsWSMAN, "wsman", "InvalidSelectors"}
	subQuotaLimit            = qname{nsWSMAN, "wsman", "QuotaLimit"}
	subSchemaValidationError = qname{nsWSMAN, "wsman", "SchemaValidationError"}
	subTimedOut              = qname{nsWSMAN, "wsman", "TimedOut"}
	subUnsupportedFeature    = qname{nsWSMAN, "wsman", "UnsupportedFeature"}
	subCannotProcessFilter   = qname{nsWSMAN, "wsman", "CannotProcessFilter"}
	subFragmentDialect       = qname{nsWSMAN, "wsman", "FragmentDialectNotSupported"}
	subActionNotSupported    = qname{nsWSA, "wsa", "ActionNotSupported"}
	subDestinationUnreach    = qname{nsWSA, "wsa", "DestinationUnreachable"}
	subInvalidMIH            = qname{nsWSA, "wsa", "InvalidMessageInformationHeader"}
	subMIHRequired           = qname{nsWSA, "wsa", "MessageInformationHeaderRequired"}
	subInvalidEnumContext    = qname{nsWSEN, "wsen", "InvalidEnumerationContext"}
	subFilterDialectUnavail  = qname{nsWSEN, "wsen", "FilterDialectRequestedUnavailable"}
	subFilteringNotSupported = qname{nsWSEN, "wsen", "FilteringNotSupported"}
	subInvalidExpiration     = qname{nsWSEN, "wsen", "InvalidExpirationTime"}
	subUnsupportedExpiration = qname{nsWSEN, "wsen", "UnsupportedExpirationType"}
	subInvalidRepresentation = qname{nsWXF, "wxf", "InvalidRepresentation"}
	subPolymorphismMode      = qname{nsWSMB, "wsmb", "PolymorphismModeNotSupported"}
	// WS-Eventing and the WS-Management faults of eventing.
	subDeliveryModeUnavail    = qname{nsWSE, "wse", "DeliveryModeRequestedUnavailable"}
	subEvtInvalidExpiration   = qname{nsWSE, "wse", "InvalidExpirationTime"}
	subEvtUnsupportedExpType  = qname{nsWSE, "wse", "UnsupportedExpirationType"}
	subEvtFilteringNotSupp    = qname{nsWSE, "wse", "FilteringNotSupported"}
	subEvtFilteringUnavail    = qname{nsWSE, "wse", "FilteringRequestedUnavailable"}
	subEventSourceUnable      = qname{nsWSE, "wse", "EventSourceUnableToProcess"}
	subUnableToRenew          = qname{nsWSE, "wse", "UnableToRenew"}
	subEvtInvalidMessage      = qname{nsWSE, "wse", "InvalidMessage"}
	subEventDeliverToUnusable = qname{nsWSMAN, "wsman", "EventDeliverToUnusable"}
	subInvalidBookmark        = qname{nsWSMAN, "wsman", "InvalidBookmark"}
	subDeliveryRefused        = qname{nsWSMAN, "wsman", "DeliveryRefused"}
)

// Fault detail codes (DSP0226 clause 14.6; appended to faultDetailPrefix).
const (
	detailInsufficientSelectors = "InsufficientSelectors"
	detailUnexpectedSelectors   = "UnexpectedSelectors"
	detailDuplicateSelectors    = "DuplicateSelectors"
	detailTypeMismatch          = "TypeMismatch"
	detailInvalidValue          = "InvalidValue"
	detailInvalidResourceURI    = "InvalidResourceURI"
	detailActionMismatch        = "ActionMismatch"
	detailAddressingMode        = "AddressingMode"
	detailCharacterSet          = "CharacterSet"
	detailFragmentLevelAccess   = "FragmentLevelAccess"
	detailInvalidFragment       = "InvalidFragment"
	detailLocale                = "Locale"
	detailMaxEnvelopeSize       = "MaxEnvelopeSize"
	detailMinimumEnvelopeLimit  = "MinimumEnvelopeLimit"
	detailServiceEnvelopeLimit  = "ServiceEnvelopeLimit"
	detailEnumerationMode       = "EnumerationMode"
	detailFilteringRequired     = "FilteringRequired"
	detailOperationTimeout      = "OperationTimeout"
	detailMissingValues         = "MissingValues"
	detailNotSupported          = "NotSupported"
	detailUnexpectedValue       = "UnexpectedValue"
	detailInvalidName           = "InvalidName"
	detailHeartbeats            = "Heartbeats"
	detailBookmarks             = "Bookmarks"
	detailDeliveryRetries       = "DeliveryRetries"
	detailAuthorizationMode     = "AuthorizationMode"
	detailInvalidFormat         = "InvalidFormat"
	detailExpired               = "Expired"
	detailInvalidAddress        = "InvalidAddress"
)

// Fault is a SOAP fault as DSP0226 clause 14 defines it. Handlers return
// it as an error; ServeHTTP writes it.
type Fault struct {
	// Code is the SOAP 1.2 fault code: "Sender", "Receiver",
	// "MustUnderstand" or "VersionMismatch".
	Code string
	// Subcode is the WS-Management subcode (empty for MustUnderstand and
	// VersionMismatch).
	Subcode qname
	// Action is the wsa:Action of the fault message.
	Action string
	// Reason is the human-readable text.
	Reason string
	// Detail is a fault detail code (the tail of a faultDetail URI), or "".
	Detail string
	// DetailXML is more s:Detail content, already XML (the supported
	// dialects or delivery modes of a WS-Eventing fault).
	DetailXML string
	// CIM carries the CIM error a fault was mapped from; its status and
	// description go into the detail as a CIM_Error instance (DSP0227).
	CIM *cim.Error
	// NotUnderstood names the header a MustUnderstand fault is about.
	NotUnderstood *qname
	// HTTPStatus overrides the status the SOAP 1.2 HTTP binding gives.
	HTTPStatus int
}

func (f *Fault) Error() string {
	s := f.Subcode.String()
	if f.Subcode.local == "" {
		s = "s:" + f.Code
	}
	if f.Detail != "" {
		s += " (" + f.Detail + ")"
	}
	return s + ": " + f.Reason
}

// status is the HTTP status of the fault. The SOAP 1.2 HTTP binding (W3C
// SOAP 1.2 part 2, clause 7.5.2.2), which DSP0226 clause 13 adopts, sends
// Sender faults with 400 and every other fault with 500; the clients we
// serve (openwsman, wsl, pywinrm, AMT tools) parse fault bodies on both.
func (f *Fault) status() int {
	if f.HTTPStatus != 0 {
		return f.HTTPStatus
	}
	if f.Code == "Sender" {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func newFault(code string, sub qname, action, detail, format string, args ...any) *Fault {
	return &Fault{Code: code, Subcode: sub, Action: action, Detail: detail, Reason: fmt.Sprintf(format, args...)}
}

func senderFault(sub qname, detail, format string, args ...any) *Fault {
	return newFault("Sender", sub, faultActionFor(sub), detail, format, args...)
}

func receiverFault(sub qname, detail, format string, args ...any) *Fault {
	return newFault("Receiver", sub, faultActionFor(sub), detail, format, args...)
}

// faultActionFor returns the fault action of the specification that
// defines the subcode.
func faultActionFor(sub qname) string {
	switch sub.space {
	case nsWSA:
		return actionWSAFault
	case nsWSEN:
		return actionWSENFault
	case nsWXF:
		return actionWXFFault
	case nsWSMB:
		return actionWSMBFault
	case nsWSE:
		return actionWSEFault
	}
	return actionWSMANFault
}

// Common faults.
func schemaFault(format string, args ...any) *Fault {
	return senderFault(subSchemaValidationError, "", format, args...)
}

func destinationFault(detail, format string, args ...any) *Fault {
	return senderFault(subDestinationUnreach, detail, format, args...)
}

func selectorFault(detail, format string, args ...any) *Fault {
	return senderFault(subInvalidSelectors, detail, format, args...)
}

func unsupportedFault(detail, format string, args ...any) *Fault {
	return senderFault(subUnsupportedFeature, detail, format, args...)
}

func internalFault(format string, args ...any) *Fault {
	return receiverFault(subInternalError, "", format, args...)
}

// faultFromCIM maps an error of the core to a fault (DSP0227 clause 11,
// after OpenPegasus's CimToWsmResponseMapper), keeping the CIM status for
// the fault detail.
func faultFromCIM(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	ce := cim.AsError(err)
	reason := ce.Error()
	var out *Fault
	switch ce.Status {
	case cim.ErrAccessDenied:
		out = senderFault(subAccessDenied, "", "%s", reason)
	case cim.ErrInvalidNamespace:
		out = destinationFault("", "%s", reason)
	case cim.ErrInvalidClass:
		out = destinationFault(detailInvalidResourceURI, "%s", reason)
	case cim.ErrNotFound:
		out = destinationFault("", "%s", reason)
	case cim.ErrInvalidParameter, cim.ErrTypeMismatch, cim.ErrNoSuchProperty:
		out = senderFault(subInvalidParameter, detailInvalidValue, "%s", reason)
	case cim.ErrMethodNotFound, cim.ErrMethodNotAvailable:
		out = senderFault(subActionNotSupported, detailActionMismatch, "%s", reason)
	case cim.ErrNotSupported:
		out = senderFault(subActionNotSupported, detailActionMismatch, "%s", reason)
	case cim.ErrInvalidQuery, cim.ErrQueryFeatureNotSupported:
		out = senderFault(subCannotProcessFilter, "", "%s", reason)
	case cim.ErrQueryLanguageNotSupported:
		out = senderFault(subFilteringNotSupported, "", "%s", reason)
	case cim.ErrAlreadyExists:
		out = senderFault(subAlreadyExists, "", "%s", reason)
	case cim.ErrInvalidEnumerationContext, cim.ErrPullHasBeenAbandoned:
		out = receiverFault(subInvalidEnumContext, "", "%s", reason)
	case cim.ErrInvalidOperationTimeout:
		out = unsupportedFault(detailOperationTimeout, "%s", reason)
	case cim.ErrServerLimitsExceeded:
		out = senderFault(subQuotaLimit, "", "%s", reason)
	case cim.ErrServerIsShuttingDown:
		out = receiverFault(qname{nsWSA, "wsa", "EndpointUnavailable"}, "", "%s", reason)
	case cim.ErrClassHasChildren, cim.ErrClassHasInstances, cim.ErrInvalidSuperclass, cim.ErrNamespaceNotEmpty:
		out = senderFault(subInvalidParameter, detailInvalidValue, "%s", reason)
	default:
		out = internalFault("%s", reason)
	}
	out.CIM = ce
	return out
}
