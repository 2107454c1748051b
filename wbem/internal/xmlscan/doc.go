// Package xmlscan is the XML 1.0 reader of hypercim's protocol adapters:
// CIM-XML requests and export messages (wbem/cimxml/xmlcodec) and
// WS-Management envelopes (wbem/wsman) are read by the same code, under
// the same rules for hostile input.
//
// Parser.Parse reads one document into a tree of Nodes. It checks
// well-formedness as XML 1.0 defines it: one root element, matching tags,
// unique attributes, names and characters XML allows, valid UTF-8, the
// predefined entities and character references only, and an XML
// declaration (if any) of version 1.0 in UTF-8 or ASCII. No entity is
// ever declared, expanded or fetched: a document type declaration is
// refused (ErrDoctype), or with Options.AllowDoctype skipped when it has
// no internal subset. Options bound the nesting depth, the elements and
// the attributes per element, so a hostile document costs at most what
// its size and these limits allow; the reader keeps an explicit stack and
// never recurses.
//
// Namespace resolution is optional. With Options.Namespaces element and
// attribute names are resolved to namespace URIs (Namespaces in XML 1.0,
// namespace-well-formedness included) and QName values can be resolved
// later in an element's scope (Node.ResolveQName); without, names are
// split at their colon as encoding/xml's RawToken splits them, at no
// cost. Options.NoMixedContent suits vocabularies without mixed content
// (CIM-XML): text beside child elements is refused (ErrMixedContent) and
// the white space between children is not kept.
//
// The reader is built for many small requests: it takes one copy of the
// document, of which names, attribute values and text without references
// are substrings, and keeps its tree in blocks a reused Parser recycles,
// so that a typical request costs two allocations. Its tests hold it
// against encoding/xml's tokenizer as an oracle (trees and acceptance),
// in both modes.
package xmlscan
