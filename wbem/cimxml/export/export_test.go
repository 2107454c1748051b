package export_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml/export"
)

// received collects what a Listener hands over.
type received struct {
	mu   sync.Mutex
	inds []export.Indication
	// answer, when set, is the Handle function's result.
	answer func(export.Indication) error
}

func (r *received) handle(ctx context.Context, ind export.Indication) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answer != nil {
		if err := r.answer(ind); err != nil {
			return err
		}
	}
	r.inds = append(r.inds, ind)
	return nil
}

func (r *received) all() []export.Indication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]export.Indication(nil), r.inds...)
}

func newListener(t *testing.T, cfg export.ListenerConfig) (*httptest.Server, *received) {
	t.Helper()
	r := &received{}
	cfg.Handle = r.handle
	l, err := export.NewListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return srv, r
}

func newClient(t *testing.T, cfg export.Config) *export.Client {
	t.Helper()
	c, err := export.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// richIndication has a value of every kind the encoding must carry.
func richIndication(t *testing.T) *cim.Instance {
	t.Helper()
	when, err := cim.ParseDatetime("20240131235959.123456-300")
	if err != nil {
		t.Fatal(err)
	}
	src := cim.NewInstance("HC_ComputerSystem")
	src.Set("Name", cim.NewString(`vm <1> & "two"`))
	src.Set("EnabledState", cim.NewUint16(2))
	src.Set("Dedicated", cim.NewUint16Array([]uint16{1, 2}))
	inner := cim.NewInstance("T_Inner")
	inner.Set("Deep", cim.NewString("nested\r\n\ttext"))
	src.Set("Inner", cim.NewEmbeddedInstance(inner))

	ind := cim.NewInstance("CIM_InstModification")
	ind.Set("IndicationIdentifier", cim.NewString("HC:1"))
	ind.Set("IndicationTime", cim.NewDatetime(when))
	ind.Set("SourceInstance", cim.NewEmbeddedInstance(src))
	ind.Set("SourceInstanceModelPath", cim.NewString(`HC_ComputerSystem.CreationClassName="HC_ComputerSystem",Name="vm"`))
	ind.Set("ChangedPropertyNames", cim.NewStringArray([]string{"EnabledState", "Name"}))
	ind.Set("PerceivedSeverity", cim.NewUint16(2))
	ind.Set("SequenceNumber", cim.NewSint64(-42))
	ind.Set("Ratio", cim.NewReal64(0.25))
	ind.Set("Flag", cim.NewBoolean(true))
	ind.Set("Letter", cim.NewChar16('é'))
	ind.Set("Empty", cim.NewString(""))
	ind.Set("Nothing", cim.Null(cim.TypeUint32))
	ind.Set("NoArray", cim.NullArray(cim.TypeString))
	ref := cim.NewInstancePath("root/virt", "HC_ComputerSystem",
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString("HC_ComputerSystem")},
		cim.KeyBinding{Name: "Name", Value: cim.NewString("vm")})
	ind.Set("Target", cim.NewReference(ref))
	hosted := ref.Clone()
	hosted.Host = "host.example.com:5989"
	ind.Set("Remote", cim.NewReference(hosted))
	ind.Set("Keyed", cim.NewReference(cim.NewInstancePath("", "T_Key", cim.KeyBinding{Name: "N", Value: cim.NewUint32(5)},
		cim.KeyBinding{Name: "B", Value: cim.NewBoolean(false)})))
	return ind
}

