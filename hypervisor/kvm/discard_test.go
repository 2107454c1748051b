package kvm

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/vmdk"
)

// allocatedBytes is a file's host storage (holes excluded).
func allocatedBytes(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// checkPunched fails the test where the storage vmdk.Disk.Map places
// [off, off+n) of the disk in still holds data; the file system's blocks
// at the edges of each run may stay allocated.
func checkPunched(t *testing.T, path string, off, n int64) {
	t.Helper()
	d, err := vmdk.Open(path, vmdk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const block = 4096
	err = d.Map(off, n, func(m vmdk.MapEntry) error {
		if m.File == "" {
			return nil // nothing stored at all
		}
		f, err := os.Open(m.File)
		if err != nil {
			return err
		}
		defer f.Close()
		lo, hi := (m.FileOffset+block-1)/block*block, (m.FileOffset+m.Length)/block*block
		if lo >= hi {
			return nil
		}
		next, err := unix.Seek(int(f.Fd()), lo, unix.SEEK_DATA)
		if err != nil && !errors.Is(err, unix.ENXIO) {
			return err
		}
		if err == nil && next < hi {
			t.Errorf("disk bytes %d+%d are still stored at %d of %s", m.Offset, m.Length, next, m.File)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGuestDiscard: the test guest writes 2 MiB into a sparse VMDK, then
// discards its first half and writes zeroes over a quarter through
// virtio-blk. The guest reads zeros there, the grains' storage is punched
// out of the file, qemu-img reads the same content and finds the image
// clean.
func TestGuestDiscard(t *testing.T) {
	e := newTestEngine(t, Options{})
	path := filepath.Join(t.TempDir(), "disk.vmdk")
	if err := vmdk.Create(path, vmdk.CreateOptions{Size: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	m, con, _ := startGuest(t, e, 950, 1, path)
	con.command(t, m, "bench 0 2") // 2 MiB of 0x5a from sector 2048
	full := allocatedBytes(t, path)
	con.command(t, m, "discard 0 2048 2048")
	con.command(t, m, "zeroes 0 5120 1024")
	zeroCRC := fmt.Sprintf("crc=%08x", crc32.ChecksumIEEE(make([]byte, 512)))
	for _, s := range []int{2048, 4095, 5120, 6143} {
		if out := con.command(t, m, fmt.Sprintf("crc 0 %d", s)); out[0] != zeroCRC {
			t.Errorf("sector %d reads %s after discard, want zeros (%s)", s, out[0], zeroCRC)
		}
	}
	dataCRC := fmt.Sprintf("crc=%08x", crc32.ChecksumIEEE(bytes.Repeat([]byte{0x5a}, 512)))
	if out := con.command(t, m, "crc 0 4096"); out[0] != dataCRC {
		t.Errorf("sector 4096 reads %s, want the data written (%s)", out[0], dataCRC)
	}
	if _, status := con.try(t, m, "discard 0 16384 1"); !strings.HasPrefix(status, "err io") {
		t.Errorf("discard past the end of the disk: %q", status)
	}
	if err := m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	// 1.5 MiB were discarded or zeroed, in 64 KiB grains punched in whole
	// 4 KiB file system blocks.
	if freed := full - allocatedBytes(t, path); freed < 24*(64-8)<<10 {
		t.Errorf("discarding 1.5 MiB freed %d bytes", freed)
	}
	checkPunched(t, path, 2048*512, 1<<20)
	checkPunched(t, path, 5120*512, 512<<10)
	got := readVMDK(t, path)
	want := make([]byte, 8<<20)
	copy(want[2<<20:], bytes.Repeat([]byte{0x5a}, 512<<10)) // sectors 4096-5119 are kept
	if !bytes.Equal(got, want) {
		t.Error("qemu-img reads other content than the writes, discards and zeroes leave")
	}
	if out, err := exec.Command("qemu-img", "check", path).CombinedOutput(); err != nil {
		t.Errorf("qemu-img check: %v\n%s", err, out)
	}
}
