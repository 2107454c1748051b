package vmm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/vmdk"
)

// TestBadInput: every malformed or impossible request fails with the code
// the DMTF methods report, and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "outside.vmdk")
	if err := vmdk.Create(outside, vmdk.CreateOptions{Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.m.PoolDir(), "link.vmdk")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "kernel")
	os.WriteFile(secret, []byte("not for guests"), 0o600)
	base := func() vmm.Definition { return e.interactive("bad", 1) }
	cases := []struct {
		name string
		edit func(*vmm.Definition)
		code vmm.Code
	}{
		{"zero vCPUs", func(d *vmm.Definition) { d.VCPUs = 0 }, vmm.InvalidParameter},
		{"negative vCPUs", func(d *vmm.Definition) { d.VCPUs = -2 }, vmm.InvalidParameter},
		{"too many vCPUs", func(d *vmm.Definition) { d.VCPUs = 100000 }, vmm.InvalidParameter},
		{"too little memory", func(d *vmm.Definition) { d.MemoryMiB = 1 }, vmm.InvalidParameter},
		{"too much memory", func(d *vmm.Definition) { d.MemoryMiB = 1 << 40 }, vmm.InvalidParameter},
		{"no kernel", func(d *vmm.Definition) { d.Kernel = "" }, vmm.InvalidParameter},
		{"kernel outside the boot directories", func(d *vmm.Definition) { d.Kernel = secret }, vmm.InvalidParameter},
		{"kernel escaping by ..", func(d *vmm.Definition) { d.Kernel = filepath.Dir(d.Kernel) + "/../../etc/passwd" }, vmm.InvalidParameter},
		{"image outside the pool", func(d *vmm.Definition) { d.Disks = []vmm.Disk{{Media: true, Image: outside}} }, vmm.InvalidParameter},
		{"image escaping by ..", func(d *vmm.Definition) { d.Disks = []vmm.Disk{{Media: true, Image: "../x.vmdk", SizeBytes: 1 << 20}} }, vmm.InvalidParameter},
		{"image escaping by a link", func(d *vmm.Definition) { d.Disks = []vmm.Disk{{Media: true, Image: "link.vmdk"}} }, vmm.InvalidParameter},
		{"new image without size", func(d *vmm.Definition) { d.Disks = []vmm.Disk{{Media: true}} }, vmm.InvalidParameter},
		{"negative image size", func(d *vmm.Definition) { d.Disks = []vmm.Disk{{Media: true, SizeBytes: -1}} }, vmm.InvalidParameter},
		{"unknown subformat", func(d *vmm.Definition) {
			d.Disks = []vmm.Disk{{Media: true, SizeBytes: 1 << 20, Subformat: "seSparse"}}
		}, vmm.InvalidParameter},
		{"one image in two drives", func(d *vmm.Definition) {
			d.Disks = []vmm.Disk{{Media: true, Image: "same.vmdk", SizeBytes: 1 << 20}, {Media: true, Image: "same.vmdk", SizeBytes: 1 << 20}}
		}, vmm.InUse},
		{"bad MAC", func(d *vmm.Definition) { d.NICs = []vmm.NIC{{MAC: "52:54:00:zz:00:01"}} }, vmm.InvalidParameter},
		{"multicast MAC", func(d *vmm.Definition) { d.NICs = []vmm.NIC{{MAC: "01:00:5e:00:00:01"}} }, vmm.InvalidParameter},
		{"libvirt network on kvm", func(d *vmm.Definition) { d.NICs = []vmm.NIC{{Connected: true, Connection: "network:default"}} }, vmm.NotSupported},
		{"nonsense connection", func(d *vmm.Definition) { d.NICs = []vmm.NIC{{Connected: true, Connection: "wifi:home"}} }, vmm.InvalidParameter},
		{"bad startup action", func(d *vmm.Definition) { d.Startup = 9 }, vmm.InvalidParameter},
		{"name with a newline", func(d *vmm.Definition) { d.Name = "a\nb" }, vmm.InvalidParameter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := base()
			c.edit(&d)
			_, err := e.m.Define(ctx, "", d, vmm.CallOptions{})
			wantCode(t, err, c.code)
		})
	}
	if n := len(e.m.Systems()); n != 0 {
		t.Fatalf("%d systems after failed definitions", n)
	}
	entries, _ := os.ReadDir(e.m.PoolDir())
	if got := names(entries); len(got) != 1 || got[0] != "link.vmdk" {
		t.Fatalf("failed definitions left files in the pool: %v", got)
	}

	id := e.define(base())
	_, err := e.m.Define(ctx, "", base(), vmm.CallOptions{})
	wantCode(t, err, vmm.InUse) // same name
	_, err = e.m.Define(ctx, id, e.interactive("other", 1), vmm.CallOptions{})
	wantCode(t, err, vmm.InUse) // same UUID
	_, err = e.m.Define(ctx, "not-a-uuid", e.interactive("other", 1), vmm.CallOptions{})
	wantCode(t, err, vmm.InvalidParameter)

	const unknown = "00000000-0000-4000-8000-000000000000"
	_, err = e.m.RequestState(ctx, unknown, vmm.TransitionStart, vmm.CallOptions{})
	wantCode(t, err, vmm.NotFound)
	_, err = e.m.Destroy(ctx, unknown, vmm.CallOptions{})
	wantCode(t, err, vmm.NotFound)
	_, err = e.m.ApplySnapshot(ctx, unknown, vmm.CallOptions{})
	wantCode(t, err, vmm.NotFound)
	_, err = e.m.RequestState(ctx, id, vmm.Transition(7), vmm.CallOptions{})
	wantCode(t, err, vmm.InvalidParameter)
	for _, tr := range []vmm.Transition{vmm.TransitionPause, vmm.TransitionReboot, vmm.TransitionReset, vmm.TransitionSave} {
		_, err = e.m.RequestState(ctx, id, tr, vmm.CallOptions{})
		wantCode(t, err, vmm.InvalidState)
	}
	// Turning off what is off, starting what runs: nothing to do.
	if _, err := e.m.RequestState(ctx, id, vmm.TransitionOff, vmm.CallOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.m.CreateSnapshot(ctx, id, vmm.SnapshotRequest{Kind: 5}, vmm.CallOptions{})
	wantCode(t, err, vmm.InvalidParameter)

	// Raw images cannot be snapshotted; images cannot shrink.
	raw := e.define(vmm.Definition{Name: "raw", VCPUs: 1, MemoryMiB: 16, Kernel: testGuest(t),
		Disks: []vmm.Disk{{Media: true, Format: "raw", SizeBytes: 1 << 20}}})
	_, err = e.m.CreateSnapshot(ctx, raw, vmm.SnapshotRequest{Kind: vmm.SnapshotDisk}, vmm.CallOptions{})
	wantCode(t, err, vmm.NotSupported)
	_, err = e.m.Modify(ctx, raw, func(d *vmm.Definition) error { d.Disks[0].SizeBytes = 512; return nil }, vmm.CallOptions{})
	wantCode(t, err, vmm.InvalidParameter)
	if _, err := e.m.Modify(ctx, raw, func(d *vmm.Definition) error { d.Disks[0].SizeBytes = 2 << 20; return nil }, vmm.CallOptions{}); err != nil {
		t.Fatalf("growing a raw image: %v", err)
	}
	if st, _ := os.Stat(e.m.ImagePath(mustSystem(t, e, raw).Def.Disks[0].Image)); st.Size() != 2<<20 {
		t.Fatalf("raw image is %d bytes after growing", st.Size())
	}
	// An image in use by another system.
	_, err = e.m.Define(ctx, "", vmm.Definition{Name: "thief", VCPUs: 1, MemoryMiB: 16, Kernel: testGuest(t),
		Disks: []vmm.Disk{{Media: true, Image: mustSystem(t, e, raw).Def.Disks[0].Image}}}, vmm.CallOptions{})
	wantCode(t, err, vmm.InUse)
}

