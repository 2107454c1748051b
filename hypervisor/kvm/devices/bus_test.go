package devices

import (
	"errors"
	"testing"
)

type probe struct{ off uint64 }

func (p *probe) Read(off uint64, d []byte)  { p.off = off; Put(d, off) }
func (p *probe) Write(off uint64, d []byte) { p.off = off }

func TestBus(t *testing.T) {
	var b Bus
	a, c := &probe{}, &probe{}
	if err := b.Insert(0x100, 0x10, a); err != nil {
		t.Fatal(err)
	}
	if err := b.Insert(0x200, 0x8, c); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]uint64{{0x10f, 2}, {0xf8, 0x10}, {0x100, 1}, {0x1f0, 0x20}, {5, 0}} {
		if err := b.Insert(bad[0], bad[1], &probe{}); err == nil {
			t.Errorf("Insert(%#x, %#x) overlapping or empty succeeded", bad[0], bad[1])
		} else if bad[1] != 0 && !errors.Is(err, ErrOverlap) {
			t.Errorf("Insert(%#x): %v", bad[0], err)
		}
	}
	d := make([]byte, 2)
	if !b.Read(0x10e, d) || a.off != 0xe || Get(d) != 0xe {
		t.Error("read inside the first device")
	}
	if b.Read(0x110, d) || b.Write(0x1ff, d) {
		t.Error("access between devices was routed")
	}
	if !b.Write(0x207, d) || c.off != 7 {
		t.Error("write to the second device")
	}
	if !b.Remove(0x100) || b.Remove(0x100) {
		t.Error("Remove")
	}
	if _, _, ok := b.Lookup(0x100); ok {
		t.Error("removed device still routed")
	}
}

func TestGetPut(t *testing.T) {
	b := make([]byte, 4)
	Put(b, 0x1122334455)
	if Get(b) != 0x22334455 || b[0] != 0x55 {
		t.Errorf("Put/Get little-endian truncation: %x", b)
	}
	w := make([]byte, 3)
	ReadWindow([]byte{1, 2}, 1, w)
	if w[0] != 2 || w[1] != 0 || w[2] != 0 {
		t.Errorf("ReadWindow %v", w)
	}
}
