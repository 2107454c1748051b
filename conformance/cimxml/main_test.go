package cimxml

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/conformance/internal/daemon"
	"github.com/hypercim/hypercim/wbem/auth"
)

// The server every test of the package talks to, started by TestMain.
var srv *server

// Users of the test server. The captured wbemcli requests authenticate as
// user:pass.
const (
	fixtureUser, fixturePass = "user", "pass"
	adminUser, adminPass     = "tester", "testpass"
	certUser                 = "certuser"
	// readerUser may only read root/cimv2.
	readerUser, readerPass = "reader", "readpass"
)

// genCount and genPayload size the test provider's T_Gen instances: 100,000
// instances of about 1 KB.
const (
	genCount   = 100000
	genPayload = 800
	// maxRequestSize is the server's --max-request-size.
	maxRequestSize = 2 << 20
)

// modelNamespaces receive testdata/cimv2.mof.
var modelNamespaces = []string{"root/cimv2", "root/replay", "root/replay2"}

// server is the running bin/hypercimd the tests share.
type server struct {
	root      string // repository root
	tmp       string // holds the binaries and the data directory
	dir       string // data directory
	bins      *daemon.Binaries
	httpAddr  string
	httpsAddr string
	d         *daemon.Daemon
	// clientCert and clientKey are PEM files of a client certificate
	// signed by the CA given as --tls-client-ca and mapped to certUser.
	clientCert, clientKey string
}

func TestMain(m *testing.M) {
	flag.Parse()
	s, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance/cimxml:", err)
		if s != nil {
			s.stop()
			os.RemoveAll(s.tmp)
		}
		os.Exit(1)
	}
	srv = s
	code := m.Run()
	if err := s.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance/cimxml: stopping hypercimd:", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- hypercimd log (last 8 KiB) ---\n%s\n", s.d.Log.Tail(8<<10))
	}
	os.RemoveAll(s.tmp)
	os.Exit(code)
}

// startServer builds the binaries, prepares a data directory and starts
// hypercimd on free ports. On error the server returned, when not nil,
// says what to stop and remove.
func startServer() (*server, error) {
	tmp, err := os.MkdirTemp("", "hypercim-cimxml-")
	if err != nil {
		return nil, err
	}
	s := &server{root: daemon.ModuleRoot(), tmp: tmp, dir: filepath.Join(tmp, "data")}
	if s.bins, err = daemon.Build(tmp); err != nil {
		return s, err
	}
	// The model goes in with the MOF compiler before the server starts:
	// into root/cimv2, and into two namespaces the replayed captures may
	// change freely.
	for _, ns := range modelNamespaces {
		compile := exec.Command(s.bins.Hypercim, "mof", "compile", "--quiet", "--namespace", ns,
			"-I", filepath.Join(s.root, "schemas", "mof"), "--data-dir", s.dir, filepath.Join("testdata", "cimv2.mof"))
		if out, err := compile.CombinedOutput(); err != nil {
			return s, fmt.Errorf("hypercim mof compile: %v\n%s", err, out)
		}
	}
	caFile, err := s.makeClientCertificates(tmp)
	if err != nil {
		return s, err
	}
	if err := s.addUsers(); err != nil {
		return s, err
	}
	if s.httpAddr, err = daemon.FreeAddr(); err != nil {
		return s, err
	}
	if s.httpsAddr, err = daemon.FreeAddr(); err != nil {
		return s, err
	}
	s.d, err = daemon.Start(daemon.Options{
		Hypercimd:   s.bins.Hypercimd,
		DataDir:     s.dir,
		CIMXMLHTTP:  s.httpAddr,
		CIMXMLHTTPS: s.httpsAddr,
		// Only CIM-XML: no WS-Management listeners, no virtualization.
		Args: []string{
			"--tls-client-ca", caFile,
			"--test-provider", "root/test",
			"--test-provider-gen", fmt.Sprint(genCount),
			"--test-provider-payload", fmt.Sprint(genPayload),
			"--max-request-size", fmt.Sprint(maxRequestSize),
			// Short enough for TestSlowloris, long enough that a TLS
			// handshake (bounded by the same timeout in net/http)
			// finishes on a loaded 2-core CI machine.
			"--read-header-timeout", "6s",
			"--read-timeout", "8s",
			"--hypervisor", "none",
		},
	})
	return s, err
}

// stop ends the server with SIGTERM, as an init system does, and expects
// a clean exit.
func (s *server) stop() error {
	if s.d == nil {
		return nil
	}
	return s.d.Stop(40 * time.Second)
}

// addUsers creates the test users in the data directory's user store.
func (s *server) addUsers() error {
	users, err := auth.Open(s.dir, nil)
	if err != nil {
		return err
	}
	if err := users.AddUser(adminUser, adminPass, auth.UserOptions{Admin: true}); err != nil {
		return err
	}
	if err := users.AddUser(fixtureUser, fixturePass, auth.UserOptions{}); err != nil {
		return err
	}
	for _, ns := range append(modelNamespaces, "root/test") {
		if err := users.Grant(fixtureUser, ns, auth.RightWrite); err != nil {
			return err
		}
	}
	if err := users.AddUser(readerUser, readerPass, auth.UserOptions{}); err != nil {
		return err
	}
	if err := users.Grant(readerUser, "root/cimv2", auth.RightRead); err != nil {
		return err
	}
	if err := users.AddUser(certUser, "unused-password-of-certuser", auth.UserOptions{}); err != nil {
		return err
	}
	if err := users.Grant(certUser, "root/cimv2", auth.RightRead); err != nil {
		return err
	}
	return users.AddCertificate(certUser, "subject:CN=certuser,O=hypercim tests")
}

