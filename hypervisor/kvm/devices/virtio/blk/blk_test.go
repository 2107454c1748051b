package blk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/internal/virtqtest"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
)

// memDisk is an in-memory Backend; discard and zero are optional.
type memDisk struct {
	data    []byte
	flushes int
	fail    bool
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if m.fail {
		return 0, errors.New("media error")
	}
	return copy(p, m.data[off:]), nil
}

func (m *memDisk) WriteAt(p []byte, off int64) (int, error) {
	if m.fail {
		return 0, errors.New("media error")
	}
	return copy(m.data[off:], p), nil
}
func (m *memDisk) Flush() error { m.flushes++; return nil }
func (m *memDisk) Size() int64  { return int64(len(m.data)) }

type discardDisk struct {
	memDisk
	discards int
}

func (d *discardDisk) Discard(off, n int64) error {
	d.discards++
	clear(d.data[off : off+n])
	return nil
}

type rig struct {
	drv *virtqtest.Driver
	dev *Device
	irq *virtqtest.Interrupt
}

func newRig(t *testing.T, b Backend, ro bool) *rig {
	t.Helper()
	drv := virtqtest.New(virtqtest.Memory(1<<20), 0x1000, 16, 0x20000)
	q := queue.New(queueSize)
	q.MaxSize = 16
	if err := drv.Configure(q); err != nil {
		t.Fatal(err)
	}
	dev := New("disk0", "serial-0", b, ro)
	irq := &virtqtest.Interrupt{}
	if err := dev.Activate(drv.Mem, 0, []*queue.Queue{q}, irq); err != nil {
		t.Fatal(err)
	}
	return &rig{drv, dev, irq}
}

func header(typ uint32, sector uint64) []byte {
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h, typ)
	binary.LittleEndian.PutUint64(h[8:], sector)
	return h
}

// do submits one request and returns the status byte, used length and
// the data read. Its buffers are reused by the next request.
func (r *rig) do(t *testing.T, typ uint32, sector uint64, out []byte, in int) (byte, uint32, []byte) {
	t.Helper()
	defer func(base uint64) { r.drv.Data = base }(r.drv.Data)
	segs := []virtqtest.Seg{{Addr: r.drv.Buffer(16, header(typ, sector)), Len: 16}}
	if out != nil {
		segs = append(segs, virtqtest.Seg{Addr: r.drv.Buffer(len(out), out), Len: uint32(len(out))})
	}
	var inAddr uint64
	if in > 0 {
		inAddr = r.drv.Buffer(in, nil)
		segs = append(segs, virtqtest.Seg{Addr: inAddr, Len: uint32(in), Write: true})
	}
	st := r.drv.Buffer(1, []byte{0xee})
	segs = append(segs, virtqtest.Seg{Addr: st, Len: 1, Write: true})
	r.drv.Chain(segs...)
	r.dev.Notify(0)
	_, lens := r.drv.Used()
	if len(lens) != 1 {
		t.Fatalf("%d used entries, want 1", len(lens))
	}
	var data []byte
	if in > 0 {
		data = r.drv.Bytes(inAddr, in)
	}
	return r.drv.Bytes(st, 1)[0], lens[0], data
}

func TestReadWriteFlush(t *testing.T) {
	disk := &memDisk{data: make([]byte, 64*Sector)}
	r := newRig(t, disk, false)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64) // two sectors
	if st, n, _ := r.do(t, reqOut, 3, payload, 0); st != statusOK || n != 1 {
		t.Fatalf("write: status %d, used %d", st, n)
	}
	if !bytes.Equal(disk.data[3*Sector:5*Sector], payload) {
		t.Error("write did not reach the backend")
	}
	st, n, got := r.do(t, reqIn, 3, nil, 2*Sector)
	if st != statusOK || n != 2*Sector+1 || !bytes.Equal(got, payload) {
		t.Errorf("read: status %d, used %d, data ok %v", st, n, bytes.Equal(got, payload))
	}
	if st, _, _ := r.do(t, reqFlush, 0, nil, 0); st != statusOK || disk.flushes != 1 {
		t.Errorf("flush: status %d, flushes %d", st, disk.flushes)
	}
	if st, n, id := r.do(t, reqGetID, 0, nil, 20); st != statusOK || n != 21 || string(bytes.TrimRight(id, "\x00")) != "serial-0" {
		t.Errorf("get-id: %d %d %q", st, n, id)
	}
	s := r.dev.Stats()
	if s.ReadOps != 1 || s.WriteOps != 1 || s.ReadBytes != 2*Sector || s.WriteBytes != 2*Sector || s.FlushOps != 1 {
		t.Errorf("stats %+v", s)
	}
	if r.irq.Signals == 0 {
		t.Error("no used-buffer interrupt")
	}
}

