package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	c, err := parseConfig([]string{"--data-dir", "/tmp/x", "--max-request-size", "4M", "--no-auth"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "/tmp/x" || c.maxRequestSize != 4<<20 || !c.noAuth || c.cimxmlHTTP != "127.0.0.1:5988" || c.cimxmlHTTPS != "127.0.0.1:5989" {
		t.Errorf("config = %+v", c)
	}
	if c, err := parseConfig(nil, io.Discard); err != nil || c.cimxmlHTTPS != ":5989" || c.wsman.httpsAddr != ":5986" {
		t.Errorf("the HTTPS listeners default to every interface with authentication: %+v, %v", c, err)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "hypercimd.conf")
	os.WriteFile(file, []byte(`# settings
data-dir = /srv/hypercim
cimxml-http = "127.0.0.1:6000"
--log-level = debug
max-request-size = 512K
`), 0o600)
	c, err = parseConfig([]string{"--config", file, "--log-level", "warn"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "/srv/hypercim" || c.cimxmlHTTP != "127.0.0.1:6000" || c.maxRequestSize != 512<<10 {
		t.Errorf("from the config file: %+v", c)
	}
	if c.logLevel != "warn" {
		t.Errorf("the command line must win over the config file: log level %q", c.logLevel)
	}

	for _, tc := range []struct {
		args []string
		file string
		want string
	}{
		{args: []string{"--bogus"}, want: "flag provided but not defined"},
		{args: []string{"--max-request-size", "-1"}, want: "not a size"},
		{args: []string{"--tls-cert", "a.pem"}, want: "--tls-cert and --tls-key go together"},
		{args: []string{"--log-level", "loud"}, want: "--log-level"},
		{args: []string{"--cimxml-http=", "--cimxml-https=", "--wsman-http=", "--wsman-https="}, want: "nothing to serve"},
		{args: []string{"extra"}, want: "unexpected argument"},
		{file: "nonsense\n", want: `want "key = value"`},
		{file: "colour = blue\n", want: `unknown setting "colour"`},
		{file: "shutdown-timeout = soon\n", want: "shutdown-timeout"},
	} {
		args := tc.args
		if tc.file != "" {
			os.WriteFile(file, []byte(tc.file), 0o600)
			args = []string{"--config", file}
		}
		if _, err := parseConfig(args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseConfig(%q, file %q) = %v, want an error containing %q", args, tc.file, err, tc.want)
		}
	}
}

// With --no-auth nothing listens beyond the loopback interface: the
// HTTPS defaults (every interface) move to 127.0.0.1, and an address on
// every interface or another one given explicitly stops the start with
// an error that says what to use instead.
func TestNoAuthLoopbackOnly(t *testing.T) {
	c, err := parseConfig([]string{"--no-auth"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.cimxmlHTTP != "127.0.0.1:5988" || c.cimxmlHTTPS != "127.0.0.1:5989" || c.wsman.httpAddr != "127.0.0.1:5985" || c.wsman.httpsAddr != "127.0.0.1:5986" {
		t.Errorf("--no-auth listens on %s %s %s %s", c.cimxmlHTTP, c.cimxmlHTTPS, c.wsman.httpAddr, c.wsman.httpsAddr)
	}
	for _, ok := range [][]string{
		{"--cimxml-http", "localhost:6000", "--cimxml-https", "[::1]:6001", "--wsman-https", "127.0.0.2:6002"},
		{"--cimxml-https=", "--wsman-https="},
	} {
		if _, err := parseConfig(append([]string{"--no-auth"}, ok...), io.Discard); err != nil {
			t.Errorf("--no-auth %q: %v", ok, err)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "hypercimd.conf")
	os.WriteFile(file, []byte("no-auth = true\nwsman-https = :5986\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--no-auth", "--cimxml-https", ":5989"}, "--cimxml-https :5989 is every interface: use --cimxml-https 127.0.0.1:5989, or --cimxml-https= to disable it"},
		{[]string{"--no-auth", "--cimxml-http", "0.0.0.0:5988"}, "--cimxml-http 0.0.0.0:5988 is every interface: use --cimxml-http 127.0.0.1:5988"},
		{[]string{"--no-auth", "--wsman-http", "[::]:5985"}, "--wsman-http [::]:5985 is every interface"},
		{[]string{"--no-auth", "--cimxml-http", "192.0.2.7:5988"}, "--cimxml-http 192.0.2.7:5988 is the address 192.0.2.7: use --cimxml-http 127.0.0.1:5988"},
		{[]string{"--no-auth", "--cimxml-http", "myhost:5988"}, "is the address myhost"},
		{[]string{"--config", file}, "--wsman-https :5986 is every interface"},
	} {
		_, err := parseConfig(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "hypercim user add") {
			t.Errorf("parseConfig(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	// The daemon does not start (exit 2, the message on standard error).
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--data-dir", dir, "--no-auth", "--cimxml-https", ":0"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "loopback addresses only") {
		t.Errorf("hypercimd --no-auth --cimxml-https :0: exit %d, %s", code, stderr.String())
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, &out); err != errHelp {
		t.Fatalf("--help: %v", err)
	}
	c := &config{}
	newFlagSet(c).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out.String(), "--"+f.Name+" ") && !strings.Contains(out.String(), "--"+f.Name+"\n") {
			t.Errorf("--help does not list --%s", f.Name)
		}
	})
}

func TestSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()
	cfg := &config{dataDir: dir}
	s, err := loadTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !s.generated {
		t.Error("no certificate generated on first use")
	}
	st, err := os.Stat(filepath.Join(dir, tlsDir, tlsKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", st, err)
	}
	pemBytes, _ := os.ReadFile(filepath.Join(dir, tlsDir, tlsCertFile))
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if h, _ := os.Hostname(); h != "" {
		if err := cert.VerifyHostname(h); err != nil {
			t.Error(err)
		}
	}
	again, err := loadTLS(cfg)
	if err != nil || again.generated || again.fingerprint != s.fingerprint {
		t.Errorf("second start: generated %v, fingerprint %s vs %s, %v", again.generated, again.fingerprint, s.fingerprint, err)
	}
	os.Remove(filepath.Join(dir, tlsDir, tlsCertFile))
	if _, err := loadTLS(cfg); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Errorf("a key without its certificate: %v", err)
	}
}

func TestBuildEndpoints(t *testing.T) {
	h := http.NotFoundHandler()
	eps, err := buildEndpoints([]protocol{
		{name: "A", path: "/a", handler: h, httpAddr: "127.0.0.1:1", httpsAddr: ":2"},
		{name: "B", path: "/b", handler: h, httpAddr: "127.0.0.1:1", httpsAddr: ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || len(eps[0].protocols) != 2 || !eps[1].tls {
		t.Errorf("endpoints = %+v", eps)
	}
	if _, err := buildEndpoints([]protocol{
		{name: "A", path: "/a", handler: h, httpAddr: "127.0.0.1:1"},
		{name: "B", path: "/b", handler: h, httpsAddr: "127.0.0.1:1"},
	}); err == nil {
		t.Error("one address with and without TLS was accepted")
	}
}

func TestEndpointRouting(t *testing.T) {
	answer := func(text string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, text) })
	}
	eps, err := buildEndpoints([]protocol{
		{name: "CIM-XML", path: "/cimom", handler: answer("cimxml"), httpAddr: "127.0.0.1:1"},
		{name: "WS-Management", path: "/wsman", handler: answer("wsman"), httpAddr: "127.0.0.1:1"},
	})
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints %+v, %v", eps, err)
	}
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"POST", "/cimom", 200, "cimxml"},
		{"M-POST", "/cimom", 200, "cimxml"},
		{"POST", "/wsman", 200, "wsman"},
		{"POST", "/", 404, `nothing is served at "/"; this address serves CIM-XML at /cimom and WS-Management at /wsman`},
		{"POST", "/cimom/x", 404, "CIM-XML at /cimom"},
	} {
		rec := httptest.NewRecorder()
		eps[0].router.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s %s: %d %q, want %d with %q", c.method, c.path, rec.Code, rec.Body, c.status, c.body)
		}
	}
}

