package vmm

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/hypervisor/kvm"
	"github.com/hypercim/hypercim/vmdk"
)

// TestRecoverIntents plays the state a crash leaves behind: a definition
// that created its image but never committed, a destruction that passed
// its point of no return, a file on the trash list. Open must roll the
// first back, finish the second and delete the third.
func TestRecoverIntents(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("no /dev/kvm")
	}
	dir := t.TempDir()
	st, err := OpenBoltStore(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool := filepath.Join(dir, "virt", "images")
	os.MkdirAll(pool, 0o750)
	half := filepath.Join(pool, "half.vmdk")
	gone := filepath.Join(pool, "gone.vmdk")
	trashed := filepath.Join(pool, "trashed.vmdk")
	for _, p := range []string{half, gone, trashed} {
		if err := vmdk.Create(p, vmdk.CreateOptions{Size: 1 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	kernel := filepath.Join(dir, "boot", "kernel")
	os.MkdirAll(filepath.Dir(kernel), 0o750)
	os.WriteFile(kernel, []byte("x"), 0o644)
	const doomed = "11111111-2222-4333-8444-555555555555"
	err = st.Update(func(tx Tx) error {
		rec := &systemRecord{UUID: doomed, Def: Definition{Name: "doomed", VCPUs: 1, MemoryMiB: 16, Kernel: kernel,
			Disks: []Disk{{ID: "disk0", Image: "gone.vmdk", Format: "vmdk", Owned: true}}},
			Images: map[string]*imageRecord{"gone.vmdk": {Created: true}}}
		if err := putJSON(tx, bucketSystems, doomed, rec); err != nil {
			return err
		}
		if err := putJSON(tx, bucketIntents, "i1", &intent{ID: "i1", Op: "define", System: "aaaaaaaa-0000-4000-8000-000000000000",
			Images: []string{"half.vmdk"}, Undefine: true}); err != nil {
			return err
		}
		if err := putJSON(tx, bucketIntents, "i2", &intent{ID: "i2", Op: "destroy", System: doomed, Forward: true}); err != nil {
			return err
		}
		return tx.Put(bucketTrash, trashImage("trashed.vmdk"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := kvm.New(kvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.ErrorLevel)
	m, err := Open(context.Background(), Options{Engine: eng, Store: st, DataDir: filepath.Join(dir, "virt"),
		BootDirs: []string{filepath.Dir(kernel)}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	for _, p := range []string{half, gone, trashed} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survives recovery: %v", p, err)
		}
	}
	if n := len(m.Systems()); n != 0 {
		t.Errorf("%d systems after recovery, want the destroyed one gone", n)
	}
	st.View(func(tx Tx) error {
		for _, b := range []string{bucketIntents, bucketTrash, bucketSystems} {
			tx.ForEach(b, func(k string, _ []byte) error {
				t.Errorf("%s/%s left after recovery", b, k)
				return nil
			})
		}
		return nil
	})
}
