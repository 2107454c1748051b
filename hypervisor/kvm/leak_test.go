package kvm

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// procStatus reads a numeric field of /proc/self/status (kB for sizes).
func procStatus(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), name+":"); ok {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return 0
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type usage struct{ fds, threads, rssKiB int }

func measure(t *testing.T, e *Engine) usage {
	e.sys.closing.Wait() // VMs destroyed in the background
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(20 * time.Millisecond) // let exited vCPU threads be reaped
	return usage{openFDs(t), procStatus(t, "Threads"), procStatus(t, "VmRSS")}
}

// TestStartStopLeaks starts and stops 100 machines, half powering off by
// themselves and half stopped from outside while running, with a failed
// start after every fifth (a missing disk, a tap that cannot be created,
// RAM that cannot be mapped, a kernel that is not one), and checks the
// process holds no more file descriptors, threads or memory than before.
func TestStartStopLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 100 machines")
	}
	// Overcommit lets the machine with impossible RAM be defined, so its
	// start fails where a huge but possible machine would fail on a host
	// with less memory: mapping the RAM.
	e := newTestEngine(t, Options{Overcommit: true})
	disk := makeVMDK(t, 4, nil)
	ctx := context.Background()
	failures := []struct {
		name string
		edit func(*hypervisor.Config)
	}{
		{"missing disk", func(c *hypervisor.Config) {
			c.Disks = append(c.Disks, hypervisor.DiskConfig{ID: "gone", Path: disk + ".missing"})
		}},
		{"bad tap", func(c *hypervisor.Config) {
			c.NICs = []hypervisor.NICConfig{{ID: "nic0", Tap: "tap-name-longer-than-ifnamsiz"}}
		}},
		{"impossible memory", func(c *hypervisor.Config) { c.MemoryBytes = 1 << 50 }},
		{"not a kernel", func(c *hypervisor.Config) { c.Boot.Kernel = disk }},
	}
	failStart := func(i int) {
		f := failures[i%len(failures)]
		cfg := guestConfig(t, 3000+i, 2, "", disk)
		f.edit(&cfg)
		m, err := e.Define(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if err := m.Start(ctx); err == nil {
			t.Fatalf("%s: the machine started", f.name)
		}
		if st := m.State(); st != hypervisor.StateStopped {
			t.Fatalf("%s: state %v after the failed start", f.name, st)
		}
		if err := m.Undefine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cycle := func(i int) {
		if i%5 == 0 {
			failStart(i / 5)
		}
		// Every tenth machine has a disk and every fourth two vCPUs, so
		// all device and vCPU teardown paths are covered in a short run.
		var disks []string
		if i%10 == 0 {
			disks = append(disks, disk)
		}
		cfg := guestConfig(t, 1000+i, 1+boolInt(i%4 == 3), "", disks...)
		if i%2 == 1 {
			cfg.Boot.Cmdline = "testguest.interactive"
		}
		con := newConsole()
		cfg.Console = con
		m, err := e.Define(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ev := watch(t, m)
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			ev.wait(t, hypervisor.EventGuestShutdown)
		} else {
			con.waitLine(t, "testguest: ready")
			if err := m.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Undefine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ { // warm up pools, caches and the runtime's threads
		cycle(i)
	}
	before := measure(t, e)
	for i := 4; i < 104; i++ {
		cycle(i)
	}
	after := measure(t, e)
	t.Logf("before %+v after %+v", before, after)
	if after.fds > before.fds {
		t.Errorf("file descriptors grew from %d to %d over 100 machines", before.fds, after.fds)
	}
	// The Go runtime may park a few more idle threads; vCPU threads are
	// never reused, so a leak would add at least one per machine.
	if after.threads > before.threads+8 {
		t.Errorf("threads grew from %d to %d over 100 machines", before.threads, after.threads)
	}
	// Each machine maps 64 MiB of guest RAM; a leak of even one run's RAM
	// or vCPU mappings per machine would exceed this margin many times.
	if growth := after.rssKiB - before.rssKiB; growth > 32<<10 {
		t.Errorf("RSS grew by %d KiB over 100 machines", growth)
	}
}