// daemonRun is hypercimd running in the test process.
type daemonRun struct {
	cancel context.CancelFunc
	done   chan int
	log    *lockedBuffer
	addr   string
	tls    string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDaemon runs hypercimd on dataDir with free ports; it waits until
// the daemon is ready, or returns the exit status when it stops first.
func startDaemon(t *testing.T, dataDir string, extra ...string) (*daemonRun, int) {
	t.Helper()
	d := &daemonRun{done: make(chan int, 1), log: &lockedBuffer{}, addr: freePort(t), tls: freePort(t)}
	args := append([]string{"--data-dir", dataDir, "--cimxml-http", d.addr, "--cimxml-https", d.tls,
		"--wsman-http=", "--wsman-https=", "--hypervisor", "none"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- run(ctx, args, io.Discard, d.log) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.log.String(), "hypercimd ready") {
		select {
		case code := <-d.done:
			cancel()
			return d, code
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("hypercimd not ready:\n%s", d.log)
		}
	}
	return d, -1
}

// stop cancels the daemon's context (what SIGTERM does) and returns its
// exit status.
func (d *daemonRun) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("hypercimd did not stop:\n%s", d.log)
		return -1
	}
}

const enumerateBody = `<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="EnumerateInstances"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="test"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="T_Gen"/></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`

