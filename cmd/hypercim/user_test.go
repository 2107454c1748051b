package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/auth"
)

// runUserCLI runs hypercim in-process with stdin as standard input.
func runUserCLI(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(&cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

func TestUserCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	must := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := runUserCLI(stdin, append(args, "--data-dir", dir)...)
		if code != 0 {
			t.Fatalf("hypercim %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	fails := func(wantCode int, wantErr string, stdin string, args ...string) {
		t.Helper()
		code, _, errOut := runUserCLI(stdin, append(args, "--data-dir", dir)...)
		if code != wantCode || !strings.Contains(errOut, wantErr) {
			t.Errorf("hypercim %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), code, errOut, wantCode, wantErr)
		}
	}
	if out := must("", "user", "list"); !strings.Contains(out, "no users") {
		t.Errorf("list of no users: %q", out)
	}
	if out := must("s3cret words\n", "user", "add", "alice"); !strings.Contains(out, "user alice created") {
		t.Errorf("add: %q", out)
	}
	must("root-password\n", "user", "--data-dir", dir, "add", "--admin", "root", "--digest")
	fails(1, "already exists", "x\n", "user", "add", "alice")
	fails(1, "no password", "", "user", "add", "bob")
	// Passwords people choose have at least 8 characters (runes, not
	// bytes), and at most bcrypt's 72 bytes.
	fails(1, "the password has 1 characters; use at least 8", "x\n", "user", "add", "bob")
	fails(1, "the password has 7 characters; use at least 8", "ünïcöde\n", "user", "add", "bob")
	fails(1, "longer than 72 bytes", strings.Repeat("p", 73)+"\n", "user", "add", "bob")
	if strings.Contains(must("", "user", "list"), "bob") {
		t.Error("a refused password created the user")
	}
	must("ünïcödes\n", "user", "add", "bob")
	fails(1, "invalid user name", "pw\n", "user", "add", "bad:name")
	fails(2, "expected NAME", "", "user", "add")
	fails(2, "unknown subcommand", "", "user", "frobnicate")
	fails(2, "flag provided but not defined", "", "user", "list", "--bogus")

	must("", "user", "grant", "alice", "root/virt", "write")
	must("", "user", "grant", "alice", "interop", "read")
	fails(2, "unknown right", "", "user", "grant", "alice", "root/virt", "everything")
	fails(1, "no such user", "", "user", "grant", "nobody", "root/virt", "read")
	out := must("", "user", "list")
	for _, want := range []string{"alice", "root/interop=read,root/virt=write", "root ", "yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}

	// The server's view of the same file.
	s, err := auth.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate("alice", "s3cret words", "127.0.0.1:1")
	if err != nil || !s.Allowed(p, "root/virt", true) || s.Allowed(p, "root/interop", true) {
		t.Fatalf("alice: %v %v", p, err)
	}
	if u, _ := s.User("root"); !u.Admin || !u.Digest {
		t.Errorf("root: %+v", u)
	}
	fi, err := os.Stat(filepath.Join(dir, auth.UsersFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode: %v %v", fi.Mode(), err)
	}

	must("", "user", "revoke", "alice", "root/virt")
	fails(1, "has no right", "", "user", "revoke", "alice", "root/virt")
	fails(1, "use at least 8", "short\n", "user", "passwd", "alice")
	must("new-password\n", "user", "passwd", "alice")
	must("", "user", "admin", "alice", "on")
	s.Reload()
	if _, err := s.Authenticate("alice", "new-password", "127.0.0.1:1"); err != nil {
		t.Errorf("after passwd: %v", err)
	}
	if !s.Allowed(wbem.Principal{User: "alice"}, "root/virt", true) {
		t.Error("admin on did not take effect")
	}

	// Certificates.
	certFile := filepath.Join(t.TempDir(), "client.pem")
	cert := writeTestCert(t, certFile)
	must("", "user", "cert", "add", "alice", "--file", certFile)
	must("", "user", "cert", "add", "root", "subject:CN=root,O=Example")
	fails(1, "already mapped", "", "user", "cert", "add", "root", "--file", certFile)
	fails(1, "invalid certificate match", "", "user", "cert", "add", "root", "md5:00")
	s.Reload()
	if p, err := s.AuthenticateCertificate(cert, false, "127.0.0.1:1"); err != nil || p.User != "alice" {
		t.Errorf("certificate: %v %v", p, err)
	}
	must("", "user", "cert", "del", "alice", "--file", certFile)
	s.Reload()
	if _, err := s.AuthenticateCertificate(cert, false, "127.0.0.1:1"); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("removed certificate: %v", err)
	}

	must("", "user", "del", "alice")
	fails(1, "no such user", "", "user", "del", "alice")
	if out := must("", "user", "list"); strings.Contains(out, "alice") {
		t.Errorf("deleted user listed:\n%s", out)
	}
}

func TestUserHelp(t *testing.T) {
	for _, args := range [][]string{{"user", "--help"}, {"user", "add", "--help"}, {"user", "cert", "-h"}} {
		code, out, _ := runUserCLI("", args...)
		if code != 0 || !strings.Contains(out, "usage: hypercim user") || !strings.Contains(out, "data-dir") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
	code, _, errOut := runUserCLI("", "user")
	if code != 2 || !strings.Contains(errOut, "subcommands:") {
		t.Errorf("no subcommand: exit %d, %q", code, errOut)
	}
}

func writeTestCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}