func TestExportRoundTrip(t *testing.T) {
	srv, got := newListener(t, export.ListenerConfig{})
	c := newClient(t, export.Config{})
	ind := richIndication(t)
	if err := c.Export(context.Background(), export.Target{URL: srv.URL + "/cimlistener/x"}, ind); err != nil {
		t.Fatal(err)
	}
	all := got.all()
	if len(all) != 1 {
		t.Fatalf("%d indications received", len(all))
	}
	r := all[0].Instance
	if !r.Equal(ind) {
		t.Errorf("received\n%v\nsent\n%v", r, ind)
	}
	src := r.Get("SourceInstance").Instance()
	if src == nil || src.Get("Inner").Instance().Get("Deep").Str() != "nested\r\n\ttext" {
		t.Errorf("embedded instances: %v", src)
	}
	if all[0].MessageID == "" || all[0].RemoteAddr == "" {
		t.Errorf("metadata %+v", all[0])
	}
}

// post sends a raw export request.
func post(t *testing.T, url, method string, header map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	req.Header.Set("CIMExport", "MethodRequest")
	req.Header.Set("CIMExportMethod", "ExportIndication")
	req.Header.Set("CIMProtocolVersion", "1.0")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

const alertRequest = `<?xml version="1.0" encoding="utf-8"?>
<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1001" PROTOCOLVERSION="1.0"><SIMPLEEXPREQ>
<EXPMETHODCALL NAME="ExportIndication"><EXPPARAMVALUE NAME="NewIndication">
<INSTANCE CLASSNAME="CIM_AlertIndication">
<PROPERTY NAME="Description" TYPE="string"><VALUE>disk failed</VALUE></PROPERTY>
<PROPERTY NAME="AlertType" TYPE="uint16"><VALUE>5</VALUE></PROPERTY>
<PROPERTY.ARRAY NAME="RecommendedActions" TYPE="string"><VALUE.ARRAY><VALUE>replace</VALUE><VALUE.NULL/></VALUE.ARRAY></PROPERTY.ARRAY>
</INSTANCE></EXPPARAMVALUE></EXPMETHODCALL></SIMPLEEXPREQ></MESSAGE></CIM>`

func TestListenerProtocol(t *testing.T) {
	srv, got := newListener(t, export.ListenerConfig{MaxRequestSize: 4096})
	body := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// What pywbem and OpenPegasus send: accepted, answered with an
	// EXPMETHODRESPONSE echoing the MESSAGE ID.
	resp := post(t, srv.URL, "POST", nil, alertRequest)
	b := body(resp)
	if resp.StatusCode != 200 || resp.Header.Get("CIMExport") != "MethodResponse" ||
		!strings.Contains(b, `<MESSAGE ID="1001" PROTOCOLVERSION="1.0"><SIMPLEEXPRSP><EXPMETHODRESPONSE NAME="ExportIndication"></EXPMETHODRESPONSE>`) {
		t.Errorf("answer %d %v %s", resp.StatusCode, resp.Header, b)
	}
	if all := got.all(); len(all) != 1 || all[0].Instance.Get("AlertType").Uint16() != 5 ||
		all[0].Instance.Get("RecommendedActions").Len() != 2 || !all[0].Instance.Get("RecommendedActions").IsNullAt(1) {
		t.Errorf("received %v", all)
	}
	// M-POST with the headers in the namespace Man declares.
	resp = post(t, srv.URL, "M-POST", map[string]string{"CIMExport": "", "CIMExportMethod": "", "CIMProtocolVersion": "",
		"Man": "http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73", "73-CIMExport": "MethodRequest", "73-CIMExportMethod": "ExportIndication"}, alertRequest)
	if resp.StatusCode != 200 || resp.Header.Get("73-CIMExport") != "MethodResponse" || len(resp.Header.Values("Ext")) != 1 {
		t.Errorf("M-POST: %d %v %s", resp.StatusCode, resp.Header, body(resp))
	}
	for _, c := range []struct {
		name     string
		method   string
		header   map[string]string
		body     string
		status   int
		cimError string
	}{
		{"GET", "GET", nil, "", 405, ""},
		{"no CIMExport", "POST", map[string]string{"CIMExport": ""}, alertRequest, 400, "header-mismatch"},
		{"operation request", "POST", map[string]string{"CIMExport": "MethodCall"}, alertRequest, 400, "header-mismatch"},
		{"method header mismatch", "POST", map[string]string{"CIMExportMethod": "ExportSomething"}, alertRequest, 400, "header-mismatch"},
		{"batch", "POST", map[string]string{"CIMExport": "MultipleExportRequest"}, alertRequest, 501, "multiple-requests-unsupported"},
		{"protocol version", "POST", map[string]string{"CIMProtocolVersion": "2.0"}, alertRequest, 501, "unsupported-protocol-version"},
		{"content type", "POST", map[string]string{"Content-Type": "text/plain"}, alertRequest, 400, "request-not-valid"},
		{"not XML", "POST", nil, "<CIM><MESSAGE", 400, "request-not-well-formed"},
		{"entity", "POST", nil, `<?xml version="1.0"?><!DOCTYPE CIM [<!ENTITY x "boom">]><CIM>&x;</CIM>`, 400, "request-not-well-formed"},
		{"not CIM", "POST", nil, `<HTML/>`, 400, "request-not-valid"},
		{"no call", "POST", nil, `<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEEXPREQ/></MESSAGE></CIM>`, 400, "request-not-valid"},
		{"M-POST without Man", "M-POST", nil, alertRequest, 510, ""},
		{"too large", "POST", nil, alertRequest + strings.Repeat(" ", 5000), 413, ""},
	} {
		resp := post(t, srv.URL, c.method, c.header, c.body)
		if resp.StatusCode != c.status || resp.Header.Get("CIMError") != c.cimError {
			t.Errorf("%s: %d CIMError %q, want %d %q", c.name, resp.StatusCode, resp.Header.Get("CIMError"), c.status, c.cimError)
		}
	}
	// CIM errors are answered inside EXPMETHODRESPONSE.
	for _, c := range []struct {
		name, body, want string
	}{
		{"unknown method", strings.ReplaceAll(alertRequest, `NAME="ExportIndication"`, `NAME="ExportOther"`), `CODE="7"`},
		{"no parameter", strings.ReplaceAll(alertRequest, `NAME="NewIndication"`, `NAME="Other"`), `CODE="4"`},
		{"bad value", strings.ReplaceAll(alertRequest, `<VALUE>5</VALUE>`, `<VALUE>70000</VALUE>`), `CODE="4"`},
	} {
		h := map[string]string{}
		if c.name == "unknown method" {
			h["CIMExportMethod"] = "ExportOther"
		}
		resp := post(t, srv.URL, "POST", h, c.body)
		if b := body(resp); resp.StatusCode != 200 || !strings.Contains(b, "<ERROR "+c.want) {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, b)
		}
	}
	if n := len(got.all()); n != 2 {
		t.Errorf("%d indications accepted, want 2", n)
	}
}

