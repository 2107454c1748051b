package wsman

import (
	"fmt"
	"strings"

	"github.com/hypercim/hypercim/wbem/internal/xmlscan"
)

// element is one element of a parsed request, its name and attributes
// resolved to namespace URIs, its text the whole of its character data.
// Requests are small (bounded by Limits), so a tree is the simplest
// tolerant way to read them whatever prefixes the client chose.
type element = xmlscan.Node

// Limits bound what a request may hold; every one is checked while
// reading, so a hostile envelope costs at most these amounts.
type Limits struct {
	// MaxBytes is the largest request body read (default 4 MiB).
	MaxBytes int64
	// MaxDepth is the deepest element nesting accepted (default 64).
	MaxDepth int
	// MaxElements is the most elements in one envelope (default 100000).
	MaxElements int
	// MaxAttrs is the most attributes on one element (default 64).
	MaxAttrs int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 4 << 20
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxElements <= 0 {
		l.MaxElements = 100000
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = 64
	}
	return l
}

// parseXML reads one XML 1.0 document, which must be well-formed and
// namespace-well-formed, into an element tree with the shared reader
// (wbem/internal/xmlscan). It refuses document type declarations (SOAP
// 1.2 forbids them, and they are the door to entity tricks: the error is
// xmlscan.ErrDoctype), entities other than the predefined ones, encodings
// other than UTF-8 (xmlscan.ErrCharset), and anything over the limits
// (xmlscan.ErrLimit).
func parseXML(data []byte, lim Limits) (*element, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", xmlscan.ErrLimit, len(data), lim.MaxBytes)
	}
	var p xmlscan.Parser
	return p.Parse(data, xmlscan.Options{
		Namespaces:  true,
		MaxDepth:    lim.MaxDepth,
		MaxElements: lim.MaxElements,
		MaxAttrs:    lim.MaxAttrs,
	})
}

// isNil reports xsi:nil="true".
func isNil(e *element) bool {
	v, ok := e.AttrNS(nsXSI, "nil")
	return ok && (strings.TrimSpace(v) == "true" || strings.TrimSpace(v) == "1")
}
