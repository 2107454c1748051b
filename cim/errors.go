package cim

import (
	"errors"
	"fmt"
	"strconv"
)

// Status is a CIM status code (DSP0200 clause 5.3.1.1, CIM_Error.CIMStatusCode).
// Every code other than StatusOK is itself an error, which makes the codes
// usable as sentinels: errors.Is(err, cim.ErrNotFound) holds for any *Error
// carrying that code.
type Status int

// The CIM status codes of DSP0200, with the values of
// CIM_Error.CIMStatusCode.
const (
	StatusOK                           Status = 0
	ErrFailed                          Status = 1  // CIM_ERR_FAILED
	ErrAccessDenied                    Status = 2  // CIM_ERR_ACCESS_DENIED
	ErrInvalidNamespace                Status = 3  // CIM_ERR_INVALID_NAMESPACE
	ErrInvalidParameter                Status = 4  // CIM_ERR_INVALID_PARAMETER
	ErrInvalidClass                    Status = 5  // CIM_ERR_INVALID_CLASS
	ErrNotFound                        Status = 6  // CIM_ERR_NOT_FOUND
	ErrNotSupported                    Status = 7  // CIM_ERR_NOT_SUPPORTED
	ErrClassHasChildren                Status = 8  // CIM_ERR_CLASS_HAS_CHILDREN
	ErrClassHasInstances               Status = 9  // CIM_ERR_CLASS_HAS_INSTANCES
	ErrInvalidSuperclass               Status = 10 // CIM_ERR_INVALID_SUPERCLASS
	ErrAlreadyExists                   Status = 11 // CIM_ERR_ALREADY_EXISTS
	ErrNoSuchProperty                  Status = 12 // CIM_ERR_NO_SUCH_PROPERTY
	ErrTypeMismatch                    Status = 13 // CIM_ERR_TYPE_MISMATCH
	ErrQueryLanguageNotSupported       Status = 14 // CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED
	ErrInvalidQuery                    Status = 15 // CIM_ERR_INVALID_QUERY
	ErrMethodNotAvailable              Status = 16 // CIM_ERR_METHOD_NOT_AVAILABLE
	ErrMethodNotFound                  Status = 17 // CIM_ERR_METHOD_NOT_FOUND
	ErrUnexpectedResponse              Status = 18 // CIM_ERR_UNEXPECTED_RESPONSE
	ErrInvalidResponseDestination      Status = 19 // CIM_ERR_INVALID_RESPONSE_DESTINATION
	ErrNamespaceNotEmpty               Status = 20 // CIM_ERR_NAMESPACE_NOT_EMPTY
	ErrInvalidEnumerationContext       Status = 21 // CIM_ERR_INVALID_ENUMERATION_CONTEXT
	ErrInvalidOperationTimeout         Status = 22 // CIM_ERR_INVALID_OPERATION_TIMEOUT
	ErrPullHasBeenAbandoned            Status = 23 // CIM_ERR_PULL_HAS_BEEN_ABANDONED
	ErrPullCannotBeAbandoned           Status = 24 // CIM_ERR_PULL_CANNOT_BE_ABANDONED
	ErrFilteredEnumerationNotSupported Status = 25 // CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED
	ErrContinuationOnErrorNotSupported Status = 26 // CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED
	ErrServerLimitsExceeded            Status = 27 // CIM_ERR_SERVER_LIMITS_EXCEEDED
	ErrServerIsShuttingDown            Status = 28 // CIM_ERR_SERVER_IS_SHUTTING_DOWN
	ErrQueryFeatureNotSupported        Status = 29 // CIM_ERR_QUERY_FEATURE_NOT_SUPPORTED (CIM_Error 2.49)
)

