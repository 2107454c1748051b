package kvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// TestBootReportsCPUsAndDisk boots the test guest's default program with 1
// and 4 vCPUs on a VMDK disk the test wrote: the guest must count the
// processors, read the test's data (CRC of sector 0), leave its mark in
// sector 1, which qemu-img then finds in the VMDK, and power off with a
// guest-shutdown event.
func TestBootReportsCPUsAndDisk(t *testing.T) {
	e := newTestEngine(t, Options{})
	for i, vcpus := range []int{1, 4} {
		t.Run(fmt.Sprintf("vcpus=%d", vcpus), func(t *testing.T) {
			seed := bytes.Repeat([]byte(fmt.Sprintf("sector zero of run %d ", i)), 40)[:512]
			disk := makeVMDK(t, 8, seed)
			cfg := guestConfig(t, 100+i, vcpus, "", disk)
			con := newConsole()
			cfg.Console = con
			ctx := context.Background()
			m, err := e.Define(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Undefine(ctx)
			ev := watch(t, m)
			if err := m.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if got, want := con.waitLine(t, "testguest: cpus="), fmt.Sprintf("testguest: cpus=%d disks=1", vcpus); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			want := fmt.Sprintf("testguest: disk0 sectors=%d crc0=%08x", 8<<20/512, crc32.ChecksumIEEE(seed))
			if got := con.waitLine(t, "testguest: disk0"); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			con.waitLine(t, "testguest: done")
			off := ev.wait(t, hypervisor.EventGuestShutdown)
			if off.State != hypervisor.StateStopped || !strings.Contains(off.Reason, "debug-exit") {
				t.Errorf("power-off event %+v", off)
			}
			if st := ev.wait(t, hypervisor.EventStateChanged); st.State != hypervisor.StateStopped {
				t.Errorf("state event %+v, want stopped", st)
			}
			if s := m.State(); s != hypervisor.StateStopped {
				t.Errorf("state %v after power-off", s)
			}
			raw := readVMDK(t, disk)
			if !bytes.Equal(raw[:512], seed) {
				t.Error("the guest changed sector 0")
			}
			if got := string(raw[512 : 512+18]); got != "testguest was here" {
				t.Errorf("sector 1 starts %q, want the guest's mark", got)
			}
		})
	}
}

// TestBootPVH boots the test guest through its PVH entry: the VMM's
// real-mode trampoline enters it in 32-bit protected mode.
func TestBootPVH(t *testing.T) {
	e := newTestEngine(t, Options{BootPVH: true})
	m, con, _ := startGuest(t, e, 150, 2)
	if out := con.command(t, m, "mem"); out[0] != fmt.Sprintf("ram=%d boot=pvh", 64<<20-(0x100000-0x9fc00)) {
		t.Errorf("guest reports %q", out[0])
	}
	if out := con.command(t, m, "cmdline"); out[0] != "cmdline=testguest.interactive" {
		t.Errorf("guest reports %q", out[0])
	}
}

// TestPauseResumeSnapshotRestore checks that pausing, and saving to disk
// and restoring, continue the guest where it was: its tick counter keeps
// counting from its value and what it wrote to its disk is still there.
func TestPauseResumeSnapshotRestore(t *testing.T) {
	e := newTestEngine(t, Options{})
	disk := makeVMDK(t, 8, nil)
	m, con, ev := startGuest(t, e, 200, 2, disk)
	ctx := context.Background()
	ticks := func() uint64 {
		out := con.command(t, m, "ticks")
		n, err := strconv.ParseUint(field(t, out[0], "ticks"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	con.command(t, m, "write 0 5 before snapshot")
	t0 := ticks()

	if err := m.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StatePaused {
		t.Fatalf("state %v after Pause", s)
	}
	if err := m.Pause(ctx); !errors.Is(err, hypervisor.ErrInvalidState) {
		t.Errorf("second Pause: %v, want ErrInvalidState", err)
	}
	if err := m.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	t1 := ticks()
	if t1 < t0 {
		t.Errorf("ticks went back from %d to %d across pause/resume", t0, t1)
	}

	dir := t.TempDir() + "/snap"
	if err := m.Snapshot(ctx, dir, hypervisor.SnapshotOptions{Stop: true}); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StateStopped {
		t.Fatalf("state %v after Snapshot with Stop", s)
	}
	ev.wait(t, hypervisor.EventStateChanged)
	if err := m.Restore(ctx, dir, hypervisor.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StateRunning {
		t.Fatalf("state %v after Restore", s)
	}
	t2 := ticks()
	if t2 < t1 {
		t.Errorf("ticks went back from %d to %d across snapshot/restore", t1, t2)
	}
	// The restored PIT keeps interrupting: the counter moves on.
	for deadline := time.Now().Add(guestTimeout); ticks() < t2+10; {
		if time.Now().After(deadline) {
			t.Fatalf("the tick counter stopped at %d after restore", t2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := con.command(t, m, "read 0 5")
	if want := fmt.Sprintf("%x", "before snapshot"); !strings.Contains(field(t, out[0], "data"), want) {
		t.Errorf("sector 5 after restore: %q, want it to start with %q", out[0], want)
	}
	if strings.Count(con.String(), "testguest: hello") != 1 {
		t.Error("the guest booted again instead of continuing")
	}
	// A snapshot taken while running leaves the machine running.
	if err := m.Snapshot(ctx, t.TempDir()+"/live", hypervisor.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StateRunning {
		t.Errorf("state %v after a live snapshot", s)
	}
	if t3 := ticks(); t3 < t2 {
		t.Errorf("ticks went back from %d to %d across a live snapshot", t2, t3)
	}
}

// TestGracefulShutdown asks the guest to power off: Ctrl+Alt+Del reaches
// it through the i8042 and it powers off by itself.
func TestGracefulShutdown(t *testing.T) {
	e := newTestEngine(t, Options{})
	m, con, ev := startGuest(t, e, 300, 1)
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StateShuttingDown && s != hypervisor.StateStopped {
		t.Errorf("state %v after Shutdown", s)
	}
	con.waitLine(t, "testguest: shutdown requested")
	if got := ev.wait(t, hypervisor.EventGuestShutdown); got.State != hypervisor.StateStopped {
		t.Errorf("event %+v", got)
	}
}

// TestAbandonedShutdown: a shutdown request the guest ignores (interrupts
// off) shows as shutting down until the caller abandons it; the machine is
// then running again, and Stop still powers it off.
func TestAbandonedShutdown(t *testing.T) {
	e := newTestEngine(t, Options{})
	m, con, ev := startGuest(t, e, 300, 1)
	con.command(t, m, "halt")
	ctx := context.Background()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StateShuttingDown {
		t.Fatalf("state %v after Shutdown", s)
	}
	a, ok := m.(hypervisor.ShutdownAbandoner)
	if !ok {
		t.Fatal("the kvm machine is no hypervisor.ShutdownAbandoner")
	}
	if err := a.AbandonShutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StateRunning {
		t.Fatalf("state %v after AbandonShutdown", s)
	}
	for got := ev.wait(t, hypervisor.EventStateChanged); got.State != hypervisor.StateShuttingDown; got = ev.wait(t, hypervisor.EventStateChanged) {
	}
	if got := ev.wait(t, hypervisor.EventStateChanged); got.State != hypervisor.StateRunning || !strings.Contains(got.Reason, "shutdown request") {
		t.Fatalf("the event after shutting-down: %+v, want running", got)
	}
	// Abandoning again, with no request pending, changes nothing.
	if err := a.AbandonShutdown(ctx); err != nil || m.State() != hypervisor.StateRunning {
		t.Fatalf("second AbandonShutdown: %v, state %v", err, m.State())
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s != hypervisor.StateStopped {
		t.Fatalf("state %v after Stop", s)
	}
	if strings.Contains(con.String(), "testguest: shutdown requested") {
		t.Error("the halted guest answered the shutdown request")
	}
}

// TestGuestReboot checks a guest-initiated reset boots the guest again.
func TestGuestReboot(t *testing.T) {
	e := newTestEngine(t, Options{})
	m, con, ev := startGuest(t, e, 400, 1)
	con.command(t, m, "reboot")
	if got := ev.wait(t, hypervisor.EventGuestReset); got.State != hypervisor.StateRunning || !strings.Contains(got.Reason, "i8042") {
		t.Errorf("reset event %+v", got)
	}
	con.waitLine(t, "testguest: ready")
	if s := m.State(); s != hypervisor.StateRunning {
		t.Errorf("state %v after reboot", s)
	}
}
