package wsmanconformance

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// malformedDir holds the malformed-input suite, beside the adapter: one
// request per file, leading comment lines saying what must come back
// ("expect: STATUS SUBCODE [DETAIL]", alternatives separated by "|").
func malformedDir() string {
	return filepath.Join(bins.root, "wbem", "wsman", "testdata", "malformed")
}

type malformedCase struct {
	name   string
	expect []string
	body   string
}

func loadMalformed(t *testing.T) []malformedCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(malformedDir(), "*.xml"))
	if err != nil || len(files) < 60 {
		t.Fatalf("the malformed suite has %d cases (%v); it needs at least 60", len(files), err)
	}
	var out []malformedCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := malformedCase{name: filepath.Base(f)}
		rest := string(data)
		for strings.HasPrefix(rest, "<!-- ") {
			line, after, _ := strings.Cut(rest, "\n")
			rest = after
			if v, ok := strings.CutPrefix(strings.TrimSuffix(strings.TrimPrefix(line, "<!-- "), " -->"), "expect: "); ok {
				c.expect = strings.Split(v, "|")
			}
		}
		if len(c.expect) == 0 {
			t.Fatalf("%s: no expect line", f)
		}
		c.body = rest
		out = append(out, c)
	}
	return out
}

// outcome renders an answer as "STATUS SUBCODE [DETAIL]".
func outcome(t *testing.T, status int, raw string) string {
	got := strconv.Itoa(status)
	if status == 401 || raw == "" {
		return got
	}
	sub, detail := fault(parse(t, raw))
	if sub != "" {
		got += " " + sub
	}
	if detail != "" {
		got += " " + detail
	}
	return got
}

// TestMalformedInput sends every case of the suite; each must get its
// fault, and the server must answer a good request after each.
func TestMalformedInput(t *testing.T) {
	s := startServer(t, "testdata/wsmt.mof")
	good := soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"), "")
	for _, c := range loadMalformed(t) {
		st, raw := s.post(t, c.body)
		got := outcome(t, st, raw)
		ok := false
		for _, e := range c.expect {
			ok = ok || strings.TrimSpace(e) == got
		}
		if !ok {
			t.Errorf("%s: got %q, want %q\n%.1200s", c.name, got, c.expect, raw)
		}
		if st, raw := s.post(t, good); st != 200 {
			t.Fatalf("after %s the server no longer answers: %d %s", c.name, st, raw)
		}
	}
}

