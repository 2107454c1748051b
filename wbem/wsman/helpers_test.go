package wsman

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/auth"
	"github.com/hypercim/hypercim/wbem/internal/captures"
	"github.com/hypercim/hypercim/wbem/testprovider"
)

const (
	testUser     = "admin"
	testPassword = "s3cret-pass"
)

// testServer is the adapter on the real CIMOM core behind an HTTP server:
// a wbem.Server over a repository in a temporary directory that holds
// hypercim's schemas, the test provider's T_ model and testdata/model.mof,
// with the test provider registered in root/virt and a real user store.
type testServer struct {
	*httptest.Server
	core    *wbem.Server
	prov    *testprovider.Provider
	users   *auth.Store
	handler *Handler
}

// testOptions tune newTestServerWith.
type testOptions struct {
	// gen is the number of T_Gen instances the test provider serves.
	gen int
	// auth tunes the user store (bcrypt is always at its minimum cost).
	auth auth.Options
	// configure changes the adapter's configuration.
	configure func(*Config)
	// events serves WS-Eventing on the core's indication service, with
	// the subscriptions in the core's database; ind configures the
	// indication service.
	events bool
	ind    wbem.IndicationConfig
	// mof is more MOF compiled into root/virt (classes a test registers
	// its own provider for).
	mof string
}

func newTestServer(t testing.TB, configure ...func(*Config)) *testServer {
	t.Helper()
	o := testOptions{}
	if len(configure) > 0 {
		o.configure = configure[0]
	}
	return newTestServerWith(t, o)
}

func newTestServerWith(t testing.TB, o testOptions) *testServer {
	t.Helper()
	ao := o.auth
	ao.BcryptCost = bcrypt.MinCost
	users, err := auth.Open(t.TempDir(), &ao)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.AddUser(testUser, testPassword, auth.UserOptions{Admin: true, Digest: true}); err != nil {
		t.Fatal(err)
	}
	core, prov := newTestCore(t, o.gen, users, o.ind, o.mof)
	cfg := Config{Ops: core, Auth: users, ProductVersion: "test"}
	if o.events {
		cfg.Events, cfg.EventStore = core.Indications(), core.ProviderStore("wseventing")
	}
	if o.configure != nil {
		o.configure(&cfg)
	}
	h := NewHandler(cfg)
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); h.Close() })
	return &testServer{Server: srv, core: core, prov: prov, users: users, handler: h}
}

// newTestCore opens a repository in a temporary directory, installs
// hypercim's schemas, compiles the test provider's MOF and
// testdata/model.mof (and extraMOF) into root/virt, and starts the core
// on it with the test provider (gen T_Gen instances) registered there.
// The provider's T_Dynamic holds d1 (Size 10, partner s1) and d2; the
// provider publishes the lifecycle indications of T_Dynamic.
func newTestCore(t testing.TB, gen int, authz wbem.Authorizer, ind wbem.IndicationConfig, extraMOF string) (*wbem.Server, *testprovider.Provider) {
	t.Helper()
	repo, err := repository.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	model, err := os.ReadFile(filepath.Join("testdata", "model.mof"))
	if err != nil {
		t.Fatal(err)
	}
	w := repo.NewBulkWriter()
	if _, err := schemas.Install(w, schemas.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	c := &mof.Compiler{Target: w, Namespace: schemas.VirtNamespace}
	src := testprovider.MOF + `instance of T_Static { Id = "s1"; Name = "static one"; };` + "\n" + string(model) + "\n" + extraMOF
	if _, err := c.CompileSource("model.mof", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	core, err := wbem.NewServer(wbem.Config{Repository: repo, Authorizer: authz, Logger: log, Indications: ind})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	prov := testprovider.New()
	prov.GenCount, prov.GenPayload = gen, 16
	prov.Events = core
	if err := prov.Register(core.Registry(), schemas.VirtNamespace); err != nil {
		t.Fatal(err)
	}
	ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "setup", Unrestricted: true})
	for _, d := range []struct{ id, partner string }{{"d1", "s1"}, {"d2", ""}} {
		inst := cim.NewInstance("T_Dynamic")
		inst.Set("Id", cim.NewString(d.id))
		inst.Set("Name", cim.NewString("dynamic "+d.id))
		inst.Set("Size", cim.NewUint32(10))
		if d.partner != "" {
			inst.Set("Partner", cim.NewString(d.partner))
		}
		if _, err := core.CreateInstance(ctx, schemas.VirtNamespace, inst); err != nil {
			t.Fatal(err)
		}
	}
	return core, prov
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
		for _, c := range e.Children {
			if c.Local == name {
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
		for _, c := range x.Children {
			if c.Local == local {
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
	code = path(f, "Code/Value").TrimmedText()
	subcode = path(f, "Code/Subcode/Value").TrimmedText()
	detail = path(f, "Detail/FaultDetail").TrimmedText()
	detail = strings.TrimPrefix(detail, faultDetailPrefix)
	return
}

// capturesDir is where the captured client requests are: the project's
// shared fixtures, which CI keeps beside the repository
// (../shared/fixtures/clients/wsman from the module root).
func capturesDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(captures.Dir(), "wsman")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the shared client captures belong at %s: %v", dir, err)
	}
	return dir
}

const (
	uriCS      = DMTFClassPrefix + "CIM_ComputerSystem"
	uriHC      = VendorClassPrefix + "HC_ComputerSystem"
	uriDisk    = DMTFClassPrefix + "CIM_LogicalDisk"
	uriStatic  = DMTFClassPrefix + "T_Static"
	uriDynamic = DMTFClassPrefix + "T_Dynamic"
	uriGen     = DMTFClassPrefix + "T_Gen"
)
