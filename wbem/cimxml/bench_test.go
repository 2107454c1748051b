package cimxml

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// kiloInstance is an instance of about 1 KB of CIM-XML: a key, a dozen
// strings and numbers, as an inventory enumeration returns them.
func kiloInstance(i int) *cim.Instance {
	inst := cim.NewInstance("Bench_Item")
	inst.Set("InstanceID", cim.NewString(fmt.Sprintf("HC:bench-%08d", i)))
	inst.Set("ElementName", cim.NewString(fmt.Sprintf("bench item number %d", i)))
	inst.Set("Caption", cim.NewString("A benchmark instance of about one kilobyte"))
	inst.Set("Description", cim.NewString("Generated for the CIM-XML encoder benchmarks & tests"))
	inst.Set("EnabledState", cim.NewUint16(2))
	inst.Set("RequestedState", cim.NewUint16(12))
	inst.Set("HealthState", cim.NewUint16(5))
	inst.Set("OperationalStatus", cim.NewUint16Array([]uint16{2, 32768}))
	inst.Set("Size", cim.NewUint64(uint64(i)*4096))
	inst.Set("Flag", cim.NewBoolean(i%2 == 0))
	inst.Set("Tags", cim.NewStringArray([]string{"alpha", "beta", "gamma"}))
	inst.Set("Padding", cim.NewString("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	inst.Path = cim.NewInstancePath("root/bench", "Bench_Item", cim.KeyBinding{Name: "InstanceID", Value: inst.Get("InstanceID")})
	return inst
}

func BenchmarkEncodeNamedInstance(b *testing.B) {
	insts := make([]*cim.Instance, 1024)
	for i := range insts {
		insts[i] = kiloInstance(i)
	}
	e := &xmlcodec.Encoder{Host: "127.0.0.1:5988", B: make([]byte, 0, 2*flushThreshold)}
	e.NamedInstance(insts[0])
	b.SetBytes(int64(len(e.B)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(e.B) > flushThreshold {
			e.B = e.B[:0]
		}
		e.NamedInstance(insts[i%len(insts)])
	}
}

func BenchmarkDecodeGetInstance(b *testing.B) {
	body := []byte(`<?xml version="1.0" encoding="utf-8" ?>
<CIM CIMVERSION="2.0" DTDVERSION="2.0">
<MESSAGE ID="4711" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="GetInstance"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"></NAMESPACE><NAMESPACE NAME="cimv2"></NAMESPACE></LOCALNAMESPACEPATH>
<IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE>
<IPARAMVALUE NAME="IncludeQualifiers"><VALUE>FALSE</VALUE></IPARAMVALUE>
<IPARAMVALUE NAME="IncludeClassOrigin"><VALUE>TRUE</VALUE></IPARAMVALUE>
<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="CIM_Foo"><KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string">abc</KEYVALUE></KEYBINDING><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="numeric">5</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE>
</IMETHODCALL></SIMPLEREQ>
</MESSAGE></CIM>`)
	h := &requestHeaders{method: "GetInstance", object: "root/cimv2"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	ps := new(xmlcodec.Parser) // reused, as the Handler's pool does
	for i := 0; i < b.N; i++ {
		req, perr := decodeRequest(ps, body, h)
		if perr != nil {
			b.Fatal(perr)
		}
		d := newDecoder(context.Background(), nil, req.ns)
		var p params
		if err := p.init(d, req.params); err != nil {
			b.Fatal(err)
		}
		if _, err := p.instanceName("InstanceName"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnumerateInstancesHandler measures the whole path of an
// EnumerateInstances of 10,000 instances of about 1 KB through the
// handler, the core and the test provider, over loopback HTTP.
func BenchmarkEnumerateInstancesHandler(b *testing.B) {
	const n = 10000
	s := newTestServer(b, serverOptions{gen: n, payload: 520})
	body := intrinsicBody("EnumerateInstances", testNS, iparam("ClassName", className("T_Gen"))+iparam("LocalOnly", boolValue(false)))
	client := &http.Client{}
	do := func() int64 {
		req, _ := http.NewRequest("POST", s.url, strings.NewReader(body))
		req.SetBasicAuth(testUser, testPassword)
		req.Header.Set("Content-Type", "application/xml")
		req.Header.Set("CIMOperation", "MethodCall")
		req.Header.Set("CIMMethod", "EnumerateInstances")
		req.Header.Set("CIMObject", testNS)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		m, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	b.SetBytes(do())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		do()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "instances/s")
}

// BenchmarkGetInstanceHandler measures GetInstance through the handler,
// the core and the test provider over loopback HTTP, 16 clients at once.
func BenchmarkGetInstanceHandler(b *testing.B) {
	s := newTestServer(b, serverOptions{gen: 1000, payload: 520})
	body := intrinsicBody("GetInstance", testNS, iparam("InstanceName", instanceName("T_Gen", "Id", "g0000042"))+iparam("LocalOnly", boolValue(false)))
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	// One request first: the user store remembers the password check, so
	// the clients do not all pay bcrypt at once.
	s.do(b, "POST", map[string]string{"CIMOperation": "MethodCall", "CIMMethod": "GetInstance", "CIMObject": testNS}, body)
	b.SetParallelism(8) // 16 clients on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", s.url, strings.NewReader(body))
			req.SetBasicAuth(testUser, testPassword)
			req.Header.Set("Content-Type", "application/xml")
			req.Header.Set("CIMOperation", "MethodCall")
			req.Header.Set("CIMMethod", "GetInstance")
			req.Header.Set("CIMObject", testNS)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// discardResponse is an http.ResponseWriter that keeps the status and
// counts the body, for benchmarks of the handler alone.
type discardResponse struct {
	header http.Header
	status int
	n      int
}

func (d *discardResponse) Header() http.Header { return d.header }
func (d *discardResponse) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}
func (d *discardResponse) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.n += len(p)
	return len(p), nil
}

// BenchmarkGetInstanceServeHTTP measures what the handler itself costs
// per GetInstance (headers, authentication, decoding, the core, encoding),
// without the HTTP server and the network: allocations per request are
// the figure to watch.
func BenchmarkGetInstanceServeHTTP(b *testing.B) {
	s := newTestServer(b, serverOptions{gen: 1000, payload: 520})
	body := intrinsicBody("GetInstance", testNS, iparam("InstanceName", instanceName("T_Gen", "Id", "g0000042"))+iparam("LocalOnly", boolValue(false)))
	rd := strings.NewReader(body)
	req, err := http.NewRequest("POST", s.url, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	req.SetBasicAuth(testUser, testPassword)
	// Header names as clients write them; the server canonicalizes them.
	req.Header["Content-Type"] = []string{`application/xml; charset="utf-8"`}
	req.Header["Cimoperation"] = []string{"MethodCall"}
	req.Header["Cimmethod"] = []string{"GetInstance"}
	req.Header["Cimobject"] = []string{"root%2Ftest"}
	w := &discardResponse{header: http.Header{}}
	serve := func() {
		rd.Reset(body)
		clear(w.header)
		w.status, w.n = 0, 0
		s.handler.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.n < 1000 {
			b.Fatalf("HTTP %d, %d bytes", w.status, w.n)
		}
	}
	serve()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve()
	}
}
