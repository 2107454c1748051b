// Package schemas holds hypercim's own MOF, embedded in the binaries: the
// DSP0004 qualifier declarations, the DMTF classes hypercim serves (written
// for hypercim from the DMTF CIM Schema 2.49.0 definitions, with the DMTF
// names, types, keys, value maps and other meaningful qualifiers, and short
// descriptions of our own) and the HC_ subclasses its providers implement.
//
// The MOF lives under mof/:
//
//	qualifiers.mof          DSP0004 qualifier declarations
//	cim/*.mof               DMTF classes, one file per topic
//	cim/experimental.mof    DMTF classes not in the final 2.49 release
//	hc/*.mof                hypercim's HC_ classes
//	interop.mof, virt.mof   one root file per namespace, including the rest
//
// Namespaces says which root file fills which namespace, and which files
// go on top of a complete DMTF schema when the server is started with
// --dmtf-schema. docs/schema.md lists the classes.
package schemas
