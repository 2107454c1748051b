package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is the product version the server reports (CIM_ObjectManager,
// WS-Man Identify, User-Agent). `make build` sets it to the release plus
// the git revision with -ldflags "-X main.version=...".
var version = "0.1.0"

// productVersion is the version reported to clients.
func productVersion() string { return version }

// gcPercent is the collector's target when GOGC is not set. The daemon's
// live heap is a few MiB, so Go's default of 100 collects every few MiB
// allocated, dozens of times a second under load, which shows in tail
// latency; 400 collects five times less often for about 12 MiB more RSS.
const gcPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status: 0 after a clean
// shutdown, 1 when the server cannot start or fails, 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stdout)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "hypercimd:", err)
		return 2
	}
	d := newDaemon(cfg, stderr)
	if err := d.run(ctx); err != nil {
		d.log.Error(err)
		return 1
	}
	return 0
}
