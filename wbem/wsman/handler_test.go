package wsman

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
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
	if got := path(root, "Body/IdentifyResponse/ProtocolVersion").TrimmedText(); got != protocolVersionURI {
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
	if got := path(root, "Header/RelatesTo").TrimmedText(); got != "uuid:11111111-2222-3333-4444-555555555555" {
		t.Errorf("RelatesTo %q", got)
	}
	if got := path(root, "Header/Action").TrimmedText(); got != actionGet+"Response" {
		t.Errorf("Action %q", got)
	}
	inst := path(root, "Body/CIM_ComputerSystem")
	if inst == nil || inst.Space != uriCS {
		t.Fatalf("no instance in the class namespace: %s", raw)
	}
	for _, want := range []string{
		`<p:Name>host1</p:Name>`,
		`<p:Dedicated>0</p:Dedicated><p:Dedicated>2</p:Dedicated>`,
		`<p:Description xsi:nil="true"/>`,
		`<cim:Datetime xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common">2024-01-31T23:59:58+01:00</cim:Datetime>`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("missing %s in %s", want, raw)
		}
	}
	if _, _, raw = s.post(t, envelope(actionGet, VendorClassPrefix+"HC_WSManTestService", "", "")); !strings.Contains(raw, `<p:Weight>1.5</p:Weight>`) {
		t.Errorf("real64 rendering: %s", raw)
	}
	// A subclass instance through its base class's URI is rendered as its
	// own class, in the vendor namespace.
	_, root, raw = s.post(t, envelope(actionGet, uriCS, selectors("CreationClassName", "HC_ComputerSystem", "Name", "vm1"), ""))
	if inst := path(root, "Body/HC_ComputerSystem"); inst == nil || inst.Space != uriHC {
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
	st, root, raw := s.post(t, envelope(actionGet, VendorClassPrefix+"HC_WSManTestService", "", ""))
	if st != 200 || path(root, "Body/HC_WSManTestService/Status").TrimmedText() != "OK" {
		t.Fatalf("%d %s", st, raw)
	}
}

