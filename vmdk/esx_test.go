package vmdk

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// ESXi snapshot formats cannot be made with qemu-img; these generators
// write them from the format descriptions, and qemu-img (which reads both)
// confirms the generators before our reader is compared with them.

const esxSize = 6 << 20

// esxContent has data in some 4 KiB grains, zeros elsewhere.
func esxContent() []byte {
	b := make([]byte, esxSize)
	for g := 0; g < esxSize/4096; g += 3 {
		for i := 0; i < 4096; i++ {
			b[g*4096+i] = byte(g*7 + i)
		}
	}
	return b
}

// writeCOWD writes a vmfsSparse extent with 4 KiB grains.
func writeCOWD(t *testing.T, path string, content []byte) {
	le := binary.LittleEndian
	const grain = 8 // sectors
	capacity := len(content) / 512
	cover := 4096 * grain
	numGDE := (capacity + cover - 1) / cover
	gdSector, gtSector := 4, 8
	dataSector := gtSector + numGDE*32
	head := make([]byte, 2048)
	copy(head, "COWD")
	le.PutUint32(head[4:], 1)
	le.PutUint32(head[8:], 3)
	le.PutUint32(head[12:], uint32(capacity))
	le.PutUint32(head[16:], grain)
	le.PutUint32(head[20:], uint32(gdSector))
	le.PutUint32(head[24:], uint32(numGDE))
	out := make([]byte, dataSector*512)
	copy(out, head)
	for i := 0; i < numGDE; i++ {
		le.PutUint32(out[gdSector*512+i*4:], uint32(gtSector+i*32))
	}
	next := dataSector
	for g := 0; g < capacity/grain; g++ {
		data := content[g*4096 : (g+1)*4096]
		if isZero(data) {
			continue
		}
		le.PutUint32(out[(gtSector+g/4096*32)*512+g%4096*4:], uint32(next))
		out = append(out, data...)
		next += grain
	}
	le.PutUint32(out[28:], uint32(next))
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSESparse writes an seSparse extent and a descriptor naming it.
func writeSESparse(t *testing.T, dir string, content []byte) string {
	le := binary.LittleEndian
	capacity := len(content) / 512
	const gdSector, gtSector = 8, 16
	numGT := (capacity + 32767) / 32768
	grainsSector := gtSector + numGT*64
	out := make([]byte, grainsSector*512)
	h := []uint64{0xcafebabe, 0x200000001, uint64(capacity), 8, 64, 0, 0, 0, 0, 0,
		1, 1, 2, 1, 3, 1, gdSector, 1, gtSector, uint64(numGT * 64), 4, 1, 5, 1, uint64(grainsSector), 0}
	for i, v := range h {
		le.PutUint64(out[i*8:], v)
	}
	le.PutUint64(out[512:], 0xcafecafe)
	for i := 0; i < numGT; i++ {
		le.PutUint64(out[gdSector*512+i*8:], 0x1000000000000000|uint64(i))
	}
	idx := uint64(0)
	for g := 0; g < capacity/8; g++ {
		data := content[g*4096 : (g+1)*4096]
		var e uint64
		switch {
		case g%5 == 1 && isZero(data):
			e = 0x2000000000000000 // an explicit zero grain
		case isZero(data):
			continue
		default:
			e = 0x3000000000000000 | (idx&0xfff)<<48 | idx>>12
			out = append(out, data...)
			idx++
		}
		le.PutUint64(out[gtSector*512+g/4096*64*512+g%4096*8:], e)
	}
	le.PutUint64(out[25*8:], idx*8)
	if err := os.WriteFile(filepath.Join(dir, "se-sesparse.vmdk"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	desc := filepath.Join(dir, "se.vmdk")
	text := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"seSparse\"\n\n# Extent description\nRW %d SESPARSE \"se-sesparse.vmdk\"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"lsilogic\"\n", capacity)
	os.WriteFile(desc, []byte(text), 0o644)
	return desc
}

func TestESXSnapshotFormats(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	want := esxContent()
	raw := filepath.Join(dir, "want.raw")
	os.WriteFile(raw, want, 0o644)

	// A vmfsSparse descriptor and its COWD extent, as ESXi writes them
	// (qemu only opens COWD through a descriptor).
	cowd := filepath.Join(dir, "cowd-delta.vmdk")
	writeCOWD(t, cowd, want)
	desc := filepath.Join(dir, "cowd.vmdk")
	os.WriteFile(desc, []byte(fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfsSparse\"\nRW %d VMFSSPARSE \"cowd-delta.vmdk\"\n", esxSize/512)), 0o644)
	qemuCompare(t, raw, desc)
	assertSame(t, "vmfsSparse descriptor", readAll(t, desc), want)
	assertSame(t, "bare COWD file", readAll(t, cowd), want)
	if _, err := Open(desc, OpenOptions{}); err == nil {
		t.Fatal("vmfsSparse opened for writing")
	}

	se := writeSESparse(t, dir, want)
	qemuCompare(t, raw, se)
	assertSame(t, "seSparse", readAll(t, se), want)
	in, err := Inspect(se, OpenOptions{})
	if err != nil || in.Subformat != SESparse {
		t.Fatalf("inspect seSparse: %v %+v", err, in)
	}
	// Converting them out is the common use: to a VMDK qemu can check.
	out := filepath.Join(dir, "out.vmdk")
	if err := Convert(se, out, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	qemuCheckClean(t, out)
	qemuCompare(t, raw, out)
}
