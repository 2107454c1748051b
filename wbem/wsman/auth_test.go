package wsman

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
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
