package cimxml

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/auth"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
	"github.com/hypercim/hypercim/wbem/testprovider"
)

// staticMOF adds static instances to the test provider's model.
const staticMOF = `
instance of T_Static as $s1 { Id = "s1"; Name = "one & <only>"; Extra = "x"; };
instance of T_Static as $s2 { Id = "s2"; Name = "two"; Count = 2; };
instance of T_Sub as $sub1 { Id = "sub1"; Name = "sub one"; Level = 3; };
instance of T_Link { Left = $s1; Right = $sub1; Label = "static"; };
`

// testServer is the CIM-XML handler in front of a real core: a repository
// in a temporary directory holding the test provider's model, the test
// provider registered, and a user store.
type testServer struct {
	core  *wbem.Server
	prov  *testprovider.Provider
	users *auth.Store
	http  *httptest.Server
	// handler is the Handler the HTTP server serves.
	handler *Handler
	// url is where the handler serves, ending in /cimom.
	url string
}

type serverOptions struct {
	gen     int
	payload int
	noAuth  bool
	maxSize int64
	// wrap, when set, wraps the core's operations (to inject faults).
	wrap func(wbem.Operations) wbem.Operations
}

const (
	testUser     = "tester"
	testPassword = "s3cret pass"
)

func newTestServer(t testing.TB, o serverOptions) *testServer {
	t.Helper()
	dir := t.TempDir()
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	quals, err := fs.ReadFile(schemas.Files(), "qualifiers.mof")
	if err != nil {
		t.Fatal(err)
	}
	w := repo.NewBulkWriter()
	c := &mof.Compiler{Target: w, Namespace: testNS}
	if _, err := c.CompileSource("test.mof", []byte(string(quals)+testprovider.MOF+staticMOF)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	users, err := auth.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.AddUser(testUser, testPassword, auth.UserOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := users.Grant(testUser, testNS, auth.RightWrite); err != nil {
		t.Fatal(err)
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	core, err := wbem.NewServer(wbem.Config{Repository: repo, Authorizer: users, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	prov := testprovider.New()
	prov.GenCount, prov.GenPayload = o.gen, o.payload
	if err := prov.Register(core.Registry(), testNS); err != nil {
		t.Fatal(err)
	}
	var ops wbem.Operations = core
	if o.wrap != nil {
		ops = o.wrap(core)
	}
	cfg := Config{Operations: ops, Auth: users, NoAuth: o.noAuth, MaxRequestSize: o.maxSize, Log: logrus.NewEntry(quiet)}
	if o.noAuth {
		cfg.Auth = nil
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	s := &testServer{core: core, prov: prov, users: users, http: hs, handler: h, url: hs.URL + Path}
	// Two T_Dynamic instances to work with.
	for _, id := range []string{"d1", "d2"} {
		inst := cim.NewInstance("T_Dynamic")
		inst.Set("Id", cim.NewString(id))
		inst.Set("Name", cim.NewString("dynamic "+id))
		inst.Set("Size", cim.NewUint32(10))
		if id == "d1" {
			inst.Set("Partner", cim.NewString("s2"))
		}
		if _, err := core.CreateInstance(wbem.Internal(context.Background()), testNS, inst); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// reply is a response as a test sees it.
type reply struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
	// readErr is the error reading the body (an aborted stream).
	readErr error
}

func (r *reply) String() string {
	return fmt.Sprintf("HTTP %d %v\n%s", r.status, r.header, r.body)
}

// do sends a raw CIM-XML request.
func (s *testServer) do(t testing.TB, method string, header map[string]string, body string) *reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword)))
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return &reply{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: b, readErr: rerr}
}

// intrinsic sends an IMETHODCALL with the given IPARAMVALUE elements and
// checks that the answer is a DTD-valid HTTP 200 response.
func (s *testServer) intrinsic(t testing.TB, method, ns, params string, extra ...string) *reply {
	t.Helper()
	hdr := map[string]string{"CIMOperation": "MethodCall", "CIMMethod": method, "CIMObject": strings.ReplaceAll(ns, "/", "%2F")}
	for i := 0; i+1 < len(extra); i += 2 {
		hdr[extra[i]] = extra[i+1]
	}
	r := s.do(t, "POST", hdr, intrinsicBody(method, ns, params))
	if r.status != http.StatusOK {
		t.Fatalf("%s: %s", method, r)
	}
	if r.readErr == nil {
		validateDTD(t, r.body)
		checkWbemcliReadable(t, r.body, false)
	}
	return r
}

func intrinsicBody(method, ns, params string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="77" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="`)
	b.WriteString(method)
	b.WriteString(`"><LOCALNAMESPACEPATH>`)
	for _, part := range strings.Split(ns, "/") {
		fmt.Fprintf(&b, `<NAMESPACE NAME="%s"/>`, part)
	}
	b.WriteString(`</LOCALNAMESPACEPATH>`)
	b.WriteString(params)
	b.WriteString(`</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`)
	return b.String()
}

// extrinsic sends a METHODCALL on target (a LOCALINSTANCEPATH or
// LOCALCLASSPATH body) with PARAMVALUE elements.
func (s *testServer) extrinsic(t testing.TB, method, object, target, params string) *reply {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="78" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="` + method + `">` + target + params + `</METHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	r := s.do(t, "POST", map[string]string{"CIMOperation": "MethodCall", "CIMMethod": method, "CIMObject": object}, body)
	if r.status != http.StatusOK {
		t.Fatalf("%s: %s", method, r)
	}
	validateDTD(t, r.body)
	checkWbemcliReadable(t, r.body, false)
	return r
}

const testNSPath = `<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="test"/></LOCALNAMESPACEPATH>`

func className(name string) string { return `<CLASSNAME NAME="` + name + `"/>` }

func iparam(name, value string) string {
	return `<IPARAMVALUE NAME="` + name + `">` + value + `</IPARAMVALUE>`
}

func boolValue(b bool) string {
	if b {
		return "<VALUE>TRUE</VALUE>"
	}
	return "<VALUE>FALSE</VALUE>"
}

func instanceName(class, key, value string) string {
	return `<INSTANCENAME CLASSNAME="` + class + `"><KEYBINDING NAME="` + key + `"><KEYVALUE VALUETYPE="string">` + value + `</KEYVALUE></KEYBINDING></INSTANCENAME>`
}

// errorCode returns the CODE of the ERROR in a response, 0 when none.
func errorCode(t testing.TB, body []byte) cim.Status {
	t.Helper()
	root, err := xmlcodec.Parse(body)
	if err != nil {
		t.Fatalf("response does not parse: %v\n%s", err, body)
	}
	var code cim.Status
	var walk func(n *xmlcodec.Node)
	walk = func(n *xmlcodec.Node) {
		if n.Name == "ERROR" {
			v, _ := n.Attr("CODE")
			fmt.Sscan(v, &code)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
	return code
}

// count returns how often an element occurs in a response.
func count(body []byte, elem string) int {
	return bytes.Count(body, []byte("<"+elem+">")) + bytes.Count(body, []byte("<"+elem+" "))
}