// TestLimitsAndExpiry covers what files cannot: HTTP-level errors, an
// envelope over the size limit (the daemon's --max-request-size, 16 MiB),
// and an enumeration context that expired.
func TestLimitsAndExpiry(t *testing.T) {
	s := startServer(t, "testdata/wsmt.mof")
	send := func(method, ctype, body string) (int, string) {
		req, err := http.NewRequest(method, s.wsmanURL(), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.SetBasicAuth(s.user, s.password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get := soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"), "")
	for _, c := range []struct {
		name, method, ctype, body, want string
	}{
		{"GET", "GET", "", "", "405"},
		{"text/plain", "POST", "text/plain", get, "415 wsman:SchemaValidationError"},
		{"latin-1 charset", "POST", "application/soap+xml;charset=ISO-8859-1", get, "400 wsman:EncodingLimit CharacterSet"},
		{"oversized", "POST", "application/soap+xml", soap(actGet, dmtfPrefix+"WSMT_Widget", "", strings.Repeat("<pad>xxxxxxxxxxxxxxxx</pad>", 700000)), "413 wsman:EncodingLimit ServiceEnvelopeLimit"},
		{"no credentials", "", "", "", ""},
	} {
		if c.method == "" {
			st, _ := s.postAs(t, get, "", "")
			if st != 401 {
				t.Errorf("without credentials: %d", st)
			}
			st, _ = s.postAs(t, get, s.user, "wrong")
			if st != 401 {
				t.Errorf("wrong password: %d", st)
			}
			continue
		}
		st, raw := send(c.method, c.ctype, c.body)
		got := strconv.Itoa(st)
		if st != 405 {
			got = outcome(t, st, raw)
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q\n%.800s", c.name, got, c.want, raw)
		}
	}
	// A context that outlived its wsen:Expires.
	st, raw := s.post(t, soap(actEnumerate, dmtfPrefix+"WSMT_Widget", "", `<wsen:Enumerate><wsen:Expires>PT1S</wsen:Expires></wsen:Enumerate>`))
	ctx := text(parse(t, raw), "//EnumerateResponse/EnumerationContext")
	if st != 200 || ctx == "" {
		t.Fatalf("Enumerate: %d %s", st, raw)
	}
	time.Sleep(1500 * time.Millisecond)
	st, raw = s.post(t, soap(actPull, dmtfPrefix+"WSMT_Widget", "", `<wsen:Pull><wsen:EnumerationContext>`+ctx+`</wsen:EnumerationContext></wsen:Pull>`))
	if got := outcome(t, st, raw); got != "500 wsen:InvalidEnumerationContext" {
		t.Errorf("expired context: %s\n%s", got, raw)
	}
	if st, raw := s.post(t, get); st != 200 {
		t.Fatalf("the server no longer answers: %d %s", st, raw)
	}
}

// TestRightsPerNamespace: a user created with 'hypercim user add' and
// granted read on root/virt only may read there, gets wsman:AccessDenied
// for writes and in root/interop, as on CIM-XML.
func TestRightsPerNamespace(t *testing.T) {
	s := startServer(t, "testdata/wsmt.mof")
	addUser(t, s, "reader", "reader-pass", nil, "root/virt", "read")
	get := soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"), "")
	put := soap("http://schemas.xmlsoap.org/ws/2004/09/transfer/Put", dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"),
		`<p:WSMT_Widget xmlns:p="`+dmtfPrefix+`WSMT_Widget"><p:State>9</p:State></p:WSMT_Widget>`)
	if st, raw := s.postAs(t, put, "reader", "reader-pass"); outcome(t, st, raw) != "400 wsman:AccessDenied" {
		t.Errorf("Put without write right: %s\n%.1000s", outcome(t, st, raw), raw)
	}
	interop := soap(actEnumerate, dmtfPrefix+"CIM_Namespace", selectorSet("__cimnamespace", "root/interop"), `<wsen:Enumerate/>`)
	if st, raw := s.postAs(t, interop, "reader", "reader-pass"); outcome(t, st, raw) != "400 wsman:AccessDenied" {
		t.Errorf("root/interop without a right: %s\n%.1000s", outcome(t, st, raw), raw)
	}
	if st, raw := s.post(t, get); st != 200 || !strings.Contains(raw, "<p:State>2</p:State>") {
		t.Errorf("the refused Put changed the instance: %d %s", st, raw)
	}
}

// TestFailedLoginsRateLimited: the daemon blocks an address after five
// failed logins (the user store's default), answering 401 with
// Retry-After even to the right password.
func TestFailedLoginsRateLimited(t *testing.T) {
	s := startServer(t)
	get := soap(actGet, dmtfPrefix+"CIM_ComputerSystem", selectorSet("CreationClassName", "CIM_ComputerSystem", "Name", "none"), "")
	send := func(password string) *http.Response {
		req, err := http.NewRequest("POST", s.wsmanURL(), strings.NewReader(get))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		req.SetBasicAuth(s.user, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := send(s.password); resp.StatusCode != 400 {
		t.Fatalf("before any failure: %d", resp.StatusCode)
	}
	for i := 1; i <= 5; i++ {
		if resp := send("wrong"); resp.StatusCode != 401 || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("failure %d: %d, Retry-After %q", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	resp := send(s.password)
	wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 401 || err != nil || wait < 1 || wait > 30 {
		t.Fatalf("blocked: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if len(resp.Header.Values("WWW-Authenticate")) < 2 {
		t.Errorf("blocked answer's challenges %q", resp.Header.Values("WWW-Authenticate"))
	}
}