// Name returns the DSP0200 symbolic name of s, e.g. "CIM_ERR_NOT_FOUND",
// or "CIM_ERR_<n>" for a code DSP0200 does not define.
func (s Status) Name() string {
	switch s {
	case StatusOK:
		return "CIM_ERR_SUCCESS"
	case ErrFailed:
		return "CIM_ERR_FAILED"
	case ErrAccessDenied:
		return "CIM_ERR_ACCESS_DENIED"
	case ErrInvalidNamespace:
		return "CIM_ERR_INVALID_NAMESPACE"
	case ErrInvalidParameter:
		return "CIM_ERR_INVALID_PARAMETER"
	case ErrInvalidClass:
		return "CIM_ERR_INVALID_CLASS"
	case ErrNotFound:
		return "CIM_ERR_NOT_FOUND"
	case ErrNotSupported:
		return "CIM_ERR_NOT_SUPPORTED"
	case ErrClassHasChildren:
		return "CIM_ERR_CLASS_HAS_CHILDREN"
	case ErrClassHasInstances:
		return "CIM_ERR_CLASS_HAS_INSTANCES"
	case ErrInvalidSuperclass:
		return "CIM_ERR_INVALID_SUPERCLASS"
	case ErrAlreadyExists:
		return "CIM_ERR_ALREADY_EXISTS"
	case ErrNoSuchProperty:
		return "CIM_ERR_NO_SUCH_PROPERTY"
	case ErrTypeMismatch:
		return "CIM_ERR_TYPE_MISMATCH"
	case ErrQueryLanguageNotSupported:
		return "CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED"
	case ErrInvalidQuery:
		return "CIM_ERR_INVALID_QUERY"
	case ErrMethodNotAvailable:
		return "CIM_ERR_METHOD_NOT_AVAILABLE"
	case ErrMethodNotFound:
		return "CIM_ERR_METHOD_NOT_FOUND"
	case ErrUnexpectedResponse:
		return "CIM_ERR_UNEXPECTED_RESPONSE"
	case ErrInvalidResponseDestination:
		return "CIM_ERR_INVALID_RESPONSE_DESTINATION"
	case ErrNamespaceNotEmpty:
		return "CIM_ERR_NAMESPACE_NOT_EMPTY"
	case ErrInvalidEnumerationContext:
		return "CIM_ERR_INVALID_ENUMERATION_CONTEXT"
	case ErrInvalidOperationTimeout:
		return "CIM_ERR_INVALID_OPERATION_TIMEOUT"
	case ErrPullHasBeenAbandoned:
		return "CIM_ERR_PULL_HAS_BEEN_ABANDONED"
	case ErrPullCannotBeAbandoned:
		return "CIM_ERR_PULL_CANNOT_BE_ABANDONED"
	case ErrFilteredEnumerationNotSupported:
		return "CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED"
	case ErrContinuationOnErrorNotSupported:
		return "CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED"
	case ErrServerLimitsExceeded:
		return "CIM_ERR_SERVER_LIMITS_EXCEEDED"
	case ErrServerIsShuttingDown:
		return "CIM_ERR_SERVER_IS_SHUTTING_DOWN"
	case ErrQueryFeatureNotSupported:
		return "CIM_ERR_QUERY_FEATURE_NOT_SUPPORTED"
	}
	return "CIM_ERR_" + strconv.Itoa(int(s))
}

// ParseStatus returns the Status with the given symbolic name
// ("CIM_ERR_NOT_FOUND", case-insensitive) or decimal code ("6").
func ParseStatus(name string) (Status, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		return Status(n), n >= 0
	}
	for s := StatusOK; s <= ErrQueryFeatureNotSupported; s++ {
		if EqualNames(name, s.Name()) {
			return s, true
		}
	}
	return 0, false
}

// String returns the symbolic name.
func (s Status) String() string { return s.Name() }

// Error makes a Status usable as an error and as an errors.Is target.
func (s Status) Error() string { return s.Name() }

// Description returns DSP0200's short description of the code, used when an
// error carries no description of its own.
func (s Status) Description() string {
	switch s {
	case StatusOK:
		return "success"
	case ErrFailed:
		return "a general error occurred that is not covered by a more specific error code"
	case ErrAccessDenied:
		return "access to a CIM resource is not available to the client"
	case ErrInvalidNamespace:
		return "the target namespace does not exist"
	case ErrInvalidParameter:
		return "one or more parameter values passed to the method are not valid"
	case ErrInvalidClass:
		return "the specified class does not exist"
	case ErrNotFound:
		return "the requested object cannot be found"
	case ErrNotSupported:
		return "the requested operation is not supported"
	case ErrClassHasChildren:
		return "the operation cannot be invoked on this class because it has subclasses"
	case ErrClassHasInstances:
		return "the operation cannot be invoked on this class because one or more instances of this class exist"
	case ErrInvalidSuperclass:
		return "the operation cannot be invoked because the specified superclass does not exist"
	case ErrAlreadyExists:
		return "the operation cannot be invoked because an object already exists"
	case ErrNoSuchProperty:
		return "the specified property does not exist"
	case ErrTypeMismatch:
		return "the value supplied is not compatible with the type"
	case ErrQueryLanguageNotSupported:
		return "the query language is not recognized or supported"
	case ErrInvalidQuery:
		return "the query is not valid for the specified query language"
	case ErrMethodNotAvailable:
		return "the extrinsic method cannot be invoked"
	case ErrMethodNotFound:
		return "the specified extrinsic method does not exist"
	case ErrUnexpectedResponse:
		return "the returned response to the asynchronous operation was not expected"
	case ErrInvalidResponseDestination:
		return "the specified destination for the asynchronous response is not valid"
	case ErrNamespaceNotEmpty:
		return "the specified namespace is not empty"
	case ErrInvalidEnumerationContext:
		return "the enumeration identified by the specified context cannot be found, is in a closed state, does not exist, or is otherwise invalid"
	case ErrInvalidOperationTimeout:
		return "the specified operation timeout is not supported by the WBEM server"
	case ErrPullHasBeenAbandoned:
		return "the pull operation has been abandoned due to execution of a concurrent CloseEnumeration operation on the same enumeration"
	case ErrPullCannotBeAbandoned:
		return "the attempt to abandon a concurrent pull operation on the same enumeration failed"
	case ErrFilteredEnumerationNotSupported:
		return "using a filter query in enumeration operations is not supported by the WBEM server"
	case ErrContinuationOnErrorNotSupported:
		return "the WBEM server does not support continuation on error"
	case ErrServerLimitsExceeded:
		return "the WBEM server has failed the operation based upon exceeding server limits"
	case ErrServerIsShuttingDown:
		return "the WBEM server is shutting down and cannot process the operation"
	case ErrQueryFeatureNotSupported:
		return "the specified query feature is not supported"
	}
	return "unknown CIM status code"
}

