package libvirt

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/vmdk"
)

func TestQEMUIdentityFromCapabilities(t *testing.T) {
	var caps libvirtxml.Caps
	err := caps.Unmarshal(`<capabilities><host><secmodel><model>none</model><doi>0</doi></secmodel>
<secmodel><model>dac</model><doi>0</doi><baselabel type='kvm'>+64055:+107</baselabel><baselabel type='qemu'>+64055:+64055</baselabel></secmodel></host></capabilities>`)
	if err != nil {
		t.Fatal(err)
	}
	if q := qemuIdentityFrom(&caps, "qemu"); q != (qemuIdentity{uid: 64055, gid: 64055, known: true}) {
		t.Errorf("qemu: %+v", q)
	}
	if q := qemuIdentityFrom(&caps, "kvm"); q != (qemuIdentity{uid: 64055, gid: 107, known: true}) {
		t.Errorf("kvm: %+v", q)
	}
	if q := qemuIdentityFrom(&libvirtxml.Caps{}, "qemu"); q.known {
		t.Errorf("no DAC model: %+v", q)
	}
}

// TestGrantAccess adds QEMU's user to a file's ACL only when its mode and
// ACL do not already let it in, and keeps owner, group and other entries.
func TestGrantAccess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to evaluate access for another user")
	}
	dir := t.TempDir()
	q := qemuIdentity{uid: 64055, gid: 64055, known: true}
	file := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := file("private", 0o600)
	if err := grantAccess(private, q, permRead|permWrite); err != nil {
		if errors.Is(err, hypervisor.ErrInvalidConfig) && strings.Contains(err.Error(), "ACL") {
			t.Skipf("no POSIX ACLs here: %v", err)
		}
		t.Fatal(err)
	}
	entries, ok, err := readACL(private)
	if err != nil || !ok {
		t.Fatalf("ACL of the private file: %v, %v", ok, err)
	}
	want := []aclEntry{{aclUserObj, 6, aclUndefined}, {aclUser, 6, 64055}, {aclGroupObj, 0, aclUndefined}, {aclMask, 6, aclUndefined}, {aclOther, 0, aclUndefined}}
	if !slices.Equal(entries, want) {
		t.Errorf("ACL %+v, want %+v", entries, want)
	}
	st, _ := os.Stat(private)
	if st.Mode().Perm() != 0o660 { // the group bits show the mask
		t.Errorf("mode %v", st.Mode())
	}
	// Read access is added to the same entry, not duplicated; granting
	// again changes nothing.
	for i := 0; i < 2; i++ {
		if err := grantAccess(private, q, permRead); err != nil {
			t.Fatal(err)
		}
	}
	if again, _, _ := readACL(private); !slices.Equal(again, want) {
		t.Errorf("ACL after granting again %+v", again)
	}

	// World-readable files need nothing for reading, but do for writing.
	public := file("public", 0o644)
	if err := grantAccess(public, q, permRead); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := readACL(public); ok {
		t.Error("a world-readable file got an ACL for reading")
	}
	if err := grantAccess(public, q, permRead|permWrite); err != nil {
		t.Fatal(err)
	}
	if entries, _, _ := readACL(public); allowed(entries, 0, 0, q) != permRead|permWrite {
		t.Errorf("ACL of the public file %+v", entries)
	}
	// A file QEMU's group may read needs no ACL for reading.
	shared := file("shared", 0o640)
	if err := os.Chown(shared, 0, q.gid); err != nil {
		t.Fatal(err)
	}
	if err := grantAccess(shared, q, permRead); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := readACL(shared); ok {
		t.Error("a group-readable file got an ACL")
	}
	// QEMU as root, or no DAC model: nothing is touched.
	for _, q := range []qemuIdentity{{known: true}, {}} {
		untouched := file("untouched", 0o600)
		if err := grantAccess(untouched, q, permRead|permWrite); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := readACL(untouched); ok {
			t.Errorf("%+v: the file got an ACL", q)
		}
		os.Remove(untouched)
	}
	if err := grantAccess(filepath.Join(dir, "missing"), q, permRead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	var buf [64]byte
	if _, err := unix.Getxattr(private, aclXattr, buf[:]); err != nil {
		t.Errorf("raw ACL: %v", err)
	}
}

// TestInspectDeltaChain lays a two-level delta chain over a split VMDK
// out as QEMU opens it: the top image, each parent with its format, and
// the files libvirt does not relabel, read-write for the top's extents.
func TestInspectDeltaChain(t *testing.T) {
	img := images(t)
	dir := filepath.Dir(img["split.vmdk"])
	mid := filepath.Join(dir, "mid.vmdk")
	top := filepath.Join(dir, "top.vmdk")
	if err := vmdk.Snapshot(img["split.vmdk"], mid, vmdk.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := vmdk.Snapshot(mid, top, vmdk.CreateOptions{Subformat: vmdk.TwoGbMaxExtentSparse}); err != nil {
		t.Fatal(err)
	}
	d, layout, err := inspectDisk(hypervisor.DiskConfig{ID: "d", Path: top})
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != "vmdk" || layout.driver != "vmdk" || layout.file != top || layout.flat != nil {
		t.Errorf("top: config %+v layout %+v", d, layout)
	}
	wantBacking := []backingLayer{{"vmdk", mid}, {"vmdk", img["split.vmdk"]}}
	if !slices.Equal(layout.backing, wantBacking) {
		t.Errorf("backing %+v, want %+v", layout.backing, wantBacking)
	}
	wantGrants := []fileGrant{
		{filepath.Join(dir, "top-s001.vmdk"), permRead | permWrite},
		{mid, permRead},
		{img["split.vmdk"], permRead},
		{filepath.Join(dir, "split-s001.vmdk"), permRead},
	}
	if !slices.Equal(layout.grants, wantGrants) {
		t.Errorf("grants %+v, want %+v", layout.grants, wantGrants)
	}
	_, ro, err := inspectDisk(hypervisor.DiskConfig{ID: "d", Path: top, ReadOnly: true})
	if err != nil || ro.grants[0].perm != permRead {
		t.Errorf("read-only disk grants %+v, %v", ro.grants, err)
	}

	el := diskElement(placedDisk{cfg: d, layout: layout, target: "vda"})
	text, err := el.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var parsed libvirtxml.DomainDisk
	if err := parsed.Unmarshal(text); err != nil {
		t.Fatal(err)
	}
	if parsed.Driver.Type != "vmdk" || parsed.Source.File.File != top {
		t.Errorf("top of the disk element:\n%s", text)
	}
	b := parsed.BackingStore
	for _, layer := range wantBacking {
		if b == nil || b.Format == nil || b.Format.Type != layer.format || b.Source == nil || b.Source.File == nil ||
			b.Source.File.File != layer.file || len(b.Source.File.SecLabel) != 1 || b.Source.File.SecLabel[0] != (libvirtxml.DomainDeviceSecLabel{Model: "dac", Relabel: "no"}) {
			t.Fatalf("no backingStore for %s, with relabel=no:\n%s", layer.file, text)
		}
		b = b.BackingStore
	}
	if b == nil || b.Format != nil || (b.Source != nil && b.Source.File != nil) || b.BackingStore != nil {
		t.Errorf("the chain does not end with an empty backingStore:\n%s", text)
	}
}
