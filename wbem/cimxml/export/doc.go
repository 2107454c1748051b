// Package export is the indication side of CIM-XML (DSP0200 clause 8,
// DSP0201 export messages): a Client that sends ExportIndication requests
// to CIM listeners, and a Listener, an http.Handler that receives them.
//
// The Client is what the server's indication service delivers with
// (it implements wbem.IndicationExporter):
//
//	c, err := export.NewClient(export.Config{Timeout: 10 * time.Second})
//	srv.Indications().SetExporter(wbem.ProtocolCIMXML, c)
//
// Each export is one POST carrying the headers CIMExport: MethodRequest,
// CIMExportMethod: ExportIndication and CIMProtocolVersion: 1.0, and a
// SIMPLEEXPREQ whose EXPMETHODCALL passes the indication as the INSTANCE
// of the NewIndication parameter. The listener's answer is read: an
// EXPMETHODRESPONSE without ERROR is success; an ERROR, an HTTP error
// status or a CIMError header is an *Error, whose Permanent method tells
// the indication service whether retrying can help (an ERROR other than
// CIM_ERR_FAILED, HTTP 4xx other than 408 and 429, redirects) or not
// (network errors, timeouts, 5xx). HTTPS verifies the listener's
// certificate against the system roots unless Config says otherwise.
//
// The Listener parses and checks requests as strictly as the CIM-XML
// adapter does operations (headers, size limit, no entity expansion,
// DTD structure) and hands each indication, with its embedded instances
// and references decoded, to a callback; `hypercim listen` prints them as
// MOF. docs/indications.md describes both for users.
//
// Instances are written and read with wbem/cimxml/xmlcodec, the codec of
// the operation adapter.
package export
