package wsman

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// BenchmarkHandlerGet measures one Get through the handler (no network):
// envelope parsing, authentication (cached), the core's GetInstance of a
// static instance, rendering.
func BenchmarkHandlerGet(b *testing.B) {
	s := newTestServer(b)
	body := envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), "")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", Path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		req.SetBasicAuth(testUser, testPassword)
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkDecodeEnvelope measures the envelope decoder alone on the
// request of BenchmarkHandlerGet.
func BenchmarkDecodeEnvelope(b *testing.B) {
	body := []byte(envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), ""))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, f := decodeEnvelope(body, Limits{}); f != nil {
			b.Fatal(f)
		}
	}
}

// BenchmarkHandlerEnumerate enumerates 10,000 provider instances of about
// 1 KB over HTTP: an optimized Enumerate and Pulls of 1000, as
// scripts/bench.d/60-wsman.sh does against the daemon.
func BenchmarkHandlerEnumerate(b *testing.B) {
	const n = 10000
	s := newTestServerWith(b, testOptions{gen: n})
	s.prov.GenPayload = 800
	client := &http.Client{}
	marker := []byte("<p:T_Gen ")
	post := func(body string) []byte {
		req, _ := http.NewRequest("POST", s.URL+Path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		req.SetBasicAuth(testUser, testPassword)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%d %v %.300s", resp.StatusCode, err, data)
		}
		return data
	}
	run := func() int64 {
		var size int64
		got := 0
		data := post(envelope(actionEnumerate, uriGen, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements></wsen:Enumerate>`))
		for {
			size += int64(len(data))
			got += bytes.Count(data, marker)
			// The context precedes the items: no need to parse them.
			_, rest, _ := bytes.Cut(data, []byte("<wsen:EnumerationContext>"))
			ctx, _, _ := bytes.Cut(rest, []byte("<"))
			if len(ctx) == 0 {
				break
			}
			data = post(envelope(actionPull, uriGen, "", pullBody(string(ctx), "<wsen:MaxElements>1000</wsen:MaxElements>")))
		}
		if got != n {
			b.Fatalf("%d instances, want %d", got, n)
		}
		return size
	}
	b.SetBytes(run())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "instances/s")
}

// BenchmarkRenderInstance measures the DSP0230 rendering of one instance
// of about 1 KB.
func BenchmarkRenderInstance(b *testing.B) {
	s := newTestServerWith(b, testOptions{gen: 1})
	s.prov.GenPayload = 800
	ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "bench", Unrestricted: true})
	inst, err := s.core.GetInstance(ctx, "root/virt", cim.NewInstancePath("", "T_Gen", cim.KeyBinding{Name: "Id", Value: cim.NewString("g0000000")}), wbem.InstanceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	o := renderOptions{}
	dst := appendInstance(nil, inst, "p", false, &o)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = appendInstance(dst[:0], inst, "p", false, &o)
	}
}

// BenchmarkHTTPGetParallel sends Gets over loopback HTTP from 16
// goroutines with keep-alive connections, as the daemon benchmark does.
func BenchmarkHTTPGetParallel(b *testing.B) {
	s := newTestServer(b)
	body := envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), "")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", s.URL+Path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
			req.SetBasicAuth(testUser, testPassword)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("%d", resp.StatusCode)
			}
		}
	})
}
