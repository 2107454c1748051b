package cim

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestStatusNames(t *testing.T) {
	want := []string{"CIM_ERR_SUCCESS", "CIM_ERR_FAILED", "CIM_ERR_ACCESS_DENIED", "CIM_ERR_INVALID_NAMESPACE",
		"CIM_ERR_INVALID_PARAMETER", "CIM_ERR_INVALID_CLASS", "CIM_ERR_NOT_FOUND", "CIM_ERR_NOT_SUPPORTED",
		"CIM_ERR_CLASS_HAS_CHILDREN", "CIM_ERR_CLASS_HAS_INSTANCES", "CIM_ERR_INVALID_SUPERCLASS",
		"CIM_ERR_ALREADY_EXISTS", "CIM_ERR_NO_SUCH_PROPERTY", "CIM_ERR_TYPE_MISMATCH",
		"CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED", "CIM_ERR_INVALID_QUERY", "CIM_ERR_METHOD_NOT_AVAILABLE",
		"CIM_ERR_METHOD_NOT_FOUND", "CIM_ERR_UNEXPECTED_RESPONSE", "CIM_ERR_INVALID_RESPONSE_DESTINATION",
		"CIM_ERR_NAMESPACE_NOT_EMPTY", "CIM_ERR_INVALID_ENUMERATION_CONTEXT", "CIM_ERR_INVALID_OPERATION_TIMEOUT",
		"CIM_ERR_PULL_HAS_BEEN_ABANDONED", "CIM_ERR_PULL_CANNOT_BE_ABANDONED",
		"CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED", "CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED",
		"CIM_ERR_SERVER_LIMITS_EXCEEDED", "CIM_ERR_SERVER_IS_SHUTTING_DOWN", "CIM_ERR_QUERY_FEATURE_NOT_SUPPORTED"}
	for code, name := range want {
		s := Status(code)
		if s.Name() != name || s.String() != name || s.Error() != name {
			t.Errorf("Status(%d) = %s", code, s.Name())
		}
		if s.Description() == "unknown CIM status code" {
			t.Errorf("Status(%d) has no description", code)
		}
		for _, spelling := range []string{name, strings.ToLower(name), fmt.Sprint(code)} {
			if got, ok := ParseStatus(spelling); !ok || got != s {
				t.Errorf("ParseStatus(%q) = %v, %v", spelling, got, ok)
			}
		}
	}
	if ErrNotFound != 6 || ErrServerIsShuttingDown != 28 || ErrInvalidSuperclass != 10 || ErrNamespaceNotEmpty != 20 {
		t.Error("status values must match DSP0200")
	}
	if Status(99).Name() != "CIM_ERR_99" {
		t.Errorf("unknown code name %q", Status(99).Name())
	}
	if _, ok := ParseStatus("CIM_ERR_BOGUS"); ok {
		t.Error("ParseStatus accepted a bogus name")
	}
}

func TestErrorBehaviour(t *testing.T) {
	e := Errorf(ErrNotFound, "instance %s not found", "X")
	if e.Error() != "CIM_ERR_NOT_FOUND: instance X not found" {
		t.Errorf("Error() = %q", e.Error())
	}
	wrapped := fmt.Errorf("provider: %w", e)
	var ce *Error
	if !errors.As(wrapped, &ce) || ce != e {
		t.Error("errors.As must find the *Error")
	}
	if !errors.Is(wrapped, ErrNotFound) || errors.Is(wrapped, ErrFailed) {
		t.Error("errors.Is with Status sentinels")
	}
	if !errors.Is(wrapped, &Error{Status: ErrNotFound}) || errors.Is(wrapped, &Error{Status: ErrNotFound, Description: "other"}) {
		t.Error("errors.Is with *Error targets")
	}
	if StatusOf(wrapped) != ErrNotFound || StatusOf(nil) != StatusOK || StatusOf(io.EOF) != ErrFailed {
		t.Error("StatusOf")
	}
	if StatusOf(fmt.Errorf("x: %w", ErrAccessDenied)) != ErrAccessDenied {
		t.Error("StatusOf a wrapped bare Status")
	}

	cause := io.ErrUnexpectedEOF
	e2 := Errorf(ErrFailed, "reading disk: %w", cause)
	if !errors.Is(e2, io.ErrUnexpectedEOF) || e2.Unwrap() != cause {
		t.Error("Errorf with %w must wrap the cause")
	}
	if NewError(ErrFailed, "").Error() != "CIM_ERR_FAILED" {
		t.Error("empty description")
	}
	if w := WrapError(ErrFailed, e, "ignored"); w != e {
		t.Error("WrapError must keep an existing *Error")
	}
	if w := WrapError(ErrFailed, cause, "opening"); w.Error() != "CIM_ERR_FAILED: opening: unexpected EOF" || w.Err != cause {
		t.Errorf("WrapError = %v", w)
	}
	if AsError(nil) != nil || AsError(e) != e || AsError(ErrNotSupported).Status != ErrNotSupported ||
		AsError(cause).Status != ErrFailed {
		t.Error("AsError")
	}
	if !strings.Contains(e.GoString(), "CIM_ERR_NOT_FOUND") {
		t.Errorf("GoString = %s", e.GoString())
	}
}

func TestCIMErrorInstance(t *testing.T) {
	inst := Errorf(ErrNotFound, "no VM %s", "vm9").CIMErrorInstance("HC")
	if inst.ClassName != "CIM_Error" || inst.Get("CIMStatusCode").Uint32() != 6 || inst.Get("Message").Str() != "no VM vm9" ||
		inst.Get("OwningEntity").Str() != "HC" || inst.Get("CIMStatusCodeDescription").Str() != ErrNotFound.Description() {
		t.Errorf("CIM_Error instance: %s", inst)
	}
}
