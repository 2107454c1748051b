package wsman

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/wbem/auth"
)

const (
	testUser     = "admin"
	testPassword = "s3cret-pass"
)

// testServer is the adapter on memCore behind an HTTP server, with a real
// user store.
type testServer struct {
	*httptest.Server
	core    *memCore
	handler *Handler
}

func newTestServer(t testing.TB, configure ...func(*Config)) *testServer {
	t.Helper()
	store, err := auth.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AddUser(testUser, testPassword, auth.UserOptions{Admin: true, Digest: true}); err != nil {
		t.Fatal(err)
	}
	core := newMemCore()
	cfg := Config{Ops: core, Auth: store, ProductVersion: "test"}
	for _, c := range configure {
		c(&cfg)
	}
	h := NewHandler(cfg)
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); h.Close() })
	return &testServer{Server: srv, core: core, handler: h}
}

// post sends a SOAP body with Basic credentials and returns the status and
// the parsed answer (nil when the answer is not XML).
func (s *testServer) post(t testing.TB, body string) (int, *element, string) {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+Path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	root, _ := parseXML(data, Limits{})
	return resp.StatusCode, root, string(data)
}

// envelope builds a request as wsmancli writes it.
func envelope(action, resourceURI, headers, body string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:wsmb="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"><s:Header>`)
	if action != "" {
		b.WriteString(`<wsa:Action s:mustUnderstand="true">` + action + `</wsa:Action>`)
	}
	b.WriteString(`<wsa:To s:mustUnderstand="true">http://localhost/wsman</wsa:To>`)
	if resourceURI != "" {
		b.WriteString(`<wsman:ResourceURI s:mustUnderstand="true">` + resourceURI + `</wsman:ResourceURI>`)
	}
	b.WriteString(`<wsa:MessageID s:mustUnderstand="true">uuid:11111111-2222-3333-4444-555555555555</wsa:MessageID><wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>`)
	b.WriteString(headers)
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return b.String()
}

func selectors(kv ...string) string {
	var b strings.Builder
	b.WriteString("<wsman:SelectorSet>")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(`<wsman:Selector Name="` + kv[i] + `">` + kv[i+1] + `</wsman:Selector>`)
	}
	b.WriteString("</wsman:SelectorSet>")
	return b.String()
}

// path walks down from e by local names ("Body/GetResponse/...").
func path(e *element, p string) *element {
	for _, name := range strings.Split(p, "/") {
		if e == nil {
			return nil
		}
		var next *element
		for _, c := range e.children {
			if c.local == name {
				next = c
				break
			}
		}
		e = next
	}
	return e
}

// all returns the descendants of e with the given local name.
func all(e *element, local string) []*element {
	var out []*element
	var walk func(*element)
	walk = func(x *element) {
		for _, c := range x.children {
			if c.local == local {
				out = append(out, c)
			}
			walk(c)
		}
	}
	if e != nil {
		walk(e)
	}
	return out
}

// faultOf returns the subcode value and detail of a fault answer ("" when
// the answer is not a fault).
func faultOf(root *element) (code, subcode, detail string) {
	f := path(root, "Body/Fault")
	if f == nil {
		return "", "", ""
	}
	code = path(f, "Code/Value").trimmed()
	subcode = path(f, "Code/Subcode/Value").trimmed()
	detail = path(f, "Detail/FaultDetail").trimmed()
	detail = strings.TrimPrefix(detail, faultDetailPrefix)
	return
}

const (
	uriCS  = DMTFClassPrefix + "CIM_ComputerSystem"
	uriHC  = VendorClassPrefix + "HC_ComputerSystem"
	uriDev = DMTFClassPrefix + "CIM_LogicalDevice"
)
