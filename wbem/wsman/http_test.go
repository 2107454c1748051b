package wsman

import (
	"net/http"
	"strings"
	"testing"
)

func TestHTTPLevelErrors(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Limits.MaxBytes = 64 << 10 })
	req, _ := http.NewRequest("GET", s.URL+Path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	for ct, want := range map[string]int{"text/plain": 415, "application/soap+xml; charset=ISO-8859-1": 400} {
		req, _ = http.NewRequest("POST", s.URL+Path, strings.NewReader(envelope(actionGet, uriCS, "", "")))
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth(testUser, testPassword)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Content-Type %s: %d, want %d", ct, resp.StatusCode, want)
		}
	}
	big := envelope(actionGet, uriCS, "", strings.Repeat("<x>padding</x>", 10000))
	st, root, _ := s.post(t, big)
	if _, sub, detail := faultOf(root); st != 413 || sub != "wsman:EncodingLimit" || detail != detailServiceEnvelopeLimit {
		t.Errorf("oversized: %d %s %s", st, sub, detail)
	}
	// Without credentials, no more than an Identify needs is read.
	resp, err = http.Post(s.URL+Path, "application/soap+xml", strings.NewReader(envelope(actionGet, uriCS, "", strings.Repeat("<x>padding</x>", 5000))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("large anonymous request: %d, want 401", resp.StatusCode)
	}
	// A response larger than the client's MaxEnvelopeSize.
	sel := selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1")
	frag := `<wsman:FragmentTransfer>Description</wsman:FragmentTransfer>`
	long := strings.Repeat("x", 9000)
	if st, _, raw := s.post(t, envelope(actionPut, uriCS, sel+frag, `<wsman:XmlFragment><Description>`+long+`</Description></wsman:XmlFragment>`)); st != 200 {
		t.Fatalf("Put: %d %s", st, raw)
	}
	limit := `<wsman:MaxEnvelopeSize s:mustUnderstand="true">8192</wsman:MaxEnvelopeSize>`
	st, root, _ = s.post(t, envelope(actionGet, uriCS, sel+limit, ""))
	if _, sub, detail := faultOf(root); st != 400 || sub != "wsman:EncodingLimit" || detail != detailMaxEnvelopeSize {
		t.Errorf("answer over MaxEnvelopeSize: %d %s %s", st, sub, detail)
	}
}
