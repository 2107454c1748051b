package boottest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/hypercim/hypercim/vmdk"
)

// Disk layout the loader (firmware/boottest.S) expects.
const (
	SectorSize  = 512
	DataLBA     = 16
	DataSectors = 32
	ExtWriteLBA = 60 // written with int 13h AH=43h
	CHSWriteLBA = 61 // written with int 13h AH=03h
)

// Build runs make in the firmware directory and returns the BIOS image
// and the boot loader, both written into dir.
func Build(dir string) (firmware, loader string, err error) {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "firmware")
	firmware, loader = filepath.Join(dir, "hypercim-bios"), filepath.Join(dir, "boottest")
	cmd := exec.Command("make", "-s", "-C", src, "OUT="+firmware, "BOOTTEST="+loader)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building the BIOS and the test loader: %w\n%s", err, b)
	}
	return firmware, loader, nil
}

// Data is the content of the data area the loader sums: a pattern no
// two sectors share.
func Data() []byte {
	b := make([]byte, DataSectors*SectorSize)
	for i := 0; i < len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], uint32(i)*2654435761+0x9e3779b9)
	}
	return b
}

// Sum is the 32-bit sum of the data area's little-endian words, which the
// loader prints as lba-sum= and chs-sum=.
func Sum() uint32 {
	var s uint32
	d := Data()
	for i := 0; i < len(d); i += 4 {
		s += binary.LittleEndian.Uint32(d[i:])
	}
	return s
}

// MakeDisk creates a monolithicSparse VMDK of size bytes at path holding
// the loader and the data area.
func MakeDisk(path, loader string, size int64) error {
	code, err := os.ReadFile(loader)
	if err != nil {
		return err
	}
	if len(code) > DataLBA*SectorSize {
		return fmt.Errorf("loader %s is %d bytes, more than the %d before the data area", loader, len(code), DataLBA*SectorSize)
	}
	if err := vmdk.Create(path, vmdk.CreateOptions{Size: size}); err != nil {
		return err
	}
	d, err := vmdk.Open(path, vmdk.OpenOptions{})
	if err != nil {
		return err
	}
	if _, err := d.WriteAt(code, 0); err != nil {
		d.Close()
		return err
	}
	if _, err := d.WriteAt(Data(), DataLBA*SectorSize); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// WrittenSector is what the loader writes at lba: "HC", a tag, then the
// bytes of the offset.
func WrittenSector(lba int64) []byte {
	b := make([]byte, SectorSize)
	for i := range b {
		b[i] = byte(i)
	}
	tag := byte('E')
	if lba == CHSWriteLBA {
		tag = 'C'
	}
	copy(b, []byte{'H', 'C', tag})
	return b
}

// CheckWrites verifies the two sectors the loader wrote in a disk's
// content (a raw image, or enough of one).
func CheckWrites(content []byte) error {
	for _, lba := range []int64{ExtWriteLBA, CHSWriteLBA} {
		off := lba * SectorSize
		if int64(len(content)) < off+SectorSize {
			return fmt.Errorf("content is %d bytes, shorter than sector %d", len(content), lba)
		}
		if got, want := content[off:off+SectorSize], WrittenSector(lba); !bytes.Equal(got, want) {
			return fmt.Errorf("sector %d is %q..., want %q...", lba, got[:8], want[:8])
		}
	}
	return nil
}

// ReadWrites reads the written sectors back through package vmdk.
func ReadWrites(path string) ([]byte, error) {
	d, err := vmdk.Open(path, vmdk.OpenOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	b := make([]byte, (CHSWriteLBA+1)*SectorSize)
	if _, err := d.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// VerifyDisk reads the image at path through package vmdk and checks the
// two sectors the loader wrote.
func VerifyDisk(path string) error {
	content, err := ReadWrites(path)
	if err != nil {
		return err
	}
	return CheckWrites(content)
}
