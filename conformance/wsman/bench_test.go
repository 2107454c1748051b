package wsmanconformance

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Benchmarks of WS-Management against CIM-XML on the same server and the
// same data, in the same run (scripts/bench.d/60-wsman.sh runs them).

// benchClient keeps 16 connections alive to the server.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true}}
}

// countStream counts the occurrences of a marker in a stream, across read
// boundaries, reading into buf, without keeping the stream.
func countStream(r io.Reader, marker, buf []byte) (int, int64, error) {
	var n int
	var total int64
	carry := 0
	for {
		k, err := r.Read(buf[carry:])
		total += int64(k)
		data := buf[:carry+k]
		n += bytes.Count(data, marker)
		// Keep the tail that could start a marker cut by the read.
		keep := len(marker) - 1
		if keep > len(data) {
			keep = len(data)
		}
		// Do not count a marker twice: a kept tail holds no whole marker.
		copy(buf, data[len(data)-keep:])
		carry = keep
		if err == io.EOF {
			return n, total, nil
		}
		if err != nil {
			return n, total, err
		}
	}
}

func post(b *testing.B, c *http.Client, s *server, url string, hdr map[string]string, body string) *http.Response {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.SetBasicAuth(s.user, s.password)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.Fatalf("%s: %d %.500s", url, resp.StatusCode, data)
	}
	return resp
}

var cimxmlHeaders = map[string]string{"Content-Type": `application/xml; charset="utf-8"`, "CIMOperation": "MethodCall", "CIMMethod": "EnumerateInstances", "CIMObject": "root/virt"}

