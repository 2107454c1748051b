package daemon

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ReadyLine is what hypercimd logs (at info level) once it serves.
const ReadyLine = "hypercimd ready"

// Binaries are the programs Build made.
type Binaries struct {
	// Dir holds them; the caller removes it when its tests are done.
	Dir       string
	Hypercimd string
	Hypercim  string
}

// ModuleRoot is the root of the hypercim module, found from this file's
// location, so that it does not depend on the test's working directory.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Build compiles hypercimd and hypercim into dir with the Go toolchain
// that runs the tests.
func Build(dir string) (*Binaries, error) {
	b := &Binaries{Dir: dir, Hypercimd: filepath.Join(dir, "hypercimd"), Hypercim: filepath.Join(dir, "hypercim")}
	// The toolchain running the tests, which `go test` puts first in PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("building the programs: %w", err)
	}
	for _, cmd := range []struct{ out, pkg string }{{b.Hypercimd, "./cmd/hypercimd"}, {b.Hypercim, "./cmd/hypercim"}} {
		build := exec.Command(goTool, "build", "-o", cmd.out, cmd.pkg)
		build.Dir = ModuleRoot()
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s: %w\n%s", cmd.pkg, err, out)
		}
	}
	return b, nil
}

// FreeAddr returns a loopback address whose port is free when it returns.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Options say how to run hypercimd.
type Options struct {
	// Hypercimd is the program (Binaries.Hypercimd).
	Hypercimd string
	// DataDir is its --data-dir.
	DataDir string
	// CIMXMLHTTP, CIMXMLHTTPS, WSManHTTP and WSManHTTPS are the listen
	// addresses; an empty one disables that listener.
	CIMXMLHTTP, CIMXMLHTTPS, WSManHTTP, WSManHTTPS string
	// Args are more flags (--test-provider, --hypervisor...). They must
	// leave --log-level at info or debug: Start waits for ReadyLine.
	Args []string
	// ReadyTimeout bounds the start; zero means 90 seconds (a first start
	// installs the schemas, slow on a loaded 2-core machine).
	ReadyTimeout time.Duration
}

// Daemon is a running hypercimd.
type Daemon struct {
	Options
	// Log is everything it wrote to standard output and error.
	Log    *Log
	cmd    *exec.Cmd
	exited chan error
}

// Start runs hypercimd and waits until it is ready. On error the returned
// Daemon, when not nil, holds the log of the failed start; a daemon that
// did not become ready in time has been killed.
func Start(o Options) (*Daemon, error) {
	if lvl := logLevel(o.Args); lvl == "warn" || lvl == "error" {
		return nil, fmt.Errorf("--log-level %s hides the %q line Start waits for: leave it at info or debug", lvl, ReadyLine)
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	args := []string{"--data-dir", o.DataDir,
		"--cimxml-http=" + o.CIMXMLHTTP, "--cimxml-https=" + o.CIMXMLHTTPS,
		"--wsman-http=" + o.WSManHTTP, "--wsman-https=" + o.WSManHTTPS}
	d := &Daemon{Options: o, Log: &Log{}, exited: make(chan error, 1)}
	d.cmd = exec.Command(o.Hypercimd, append(args, o.Args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.Log, d.Log
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Hypercimd, err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	deadline := time.Now().Add(o.ReadyTimeout)
	for !strings.Contains(d.Log.String(), ReadyLine) {
		select {
		case err := <-d.exited:
			d.exited <- err
			return d, fmt.Errorf("hypercimd exited during its start (%v); its log:\n%s", err, d.Log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			d.exited <- <-d.exited
			return d, fmt.Errorf("hypercimd not ready within %s; its log:\n%s", o.ReadyTimeout, d.Log)
		}
	}
	return d, nil
}

// Pid is the process ID of the daemon (for /proc measurements).
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// logLevel returns the value of the last --log-level in args.
func logLevel(args []string) string {
	level := ""
	for i, a := range args {
		a = "--" + strings.TrimLeft(a, "-")
		switch {
		case a == "--log-level" && i+1 < len(args):
			level = args[i+1]
		case strings.HasPrefix(a, "--log-level="):
			level = strings.TrimPrefix(a, "--log-level=")
		}
	}
	return level
}

// Stop sends SIGTERM and waits up to timeout for the exit, then kills the
// process. It returns nil for a clean exit (status 0). Stopping a daemon
// that already exited returns how it exited.
func (d *Daemon) Stop(timeout time.Duration) error {
	select {
	case err := <-d.exited:
		d.exited <- err
		return exitError(err)
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		d.exited <- err
		return exitError(err)
	case <-time.After(timeout):
		d.cmd.Process.Kill()
		d.exited <- <-d.exited
		return fmt.Errorf("hypercimd did not stop within %s of SIGTERM (killed)", timeout)
	}
}

// Kill ends the daemon with SIGKILL, as a crash would, without waiting:
// Wait or Exited tell when it is gone. Safe to call from any goroutine.
func (d *Daemon) Kill() { d.cmd.Process.Kill() }

// Wait blocks until the daemon exits and returns how it exited (nil for
// status 0).
func (d *Daemon) Wait() error {
	err := <-d.exited
	d.exited <- err
	return err
}

// Exited reports whether the daemon has exited.
func (d *Daemon) Exited() bool {
	select {
	case err := <-d.exited:
		d.exited <- err
		return true
	default:
		return false
	}
}

func exitError(err error) error {
	if err != nil {
		return fmt.Errorf("hypercimd exited uncleanly: %w", err)
	}
	return nil
}

// Log is a daemon's output, safe to read while it writes.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail returns the last n bytes of the log, for failure messages.
func (l *Log) Tail(n int) string {
	s := l.String()
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