func TestFragmentGetAndPut(t *testing.T) {
	s := newTestServer(t)
	sel := selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1")
	frag := `<wsman:FragmentTransfer s:mustUnderstand="true">ElementName</wsman:FragmentTransfer>`
	st, root, raw := s.post(t, envelope(actionGet, uriCS, sel+frag, ""))
	if st != 200 || path(root, "Body/XmlFragment/ElementName").TrimmedText() != "system host1" {
		t.Fatalf("fragment Get: %d %s", st, raw)
	}
	st, root, raw = s.post(t, envelope(actionPut, uriCS, sel+frag+`<wsman:RequestEPR/>`, `<wsman:XmlFragment><ElementName>renamed</ElementName></wsman:XmlFragment>`))
	if st != 200 || path(root, "Body/XmlFragment/ElementName").TrimmedText() != "renamed" {
		t.Fatalf("fragment Put: %d %s", st, raw)
	}
	if path(root, "Header/RequestedEPR/EndpointReference/ReferenceParameters/SelectorSet") == nil {
		t.Errorf("no RequestedEPR: %s", raw)
	}
	_, root, _ = s.post(t, envelope(actionGet, uriCS, sel, ""))
	if got := path(root, "Body/CIM_ComputerSystem/ElementName").TrimmedText(); got != "renamed" {
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
	if path(inst, "Description").TrimmedText() != "described" || len(inst.ChildrenNS(uriCS, "Dedicated")) != 2 ||
		!strings.Contains(raw, "2025-02-03T04:05:06Z") || path(inst, "ElementName").TrimmedText() != "system host1" {
		t.Fatalf("Put result: %s", raw)
	}
	// Create (a static instance, stored by the repository), then Create
	// again, then Delete twice.
	created := `<p:T_Static xmlns:p="` + uriStatic + `"><p:Id>s9</p:Id><p:Count>42</p:Count></p:T_Static>`
	st, root, raw = s.post(t, envelope(actionCreate, uriStatic, "", created))
	if st != 200 || path(root, "Body/ResourceCreated/ReferenceParameters/SelectorSet") == nil || !strings.Contains(raw, ">s9<") {
		t.Fatalf("Create: %d %s", st, raw)
	}
	if _, root, raw = s.post(t, envelope(actionGet, uriStatic, selectors("Id", "s9"), "")); path(root, "Body/T_Static/Count").TrimmedText() != "42" {
		t.Fatalf("Get of the created instance: %s", raw)
	}
	st, root, raw = s.post(t, envelope(actionCreate, uriStatic, "", created))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wsman:AlreadyExists" {
		t.Fatalf("second Create: %d %s", st, raw)
	}
	st, _, raw = s.post(t, envelope(actionDelete, uriStatic, selectors("Id", "s9"), ""))
	if st != 200 {
		t.Fatalf("Delete: %d %s", st, raw)
	}
	st, root, raw = s.post(t, envelope(actionDelete, uriStatic, selectors("Id", "s9"), ""))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wsa:DestinationUnreachable" {
		t.Fatalf("second Delete: %d %s", st, raw)
	}
	// A Put of a provider's instance: an interval (cim:Interval) reaches
	// the provider as the CIM interval, the properties not given are kept.
	dyn := `<p:T_Dynamic xmlns:p="` + uriDynamic + `"><p:Born><cim:Interval xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common">PT30S</cim:Interval></p:Born></p:T_Dynamic>`
	st, root, raw = s.post(t, envelope(actionPut, uriDynamic, selectors("Id", "d1"), dyn))
	if st != 200 || !strings.Contains(raw, ">P0DT0H0M30S</cim:Interval>") || path(root, "Body/T_Dynamic/Name").TrimmedText() != "dynamic d1" {
		t.Fatalf("Put of T_Dynamic: %d %s", st, raw)
	}
	ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "check", Unrestricted: true})
	got, err := s.core.GetInstance(ctx, "root/virt", cim.NewInstancePath("", "T_Dynamic", cim.KeyBinding{Name: "Id", Value: cim.NewString("d1")}), wbem.InstanceOptions{})
	if err != nil || got.Get("Born").Text() != "00000000000030.000000:000" {
		t.Fatalf("the provider holds Born %v (%v)", got, err)
	}
	// A body that does not fit the class.
	st, root, raw = s.post(t, envelope(actionPut, uriCS, sel, `<p:CIM_ComputerSystem xmlns:p="`+uriCS+`"><p:EnabledState>many</p:EnabledState></p:CIM_ComputerSystem>`))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wxf:InvalidRepresentation" {
		t.Fatalf("bad Put: %d %s", st, raw)
	}
}

