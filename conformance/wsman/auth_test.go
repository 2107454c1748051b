package wsmanconformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/conformance/internal/daemon"
)

// addUser creates a user in s's data directory with 'hypercim user add'
// (the password on standard input) plus the given grants (namespace,
// right pairs) and waits until the running daemon, which rereads the
// users file, lets it read root/virt with Basic.
func addUser(t *testing.T, s *server, name, password string, addFlags []string, grants ...string) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bins.hypercim, append([]string{"user"}, append(args, "--data-dir", s.dataDir)...)...)
		cmd.Stdin = strings.NewReader(password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("hypercim user %v: %v\n%s", args, err, out)
		}
	}
	run(append([]string{"add", name}, addFlags...)...)
	for i := 0; i+1 < len(grants); i += 2 {
		run("grant", name, grants[i], grants[i+1])
	}
	get := soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"), "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := s.postAs(t, get, name, password); st == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon does not let the new user %s read root/virt", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// curlWSMan posts body to url with curl and the given options, and
// returns the HTTP status and the answer.
func curlWSMan(t *testing.T, url, body string, opts ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	reqFile, outFile := filepath.Join(dir, "request.xml"), filepath.Join(dir, "response.xml")
	if err := os.WriteFile(reqFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--silent", "--show-error", "--max-time", "60",
		"-H", "Content-Type: application/soap+xml;charset=UTF-8",
		"--data-binary", "@" + reqFile, "-o", outFile, "-w", "%{http_code}"}, opts...)
	out, err := exec.Command("curl", append(args, url)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v (%s)", opts, err, out)
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("curl printed %q, not a status", out)
	}
	answer, _ := os.ReadFile(outFile)
	return status, string(answer)
}

// TestDigestWithCurl: curl's --digest (RFC 7616: it answers the
// server's Digest challenge) authenticates a user whose digests the CLI
// stored ('user add --digest'), over the daemon's /wsman; a wrong
// password and a user without stored digests get 401, and Basic keeps
// working for the same user.
func TestDigestWithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (wsl depends on it)")
	}
	s := startServer(t, "testdata/wsmt.mof")
	addUser(t, s, "digester", "digest-pass", []string{"--digest"}, "root/virt", "read")
	get := soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"), "")

	st, raw := curlWSMan(t, s.wsmanURL(), get, "--digest", "--user", "digester:digest-pass")
	if st != 200 || text(parse(t, raw), "//Body/WSMT_Widget/ElementName") != "first" {
		t.Fatalf("curl --digest: %d\n%.2000s\n%s", st, raw, s.logs.Tail(4<<10))
	}
	if st, raw := curlWSMan(t, s.wsmanURL(), get, "--digest", "--user", "digester:wrong-pass"); st != 401 {
		t.Errorf("curl --digest with a wrong password: %d\n%.1000s", st, raw)
	}
	// The admin created at first start has no stored digests: Digest
	// cannot succeed for it, even with the right password.
	if st, _ := curlWSMan(t, s.wsmanURL(), get, "--digest", "--user", s.user+":"+s.password); st != 401 {
		t.Errorf("curl --digest for a user without digests: %d", st)
	}
	if st, _ := curlWSMan(t, s.wsmanURL(), get, "--basic", "--user", "digester:digest-pass"); st != 200 {
		t.Errorf("curl --basic for the Digest user: %d", st)
	}
	// Digest carries the same per-namespace rights as Basic.
	put := soap("http://schemas.xmlsoap.org/ws/2004/09/transfer/Put", dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"),
		`<p:WSMT_Widget xmlns:p="`+dmtfPrefix+`WSMT_Widget"><p:State>9</p:State></p:WSMT_Widget>`)
	if st, raw := curlWSMan(t, s.wsmanURL(), put, "--digest", "--user", "digester:digest-pass"); outcome(t, st, raw) != "400 wsman:AccessDenied" {
		t.Errorf("Put with Digest and only the read right: %s\n%.1000s", outcome(t, st, raw), raw)
	}
}

// TestHTTPSRoundTrip: with --wsman-https the daemon serves /wsman over
// TLS with the self-signed certificate it generates in its data
// directory; curl and wsl, given that certificate as their CA (so the
// host name and chain are verified), identify, get and enumerate through
// it, and curl without the CA refuses the connection.
func TestHTTPSRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (wsl depends on it)")
	}
	httpsAddr, err := daemon.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, serverOptions{mofs: []string{"testdata/wsmt.mof"}, genCount: 3, genPayload: 16,
		args: []string{"--wsman-https=" + httpsAddr}})
	caCert := filepath.Join(s.dataDir, "tls", "server.crt")
	url := "https://" + httpsAddr + "/wsman"
	creds := s.user + ":" + s.password

	get := soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w1"), "")
	st, raw := curlWSMan(t, url, get, "--cacert", caCert, "--user", creds)
	if st != 200 || text(parse(t, raw), "//Body/WSMT_Widget/ElementName") != "first" {
		t.Fatalf("Get over HTTPS: %d\n%.2000s", st, raw)
	}
	if st, _ := curlWSMan(t, url, get, "--cacert", caCert, "--user", s.user+":wrong"); st != 401 {
		t.Errorf("HTTPS with a wrong password: %d", st)
	}
	// Without the CA, curl cannot verify the self-signed certificate.
	cmd := exec.Command("curl", "--silent", "--max-time", "30", "-o", os.DevNull, "--data", "x", url)
	if err := cmd.Run(); err == nil {
		t.Error("curl accepted the self-signed certificate without --cacert")
	}

	if _, err := exec.LookPath("wsl"); err != nil {
		t.Log("wsl is not installed: HTTPS checked with curl only")
		return
	}
	ep := wslEndpoint{host: httpsAddr, caCert: caCert}
	r := runWSLAt(t, s, ep, "wslid", "check")
	if r.rc != 0 || !strings.Contains(r.out, "<wsmid:ProductVendor>hypercim</wsmid:ProductVendor>") {
		t.Errorf("wsl identify over HTTPS: exit %d\n%s", r.rc, r.out)
	}
	r = runWSLAt(t, s, ep, "wslenum", "WSMT_Widget", "-mode", "objepr", "-opti", "10")
	if r.rc != 0 || count(r.out, "<p:InstanceID>") != 3 || !strings.Contains(r.out, "<wsen:EnumerationContext/>") {
		t.Errorf("wsl optimized enumeration over HTTPS: exit %d\n%s", r.rc, r.out)
	}
	r = runWSLAt(t, s, ep, "wslget", "WSMT_Widget", "InstanceID=w2")
	if r.rc != 0 || !strings.Contains(r.out, "<p:ElementName>second</p:ElementName>") {
		t.Errorf("wsl get over HTTPS: exit %d\n%s", r.rc, r.out)
	}
}
