package vmm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// TestRestartReconcile: after a restart of the server (the kvm engine's
// machines die with it) every system is there again, each as its
// AutomaticStartupAction says: restarted if it was running and says
// "restart if previously active", started if it says "always", off
// otherwise; a saved system keeps its saved state and resumes from it.
func TestRestartReconcile(t *testing.T) {
	e := newEnv(t, nil)
	mk := func(name string, action vmm.StartupAction) string {
		d := e.interactive(name, 1, newDisk(4))
		d.Startup = action
		return e.define(d)
	}
	a := mk("a-restart-if-active", vmm.StartupRestartIfActive)
	b := mk("b-none", vmm.StartupNone)
	c := mk("c-always", vmm.StartupAlways)
	d := mk("d-saved", vmm.StartupRestartIfActive)
	idle := mk("e-idle", vmm.StartupRestartIfActive)
	for _, id := range []string{a, b, d} {
		e.state(id, vmm.TransitionStart)
	}
	g := e.guest(d)
	g.waitFor("testguest: ready")
	g.cmd("write 0 1 saved-write", "")
	e.state(d, vmm.TransitionSave)
	if v := mustSystem(t, e, d); !v.Saved {
		t.Fatal("not saved")
	}

	e.reopen()
	if n := len(e.m.Systems()); n != 5 {
		t.Fatalf("%d systems after restart", n)
	}
	e.wantState(a, hypervisor.StateRunning)
	e.wantState(c, hypervisor.StateRunning)
	e.wantState(b, hypervisor.StateStopped)
	e.wantState(idle, hypervisor.StateStopped)
	if v := mustSystem(t, e, d); !v.Saved || v.State != hypervisor.StateStopped {
		t.Fatalf("saved system after restart: %+v", v)
	}
	// The saved system resumes where it was: its write is there without a
	// new boot.
	g = e.guest(d)
	e.state(d, vmm.TransitionStart)
	if line := g.cmd("read 0 1", "crc="); !strings.Contains(line, hexOf("saved-write")) {
		t.Fatalf("restored guest reads %q", line)
	}
	if v := mustSystem(t, e, d); v.Saved {
		t.Fatal("still marked saved after start")
	}
	for _, id := range []string{a, b, c, d, idle} {
		if _, err := e.m.Destroy(context.Background(), id, sync30); err != nil {
			t.Fatal(err)
		}
	}
}
