package wsman

import (
	"net/http"
	"strings"
	"testing"
)

func TestIdentifyIsAnonymous(t *testing.T) {
	s := newTestServer(t)
	body := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`
	resp, err := http.Post(s.URL+Path, "application/soap+xml;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("anonymous Identify: status %d", resp.StatusCode)
	}
	_, root, raw := s.post(t, body)
	if got := path(root, "Body/IdentifyResponse/ProtocolVersion").trimmed(); got != protocolVersionURI {
		t.Fatalf("ProtocolVersion %q in %s", got, raw)
	}
	if len(all(root, "SecurityProfileName")) != 2 {
		t.Errorf("security profiles missing: %s", raw)
	}
	// Anything else needs credentials, and gets both challenges.
	get := envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), "")
	resp, err = http.Post(s.URL+Path, "application/soap+xml", strings.NewReader(get))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unauthenticated Get: status %d", resp.StatusCode)
	}
	ch := strings.Join(resp.Header.Values("WWW-Authenticate"), "|")
	if !strings.Contains(ch, "Basic ") || !strings.Contains(ch, "Digest ") {
		t.Errorf("challenges %q", ch)
	}
}

func TestGetRendersDSP0230(t *testing.T) {
	s := newTestServer(t)
	st, root, raw := s.post(t, envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), ""))
	if st != 200 {
		t.Fatalf("status %d: %s", st, raw)
	}
	if got := path(root, "Header/RelatesTo").trimmed(); got != "uuid:11111111-2222-3333-4444-555555555555" {
		t.Errorf("RelatesTo %q", got)
	}
	if got := path(root, "Header/Action").trimmed(); got != actionGet+"Response" {
		t.Errorf("Action %q", got)
	}
	inst := path(root, "Body/CIM_ComputerSystem")
	if inst == nil || inst.space != uriCS {
		t.Fatalf("no instance in the class namespace: %s", raw)
	}
	for _, want := range []string{
		`<p:Name>host1</p:Name>`,
		`<p:Dedicated>0</p:Dedicated><p:Dedicated>2</p:Dedicated>`,
		`<p:Description xsi:nil="true"/>`,
		`<cim:Datetime xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common">2024-01-31T23:59:58+01:00</cim:Datetime>`,
		`<p:Weight>1.5</p:Weight>`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("missing %s in %s", want, raw)
		}
	}
	// A subclass instance through its base class's URI is rendered as its
	// own class, in the vendor namespace.
	_, root, raw = s.post(t, envelope(actionGet, uriCS, selectors("CreationClassName", "HC_ComputerSystem", "Name", "vm1"), ""))
	if inst := path(root, "Body/HC_ComputerSystem"); inst == nil || inst.space != uriHC {
		t.Fatalf("subclass rendering: %s", raw)
	}
}

func TestGetFaults(t *testing.T) {
	s := newTestServer(t)
	cases := []struct {
		name, req      string
		status         int
		subcode, detal string
	}{
		{"missing key", envelope(actionGet, uriCS, selectors("Name", "host1"), ""), 400, "wsman:InvalidSelectors", detailInsufficientSelectors},
		{"no selectors", envelope(actionGet, uriCS, "", ""), 400, "wsman:InvalidSelectors", detailInsufficientSelectors},
		{"unknown selector", envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1", "Bogus", "x"), ""), 400, "wsman:InvalidSelectors", detailUnexpectedSelectors},
		{"duplicate selector", envelope(actionGet, uriCS, selectors("Name", "a", "Name", "b"), ""), 400, "wsman:InvalidSelectors", detailDuplicateSelectors},
		{"not found", envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "nohost"), ""), 400, "wsa:DestinationUnreachable", ""},
		{"unknown class", envelope(actionGet, DMTFClassPrefix+"CIM_Nothing", selectors("Name", "x"), ""), 400, "wsa:DestinationUnreachable", detailInvalidResourceURI},
		{"foreign URI", envelope(actionGet, "http://example.com/wbem/Foo", "", ""), 400, "wsa:DestinationUnreachable", detailInvalidResourceURI},
		{"bad namespace", envelope(actionGet, uriCS, selectors("__cimnamespace", "root/none", "CreationClassName", "CIM_ComputerSystem", "Name", "host1"), ""), 400, "wsa:DestinationUnreachable", ""},
	}
	for _, c := range cases {
		st, root, raw := s.post(t, c.req)
		_, sub, detail := faultOf(root)
		if st != c.status || sub != c.subcode || detail != c.detal {
			t.Errorf("%s: got %d %s %s, want %d %s %s\n%s", c.name, st, sub, detail, c.status, c.subcode, c.detal, raw)
		}
	}
}

