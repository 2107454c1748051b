package kvm

import (
	"context"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor"
)

// TestGuestMisbehaviour drives the guest into errors the VMM must survive:
// each is reported as an event and the machine keeps running (device
// errors) or ends as crashed (CPU faults), never taking the VMM down.
func TestGuestMisbehaviour(t *testing.T) {
	e := newTestEngine(t, Options{})
	disk := makeVMDK(t, 4, nil)

	t.Run("unknown port", func(t *testing.T) {
		m, con, ev := startGuest(t, e, 500, 1)
		out := con.command(t, m, "badport")
		if out[0] != "value=ff" {
			t.Errorf("unknown port read %q, want all ones", out[0])
		}
		if got := ev.wait(t, hypervisor.EventDeviceError); !strings.Contains(got.Reason, "unknown I/O port 0x1234") {
			t.Errorf("event %+v", got)
		}
		con.command(t, m, "badport") // reported once per port
		con.command(t, m, "echo still alive")
		n := 0
		for _, e := range ev.all() {
			if e.Kind == hypervisor.EventDeviceError && strings.Contains(e.Reason, "0x1234") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d reports for port 0x1234, want 1", n)
		}
	})

	t.Run("MMIO outside devices", func(t *testing.T) {
		m, con, ev := startGuest(t, e, 501, 1)
		out := con.command(t, m, "badmmio")
		if out[0] != "value=ffffffff" {
			t.Errorf("unmapped MMIO read %q, want all ones", out[0])
		}
		if got := ev.wait(t, hypervisor.EventDeviceError); !strings.Contains(got.Reason, "0xe0001000") {
			t.Errorf("event %+v", got)
		}
		con.command(t, m, "echo still alive")
	})

	for i, c := range []struct{ cmd, want string }{
		{"baddesc", "descriptor index out of bounds"},
		{"descloop", "descriptor chain longer than the queue"},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			m, con, ev := startGuest(t, e, 510+i, 1, disk)
			out := con.command(t, m, c.cmd+" 0")
			if st := field(t, out[0], "status"); st != "4f" && st != "47" {
				t.Errorf("device status %s after a corrupt queue, want DEVICE_NEEDS_RESET (0x40) set", st)
			}
			got := ev.wait(t, hypervisor.EventDeviceError)
			if !strings.Contains(got.Reason, c.want) || !strings.HasPrefix(got.Reason, "disk0:") {
				t.Errorf("event %+v, want %q from disk0", got, c.want)
			}
			// The driver resets the device and it works again.
			con.command(t, m, "rescan")
			con.command(t, m, "write 0 3 after reset")
			if s := m.State(); s != hypervisor.StateRunning {
				t.Errorf("state %v", s)
			}
		})
	}

	for i, c := range []struct{ cmd, want string }{
		{"triplefault", "triple fault"},
		{"panic", "pvpanic"},
		{"fail 3", "failure code 3"},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			m, con, ev := startGuest(t, e, 520+i, 2)
			con.command(t, m, c.cmd)
			got := ev.wait(t, hypervisor.EventGuestPanic)
			if got.State != hypervisor.StateCrashed || !strings.Contains(got.Reason, c.want) {
				t.Errorf("event %+v, want a crash mentioning %q", got, c.want)
			}
			if s := m.State(); s != hypervisor.StateCrashed {
				t.Errorf("state %v", s)
			}
			// A crashed machine starts again.
			ctx := context.Background()
			if err := m.Start(ctx); err != nil {
				t.Fatal(err)
			}
			con.waitLine(t, "testguest: ready")
			if err := m.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if err := m.Undefine(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
