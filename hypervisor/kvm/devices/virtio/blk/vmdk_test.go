package blk

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hypercim/hypercim/vmdk"
)

// grain is the grain size of the sparse images the tests create.
const grain = 64 << 10

// allocated returns the host storage of a file (holes excluded).
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestDiscardOnVMDK drives DISCARD and WRITE_ZEROES into a real sparse
// VMDK, the backend the VMM gives every disk: the grains' storage is
// released (hypervisor/kvm's TestGuestDiscard also checks where vmdk's Map
// places it), the ranges read as zeros through the device, the data around
// them is intact, and the image stays consistent for vmdk.Check and
// qemu-img check.
func TestDiscardOnVMDK(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.vmdk")
	if err := vmdk.Create(path, vmdk.CreateOptions{Size: 4 << 20, GrainSize: grain}); err != nil {
		t.Fatal(err)
	}
	disk, err := vmdk.Open(path, vmdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	r := newRig(t, disk, false)
	if r.dev.Features()&(1<<featDiscard|1<<featWriteZeroes) != 1<<featDiscard|1<<featWriteZeroes {
		t.Fatal("a writable VMDK disk does not offer discard and write-zeroes")
	}
	// Eight grains of data from sector 0, in 32 KiB requests.
	chunk := bytes.Repeat([]byte("hypercim"), 32<<10/8)
	for s := uint64(0); s < 8*grain/Sector; s += uint64(len(chunk) / Sector) {
		if st, _, _ := r.do(t, reqOut, s, chunk, 0); st != statusOK {
			t.Fatalf("write at sector %d: status %d", s, st)
		}
	}
	if st, _, _ := r.do(t, reqFlush, 0, nil, 0); st != statusOK {
		t.Fatalf("flush: status %d", st)
	}
	full := allocated(t, path)

	seg := func(sector uint64, n uint32) []byte {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, sector)
		binary.LittleEndian.PutUint32(b[8:], n)
		return b
	}
	// Discard grains 2-4 and write zeroes over grains 6-7.
	if st, _, _ := r.do(t, reqDiscard, 0, seg(2*grain/Sector, 3*grain/Sector), 0); st != statusOK {
		t.Fatalf("discard: status %d", st)
	}
	if st, _, _ := r.do(t, reqWriteZeroes, 0, seg(6*grain/Sector, 2*grain/Sector), 0); st != statusOK {
		t.Fatalf("write-zeroes: status %d", st)
	}
	if st, _, _ := r.do(t, reqFlush, 0, nil, 0); st != statusOK {
		t.Fatalf("flush: status %d", st)
	}
	// Each grain's storage is punched in whole file system blocks.
	if freed := full - allocated(t, path); freed < 5*(grain-8<<10) {
		t.Errorf("discard and write-zeroes of 5 grains freed %d bytes of %s", freed, path)
	}
	for s := uint64(0); s < 8*grain/Sector; s += 64 {
		st, _, got := r.do(t, reqIn, s, nil, 64*Sector)
		want := chunk
		if g := s * Sector / grain; g >= 2 && g <= 4 || g >= 6 {
			want = make([]byte, len(chunk))
		}
		if st != statusOK || !bytes.Equal(got, want) {
			t.Fatalf("read at sector %d: status %d, content wrong", s, st)
		}
	}
	if err := disk.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := vmdk.Check(path, vmdk.CheckOptions{})
	if err != nil || !res.Clean() {
		t.Errorf("vmdk.Check: %+v, %v", res, err)
	}
	if _, err := exec.LookPath("qemu-img"); err == nil {
		if out, err := exec.Command("qemu-img", "check", path).CombinedOutput(); err != nil {
			t.Errorf("qemu-img check: %v\n%s", err, out)
		}
	}
}
