// Package wsmanconformance holds the WS-Management acceptance tests: a real
// bin/hypercimd, built by the tests, driven by the real wsl client, by
// replayed captures of openwsman's wsman CLI and of wsl, by envelopes the
// npm package @device-management-toolkit/wsman-messages builds, by a
// malformed-input suite, and compared with CIM-XML answers.
package wsmanconformance

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binaries are built once for the package by TestMain, from the module
// at root.
type binaries struct {
	root                string
	hypercimd, hypercim string
}

// bins is set by TestMain before any test runs and only read afterwards.
var bins binaries

func TestMain(m *testing.M) {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "hypercim-wsman-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins = binaries{root: root, hypercimd: filepath.Join(dir, "hypercimd"), hypercim: filepath.Join(dir, "hypercim")}
	for _, b := range []struct{ out, pkg string }{{bins.hypercimd, "./cmd/hypercimd"}, {bins.hypercim, "./cmd/hypercim"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", b.pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running bin/hypercimd with a fresh data directory, serving
// the test provider's T_ classes in root/virt.
type server struct {
	dataDir   string
	wsmanAddr string
	cimxmlURL string
	user      string
	password  string
	opts      serverOptions
	cmd       *exec.Cmd
	exited    chan error
	logs      *logBuffer
}

// wsmanURL is the service's endpoint.
func (s *server) wsmanURL() string { return "http://" + s.wsmanAddr + "/wsman" }

// logBuffer keeps the daemon's log for failure messages.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serverOptions tune startServer.
type serverOptions struct {
	// mofs are compiled into root/virt on top of the schemas.
	mofs []string
	// genCount and genPayload size the test provider's T_Gen instances.
	genCount, genPayload int
	// args are more hypercimd flags.
	args []string
	// shortDataDir puts the data directory in a short path: the console
	// sockets of virtual systems live below it, and a socket path has at
	// most 107 bytes.
	shortDataDir bool
}

// startServer starts hypercimd with the given MOF files compiled into
// root/virt.
func startServer(t testing.TB, mofs ...string) *server {
	t.Helper()
	return startServerWith(t, serverOptions{mofs: mofs, genCount: 3, genPayload: 16})
}

// startServerWith starts hypercimd on free loopback ports. With MOF files,
// the daemon is started once to install the schemas, stopped, the files
// compiled into its data directory with 'hypercim mof compile', and
// started again.
func startServerWith(t testing.TB, o serverOptions) *server {
	t.Helper()
	s := &server{dataDir: t.TempDir(), user: "admin", opts: o}
	if o.shortDataDir {
		dir, err := os.MkdirTemp("", "hcw")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		s.dataDir = dir
	}
	t.Cleanup(func() { s.stop(t) })
	if len(o.mofs) > 0 {
		s.start(t)
		s.stop(t)
		args := append([]string{"mof", "compile", "--namespace", "root/virt", "--data-dir", s.dataDir}, o.mofs...)
		if out, err := exec.Command(bins.hypercim, args...).CombinedOutput(); err != nil {
			t.Fatalf("hypercim %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	s.start(t)
	pw, err := os.ReadFile(filepath.Join(s.dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatalf("no initial-admin-password after the first start: %v", err)
	}
	s.password = strings.TrimSpace(string(pw))
	return s
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *server) start(t testing.TB) {
	t.Helper()
	s.wsmanAddr = freePort(t)
	cimxmlAddr := freePort(t)
	s.cimxmlURL = "http://" + cimxmlAddr + "/cimom"
	s.logs = &logBuffer{}
	s.cmd = exec.Command(bins.hypercimd, "--data-dir", s.dataDir,
		"--cimxml-http", cimxmlAddr, "--cimxml-https", "", "--wsman-http", s.wsmanAddr, "--wsman-https", "",
		"--test-provider", "root/virt", "--test-provider-gen", strconv.Itoa(s.opts.genCount),
		"--test-provider-payload", strconv.Itoa(s.opts.genPayload), "--log-level", "warn")
	s.cmd.Args = append(s.cmd.Args, s.opts.args...)
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(s.cmd, s.exited)
	// Ready when both listeners accept connections.
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range []string{s.wsmanAddr, cimxmlAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-s.exited:
				s.cmd = nil
				t.Fatalf("hypercimd exited before listening (%v):\n%s", err, s.logs)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("hypercimd not listening on %s after 60 s:\n%s", addr, s.logs)
			}
		}
	}
}

// stop ends the daemon with SIGTERM, as an operator would, and waits.
func (s *server) stop(t testing.TB) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("hypercimd did not stop within 30 s of SIGTERM:\n%s", s.logs)
	}
	s.cmd = nil
}

// post sends a SOAP envelope with the admin's Basic credentials.
func (s *server) post(t testing.TB, body string) (int, string) {
	t.Helper()
	return s.postAs(t, body, s.user, s.password)
}

func (s *server) postAs(t testing.TB, body, user, password string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", s.wsmanURL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /wsman: %v\n%s", err, s.logs)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

// moduleRoot finds the module root: the first directory holding go.mod
// from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod in any directory above the working directory")
		}
		dir = parent
	}
}
