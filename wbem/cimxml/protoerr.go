package cimxml

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// The values of the CIMError header (DSP0200 clause 7.3), which qualify an
// HTTP error status for a request the server refuses as a whole.
const (
	cimErrUnsupportedProtocolVersion = "unsupported-protocol-version"
	cimErrMultipleRequests           = "multiple-requests-unsupported"
	cimErrUnsupportedCIMVersion      = "unsupported-cim-version"
	cimErrUnsupportedDTDVersion      = "unsupported-dtd-version"
	cimErrRequestNotValid            = "request-not-valid"
	cimErrRequestNotWellFormed       = "request-not-well-formed"
	cimErrHeaderMismatch             = "header-mismatch"
	cimErrUnsupportedOperation       = "unsupported-operation"
)

// protocolError is a request refused at the HTTP level: it is answered
// with an HTTP error status, the CIMError header when DSP0200 defines a
// value for the case, and a plain-text explanation.
type protocolError struct {
	status   int
	cimError string
	detail   string
}

func (e *protocolError) Error() string {
	if e.cimError != "" {
		return fmt.Sprintf("%d %s (%s): %s", e.status, http.StatusText(e.status), e.cimError, e.detail)
	}
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.detail)
}

func protoErrorf(status int, cimError, format string, args ...any) *protocolError {
	return &protocolError{status: status, cimError: cimError, detail: fmt.Sprintf(format, args...)}
}

// notValid is the common case: a well-formed request that is not a valid
// CIM-XML operation request.
func notValid(format string, args ...any) *protocolError {
	return protoErrorf(http.StatusBadRequest, cimErrRequestNotValid, format, args...)
}

// protocolErrorOf returns the protocol error err is: one of the adapter's,
// or a structural fault the codec found (request-not-valid).
func protocolErrorOf(err error) (*protocolError, bool) {
	if err == nil {
		return nil, false
	}
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe, true
	}
	var nv *xmlcodec.NotValidError
	if errors.As(err, &nv) {
		return notValid("%s", nv.Detail), true
	}
	return nil, false
}

// invalidParam is the CIM error for a bad parameter value.
func invalidParam(format string, args ...any) *cim.Error {
	return cim.Errorf(cim.ErrInvalidParameter, format, args...)
}