func mustSystem(t *testing.T, e *env, id string) vmm.System {
	t.Helper()
	v, err := e.m.System(id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBusyAndTerminate: while a job holds a system every other request is
// refused as busy; a graceful shutdown the guest ignores can be terminated,
// the system then shows running again and can be turned off.
func TestBusyAndTerminate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	id := e.define(e.interactive("busy", 1, newDisk(4)))
	e.state(id, vmm.TransitionStart)
	g := e.guest(id)
	g.waitFor("testguest: ready")
	g.cmd("halt", "") // interrupts off: Ctrl+Alt+Del goes unanswered

	out, err := e.m.RequestState(ctx, id, vmm.TransitionShutdown, vmm.CallOptions{})
	if err != nil || out.Job == nil {
		t.Fatalf("shutdown: %+v %v", out, err)
	}
	e.wantState(id, hypervisor.StateShuttingDown) // the request reached the guest
	for _, try := range []func() error{
		func() error { _, err := e.m.RequestState(ctx, id, vmm.TransitionOff, vmm.CallOptions{}); return err },
		func() error {
			_, err := e.m.CreateSnapshot(ctx, id, vmm.SnapshotRequest{Kind: vmm.SnapshotFull}, vmm.CallOptions{})
			return err
		},
		func() error { _, err := e.m.Destroy(ctx, id, vmm.CallOptions{}); return err },
		func() error {
			_, err := e.m.Modify(ctx, id, func(d *vmm.Definition) error { d.Description = "x"; return nil }, vmm.CallOptions{})
			return err
		},
	} {
		wantCode(t, try(), vmm.Busy)
	}
	j, _ := e.m.Job(out.Job.ID)
	if j.State != vmm.JobRunning || !j.Cancellable {
		t.Fatalf("job %+v", j)
	}
	if v := mustSystem(t, e, id); v.Requested != uint16(vmm.TransitionShutdown) || v.Transitioning != uint16(vmm.TransitionShutdown) {
		t.Fatalf("during the shutdown: requested %d, transitioning %d", v.Requested, v.Transitioning)
	}
	if err := e.m.DeleteJob(j.ID); vmm.CodeOf(err) != vmm.InvalidState {
		t.Fatalf("deleting a running job: %v", err)
	}
	if err := e.m.TerminateJob(j.ID); err != nil {
		t.Fatal(err)
	}
	j, _ = e.m.WaitJob(ctx, j.ID)
	if j.State != vmm.JobTerminated {
		t.Fatalf("job after terminate: %+v", j)
	}
	e.wantState(id, hypervisor.StateRunning) // nobody waits for the shutdown any more
	if v := mustSystem(t, e, id); v.Requested != uint16(vmm.TransitionShutdown) || v.Transitioning != 0 {
		t.Fatalf("after the terminated shutdown: requested %d, transitioning %d", v.Requested, v.Transitioning)
	}
	e.state(id, vmm.TransitionOff)
	e.wantState(id, hypervisor.StateStopped)
	if err := e.m.DeleteJob(j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Job(j.ID); vmm.CodeOf(err) != vmm.NotFound {
		t.Fatalf("deleted job still there: %v", err)
	}
}

// TestSyncTimeout: a shutdown or reboot bounded by the caller's timeout
// fails with Timeout when the guest does not power off in time; the system
// shows running again and can be saved.
func TestSyncTimeout(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	id := e.define(e.interactive("slow", 1))
	e.state(id, vmm.TransitionStart)
	g := e.guest(id)
	g.waitFor("testguest: ready")
	g.cmd("halt", "")
	_, err := e.m.RequestState(ctx, id, vmm.TransitionShutdown, vmm.CallOptions{Wait: 200e6})
	wantCode(t, err, vmm.Timeout)
	if !strings.Contains(err.Error(), "did not power off") {
		t.Fatal(err)
	}
	e.wantState(id, hypervisor.StateRunning)
	// A reboot waits for the same shutdown, and ends alike.
	_, err = e.m.RequestState(ctx, id, vmm.TransitionReboot, vmm.CallOptions{Wait: 200e6})
	wantCode(t, err, vmm.Timeout)
	if !strings.Contains(err.Error(), "to reboot") {
		t.Fatal(err)
	}
	e.wantState(id, hypervisor.StateRunning)
	if _, err := e.m.RequestState(ctx, id, vmm.TransitionSave, sync30); err != nil {
		t.Fatal(err)
	}
	if v := mustSystem(t, e, id); !v.Saved || v.State != hypervisor.StateStopped {
		t.Fatalf("after save: %+v", v)
	}
}
