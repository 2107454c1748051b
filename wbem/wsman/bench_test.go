package wsman

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHandlerGet measures one Get through the handler (no network):
// envelope parsing, authentication (cached), the core call, rendering.
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