func TestListenerAuthentication(t *testing.T) {
	srv, got := newListener(t, export.ListenerConfig{Username: "cimlistener", Password: "s3cret"})
	ind := richIndication(t)
	var e *export.Error
	err := newClient(t, export.Config{}).Export(context.Background(), export.Target{URL: srv.URL}, ind)
	if !errors.As(err, &e) || e.HTTPStatus != 401 || !e.Permanent() {
		t.Errorf("without credentials: %v", err)
	}
	err = newClient(t, export.Config{}).Export(context.Background(), export.Target{URL: srv.URL, Username: "cimlistener", Password: "wrong"}, ind)
	if !errors.As(err, &e) || e.HTTPStatus != 401 {
		t.Errorf("wrong password: %v", err)
	}
	if err := newClient(t, export.Config{}).Export(context.Background(), export.Target{URL: srv.URL, Username: "cimlistener", Password: "s3cret"}, ind); err != nil {
		t.Fatal(err)
	}
	if all := got.all(); len(all) != 1 || all[0].User != "cimlistener" {
		t.Errorf("received %v", all)
	}
}

func TestExportErrors(t *testing.T) {
	srv, got := newListener(t, export.ListenerConfig{})
	c := newClient(t, export.Config{Timeout: 2 * time.Second})
	ind := richIndication(t)
	export1 := func(url string) *export.Error {
		t.Helper()
		err := c.Export(context.Background(), export.Target{URL: url}, ind)
		var e *export.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: error %v is not an *export.Error", url, err)
		}
		return e
	}
	// The listener refuses: permanent, except CIM_ERR_FAILED.
	got.answer = func(export.Indication) error { return cim.NewError(cim.ErrNotSupported, "no thanks") }
	if e := export1(srv.URL); e.Status != cim.ErrNotSupported || !e.Permanent() || !strings.Contains(e.Error(), "no thanks") {
		t.Errorf("refused: %v", e)
	}
	got.answer = func(export.Indication) error { return errors.New("disk full") }
	if e := export1(srv.URL); e.Status != cim.ErrFailed || e.Permanent() {
		t.Errorf("failed: %v (permanent %v)", e, e.Permanent())
	}
	// HTTP answers.
	statuses := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "http://elsewhere.example/", http.StatusFound)
		case "/garbage":
			io.WriteString(w, "<html>hello</html>")
		case "/slow":
			time.Sleep(3 * time.Second)
		default:
			http.NotFound(w, r)
		}
	}))
	defer statuses.Close()
	for _, c := range []struct {
		path      string
		http      int
		permanent bool
	}{{"/busy", 503, false}, {"/missing", 404, true}, {"/moved", 302, true}, {"/garbage", 200, true}, {"/slow", 0, false}} {
		if e := export1(statuses.URL + c.path); e.HTTPStatus != c.http || e.Permanent() != c.permanent {
			t.Errorf("%s: %v (HTTP %d, permanent %v)", c.path, e, e.HTTPStatus, e.Permanent())
		}
	}
	// Nobody listening: retry later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if e := export1("http://" + addr + "/"); e.Permanent() || e.Err == nil {
		t.Errorf("connection refused: %v", e)
	}
	if e := export1("ftp://" + addr + "/"); !e.Permanent() {
		t.Errorf("bad scheme: %v", e)
	}
}

