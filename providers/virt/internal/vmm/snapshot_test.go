package vmm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/vmdk"
)

// writeMark writes text at sector 1 of a stopped system's first disk,
// through the vmdk package (as the guest would).
func (e *env) writeMark(id, text string) {
	e.t.Helper()
	v, err := e.m.System(id)
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := vmdk.Open(e.m.ImagePath(v.Def.Disks[0].Image), vmdk.OpenOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	buf := make([]byte, 512)
	copy(buf, text)
	if _, err := d.WriteAt(buf, 512); err != nil {
		e.t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) readMark(id string) string {
	e.t.Helper()
	v, err := e.m.System(id)
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := vmdk.Open(e.m.ImagePath(v.Def.Disks[0].Image), vmdk.OpenOptions{ReadOnly: true})
	if err != nil {
		e.t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 512)
	if _, err := d.ReadAt(buf, 512); err != nil {
		e.t.Fatal(err)
	}
	return string(bytes.TrimRight(buf, "\x00"))
}

func (e *env) snap(id, name string) string {
	e.t.Helper()
	out, err := e.m.CreateSnapshot(context.Background(), id, vmm.SnapshotRequest{Kind: vmm.SnapshotDisk, Name: name}, sync30)
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Snapshot
}

func (e *env) apply(snap string) {
	e.t.Helper()
	if _, err := e.m.ApplySnapshot(context.Background(), snap, sync30); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) destroySnap(snap string) {
	e.t.Helper()
	if _, err := e.m.DestroySnapshot(context.Background(), snap, sync30); err != nil {
		e.t.Fatal(err)
	}
}

// TestSnapshotTree builds a tree with two branches, moves between them,
// destroys snapshots in an order that leaves branch points, and checks
// the disk content at every step, the tree links, and that destroying
// every snapshot collapses the delta chain back to one image.
func TestSnapshotTree(t *testing.T) {
	e := newEnv(t, nil)
	id := e.define(e.interactive("tree", 1, newDisk(8)))
	e.writeMark(id, "A")
	s1 := e.snap(id, "s1")
	e.writeMark(id, "B")
	s2 := e.snap(id, "s2")
	e.writeMark(id, "B2")

	e.apply(s1)
	if got := e.readMark(id); got != "A" {
		t.Fatalf("after applying s1: %q", got)
	}
	e.writeMark(id, "C")
	s3 := e.snap(id, "s3")
	e.writeMark(id, "C2")

	parent := map[string]string{}
	for _, s := range e.m.Snapshots(id) {
		parent[s.ID] = s.Parent
	}
	if parent[s1] != "" || parent[s2] != s1 || parent[s3] != s1 {
		t.Fatalf("tree links: %v (s1=%s s2=%s s3=%s)", parent, s1, s2, s3)
	}
	if v, _ := e.m.System(id); v.Branch != s3 || v.LastApplied != s1 {
		t.Fatalf("Branch %s LastApplied %s", v.Branch, v.LastApplied)
	}

	e.apply(s2)
	if got := e.readMark(id); got != "B" {
		t.Fatalf("after applying s2: %q", got)
	}
	e.apply(s3)
	if got := e.readMark(id); got != "C" {
		t.Fatalf("after applying s3: %q", got)
	}

	// s1 is a branch point: destroying it re-parents s2 and s3.
	e.destroySnap(s1)
	for _, s := range e.m.Snapshots(id) {
		if s.Parent != "" {
			t.Fatalf("snapshot %s still has parent %s", s.ID, s.Parent)
		}
	}
	e.apply(s2)
	if got := e.readMark(id); got != "B" {
		t.Fatalf("after destroying s1, s2 reads %q", got)
	}
	e.writeMark(id, "D")
	e.destroySnap(s2)
	e.destroySnap(s3)
	if got := e.readMark(id); got != "D" {
		t.Fatalf("current content after destroying every snapshot: %q", got)
	}
	// Reopen: the collapsed chain and the content survive.
	e.reopen()
	if got := e.readMark(id); got != "D" {
		t.Fatalf("after restart: %q", got)
	}
	v, _ := e.m.System(id)
	info, err := vmdk.Inspect(e.m.ImagePath(v.Def.Disks[0].Image), vmdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Chain) > 1 {
		t.Fatalf("chain not collapsed: %v", info.Chain)
	}
	// The restart cleans unused images up in the background, holding the
	// system for a moment: a client meanwhile is told it is busy.
	for deadline := time.Now().Add(guestTimeout); ; time.Sleep(10 * time.Millisecond) {
		_, err := e.m.Destroy(context.Background(), id, sync30)
		if err == nil {
			break
		}
		var ve *vmm.Error
		if !errors.As(err, &ve) || ve.Code != vmm.Busy || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

// TestExternalImageConsolidated: an image the system did not create is
// never deleted, and destroying the system merges the snapshot deltas into
// it so it keeps the latest content.
func TestExternalImageConsolidated(t *testing.T) {
	e := newEnv(t, nil)
	path := e.m.PoolDir() + "/external.vmdk"
	if err := vmdk.Create(path, vmdk.CreateOptions{Size: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	id := e.define(e.interactive("ext", 1, vmm.Disk{Media: true, Image: "external.vmdk"}))
	if v, _ := e.m.System(id); v.Def.Disks[0].Owned {
		t.Fatal("an image the system did not create is marked owned")
	}
	e.writeMark(id, "one")
	e.snap(id, "s")
	e.writeMark(id, "two")
	if _, err := e.m.Destroy(context.Background(), id, sync30); err != nil {
		t.Fatal(err)
	}
	d, err := vmdk.Open(path, vmdk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("the external image is gone or broken: %v", err)
	}
	defer d.Close()
	buf := make([]byte, 512)
	d.ReadAt(buf, 512)
	if got := string(bytes.TrimRight(buf, "\x00")); got != "two" {
		t.Fatalf("external image holds %q, want the system's last content", got)
	}
}
