// Package wsman is hypercim's WS-Management adapter (DSP0226, with the
// CIM binding of DSP0227 and the XML rendering of DSP0230): an
// http.Handler for POST /wsman that turns SOAP 1.2 envelopes into calls on
// the CIMOM core (wbem.Operations) and answers with DSP0230 XML.
//
// Requests are read tolerantly, as real clients write them: any prefixes
// or a default namespace (Intel AMT tools), mustUnderstand qualified or
// not (WinRM clients), any wsa:To, MessageIDs that are bare UUIDs (wsl) or
// small integers (AMT). Every request is bounded (Limits): size, nesting,
// element and attribute counts, no DTDs; the XML reader CIM-XML shares
// (wbem/internal/xmlscan) checks well-formedness and namespaces without a
// tokenizer's per-token allocations. Answers are strict: WS-Addressing
// RelatesTo, Action and MessageID, mustUnderstand honoured, faults with
// the DSP0226 codes, subcodes and detail URIs, the CIM status of a core
// error as a CIM_Error instance in the fault detail.
//
// Operations: Identify (anonymous), WS-Transfer Get, Put (whole or one
// property with FragmentTransfer), Create and Delete; WS-Enumeration
// Enumerate, Pull and Release on the core's pull operations, in the
// EnumerateObjectAndEPR and EnumerateEPR modes, optimized or not, with WQL,
// CQL, SelectorFilter and association filters; extrinsic methods;
// openwsman's intrinsic EnumerateClassNames and GetClass, which wsl uses;
// and WS-Eventing (eventing*.go): Subscribe, Renew, GetStatus and
// Unsubscribe on the core's indication service (wbem.Indications), with
// Push, PushWithAck, Events and Pull delivery, heartbeats, bookmarks,
// SubscriptionEnd, and sink authentication (Basic, Digest, HTTPS); the
// subscriptions are kept in the server's database (Config.EventStore).
//
// Resource URIs: http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/<Class>
// for any class, VendorClassPrefix+<Class> (the canonical URI of HC_
// classes), the namespace-wide AllClassesURI, WinRM's
// WMIPrefix+<namespace>/<Class>, and <class URI>.xsd for a class's XML
// schema. The CIM namespace is the __cimnamespace selector, else
// Config.DefaultNamespace.
//
// docs/wsman.md describes the service for its users.
package wsman