func TestSingletonGetWithoutSelectors(t *testing.T) {
	s := newTestServer(t)
	st, root, raw := s.post(t, envelope(actionGet, VendorClassPrefix+"HC_Service", "", ""))
	if st != 200 || path(root, "Body/HC_Service/Status").trimmed() != "OK" {
		t.Fatalf("%d %s", st, raw)
	}
}

func TestFragmentGetAndPut(t *testing.T) {
	s := newTestServer(t)
	sel := selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1")
	frag := `<wsman:FragmentTransfer s:mustUnderstand="true">ElementName</wsman:FragmentTransfer>`
	st, root, raw := s.post(t, envelope(actionGet, uriCS, sel+frag, ""))
	if st != 200 || path(root, "Body/XmlFragment/ElementName").trimmed() != "system host1" {
		t.Fatalf("fragment Get: %d %s", st, raw)
	}
	st, root, raw = s.post(t, envelope(actionPut, uriCS, sel+frag+`<wsman:RequestEPR/>`, `<wsman:XmlFragment><ElementName>renamed</ElementName></wsman:XmlFragment>`))
	if st != 200 || path(root, "Body/XmlFragment/ElementName").trimmed() != "renamed" {
		t.Fatalf("fragment Put: %d %s", st, raw)
	}
	if path(root, "Header/RequestedEPR/EndpointReference/ReferenceParameters/SelectorSet") == nil {
		t.Errorf("no RequestedEPR: %s", raw)
	}
	_, root, _ = s.post(t, envelope(actionGet, uriCS, sel, ""))
	if got := path(root, "Body/CIM_ComputerSystem/ElementName").trimmed(); got != "renamed" {
		t.Fatalf("after fragment Put ElementName=%q", got)
	}
	st, root, raw = s.post(t, envelope(actionGet, uriCS, sel+`<wsman:FragmentTransfer>NoSuchProp</wsman:FragmentTransfer>`, ""))
	if _, sub, d := faultOf(root); st != 400 || sub != "wxf:InvalidRepresentation" || d != detailInvalidFragment {
		t.Fatalf("bad fragment: %d %s", st, raw)
	}
}

func TestPutCreateDelete(t *testing.T) {
	s := newTestServer(t)
	sel := selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1")
	body := `<p:CIM_ComputerSystem xmlns:p="` + uriCS + `" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><p:CreationClassName>CIM_ComputerSystem</p:CreationClassName><p:Name>host1</p:Name><p:Dedicated>5</p:Dedicated><p:Dedicated>6</p:Dedicated><p:Description>described</p:Description><p:InstallDate><cim:Datetime>2025-02-03T04:05:06Z</cim:Datetime></p:InstallDate></p:CIM_ComputerSystem>`
	st, root, raw := s.post(t, envelope(actionPut, uriCS, sel, body))
	if st != 200 {
		t.Fatalf("Put: %d %s", st, raw)
	}
	inst := path(root, "Body/CIM_ComputerSystem")
	if path(inst, "Description").trimmed() != "described" || len(inst.childrenNamed(uriCS, "Dedicated")) != 2 ||
		!strings.Contains(raw, "2025-02-03T04:05:06Z") || path(inst, "ElementName").trimmed() != "system host1" {
		t.Fatalf("Put result: %s", raw)
	}
	// Create, then Create again, then Delete twice.
	dev := `<p:CIM_LogicalDevice xmlns:p="` + uriDev + `"><p:DeviceID>disk9</p:DeviceID><p:Size>42</p:Size></p:CIM_LogicalDevice>`
	st, root, raw = s.post(t, envelope(actionCreate, uriDev, "", dev))
	if st != 200 || path(root, "Body/ResourceCreated/ReferenceParameters/SelectorSet") == nil || !strings.Contains(raw, ">disk9<") {
		t.Fatalf("Create: %d %s", st, raw)
	}
	st, root, raw = s.post(t, envelope(actionCreate, uriDev, "", dev))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wsman:AlreadyExists" {
		t.Fatalf("second Create: %d %s", st, raw)
	}
	st, _, raw = s.post(t, envelope(actionDelete, uriDev, selectors("DeviceID", "disk9"), ""))
	if st != 200 {
		t.Fatalf("Delete: %d %s", st, raw)
	}
	st, root, raw = s.post(t, envelope(actionDelete, uriDev, selectors("DeviceID", "disk9"), ""))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wsa:DestinationUnreachable" {
		t.Fatalf("second Delete: %d %s", st, raw)
	}
	// A body that does not fit the class.
	st, root, raw = s.post(t, envelope(actionPut, uriCS, sel, `<p:CIM_ComputerSystem xmlns:p="`+uriCS+`"><p:EnabledState>many</p:EnabledState></p:CIM_ComputerSystem>`))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wxf:InvalidRepresentation" {
		t.Fatalf("bad Put: %d %s", st, raw)
	}
}

