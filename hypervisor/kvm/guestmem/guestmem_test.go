package guestmem

import (
	"errors"
	"testing"
)

func TestRegionsAndBounds(t *testing.T) {
	m, err := New(Region{GPA: 0x100000000, Data: make([]byte, 0x1000)}, Region{GPA: 0, Data: make([]byte, 0x2000)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Size() != 0x3000 || m.Regions()[0].GPA != 0 {
		t.Errorf("size %#x regions %v", m.Size(), m.Regions())
	}
	if err := m.PutUint64(0x1ff8, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Uint32(0x1ffc); v != 0x01020304 {
		t.Errorf("Uint32 %#x", v)
	}
	if err := m.PutUint16(0x100000ffe, 0xbeef); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.LoadUint16(0x100000ffe); v != 0xbeef {
		t.Errorf("LoadUint16 %#x", v)
	}
	for _, c := range []struct{ gpa, n uint64 }{
		{0x1fff, 2},                // crosses the end of a region
		{0x2000, 1},                // in the hole
		{0xffffffffffffffff, 2},    // wraps
		{0x100000000, 0x1001},      // too long
		{0x1000, 0xffffffffffffff}, // length overflow
	} {
		if _, err := m.Slice(c.gpa, c.n); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Slice(%#x, %#x): %v", c.gpa, c.n, err)
		}
	}
	b := make([]byte, 4)
	if err := m.Read(0x2000, b); err == nil {
		t.Error("Read in the hole succeeded")
	}
	if err := m.StoreUint16(0x1000, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Region{GPA: 0, Data: make([]byte, 2)}, Region{GPA: 1, Data: make([]byte, 2)}); err == nil {
		t.Error("overlapping regions accepted")
	}
}
