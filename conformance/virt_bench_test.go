package conformance

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Benchmarks of the virtualization provider through CIM-XML on a real
// hypercimd (scripts/bench.d/70-virt.sh runs them with -benchtime 1x:
// each measures a fixed amount of work and reports its own metrics).

// cimxmlClient sends CIM-XML requests over one keep-alive connection pool.
type cimxmlClient struct {
	b    testing.TB
	addr string
	http *http.Client
}

func newCimxmlClient(b testing.TB, addr string) *cimxmlClient {
	return &cimxmlClient{b: b, addr: addr, http: &http.Client{Timeout: virtTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// invoke sends a METHODCALL; object is the instance path as XML
// (INSTANCENAME) and header text; params are PARAMVALUE elements.
func (c *cimxmlClient) invoke(objectXML, objectHeader, method, params string) string {
	body := `<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ>` +
		`<METHODCALL NAME="` + method + `"><LOCALINSTANCEPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virt"/></LOCALNAMESPACEPATH>` +
		objectXML + `</LOCALINSTANCEPATH>` + params + `</METHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	return c.post("MethodCall", method, "root%2Fvirt%3A"+objectHeader, body)
}

func (c *cimxmlClient) post(op, method, object, body string) string {
	req, err := http.NewRequest("POST", "http://"+c.addr+"/cimom", strings.NewReader(body))
	if err != nil {
		c.b.Fatal(err)
	}
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	req.Header.Set("CIMProtocolVersion", "1.0")
	req.Header.Set("CIMOperation", op)
	req.Header.Set("CIMMethod", method)
	req.Header.Set("CIMObject", object)
	req.SetBasicAuth(virtUser, virtPass)
	resp, err := c.http.Do(req)
	if err != nil {
		c.b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(out), "<ERROR") {
		c.b.Fatalf("%s: HTTP %d %s", method, resp.StatusCode, out)
	}
	return string(out)
}

// enumerate runs EnumerateInstances and returns the number of instances.
func (c *cimxmlClient) enumerate(class string) int {
	body := `<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ>` +
		`<IMETHODCALL NAME="EnumerateInstances"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virt"/></LOCALNAMESPACEPATH>` +
		`<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="` + class + `"/></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	return strings.Count(c.post("MethodCall", "EnumerateInstances", "root/virt", body), "<VALUE.NAMEDINSTANCE>")
}

func keyXML(class string, keys ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<INSTANCENAME CLASSNAME="%s">`, class)
	for i := 0; i < len(keys); i += 2 {
		fmt.Fprintf(&b, `<KEYBINDING NAME="%s"><KEYVALUE VALUETYPE="string">%s</KEYVALUE></KEYBINDING>`, keys[i], keys[i+1])
	}
	b.WriteString("</INSTANCENAME>")
	return b.String()
}

func keyHeader(class string, keys ...string) string {
	var kv []string
	for i := 0; i < len(keys); i += 2 {
		kv = append(kv, keys[i]+`="`+keys[i+1]+`"`)
	}
	return class + "." + strings.Join(kv, ",")
}

// benchFixture is a server and what the benchmarks call on it.
type benchFixture struct {
	s      *virtServer
	c      *cimxmlClient
	vsmsX  string
	vsmsH  string
	kernel string
}

func newBenchFixture(b *testing.B) *benchFixture {
	s := newVirtServer(b)
	host, _ := os.Hostname()
	keys := []string{"SystemCreationClassName", "HC_HostSystem", "SystemName", host,
		"CreationClassName", "HC_VirtualSystemManagementService", "Name", "VirtualSystemManagementService"}
	return &benchFixture{s: s, c: newCimxmlClient(b, s.addr), vsmsX: keyXML("HC_VirtualSystemManagementService", keys...),
		vsmsH: keyHeader("HC_VirtualSystemManagementService", keys...), kernel: filepath.Join(s.bin, "hypercim-testguest")}
}

var resultingName = regexp.MustCompile(`<KEYBINDING NAME="Name"><KEYVALUE[^>]*>([0-9a-f-]{36})</KEYVALUE>`)

// define defines a system without disks (1 vCPU, 16 MiB) and returns its
// UUID.
func (f *benchFixture) define(name string) string {
	inst := `<INSTANCE CLASSNAME="HC_VirtualSystemSettingData">` +
		`<PROPERTY NAME="ElementName" TYPE="string"><VALUE>` + name + `</VALUE></PROPERTY>` +
		`<PROPERTY NAME="KernelPath" TYPE="string"><VALUE>` + f.kernel + `</VALUE></PROPERTY>` +
		`<PROPERTY NAME="KernelCommandLine" TYPE="string"><VALUE>testguest.interactive</VALUE></PROPERTY></INSTANCE>`
	mem := `<INSTANCE CLASSNAME="CIM_ResourceAllocationSettingData"><PROPERTY NAME="ResourceType" TYPE="uint16"><VALUE>4</VALUE></PROPERTY>` +
		`<PROPERTY NAME="VirtualQuantity" TYPE="uint64"><VALUE>16</VALUE></PROPERTY></INSTANCE>`
	params := `<PARAMVALUE NAME="SystemSettings" PARAMTYPE="string" EmbeddedObject="instance"><VALUE>` + xmlEsc(inst) + `</VALUE></PARAMVALUE>` +
		`<PARAMVALUE NAME="ResourceSettings" PARAMTYPE="string" EmbeddedObject="instance"><VALUE.ARRAY><VALUE>` + xmlEsc(mem) + `</VALUE></VALUE.ARRAY></PARAMVALUE>`
	out := f.c.invoke(f.vsmsX, f.vsmsH, "DefineSystem", params)
	m := resultingName.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "<VALUE>0</VALUE></RETURNVALUE>") {
		f.s.t.Fatalf("DefineSystem: %s", out)
	}
	return m[1]
}

// setState calls RequestStateChange, synchronously (TimeoutPeriod).
func (f *benchFixture) setState(uuid string, state int) {
	keys := []string{"CreationClassName", "HC_ComputerSystem", "Name", uuid}
	out := f.c.invoke(keyXML("HC_ComputerSystem", keys...), keyHeader("HC_ComputerSystem", keys...), "RequestStateChange",
		fmt.Sprintf(`<PARAMVALUE NAME="RequestedState" PARAMTYPE="uint16"><VALUE>%d</VALUE></PARAMVALUE>`+
			`<PARAMVALUE NAME="TimeoutPeriod" PARAMTYPE="datetime"><VALUE>00000000000100.000000:000</VALUE></PARAMVALUE>`, state))
	if !strings.Contains(out, "<VALUE>0</VALUE></RETURNVALUE>") {
		f.s.t.Fatalf("RequestStateChange(%d): %s", state, out)
	}
}

// percentiles reports p50 and p99 of latencies in milliseconds.
func percentiles(b *testing.B, prefix string, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	b.ReportMetric(ms(d[len(d)/2]), prefix+"-p50-ms")
	b.ReportMetric(ms(d[(len(d)*99)/100]), prefix+"-p99-ms")
}

// BenchmarkVirtDefineSystem: DefineSystem (no disk) latency through
// CIM-XML.
func BenchmarkVirtDefineSystem(b *testing.B) {
	f := newBenchFixture(b)
	var lat []time.Duration
	for i := range 300 {
		t0 := time.Now()
		f.define(fmt.Sprintf("bench-%d", i))
		lat = append(lat, time.Since(t0))
	}
	percentiles(b, "define", lat)
}

// BenchmarkVirtStart: RequestStateChange(2) latency through CIM-XML,
// synchronous (the call returns once the system runs).
func BenchmarkVirtStart(b *testing.B) {
	f := newBenchFixture(b)
	var ids []string
	for i := range 100 {
		ids = append(ids, f.define(fmt.Sprintf("start-%d", i)))
	}
	var lat []time.Duration
	for _, id := range ids {
		t0 := time.Now()
		f.setState(id, 2)
		lat = append(lat, time.Since(t0))
		f.setState(id, 3)
	}
	percentiles(b, "start", lat)
}

// BenchmarkVirtDefineStart8: systems defined and started per second by 8
// concurrent clients.
func BenchmarkVirtDefineStart8(b *testing.B) {
	f := newBenchFixture(b)
	const clients, each = 8, 12
	var wg sync.WaitGroup
	started := make([][]string, clients)
	t0 := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := f.define(fmt.Sprintf("c%d-%d", c, i))
				f.setState(id, 2)
				started[c] = append(started[c], id)
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(clients*each)/time.Since(t0).Seconds(), "vms/s")
	for _, ids := range started {
		for _, id := range ids {
			f.setState(id, 3)
		}
	}
}

// BenchmarkVirtEnumerate1000: EnumerateInstances of CIM_ComputerSystem
// and of CIM_ResourceAllocationSettingData with 1,000 defined systems.
func BenchmarkVirtEnumerate1000(b *testing.B) {
	f := newBenchFixture(b)
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < 1000; i += 4 {
				f.define(fmt.Sprintf("enum-%04d", i))
			}
		}()
	}
	wg.Wait()
	for _, class := range []string{"CIM_ComputerSystem", "CIM_ResourceAllocationSettingData"} {
		var lat []time.Duration
		n := 0
		for range 10 {
			t0 := time.Now()
			n = f.c.enumerate(class)
			lat = append(lat, time.Since(t0))
		}
		short := map[string]string{"CIM_ComputerSystem": "cs", "CIM_ResourceAllocationSettingData": "rasd"}[class]
		percentiles(b, short, lat)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(n)/lat[len(lat)/2].Seconds(), short+"-inst/s")
		b.ReportMetric(float64(n), short+"-instances")
	}
}
