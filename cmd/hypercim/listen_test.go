package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/export"
)

// syncBuffer is a bytes.Buffer safe for the listener's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startListen runs "hypercim listen args..." and returns the URL it
// listens on and its exit status, once it exits.
func startListen(t *testing.T, args ...string) (url string, stdout *syncBuffer, exit <-chan int) {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	env := &cliEnv{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr}
	done := make(chan int, 1)
	go func() { done <- run(env, append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)) }()
	re := regexp.MustCompile(`listening on (\S+)/ `)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stdout, done
		}
		select {
		case code := <-done:
			t.Fatalf("listen exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alert(text string) *cim.Instance {
	a := cim.NewInstance("CIM_AlertIndication")
	a.Set("Description", cim.NewString(text))
	a.Set("AlertType", cim.NewUint16(5))
	a.Set("PerceivedSeverity", cim.NewUint16(6))
	return a
}

func TestListenPrintsIndications(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stdout, exit := startListen(t, "--count", "2", "--user", "cimlistener", "--password-file", pwFile)
	c, err := export.NewClient(export.Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var e *export.Error
	if err := c.Export(ctx, export.Target{URL: url + "/cimlistener"}, alert("anonymous")); !errors.As(err, &e) || e.HTTPStatus != 401 {
		t.Errorf("an export without credentials: %v", err)
	}
	for _, text := range []string{"disk failed", "disk replaced"} {
		if err := c.Export(ctx, export.Target{URL: url + "/cimlistener", Username: "cimlistener", Password: "s3cret"}, alert(text)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit status %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not exit after --count indications")
	}
	out := stdout.String()
	if strings.Count(out, "instance of CIM_AlertIndication {") != 2 || !strings.Contains(out, `Description = "disk replaced";`) ||
		!strings.Contains(out, "// ") || strings.Contains(out, "anonymous") {
		t.Errorf("output:\n%s", out)
	}
}

func TestListenUsage(t *testing.T) {
	for _, args := range [][]string{
		{"listen", "extra"},
		{"listen", "--tls-cert", "c.pem"},
		{"listen", "--user", "u"},
		{"listen", "--count", "-1"},
		{"listen", "--bogus"},
	} {
		var stderr bytes.Buffer
		if code := run(&cliEnv{stdout: &bytes.Buffer{}, stderr: &stderr}, args); code != 2 || !strings.Contains(stderr.String(), "--help") {
			t.Errorf("%v: exit %d, %s", args, code, stderr.String())
		}
	}
	var stdout bytes.Buffer
	if code := run(&cliEnv{stdout: &stdout, stderr: &bytes.Buffer{}}, []string{"listen", "--help"}); code != 0 || !strings.Contains(stdout.String(), "--password-file") {
		t.Errorf("--help: %d %s", code, stdout.String())
	}
	var stderr bytes.Buffer
	if code := run(&cliEnv{stdout: &bytes.Buffer{}, stderr: &stderr}, []string{"listen", "--addr", "256.1.1.1:1"}); code != 1 {
		t.Errorf("an address that cannot be listened on: %d %s", code, stderr.String())
	}
}
