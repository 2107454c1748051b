package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogLevel(t *testing.T) {
	for want, args := range map[string][]string{
		"":      {"--hypervisor", "none"},
		"warn":  {"--log-level", "warn"},
		"debug": {"-log-level=warn", "--log-level", "debug"},
		"error": {"--log-level=error"},
	} {
		if got := logLevel(args); got != want {
			t.Errorf("logLevel(%q) = %q, want %q", args, got, want)
		}
	}
}

// Start refuses a log level that hides the line it waits for, instead of
// waiting for nothing.
func TestStartNeedsTheReadyLine(t *testing.T) {
	if _, err := Start(Options{Hypercimd: "/nonexistent", Args: []string{"--log-level", "warn"}}); err == nil || !strings.Contains(err.Error(), ReadyLine) {
		t.Errorf("Start with --log-level warn: %v", err)
	}
}

// A program that exits at once is reported with its output, promptly.
func TestStartReportsAnEarlyExit(t *testing.T) {
	script := filepath.Join(t.TempDir(), "fake-hypercimd")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"hypercimd: bad flags: $*\" >&2\nexit 2\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := Start(Options{Hypercimd: script, DataDir: "/data", CIMXMLHTTP: "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "exited during its start") || !strings.Contains(err.Error(), "--cimxml-http=127.0.0.1:1 --cimxml-https= --wsman-http= --wsman-https=") {
		t.Fatalf("Start: %v", err)
	}
	if err := d.Stop(0); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("Stop after the exit: %v", err)
	}
}

func TestModuleRoot(t *testing.T) {
	if _, err := os.Stat(filepath.Join(ModuleRoot(), "go.mod")); err != nil {
		t.Error(err)
	}
}

// Kill ends a daemon as a crash would; Exited and Wait see it gone, and
// Stop afterwards reports the unclean exit rather than hanging.
func TestKill(t *testing.T) {
	script := filepath.Join(t.TempDir(), "fake-hypercimd")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'hypercimd ready'\nexec sleep 60\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := Start(Options{Hypercimd: script, DataDir: "/data"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Exited() {
		t.Fatal("exited before the kill")
	}
	d.Kill()
	if err := d.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait after Kill: %v", err)
	}
	if !d.Exited() {
		t.Error("Exited is false after Wait")
	}
	if err := d.Stop(time.Second); err == nil {
		t.Error("Stop after a kill reports a clean exit")
	}
}
