package vmm_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/vmdk"
)

func wantCode(t *testing.T, err error, code vmm.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := vmm.CodeOf(err); got != code {
		t.Fatalf("error %q has code %s, want %s", err, got, code)
	}
}

// TestLifecycle runs the life of one system on the real kvm engine: the
// test guest boots with 2 vCPUs and a new VMDK disk, writes to it, is
// paused, resumed, snapshotted, rolled back (the write made after the
// snapshot is gone), gets a second disk hot-plugged, more memory while
// stopped, is rebooted, shut down gracefully and destroyed.
func TestLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	def := e.interactive("life", 2, newDisk(64))
	def.NICs = []vmm.NIC{{}}
	id := e.define(def)

	v, err := e.m.System(id)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != hypervisor.StateStopped || len(v.Def.Disks) != 1 || v.Def.Disks[0].ID != "disk0" || !v.Def.Disks[0].Owned {
		t.Fatalf("after Define: %+v", v)
	}
	if v.Def.NICs[0].ID != "nic0" || !strings.HasPrefix(v.Def.NICs[0].MAC, "52:54:00:") {
		t.Fatalf("NIC not completed: %+v", v.Def.NICs[0])
	}
	img := e.m.ImagePath(v.Def.Disks[0].Image)
	info, err := vmdk.Inspect(img, vmdk.OpenOptions{})
	if err != nil || info.VirtualSize != 64<<20 || info.Subformat != vmdk.MonolithicSparse {
		t.Fatalf("image %s: %+v, %v", img, info, err)
	}

	e.state(id, vmm.TransitionStart)
	e.wantState(id, hypervisor.StateRunning)
	g := e.guest(id)
	if line := g.waitFor("testguest: cpus="); line != "testguest: cpus=2 disks=1" {
		t.Fatalf("guest reports %q", line)
	}
	g.waitFor("testguest: ready")
	g.cmd("write 0 1 before-snapshot", "")

	// Memory changes need a stopped system.
	_, err = e.m.Modify(ctx, id, func(d *vmm.Definition) error { d.MemoryMiB = 128; return nil }, vmm.CallOptions{})
	wantCode(t, err, vmm.InvalidState)

	e.state(id, vmm.TransitionPause)
	e.wantState(id, hypervisor.StatePaused)
	_, err = e.m.RequestState(ctx, id, vmm.TransitionReboot, sync30)
	wantCode(t, err, vmm.InvalidState)
	e.state(id, vmm.TransitionStart) // resume
	e.wantState(id, hypervisor.StateRunning)

	out, err := e.m.CreateSnapshot(ctx, id, vmm.SnapshotRequest{Kind: vmm.SnapshotFull, Name: "before"}, sync30)
	if err != nil {
		t.Fatal(err)
	}
	snap := out.Snapshot
	e.wantState(id, hypervisor.StateRunning)
	if !strings.Contains(g.cmd("read 0 1", "crc="), hexOf("before-snapshot")) {
		t.Fatal("the guest lost its write across the snapshot")
	}
	g.cmd("write 0 1 after-snapshot", "")
	if !strings.Contains(g.cmd("read 0 1", "crc="), hexOf("after-snapshot")) {
		t.Fatal("the write after the snapshot did not land")
	}

	if _, err := e.m.ApplySnapshot(ctx, snap, sync30); err != nil {
		t.Fatal(err)
	}
	e.wantState(id, hypervisor.StateRunning)
	if line := g.cmd("read 0 1", "crc="); !strings.Contains(line, hexOf("before-snapshot")) {
		t.Fatalf("after applying the snapshot the guest reads %q, want the data from before it", line)
	}
	v, _ = e.m.System(id)
	if v.LastApplied != snap || v.Branch != snap {
		t.Fatalf("LastApplied %q Branch %q, want %q", v.LastApplied, v.Branch, snap)
	}

	// Hot-plug a second disk.
	if _, err := e.m.Modify(ctx, id, func(d *vmm.Definition) error {
		d.Disks = append(d.Disks, vmm.Disk{ID: vmm.NewDiskID(d), Media: true, SizeBytes: 32 << 20})
		return nil
	}, vmm.CallOptions{}); err != nil {
		t.Fatal(err)
	}
	if line := g.cmd("rescan", "disks="); !strings.HasPrefix(line, "disks=2") {
		t.Fatalf("after hot-plug the guest sees %q", line)
	}

	// Memory while stopped.
	e.state(id, vmm.TransitionOff)
	e.wantState(id, hypervisor.StateStopped)
	if _, err := e.m.Modify(ctx, id, func(d *vmm.Definition) error { d.MemoryMiB = 96; return nil }, vmm.CallOptions{}); err != nil {
		t.Fatal(err)
	}
	g.reset()
	e.state(id, vmm.TransitionStart)
	g.waitFor("testguest: ready")
	if line := g.cmd("disks", "disks="); line != "disks=2" {
		t.Fatalf("after restart the guest has %q", line)
	}
	if line := g.cmd("mem", "ram="); !strings.Contains(line, "ram=") || ramMiB(line) < 90 || ramMiB(line) > 96 {
		t.Fatalf("guest memory %q, want about 96 MiB", line)
	}

	// Graceful reboot: the test guest powers off on Ctrl+Alt+Del and the
	// manager starts it again.
	g.reset()
	e.state(id, vmm.TransitionReboot)
	g.waitFor("testguest: powering off")
	g.waitFor("testguest: ready")
	e.wantState(id, hypervisor.StateRunning)

	e.state(id, vmm.TransitionShutdown)
	e.wantState(id, hypervisor.StateStopped)

	snaps := e.m.Snapshots(id)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots", len(snaps))
	}
	if _, err := e.m.Destroy(ctx, id, sync30); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.System(id); vmm.CodeOf(err) != vmm.NotFound {
		t.Fatalf("System after Destroy: %v", err)
	}
	if len(e.m.Snapshots("")) != 0 {
		t.Fatal("snapshots survive their system")
	}
	entries, _ := os.ReadDir(e.m.PoolDir())
	if len(entries) != 0 {
		t.Fatalf("images left in the pool: %v", names(entries))
	}
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for _, c := range []byte(s) {
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

func ramMiB(line string) int {
	var ram int64
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "ram="); ok {
			for _, c := range v {
				if c < '0' || c > '9' {
					break
				}
				ram = ram*10 + int64(c-'0')
			}
		}
	}
	return int(ram >> 20)
}

var _ = errors.Is