// cimxmlEnumerate runs EnumerateInstances of class and counts instances
// as they stream in.
func cimxmlEnumerate(b *testing.B, c *http.Client, s *server, class string) (int, int64) {
	body := `<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="EnumerateInstances"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virt"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="` + class + `"/></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	resp := post(b, c, s, s.cimxmlURL, cimxmlHeaders, body)
	defer resp.Body.Close()
	n, size, err := countStream(resp.Body, []byte("<VALUE.NAMEDINSTANCE>"), make([]byte, 256<<10))
	if err != nil {
		b.Fatal(err)
	}
	return n, size
}

var soapHeaders = map[string]string{"Content-Type": "application/soap+xml;charset=UTF-8"}

// wsmanEnumerate runs an optimized Enumerate and Pulls of maxElements
// until the end, counting the items.
func wsmanEnumerate(b *testing.B, c *http.Client, s *server, class string, maxElements int) (int, int64) {
	uri := dmtfPrefix + class
	marker := []byte("<p:" + class + " ")
	body := soap(actEnumerate, uri, "", fmt.Sprintf(`<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>%d</wsman:MaxElements></wsen:Enumerate>`, maxElements))
	total, size := 0, int64(0)
	head, buf := make([]byte, 8<<10), make([]byte, 256<<10)
	for {
		// Counted as it streams in, as the CIM-XML answer is: the context
		// comes before the items, within the first octets.
		resp := post(b, c, s, s.wsmanURL(), soapHeaders, body)
		k, err := io.ReadAtLeast(resp.Body, head, len(head))
		if err != nil && err != io.ErrUnexpectedEOF {
			b.Fatal(err)
		}
		ctx := contextOf(head[:k])
		n, sz, err := countStream(io.MultiReader(bytes.NewReader(head[:k]), resp.Body), marker, buf)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		total += n
		size += sz
		if ctx == "" {
			return total, size
		}
		body = soap(actPull, uri, "", fmt.Sprintf(`<wsen:Pull><wsen:EnumerationContext>%s</wsen:EnumerationContext><wsen:MaxElements>%d</wsen:MaxElements></wsen:Pull>`, ctx, maxElements))
	}
}

// contextOf finds a non-empty wsen:EnumerationContext in an answer
// without parsing the whole of it.
func contextOf(data []byte) string {
	const open = "<wsen:EnumerationContext>"
	i := bytes.Index(data, []byte(open))
	if i < 0 {
		return ""
	}
	rest := data[i+len(open):]
	j := bytes.IndexByte(rest, '<')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// median returns the middle of xs (the mean of the two middle ones for an
// even count): the machine is shared, and a load spike in one round must
// not decide the result.
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkWSManEnumerate100k enumerates 100,000 instances of about 1 KB
// (the test provider's T_Gen) through both protocols: WS-Man optimized
// Enumerate and Pulls of 1000, CIM-XML one streamed EnumerateInstances.
// Each round runs both, back to back; the metrics are the medians over
// the rounds, the time ratio that of each round's pair.
func BenchmarkWSManEnumerate100k(b *testing.B) {
	const count = 100000
	s := startServerWith(b, serverOptions{genCount: count, genPayload: 800})
	c := benchClient()
	// One warm-up of each.
	cimxmlEnumerate(b, c, s, "T_Gen")
	wsmanEnumerate(b, c, s, "T_Gen", 1000)
	var rateCIM, rateWS, ratio []float64
	var sizeCIM, sizeWS int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		n, sz := cimxmlEnumerate(b, c, s, "T_Gen")
		dCIM := time.Since(t0)
		sizeCIM += sz
		if n != count {
			b.Fatalf("CIM-XML returned %d instances", n)
		}
		t0 = time.Now()
		n, sz = wsmanEnumerate(b, c, s, "T_Gen", 1000)
		dWS := time.Since(t0)
		sizeWS += sz
		if n != count {
			b.Fatalf("WS-Man returned %d instances", n)
		}
		rateCIM = append(rateCIM, count/dCIM.Seconds())
		rateWS = append(rateWS, count/dWS.Seconds())
		ratio = append(ratio, dWS.Seconds()/dCIM.Seconds())
	}
	runs := float64(b.N)
	b.ReportMetric(median(rateWS), "wsman-inst/s")
	b.ReportMetric(median(rateCIM), "cimxml-inst/s")
	b.ReportMetric(median(ratio), "time-ratio")
	b.ReportMetric(float64(sizeWS)/runs/count, "wsman-B/inst")
	b.ReportMetric(float64(sizeCIM)/runs/count, "cimxml-B/inst")
}

// BenchmarkWSManGet runs Gets of one instance from 16 concurrent
// keep-alive clients, and CIM-XML GetInstance of the same instance the
// same way, reporting requests/s and latency percentiles: medians over
// the rounds, each round running both back to back.
func BenchmarkWSManGet(b *testing.B) {
	s := startServer(b, "testdata/wsmt.mof")
	c := benchClient()
	const clients, perClient = 16, 1000
	wsGet := soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"), "")
	cxGet := `<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="GetInstance"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virt"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="WSMT_Widget"><KEYBINDING NAME="InstanceID"><KEYVALUE VALUETYPE="string">w1</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	cxHeaders := map[string]string{"Content-Type": `application/xml; charset="utf-8"`, "CIMOperation": "MethodCall", "CIMMethod": "GetInstance", "CIMObject": "root/virt"}
	run := func(url string, hdr map[string]string, body string) (rate, p50, p99 float64) {
		lat := make([]time.Duration, clients*perClient)
		var wg sync.WaitGroup
		start := time.Now()
		for g := 0; g < clients; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < perClient; i++ {
					t0 := time.Now()
					resp := post(b, c, s, url, hdr, body)
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					lat[g*perClient+i] = time.Since(t0)
				}
			}(g)
		}
		wg.Wait()
		elapsed := time.Since(start)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		us := func(d time.Duration) float64 { return float64(d.Microseconds()) }
		return float64(len(lat)) / elapsed.Seconds(), us(lat[len(lat)/2]), us(lat[len(lat)*99/100])
	}
	run(s.wsmanURL(), soapHeaders, wsGet) // warm-up
	run(s.cimxmlURL, cxHeaders, cxGet)
	b.ResetTimer()
	var wsRate, wsP50, wsP99, cxRate, cxP50, cxP99 []float64
	for i := 0; i < b.N; i++ {
		r, p50, p99 := run(s.wsmanURL(), soapHeaders, wsGet)
		wsRate, wsP50, wsP99 = append(wsRate, r), append(wsP50, p50), append(wsP99, p99)
		r, p50, p99 = run(s.cimxmlURL, cxHeaders, cxGet)
		cxRate, cxP50, cxP99 = append(cxRate, r), append(cxP50, p50), append(cxP99, p99)
	}
	b.ReportMetric(median(wsRate), "wsman-req/s")
	b.ReportMetric(median(wsP50), "wsman-p50-µs")
	b.ReportMetric(median(wsP99), "wsman-p99-µs")
	b.ReportMetric(median(cxRate), "cimxml-req/s")
	b.ReportMetric(median(cxP50), "cimxml-p50-µs")
	b.ReportMetric(median(cxP99), "cimxml-p99-µs")
}

// peakRSS reads a process's resident set high-water mark (VmHWM) in bytes.
func peakRSS(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

// BenchmarkWSManEnumerate1MMemory enumerates a million instances through
// WS-Man and reports how much the daemon's peak RSS grew: the adapter
// holds one batch at a time, so the growth must not depend on the count.
func BenchmarkWSManEnumerate1MMemory(b *testing.B) {
	const count = 1000000
	s := startServerWith(b, serverOptions{genCount: count, genPayload: 100})
	c := benchClient()
	// One batch and a Release first, so that the baseline includes
	// everything an enumeration sets up.
	resp := post(b, c, s, s.wsmanURL(), soapHeaders, soap(actEnumerate, dmtfPrefix+"T_Gen", "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements></wsen:Enumerate>`))
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	release := soap("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release", dmtfPrefix+"T_Gen", "", `<wsen:Release><wsen:EnumerationContext>`+contextOf(data)+`</wsen:EnumerationContext></wsen:Release>`)
	post(b, c, s, s.wsmanURL(), soapHeaders, release).Body.Close()
	before := peakRSS(b, s.d.Pid())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, _ := wsmanEnumerate(b, c, s, "T_Gen", 1000); n != count {
			b.Fatalf("WS-Man returned %d instances", n)
		}
	}
	b.ReportMetric(float64(peakRSS(b, s.d.Pid())-before)/(1<<20), "rss-growth-MiB")
	b.ReportMetric(float64(before)/(1<<20), "rss-before-MiB")
}
