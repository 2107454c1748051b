package wsmanconformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/conformance/internal/daemon"
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
	dir, err := os.MkdirTemp("", "hypercim-wsman-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	built, err := daemon.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance/wsman:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	bins = binaries{root: daemon.ModuleRoot(), hypercimd: built.Hypercimd, hypercim: built.Hypercim}
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
	d         *daemon.Daemon
	// logs is the log of the last daemon started, kept after it stops.
	logs *daemon.Log
}

// wsmanURL is the service's endpoint.
func (s *server) wsmanURL() string { return "http://" + s.wsmanAddr + "/wsman" }

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

// start runs hypercimd on free ports with the WS-Man and CIM-XML HTTP
// listeners and waits until it is ready.
func (s *server) start(t testing.TB) {
	t.Helper()
	var err error
	if s.wsmanAddr, err = daemon.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	cimxmlAddr, err := daemon.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s.cimxmlURL = "http://" + cimxmlAddr + "/cimom"
	d, err := daemon.Start(daemon.Options{
		Hypercimd:  bins.hypercimd,
		DataDir:    s.dataDir,
		CIMXMLHTTP: cimxmlAddr,
		WSManHTTP:  s.wsmanAddr,
		Args: append([]string{"--test-provider", "root/virt",
			"--test-provider-gen", strconv.Itoa(s.opts.genCount),
			"--test-provider-payload", strconv.Itoa(s.opts.genPayload)}, s.opts.args...),
	})
	if d != nil {
		s.logs = d.Log
	}
	if err != nil {
		t.Fatal(err)
	}
	s.d = d
}

// stop ends the daemon with SIGTERM, as an operator would, and expects a
// clean exit within 30 seconds.
func (s *server) stop(t testing.TB) {
	if s.d == nil {
		return
	}
	if err := s.d.Stop(30 * time.Second); err != nil {
		t.Errorf("%v; its log:\n%s", err, s.logs.Tail(8<<10))
	}
	s.d = nil
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
