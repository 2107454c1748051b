package xmlcodec

import (
	"errors"
	"fmt"

	"github.com/hypercim/hypercim/wbem/internal/xmlscan"
)

// Limits that bound what one request document may cost to parse. The size
// of the whole body is bounded separately (Config.MaxRequestSize).
const (
	// MaxDepth is the deepest element nesting accepted. CIM-XML requests
	// nest about a dozen levels; references inside references add a few
	// per level.
	MaxDepth = 64
	// MaxAttrs is the most attributes one element may carry (PROPERTY has
	// at most seven in DSP0203).
	MaxAttrs = 32
	// MaxEmbedding is how deep embedded objects (an INSTANCE escaped in
	// the VALUE of another) may nest.
	MaxEmbedding = 8
)

// Node is one element of a parsed document. CIM-XML has no mixed
// content, so an element holds either children or text; names are read
// as written (CIM-XML has no namespaces): Name, Attr and Child are what
// the decoders use.
type Node = xmlscan.Node

// ErrNotWellFormed marks XML syntax errors and documents in another
// encoding than UTF-8 (HTTP 400 request-not-well-formed); Parse's other
// errors (a document type declaration with an internal subset, limits
// exceeded, mixed content) are request-not-valid.
var ErrNotWellFormed = errors.New("not well-formed")

// Parse reads one XML document into a tree with the shared reader
// (wbem/internal/xmlscan): well-formedness as XML 1.0 defines it, no
// entity ever declared, expanded or fetched (a document type declaration
// is skipped, refused when it has an internal subset), MaxDepth and
// MaxAttrs enforced, text beside child elements refused. Line ends in
// text are normalized to \n as XML requires.
func Parse(data []byte) (*Node, error) {
	var ps Parser
	return ps.Parse(data)
}

// Parser is Parse with memory kept from one document to the next, for a
// server that parses many small requests. A tree a Parser returned is
// valid until its next Parse; strings taken from it stay valid. A Parser
// is used by one goroutine at a time.
type Parser struct{ p xmlscan.Parser }

// Parse parses data like the package's Parse, reusing the Parser's memory.
func (ps *Parser) Parse(data []byte) (*Node, error) {
	root, err := ps.p.Parse(data, xmlscan.Options{
		AllowDoctype:   true,
		NoMixedContent: true,
		MaxDepth:       MaxDepth,
		MaxAttrs:       MaxAttrs,
	})
	if errors.Is(err, xmlscan.ErrNotWellFormed) || errors.Is(err, xmlscan.ErrCharset) {
		return nil, fmt.Errorf("%w: %w", ErrNotWellFormed, err)
	}
	return root, err
}

// Nodes returns how many nodes the Parser holds memory for, so that a pool
// can drop a Parser a very large document has grown.
func (ps *Parser) Nodes() int { return ps.p.Nodes() }