// Error is the error every CIM operation returns: a DSP0200 status code, a
// description for humans, optionally CIM_Error instances with structured
// details (DSP0201 ERROR element content), and optionally the Go error that
// caused it.
//
// Use errors.As(err, &cimErr) to get at it, errors.Is(err, cim.ErrNotFound)
// to test the code, and StatusOf(err) to map any error to a code.
type Error struct {
	Status      Status
	Description string
	// Instances are CIM_Error instances giving details (DSP0200 clause
	// 5.3.1.2); usually nil.
	Instances []*Instance
	// Err is the underlying cause, if any; it is not sent to clients.
	Err error
}

// NewError returns an *Error with the given status and description.
func NewError(s Status, description string) *Error {
	return &Error{Status: s, Description: description}
}

// Errorf returns an *Error whose description is formatted as by fmt.Errorf;
// a %w verb makes the wrapped error the Err of the result.
func Errorf(s Status, format string, args ...any) *Error {
	e := fmt.Errorf(format, args...)
	return &Error{Status: s, Description: e.Error(), Err: errors.Unwrap(e)}
}

// WrapError returns an *Error with status s and description
// "description: cause", wrapping cause. If cause already is (or wraps) an
// *Error, that error is returned unchanged, keeping its more specific status.
func WrapError(s Status, cause error, description string) *Error {
	var ce *Error
	if errors.As(cause, &ce) {
		return ce
	}
	if cause == nil {
		return NewError(s, description)
	}
	if description == "" {
		return &Error{Status: s, Description: cause.Error(), Err: cause}
	}
	return &Error{Status: s, Description: description + ": " + cause.Error(), Err: cause}
}

// Error returns "CIM_ERR_NAME: description".
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Status.Name()
	}
	return e.Status.Name() + ": " + e.Description
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the Status of e, or an *Error with the same
// Status and (if target's is set) the same description.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Status:
		return e.Status == t
	case *Error:
		return t != nil && e.Status == t.Status && (t.Description == "" || t.Description == e.Description)
	}
	return false
}

// GoString returns a Go-syntax form, for debugging.
func (e *Error) GoString() string {
	return fmt.Sprintf("&cim.Error{Status: %s, Description: %q}", goStatus(e.Status), e.Description)
}

func goStatus(s Status) string {
	if s < StatusOK || s > ErrQueryFeatureNotSupported {
		return "cim.Status(" + strconv.Itoa(int(s)) + ")"
	}
	return "cim.Status(" + strconv.Itoa(int(s)) + " /*" + s.Name() + "*/)"
}

// StatusOf returns the CIM status code of err: StatusOK for nil, the Status
// of an *Error or Status in err's chain, ErrFailed otherwise.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	var s Status
	if errors.As(err, &s) {
		return s
	}
	return ErrFailed
}

// AsError converts any error to an *Error: an *Error in err's chain is
// returned as is; a bare Status gets its standard description; anything
// else becomes CIM_ERR_FAILED wrapping err. It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	var s Status
	if errors.As(err, &s) {
		return &Error{Status: s, Description: s.Description(), Err: err}
	}
	return &Error{Status: ErrFailed, Description: err.Error(), Err: err}
}

// errText returns the description of err without the status-name prefix,
// for nesting one error's text inside another's.
func errText(err error) string {
	var ce *Error
	if errors.As(err, &ce) && ce.Description != "" {
		return ce.Description
	}
	return err.Error()
}

// CIMErrorInstance returns a CIM_Error instance (DSP0200 clause 5.3.1.2,
// DSP0201 ERROR element content) describing e, for adapters that send
// structured error details: CIMStatusCode and CIMStatusCodeDescription from
// the status, Message from the description, OwningEntity as given, and
// ErrorType, PerceivedSeverity and ProbableCause "Unknown" (0).
func (e *Error) CIMErrorInstance(owningEntity string) *Instance {
	inst := NewInstance("CIM_Error")
	inst.Set("CIMStatusCode", NewUint32(uint32(e.Status)))
	inst.Set("CIMStatusCodeDescription", NewString(e.Status.Description()))
	inst.Set("Message", NewString(e.Description))
	inst.Set("OwningEntity", NewString(owningEntity))
	inst.Set("ErrorType", NewUint16(0))
	inst.Set("PerceivedSeverity", NewUint16(0))
	inst.Set("ProbableCause", NewUint16(0))
	return inst
}