func TestExportTLS(t *testing.T) {
	r := &received{}
	l, err := export.NewListener(export.ListenerConfig{Handle: r.handle})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(l)
	defer srv.Close()
	ind := richIndication(t)
	// The listener's certificate is not trusted: verified by default.
	if err := newClient(t, export.Config{}).Export(context.Background(), export.Target{URL: srv.URL}, ind); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted listener was accepted: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	if err := newClient(t, export.Config{RootCAs: pool}).Export(context.Background(), export.Target{URL: srv.URL}, ind); err != nil {
		t.Errorf("with the listener's CA: %v", err)
	}
	if err := newClient(t, export.Config{InsecureSkipVerify: true}).Export(context.Background(), export.Target{URL: srv.URL}, ind); err != nil {
		t.Errorf("without verification: %v", err)
	}
	if n := len(r.all()); n != 2 {
		t.Errorf("%d received", n)
	}
}

// The Client is the indication service's exporter.
var _ wbem.IndicationExporter = (*export.Client)(nil)

func TestExportIndicationOfDestination(t *testing.T) {
	srv, got := newListener(t, export.ListenerConfig{Username: "u", Password: "p"})
	c := newClient(t, export.Config{})
	dest := wbem.ListenerDestination{Protocol: wbem.ProtocolCIMXML, URL: srv.URL + "/listener", Username: "u", Password: "p"}
	if err := c.ExportIndication(context.Background(), dest, richIndication(t)); err != nil {
		t.Fatal(err)
	}
	if len(got.all()) != 1 {
		t.Error("not received")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.ExportIndication(ctx, dest, richIndication(t)); err == nil {
		t.Error("a cancelled export succeeded")
	}
}