func TestInvoke(t *testing.T) {
	s := newTestServer(t)
	sel := selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1")
	in := `<p:RequestStateChange_INPUT xmlns:p="` + uriCS + `"><p:RequestedState>3</p:RequestedState><p:TimeoutPeriod><cim:Interval xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common">PT30S</cim:Interval></p:TimeoutPeriod></p:RequestStateChange_INPUT>`
	st, root, raw := s.post(t, envelope(uriCS+"/RequestStateChange", uriCS, sel, in))
	if st != 200 || path(root, "Body/RequestStateChange_OUTPUT/ReturnValue").trimmed() != "0" {
		t.Fatalf("Invoke: %d %s", st, raw)
	}
	if path(root, "Body/RequestStateChange_OUTPUT/Job/ReferenceParameters/SelectorSet") == nil {
		t.Errorf("output reference not an EPR: %s", raw)
	}
	if got := path(root, "Header/Action").trimmed(); got != uriCS+"/RequestStateChangeResponse" {
		t.Errorf("action %q", got)
	}
	if got := strings.Join(s.core.invoked, ";"); !strings.Contains(got, "RequestedState = 3") || !strings.Contains(got, "00000000000030.000000:000") {
		t.Errorf("parameters reached the core as %s", got)
	}
	for name, req := range map[string]string{
		"unknown method": envelope(uriCS+"/Explode", uriCS, sel, ""),
		"other class":    envelope(uriDev+"/RequestStateChange", uriCS, sel, in),
	} {
		st, root, raw = s.post(t, req)
		if _, sub, _ := faultOf(root); st != 400 || sub != "wsa:ActionNotSupported" {
			t.Errorf("%s: %d %s", name, st, raw)
		}
	}
	st, root, raw = s.post(t, envelope(uriCS+"/RequestStateChange", uriCS, sel, `<p:RequestStateChange_INPUT xmlns:p="`+uriCS+`"><p:Bogus>1</p:Bogus></p:RequestStateChange_INPUT>`))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wsman:InvalidParameter" {
		t.Errorf("unknown parameter: %d %s", st, raw)
	}
}

func TestIntrinsicClassOperations(t *testing.T) {
	s := newTestServer(t)
	st, root, raw := s.post(t, envelope(IntrinsicURI+"/EnumerateClassNames", IntrinsicURI, "", `<n1:EnumerateClassNames_INPUT xmlns:n1="`+IntrinsicURI+`"/>`))
	if st != 200 || !strings.Contains(raw, "<n1:name>root/virt:HC_ComputerSystem</n1:name>") {
		t.Fatalf("EnumerateClassNames: %d %s", st, raw)
	}
	uri := IntrinsicURI + "/CIM_ComputerSystem"
	st, root, raw = s.post(t, envelope(uri+"/GetClass", uri, "", `<n1:GetClass_INPUT xmlns:n1="`+uri+`"/>`))
	if st != 200 || path(root, "Body/GetClass/name").trimmed() != "CIM_ComputerSystem" || len(all(root, "property")) < 5 {
		t.Fatalf("GetClass: %d %s", st, raw)
	}
	st, _, raw = s.post(t, envelope(actionGet, DMTFClassPrefix+"CIM_ComputerSystem.xsd", "", ""))
	if st != 200 || !strings.Contains(raw, `<xs:complexType name="CIM_ComputerSystem_Type">`) || !strings.Contains(raw, `name="Dedicated" nillable="true" type="cim:cimUnsignedShort"`) {
		t.Fatalf("schema Get: %d %s", st, raw)
	}
}