func TestInvoke(t *testing.T) {
	s := newTestServer(t)
	sel := selectors("Id", "d1")
	in := `<p:Resize_INPUT xmlns:p="` + uriDynamic + `"><p:NewSize>20</p:NewSize><p:Note>hi</p:Note></p:Resize_INPUT>`
	st, root, raw := s.post(t, envelope(uriDynamic+"/Resize", uriDynamic, sel, in))
	out := path(root, "Body/Resize_OUTPUT")
	if st != 200 || path(out, "ReturnValue").TrimmedText() != "0" || path(out, "OldSize").TrimmedText() != "10" || path(out, "Note").TrimmedText() != "hi!" {
		t.Fatalf("Invoke: %d %s", st, raw)
	}
	if got := path(root, "Header/Action").TrimmedText(); got != uriDynamic+"/ResizeResponse" {
		t.Errorf("action %q", got)
	}
	if _, root, raw = s.post(t, envelope(actionGet, uriDynamic, sel, "")); path(root, "Body/T_Dynamic/Size").TrimmedText() != "20" {
		t.Errorf("the method did not reach the provider: %s", raw)
	}
	// A reference parameter as an EPR, echoed back as an EPR; an array
	// parameter as repeated elements.
	target := `<p:Target><wsa:Address>` + anonymousAddress + `</wsa:Address><wsa:ReferenceParameters><wsman:ResourceURI>` + uriStatic +
		`</wsman:ResourceURI>` + selectors("Id", "s1") + `</wsa:ReferenceParameters></p:Target>`
	in = `<p:Point_INPUT xmlns:p="` + uriDynamic + `">` + target + `<p:Codes>1</p:Codes><p:Codes>2</p:Codes><p:Codes>3</p:Codes></p:Point_INPUT>`
	st, root, raw = s.post(t, envelope(uriDynamic+"/Point", uriDynamic, sel, in))
	if st != 200 || path(root, "Body/Point_OUTPUT/ReturnValue").TrimmedText() != "3" {
		t.Fatalf("Invoke Point: %d %s", st, raw)
	}
	echo := path(root, "Body/Point_OUTPUT/Echo/ReferenceParameters")
	if path(echo, "ResourceURI").TrimmedText() != uriStatic || path(echo, "SelectorSet/Selector").TrimmedText() != "s1" {
		t.Errorf("output reference not the EPR given: %s", raw)
	}
	// No selectors on a keyed class: the static method.
	in = `<p:Hello_INPUT xmlns:p="` + uriDynamic + `"><p:Who>world</p:Who></p:Hello_INPUT>`
	if st, root, raw = s.post(t, envelope(uriDynamic+"/Hello", uriDynamic, "", in)); st != 200 || path(root, "Body/Hello_OUTPUT/ReturnValue").TrimmedText() != "hello world" {
		t.Errorf("static method: %d %s", st, raw)
	}
	for name, req := range map[string]string{
		"unknown method": envelope(uriDynamic+"/Explode", uriDynamic, sel, ""),
		"other class":    envelope(uriStatic+"/Resize", uriDynamic, sel, in),
	} {
		st, root, raw = s.post(t, req)
		if _, sub, _ := faultOf(root); st != 400 || sub != "wsa:ActionNotSupported" {
			t.Errorf("%s: %d %s", name, st, raw)
		}
	}
	st, root, raw = s.post(t, envelope(uriDynamic+"/Resize", uriDynamic, sel, `<p:Resize_INPUT xmlns:p="`+uriDynamic+`"><p:Bogus>1</p:Bogus></p:Resize_INPUT>`))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wsman:InvalidParameter" {
		t.Errorf("unknown parameter: %d %s", st, raw)
	}
}

func TestIntrinsicClassOperations(t *testing.T) {
	s := newTestServer(t)
	st, _, raw := s.post(t, envelope(IntrinsicURI+"/EnumerateClassNames", IntrinsicURI, "", `<n1:EnumerateClassNames_INPUT xmlns:n1="`+IntrinsicURI+`"/>`))
	if st != 200 || !strings.Contains(raw, "<n1:name>root/virt:HC_ComputerSystem</n1:name>") {
		t.Fatalf("EnumerateClassNames: %d %s", st, raw)
	}
	uri := IntrinsicURI + "/CIM_ComputerSystem"
	st, root, raw := s.post(t, envelope(uri+"/GetClass", uri, "", `<n1:GetClass_INPUT xmlns:n1="`+uri+`"/>`))
	if st != 200 || path(root, "Body/GetClass/name").TrimmedText() != "CIM_ComputerSystem" || len(all(root, "property")) < 5 {
		t.Fatalf("GetClass: %d %s", st, raw)
	}
	st, _, raw = s.post(t, envelope(actionGet, DMTFClassPrefix+"CIM_ComputerSystem.xsd", "", ""))
	if st != 200 || !strings.Contains(raw, `<xs:complexType name="CIM_ComputerSystem_Type">`) || !strings.Contains(raw, `name="Dedicated" nillable="true" type="cim:cimUnsignedShort"`) {
		t.Fatalf("schema Get: %d %s", st, raw)
	}
}