func TestRequestErrors(t *testing.T) {
	disk := &memDisk{data: make([]byte, 8*Sector)}
	r := newRig(t, disk, false)
	cases := []struct {
		name   string
		typ    uint32
		sector uint64
		out    []byte
		in     int
		want   byte
	}{
		{"read past the end", reqIn, 7, nil, 2 * Sector, statusIOErr},
		{"write past the end", reqOut, 8, make([]byte, Sector), 0, statusIOErr},
		{"huge sector", reqIn, 1 << 62, nil, Sector, statusIOErr},
		{"partial sector", reqIn, 0, nil, 100, statusIOErr},
		{"unknown type", 99, 0, nil, 0, statusUnsupp},
	}
	for _, c := range cases {
		if st, _, _ := r.do(t, c.typ, c.sector, c.out, c.in); st != c.want {
			t.Errorf("%s: status %d, want %d", c.name, st, c.want)
		}
	}
	disk.fail = true
	if st, _, _ := r.do(t, reqIn, 0, nil, Sector); st != statusIOErr {
		t.Errorf("backend failure: status %d", st)
	}
	if len(r.irq.ResetErrs) != 0 {
		t.Errorf("valid requests broke the device: %v", r.irq.ResetErrs)
	}
}

func TestReadOnly(t *testing.T) {
	disk := &memDisk{data: make([]byte, 8*Sector)}
	r := newRig(t, disk, true)
	if r.dev.Features()&(1<<featRO) == 0 {
		t.Error("read-only disk does not offer VIRTIO_BLK_F_RO")
	}
	if st, _, _ := r.do(t, reqOut, 0, make([]byte, Sector), 0); st != statusIOErr {
		t.Errorf("write to read-only disk: status %d", st)
	}
}

func TestDiscardAndWriteZeroes(t *testing.T) {
	seg := func(sector uint64, n uint32) []byte {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, sector)
		binary.LittleEndian.PutUint32(b[8:], n)
		return b
	}
	for _, b := range []Backend{&memDisk{data: bytes.Repeat([]byte{1}, 16*Sector)}, &discardDisk{memDisk: memDisk{data: bytes.Repeat([]byte{1}, 16*Sector)}}} {
		r := newRig(t, b, false)
		if st, _, _ := r.do(t, reqWriteZeroes, 0, seg(2, 2), 0); st != statusOK {
			t.Fatalf("write-zeroes: %d", st)
		}
		if st, _, _ := r.do(t, reqDiscard, 0, seg(8, 4), 0); st != statusOK {
			t.Fatalf("discard: %d", st)
		}
		var data []byte
		switch d := b.(type) {
		case *memDisk:
			data = d.data
		case *discardDisk:
			data = d.data
			if d.discards == 0 {
				t.Error("backend Discard not used")
			}
		}
		if !bytes.Equal(data[2*Sector:4*Sector], make([]byte, 2*Sector)) || data[4*Sector] != 1 {
			t.Error("write-zeroes did not zero exactly its range")
		}
		if st, _, _ := r.do(t, reqDiscard, 0, seg(15, 2), 0); st != statusIOErr {
			t.Error("discard past the end succeeded")
		}
		if st, _, _ := r.do(t, reqDiscard, 0, append(seg(0, 1), seg(1, 1)...), 0); st != statusUnsupp {
			t.Error("two discard segments accepted despite max_discard_seg=1")
		}
	}
}

// TestMalformedChain: a chain without room for the status byte breaks the
// device (DEVICE_NEEDS_RESET) instead of being answered or crashing.
func TestMalformedChain(t *testing.T) {
	r := newRig(t, &memDisk{data: make([]byte, 8*Sector)}, false)
	r.drv.Chain(virtqtest.Seg{Addr: r.drv.Buffer(16, header(reqIn, 0)), Len: 16})
	r.dev.Notify(0)
	if len(r.irq.ResetErrs) != 1 || !errors.Is(r.irq.ResetErrs[0], ErrRequest) {
		t.Errorf("reset errors %v", r.irq.ResetErrs)
	}
	r.drv.Publish(200) // further input is ignored until the driver resets
	r.dev.Notify(0)
	if len(r.irq.ResetErrs) != 1 {
		t.Errorf("a broken device kept processing: %v", r.irq.ResetErrs)
	}
}

func TestConfigSpace(t *testing.T) {
	dev := New("d", "s", &memDisk{data: make([]byte, 100*Sector)}, false)
	var c [8]byte
	dev.ReadConfig(0, c[:])
	if binary.LittleEndian.Uint64(c[:]) != 100 {
		t.Errorf("capacity %d", binary.LittleEndian.Uint64(c[:]))
	}
	var b [4]byte
	dev.ReadConfig(20, b[:])
	if binary.LittleEndian.Uint32(b[:]) != Sector {
		t.Errorf("blk_size %d", binary.LittleEndian.Uint32(b[:]))
	}
	dev.ReadConfig(4096, b[:])
	if b != [4]byte{} {
		t.Error("bytes beyond the config space are not zero")
	}
}
