// Package xmlcodec is hypercim's CIM-XML codec (DSP0201, DTD DSP0203
// 2.4.0), shared by the operation adapter (wbem/cimxml) and the export
// client and listener (wbem/cimxml/export):
//
//   - Parse, which reads a document into a tree of Nodes with the XML
//     reader WS-Management shares (wbem/internal/xmlscan): well-formedness
//     as XML 1.0 defines it, document type declarations with an internal
//     subset refused (so no entity is ever expanded), no mixed content,
//     nesting and attributes bounded (MaxDepth, MaxAttrs);
//   - Encoder, which appends the XML of instances, classes, qualifiers,
//     values, paths and errors to a byte slice, in one pass without
//     reflection, in the shape both the DTD and sblim-wbemcli's strict
//     parser accept;
//   - Decoder, which turns parsed elements back into cim objects:
//     values typed by their TYPE, embedded objects (to MaxEmbedding
//     levels), references and instance names, with the class's
//     declaration (Decoder.Class) filling in what clients leave untyped.
//
// Structural faults are *NotValidError (request-not-valid for a server);
// values that do not parse for their type are CIM_ERR_INVALID_PARAMETER.
// The HTTP side (headers, message envelopes, streaming) stays with the
// packages that speak it.
package xmlcodec
