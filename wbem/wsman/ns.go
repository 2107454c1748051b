package wsman

// XML namespaces of the protocols (DSP0226 Table A-1, DSP0227, DSP0230).
const (
	nsSOAP   = "http://www.w3.org/2003/05/soap-envelope"
	nsSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	nsWSA    = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsWSA10  = "http://www.w3.org/2005/08/addressing"
	nsWSEN   = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
	nsWXF    = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	nsWSE    = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	nsWSMAN  = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsWSMID  = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
	nsWSMB   = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
	nsCIM    = "http://schemas.dmtf.org/wbem/wscim/1/common"
	nsXSI    = "http://www.w3.org/2001/XMLSchema-instance"
	nsXS     = "http://www.w3.org/2001/XMLSchema"
	nsXML    = "http://www.w3.org/XML/1998/namespace"
	// nsMSWSMAN is Microsoft's WS-Management extension namespace (MS-WSMV):
	// WinRM clients send p:DataLocale and similar headers in it.
	nsMSWSMAN = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
	// WS-Trust, WS-Security and WS-Policy carry the credentials a
	// subscriber gives for its event sink (DSP0226 clause 10.2.4, as
	// openwsman's client sends them).
	nsTrust  = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	nsWSSE   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsPolicy = "http://schemas.xmlsoap.org/ws/2004/09/policy"
)

// Action URIs.
const (
	actionGet             = nsWXF + "/Get"
	actionPut             = nsWXF + "/Put"
	actionCreate          = nsWXF + "/Create"
	actionDelete          = nsWXF + "/Delete"
	actionEnumerate       = nsWSEN + "/Enumerate"
	actionPull            = nsWSEN + "/Pull"
	actionRelease         = nsWSEN + "/Release"
	actionRenew           = nsWSEN + "/Renew"
	actionGetStatus       = nsWSEN + "/GetStatus"
	actionSubscribe       = nsWSE + "/Subscribe"
	actionEvtRenew        = nsWSE + "/Renew"
	actionEvtGetStatus    = nsWSE + "/GetStatus"
	actionUnsubscribe     = nsWSE + "/Unsubscribe"
	actionSubscriptionEnd = nsWSE + "/SubscriptionEnd"
	actionWSEFault        = nsWSE + "/fault"
	actionIdentify        = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity/Identify"
	actionWSAFault        = nsWSA + "/fault"
	actionWSMANFault      = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
	actionWSENFault       = nsWSEN + "/fault"
	actionWXFFault        = nsWXF + "/fault"
	actionWSMBFault       = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding/fault"
	actionSOAPFault       = actionWSAFault
	anonymousAddress      = nsWSA + "/role/anonymous"
	anonymousAddress10    = nsWSA10 + "/anonymous"
	protocolVersionURI    = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	faultDetailPrefix     = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"
	secProfileHTTPBasic   = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic"
	secProfileHTTPDigest  = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/digest"
	secProfileHTTPSBasic  = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/basic"
	secProfileHTTPSDig    = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/digest"
)

// WS-Management eventing (DSP0226 clause 10): delivery modes, the actions
// of the messages sent to event sinks, and the other URIs of the protocol.
const (
	deliveryPush             = nsWSE + "/DeliveryModes/Push"
	deliveryPushWithAck      = "http://schemas.dmtf.org/wbem/wsman/1/wsman/PushWithAck"
	deliveryEvents           = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Events"
	deliveryPull             = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Pull"
	actionEvent              = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Event"
	actionEvents             = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Events"
	actionHeartbeat          = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Heartbeat"
	actionDroppedEvents      = "http://schemas.dmtf.org/wbem/wsman/1/wsman/DroppedEvents"
	actionAck                = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Ack"
	bookmarkEarliest         = "http://schemas.dmtf.org/wbem/wsman/1/wsman/bookmark/earliest"
	statusDeliveryFailure    = nsWSE + "/DeliveryFailure"
	statusSourceShuttingDown = nsWSE + "/SourceShuttingDown"
	statusSourceCancelling   = nsWSE + "/SourceCancelling"
	tokenUsername            = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#UsernameToken"
	tokenCertThumbprint      = "http://schemas.dmtf.org/wbem/wsman/1/wsman/token/certificateThumbprint"
)

// Filter dialects.
const (
	dialectWQL         = "http://schemas.dmtf.org/wbem/wsman/1/WQL"
	dialectWQLMicrosft = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
	dialectCQL         = "http://schemas.dmtf.org/wbem/cql/1/dsp0202.pdf"
	dialectCQLShort    = "http://schemas.dmtf.org/wbem/cql/1"
	dialectSelector    = "http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter"
	dialectAssociation = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding/associationFilter"
	dialectXPath       = "http://www.w3.org/TR/1999/REC-xpath-19991116"
)

// Resource URI prefixes (DSP0227 clause 5; vendor prefix for HC_ classes).
const (
	// DMTFClassPrefix is the resource URI prefix of DMTF (CIM_) classes;
	// hypercim also accepts it for every other class, as OpenPegasus does.
	DMTFClassPrefix = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
	// VendorClassPrefix is hypercim's own prefix, the canonical resource
	// URI of its HC_ classes.
	VendorClassPrefix = "http://schemas.hypercim.org/wbem/wscim/1/cim-schema/2/"
	// AllClassesURI is the namespace-wide resource URI of DSP0227 R5.2-1,
	// used with query and association filters.
	AllClassesURI = "http://schemas.dmtf.org/wbem/wscim/1/*"
	// WMIPrefix starts WinRM-style resource URIs:
	// WMIPrefix + "root/virt/HC_ComputerSystem" or + "root/virt/*".
	WMIPrefix = "http://schemas.microsoft.com/wbem/wsman/1/wmi/"
	// IntrinsicURI is openwsman's resource for the class operations
	// EnumerateClassNames and GetClass, which wsl's wslecn uses.
	IntrinsicURI = "http://schemas.openwsman.org/wbem/wscim/1/intrinsic"
)

// cimNamespaceSelector names the CIM namespace in a selector set
// (DSP0227 clause 5.3).
const cimNamespaceSelector = "__cimnamespace"
