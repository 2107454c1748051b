// Package cimxml is hypercim's CIM-XML protocol adapter: CIM operations
// over HTTP as DSP0200 defines them, with the XML of DSP0201 (DTD DSP0203
// 2.4.0). A Handler decodes each POST (or M-POST) to /cimom into a call on
// the core's wbem.Operations and encodes the results while the core
// produces them.
//
// # Requests
//
// The headers are checked first (DSP0200 clause 7): CIMOperation,
// CIMMethod and CIMObject (percent-decoded; compared with the body),
// CIMProtocolVersion, Content-Type and Accept; M-POST requests carry them
// in the header namespace their Man header declares. The body is read up
// to Config.MaxRequestSize and parsed with limits on depth and attribute
// count; document type declarations with an internal subset and any
// entity but the five predefined ones are refused, so no entity is ever
// expanded. The decoder is tolerant where clients differ (parameter
// order, self-closing elements, whitespace, KEYVALUE without TYPE,
// PARAMVALUE without PARAMTYPE) and types untyped method parameters and
// SetProperty values from the class declaration.
//
// # Responses
//
// Output is encoded by hand into a buffer that is sent once it holds
// about 256 KiB; a smaller response goes out with a Content-Length, a
// larger one in chunks while the core streams. When the client sent
// TE: trailers, a chunked response declares the CIMStatusCode,
// CIMStatusCodeDescription and CIMError trailers, and an error after the
// first chunk is reported in them (CIMError only for the protocol faults
// DSP0200 defines its values for); otherwise the connection is aborted so
// the client sees an incomplete response. The encoding is DTD-valid and,
// but for reference arrays in output parameters, also readable by
// sblim-wbemcli's strict parser (see xmlcodec.Encoder and
// docs/cimxml.md). The XML parser, encoder and decoder live in
// wbem/cimxml/xmlcodec, shared with the export client and listener; the
// escaping of text, in wbem/internal/xmlesc, is shared with WS-Management.
//
// LocalOnly is accepted on GetInstance and EnumerateInstances but not
// honoured, as by OpenPegasus and SFCB (DSP0200 deprecated it for
// instances).
//
// # Errors
//
// Requests refused as a whole get an HTTP error: 400 or 501 with a
// CIMError header (request-not-well-formed, request-not-valid,
// header-mismatch, unsupported-operation, unsupported-protocol-version,
// unsupported-cim-version, unsupported-dtd-version,
// multiple-requests-unsupported), 401 with WWW-Authenticate: Basic, 405
// for other HTTP methods, 406 when Accept excludes XML, 413 for bodies
// over the limit, 510 for an M-POST without the CIM mapping in Man. CIM
// errors are HTTP 200 responses with an ERROR element whose DESCRIPTION
// starts with the DSP0200 name ("CIM_ERR_NOT_FOUND: ..."); CIM_Error
// instances are added for clients that declare DTDVERSION 2.2 or later.
//
// docs/cimxml.md describes the operations, headers and limits for users.
package cimxml
