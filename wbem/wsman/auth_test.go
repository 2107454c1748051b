package wsman

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hypercim/hypercim/wbem/auth"
)

// digestAuthorization answers a Digest challenge (RFC 7616, SHA-256,
// qop=auth) as a client would.
func digestAuthorization(t *testing.T, challenge, user, password, method, uri string) string {
	t.Helper()
	params := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(challenge, "Digest "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			params[k] = strings.Trim(v, `"`)
		}
	}
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := h(user + ":" + params["realm"] + ":" + password)
	ha2 := h(method + ":" + uri)
	const nc, cnonce = "00000001", "0a4f113b"
	resp := h(ha1 + ":" + params["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=SHA-256, qop=auth, nc=%s, cnonce="%s", response="%s", opaque="%s"`,
		user, params["realm"], params["nonce"], uri, nc, cnonce, resp, params["opaque"])
}

// TestAuthenticationSchemes: Basic after the 401 challenge (as openwsman's
// CLI does), Digest (as AMT tooling does), and wrong credentials.
func TestAuthenticationSchemes(t *testing.T) {
	s := newTestServer(t)
	get := envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), "")
	do := func(authz string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", s.URL+Path, strings.NewReader(get))
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	first, _ := do("")
	if first.StatusCode != 401 {
		t.Fatalf("first try: %d", first.StatusCode)
	}
	var digest string
	for _, c := range first.Header.Values("WWW-Authenticate") {
		if strings.HasPrefix(c, "Digest ") && strings.Contains(c, "SHA-256") {
			digest = c
		}
	}
	if digest == "" {
		t.Fatalf("no SHA-256 Digest challenge in %q", first.Header.Values("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("POST", s.URL+Path, nil)
	req.SetBasicAuth(testUser, testPassword)
	if resp, body := do(req.Header.Get("Authorization")); resp.StatusCode != 200 {
		t.Errorf("Basic after the challenge: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(digestAuthorization(t, digest, testUser, testPassword, "POST", Path)); resp.StatusCode != 200 {
		t.Errorf("Digest: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(digestAuthorization(t, digest, testUser, "wrong", "POST", Path)); resp.StatusCode != 401 {
		t.Errorf("Digest with a wrong password: %d", resp.StatusCode)
	}
	req.SetBasicAuth(testUser, "wrong")
	if resp, _ := do(req.Header.Get("Authorization")); resp.StatusCode != 401 {
		t.Errorf("Basic with a wrong password: %d", resp.StatusCode)
	}
	if resp, _ := do("Negotiate abc"); resp.StatusCode != 401 {
		t.Errorf("unknown scheme: %d", resp.StatusCode)
	}
}

// TestFailedLoginsRateLimited: after too many failed logins from one
// address, that address gets 401 with Retry-After, even with the right
// password or with Digest, until the block ends; other addresses are not
// affected, and anonymous Identify still answers.
func TestFailedLoginsRateLimited(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	s := newTestServerWith(t, testOptions{auth: auth.Options{MaxFailures: 3, BlockTime: 30 * time.Second, Now: clock}})
	get := envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), "")
	send := func(remote, body string, authorize func(*http.Request)) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("POST", Path, strings.NewReader(body))
		req.RemoteAddr = remote
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		if authorize != nil {
			authorize(req)
		}
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, req)
		return w
	}
	basic := func(password string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(testUser, password) }
	}
	const attacker, other = "192.0.2.1:40001", "192.0.2.2:40002"
	for i := 1; i <= 3; i++ {
		w := send(attacker, get, basic("wrong"))
		if w.Code != 401 || w.Header().Get("Retry-After") != "" {
			t.Fatalf("failure %d: %d, Retry-After %q", i, w.Code, w.Header().Get("Retry-After"))
		}
	}
	w := send(attacker, get, basic(testPassword))
	if w.Code != 401 || w.Header().Get("Retry-After") != "30" {
		t.Fatalf("blocked address with the right password: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if ch := strings.Join(w.Header().Values("WWW-Authenticate"), "|"); !strings.Contains(ch, "Basic ") || !strings.Contains(ch, "Digest ") {
		t.Errorf("blocked answer's challenges %q", ch)
	}
	var digest string
	for _, c := range w.Header().Values("WWW-Authenticate") {
		if strings.HasPrefix(c, "Digest ") && strings.Contains(c, "SHA-256") {
			digest = c
		}
	}
	now.Add(int64(10 * time.Second))
	w = send(attacker, get, func(r *http.Request) {
		r.Header.Set("Authorization", digestAuthorization(t, digest, testUser, testPassword, "POST", Path))
	})
	if w.Code != 401 || w.Header().Get("Retry-After") != "20" {
		t.Fatalf("blocked address with Digest: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if w := send(other, get, basic(testPassword)); w.Code != 200 {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
	identify := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`
	if w := send(attacker, identify, nil); w.Code != 200 {
		t.Fatalf("anonymous Identify from the blocked address: %d", w.Code)
	}
	// The block ends; failing again blocks for twice as long; once that
	// block ends the right password is accepted.
	now.Add(int64(21 * time.Second))
	for i := 0; i < 3; i++ {
		if w := send(attacker, get, basic("wrong")); w.Code != 401 {
			t.Fatalf("failure after the block: %d", w.Code)
		}
	}
	if w := send(attacker, get, basic(testPassword)); w.Code != 401 || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("second block: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	now.Add(int64(61 * time.Second))
	if w := send(attacker, get, basic(testPassword)); w.Code != 200 {
		t.Fatalf("after the blocks: %d %s", w.Code, w.Body)
	}
}

// Identify is anonymous: it is answered whatever credentials it carries
// (wsl sends its user's), even from an address blocked for failed logins,
// and a wrong password on it counts as no failed login; nothing else gets
// through on its account.
func TestIdentifyIgnoresCredentials(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	s := newTestServerWith(t, testOptions{auth: auth.Options{MaxFailures: 3, BlockTime: 30 * time.Second, Now: func() time.Time { return time.Unix(0, now.Load()) }}})
	send := func(remote, body, authz string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("POST", Path, strings.NewReader(body))
		req.RemoteAddr = remote
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, req)
		return w
	}
	basic := func(password string) string {
		r, _ := http.NewRequest("POST", Path, nil)
		r.SetBasicAuth(testUser, password)
		return r.Header.Get("Authorization")
	}
	identify := envelope(actionIdentify, "", "", `<wsmid:Identify xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"/>`)
	get := envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), "")
	const client, blocked = "192.0.2.7:40001", "192.0.2.9:40002"

	// Wrong passwords on Identify are answered and do not block.
	for i := 0; i < 5; i++ {
		if w := send(client, identify, basic("wrong")); w.Code != 200 || !strings.Contains(w.Body.String(), "IdentifyResponse") {
			t.Fatalf("Identify with a wrong password: %d %s", w.Code, w.Body)
		}
	}
	if w := send(client, get, basic(testPassword)); w.Code != 200 {
		t.Fatalf("Identify's wrong passwords blocked the address: %d", w.Code)
	}

	for i := 0; i < 3; i++ {
		send(blocked, get, basic("wrong"))
	}
	if w := send(blocked, get, basic(testPassword)); w.Code != 401 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("the address is not blocked: %d", w.Code)
	}
	for _, authz := range []string{"", basic(testPassword), basic("wrong"), `Digest username="admin", realm="x", nonce="n", uri="/wsman", response="r"`, "Negotiate abc"} {
		if w := send(blocked, identify, authz); w.Code != 200 || !strings.Contains(w.Body.String(), "IdentifyResponse") {
			t.Errorf("Identify from the blocked address with %q: %d %s", authz, w.Code, w.Body)
		}
	}
	// A body that is not an Identify, or an Identify body under another
	// action, is not let through.
	other := envelope(actionGet, uriCS, selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), `<wsmid:Identify xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"/>`)
	for _, body := range []string{get, other} {
		if w := send(blocked, body, basic(testPassword)); w.Code != 401 {
			t.Errorf("blocked address let through: %d %s", w.Code, w.Body)
		}
	}
}