func post(client *http.Client, url, user, password, body string) (*http.Response, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("CIMOperation", "MethodCall")
	req.Header.Set("CIMMethod", "EnumerateInstances")
	req.Header.Set("CIMObject", "root/test")
	return client.Do(req)
}

// TestFirstStartAndShutdown starts hypercimd on an empty data directory:
// it must create the administrator with a password in a 0600 file (and
// log the file, never the password), generate its certificate, serve
// HTTP and HTTPS, refuse a second server on the same directory, and on
// SIGTERM finish the response it is streaming before it stops.
func TestFirstStartAndShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d, code := startDaemon(t, dir, "--test-provider", "root/test", "--test-provider-gen", "300000", "--test-provider-payload", "200")
	if code >= 0 {
		t.Fatalf("hypercimd exited with %d:\n%s", code, d.log)
	}
	pwFile := filepath.Join(dir, "initial-admin-password")
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(pwFile); st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v", pwFile, st.Mode().Perm())
	}
	password := strings.TrimSpace(string(pw))
	if len(password) < 12 || strings.Contains(d.log.String(), password) || !strings.Contains(d.log.String(), pwFile) {
		t.Errorf("the password must be long, logged never, its file always:\n%s", d.log)
	}
	for _, want := range []string{"listening on http://" + d.addr, "listening on https://" + d.tls, "generated a self-signed TLS certificate"} {
		if !strings.Contains(d.log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, d.log)
		}
	}

	// Unauthenticated: 401. HTTPS with the generated certificate: 200.
	resp, err := post(http.DefaultClient, "http://"+d.addr+"/cimom", "", "", enumerateBody)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	small := strings.Replace(enumerateBody, "T_Gen", "T_Dynamic", 1)
	resp, err = post(tlsClient, "https://"+d.tls+"/cimom", "admin", password, small)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTPS as admin: %v %v", resp, err)
	}
	resp.Body.Close()

	// A second server on the same data directory is refused.
	second, code := startDaemon(t, dir)
	if code != 1 || !strings.Contains(second.log.String(), "is in use by another process") {
		t.Errorf("second server on the same directory: exit %d\n%s", code, second.log)
	}

	// Shutdown while a response streams: it completes.
	resp, err = post(http.DefaultClient, "http://"+d.addr+"/cimom", "admin", password, enumerateBody)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("EnumerateInstances: %v %v", resp, err)
	}
	buf := make([]byte, 4096)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan int, 1)
	go func() { stopped <- d.stop(t) }()
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("the response in flight was cut: %v", err)
	}
	got := bytes.Count(append(buf, rest...), []byte("<VALUE.NAMEDINSTANCE>"))
	if got != 300000 || !bytes.HasSuffix(rest, []byte("</CIM>\n")) {
		t.Errorf("the response in flight has %d instances, want 300000", got)
	}
	if code := <-stopped; code != 0 {
		t.Errorf("exit status %d after SIGTERM:\n%s", code, d.log)
	}
	if !strings.Contains(d.log.String(), "hypercimd stopped") {
		t.Errorf("no clean stop in the log:\n%s", d.log)
	}

	// The next start reuses the certificate and creates no second admin.
	d, code = startDaemon(t, dir)
	if code >= 0 {
		t.Fatalf("restart: exit %d\n%s", code, d.log)
	}
	if strings.Contains(d.log.String(), "created user") || strings.Contains(d.log.String(), "generated a self-signed") {
		t.Errorf("restart created the admin or the certificate again:\n%s", d.log)
	}
	if code := d.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d, code := startDaemon(t, t.TempDir(), "--cimxml-http", ln.Addr().String(), "--no-auth")
	if code != 1 || !strings.Contains(d.log.String(), fmt.Sprintf("listening on %s", ln.Addr())) {
		t.Errorf("exit %d\n%s", code, d.log)
	}
	if !strings.Contains(d.log.String(), "--no-auth: authentication is OFF") {
		t.Errorf("--no-auth must warn:\n%s", d.log)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "16M": 16 << 20, "16MiB": 16 << 20, "16mb": 16 << 20, "2k": 2048, "1G": 1 << 30, "512KiB": 512 << 10} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "abc", "1T", "MB", "1.5M", "0"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