// makeClientCertificates writes a CA and a client certificate it signs.
func (s *server) makeClientCertificates(dir string) (caFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hypercim test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: certUser, Organization: []string{"hypercim tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	caFile = filepath.Join(dir, "client-ca.pem")
	s.clientCert = filepath.Join(dir, "client.pem")
	s.clientKey = filepath.Join(dir, "client-key.pem")
	for name, block := range map[string]*pem.Block{
		caFile:       {Type: "CERTIFICATE", Bytes: caDER},
		s.clientCert: {Type: "CERTIFICATE", Bytes: der},
		s.clientKey:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(name, pem.EncodeToMemory(block), 0o600); err != nil {
			return "", err
		}
	}
	return caFile, nil
}

// sharedDir is the shared material CI keeps next to the repository.
func sharedDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(srv.root, "..", "shared")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("the shared fixtures belong at %s: %v", d, err)
	}
	return d
}

// --- clients ------------------------------------------------------------

// wbemcli runs the real wbemcli and returns its output and exit status.
func wbemcli(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wbemcli", args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir, "WBEMCLI_IND=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running wbemcli: %v", err)
	}
	return out.String(), errb.String(), code
}

// response is an HTTP response read off a raw connection.
type response struct {
	*http.Response
	body    []byte
	readErr error
}

// rawRequest sends raw bytes on a new connection from local (an address
// on the loopback network, "" for any) and reads one response.
func rawRequest(t testing.TB, local string, raw []byte) (*response, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", srv.httpAddr)
	if err != nil {
		t.Fatalf("dialing %s: %v", srv.httpAddr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	// Write while reading: the server may answer (413, 401) before it has
	// read a large request, and close the connection; the answer counts,
	// not the write that then fails.
	written := make(chan error, 1)
	go func() {
		_, err := conn.Write(raw)
		written <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if werr := <-written; werr != nil {
			return nil, fmt.Errorf("%v (writing: %v)", err, werr)
		}
		return nil, err
	}
	body, rerr := io.ReadAll(resp.Body)
	return &response{Response: resp, body: body, readErr: rerr}, nil
}

// cimRequest builds a raw POST /cimom request for an operation with the
// given CIM-XML body.
func cimRequest(method, object, body string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "POST /cimom HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/xml; charset=\"utf-8\"\r\n", srv.httpAddr, basic(adminUser, adminPass))
	fmt.Fprintf(&b, "CIMProtocolVersion: 1.0\r\nCIMOperation: MethodCall\r\nCIMMethod: %s\r\nCIMObject: %s\r\n", method, object)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// intrinsicBody is the CIM-XML of an intrinsic call in namespace ns.
func intrinsicBody(method, ns, params string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="%s"><LOCALNAMESPACEPATH>`, method)
	for _, part := range strings.Split(ns, "/") {
		fmt.Fprintf(&b, `<NAMESPACE NAME="%s"/>`, part)
	}
	fmt.Fprintf(&b, `</LOCALNAMESPACEPATH>%s</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`, params)
	return b.String()
}

func iparam(name, value string) string {
	return `<IPARAMVALUE NAME="` + name + `">` + value + `</IPARAMVALUE>`
}

// validateDTD checks a response body against DSP0203 2.4.0.
func validateDTD(t testing.TB, doc []byte) {
	t.Helper()
	dtd := filepath.Join(sharedDir(t), "fixtures", "dtd", "DSP0203_2.4.0.dtd")
	cmd := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", dtd, "-")
	cmd.Stdin = bytes.NewReader(doc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("response is not DTD-valid: %v\n%s\n--- response ---\n%.2000s", err, out, doc)
	}
}

// errorCode returns the CODE attribute of the ERROR in a response body,
// or "" when there is none.
func errorCode(body []byte) string {
	i := bytes.Index(body, []byte(`<ERROR CODE="`))
	if i < 0 {
		return ""
	}
	rest := body[i+len(`<ERROR CODE="`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// checkAlive fails unless the server answers a valid request.
func checkAlive(t testing.TB) {
	t.Helper()
	resp, err := rawRequest(t, "", cimRequest("EnumerateClassNames", "root%2Fcimv2", intrinsicBody("EnumerateClassNames", "root/cimv2", iparam("DeepInheritance", "<VALUE>TRUE</VALUE>"))))
	if err != nil || resp.StatusCode != 200 || !bytes.Contains(resp.body, []byte(`<CLASSNAME NAME="CIM_Foo"/>`)) {
		if resp != nil {
			t.Fatalf("the server does not answer a valid request any more: HTTP %d\n%s", resp.StatusCode, resp.body)
		}
		t.Fatalf("the server does not answer a valid request any more: %v", err)
	}
}

func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
