package queue_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/internal/virtqtest"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

func setup(t *testing.T, size uint16) (*virtqtest.Driver, *queue.Queue) {
	t.Helper()
	mem := virtqtest.Memory(1 << 20)
	d := virtqtest.New(mem, 0x1000, size, 0x40000)
	q := queue.New(size)
	if err := d.Configure(q); err != nil {
		t.Fatal(err)
	}
	return d, q
}

func TestPopAndPush(t *testing.T) {
	d, q := setup(t, 8)
	if c, err := q.Pop(); c != nil || err != nil {
		t.Fatalf("empty queue popped %v, %v", c, err)
	}
	in := d.Buffer(5, []byte("hello"))
	out := d.Buffer(16, nil)
	head := d.Chain(virtqtest.Seg{Addr: in, Len: 5}, virtqtest.Seg{Addr: out, Len: 16, Write: true})
	c, err := q.Pop()
	if err != nil || c == nil {
		t.Fatalf("Pop: %v, %v", c, err)
	}
	if c.Head != head || len(c.Readable) != 1 || len(c.Writable) != 1 || c.ReadableLen() != 5 || c.WritableLen() != 16 {
		t.Fatalf("chain %+v", c)
	}
	var got [5]byte
	if n := c.Gather(got[:], 0); n != 5 || string(got[:]) != "hello" {
		t.Errorf("Gather %d %q", n, got)
	}
	if n := c.Scatter([]byte("world"), 3); n != 5 {
		t.Errorf("Scatter %d", n)
	}
	if err := q.Push(c.Head, 8); err != nil {
		t.Fatal(err)
	}
	heads, lens := d.Used()
	if len(heads) != 1 || heads[0] != head || lens[0] != 8 {
		t.Errorf("used %v %v", heads, lens)
	}
	if b := d.Bytes(out, 8); !bytes.Equal(b[3:], []byte("world")) {
		t.Errorf("guest buffer %q", b)
	}
	if c, _ := q.Pop(); c != nil {
		t.Error("a chain was popped twice")
	}
}

func TestWrapAround(t *testing.T) {
	d, q := setup(t, 4)
	buf := d.Buffer(8, nil)
	for i := 0; i < 70000; i++ { // past the 16-bit index wrap
		d.Chain(virtqtest.Seg{Addr: buf, Len: 8, Write: true})
		c, err := q.Pop()
		if err != nil || c == nil {
			t.Fatalf("iteration %d: %v %v", i, c, err)
		}
		if err := q.Push(c.Head, 0); err != nil {
			t.Fatal(err)
		}
		d.Used()
	}
}

func TestIndirect(t *testing.T) {
	d, q := setup(t, 8)
	table := d.Buffer(48, nil)
	a, b, w := d.Buffer(4, []byte("abcd")), d.Buffer(4, []byte("efgh")), d.Buffer(4, nil)
	ind := virtqtest.New(d.Mem, table, 3, 0) // write the table as if it were a descriptor array
	ind.L.DescAddr = table
	ind.Desc(0, a, 4, virtqtest.Next, 1)
	ind.Desc(1, b, 4, virtqtest.Next, 2)
	ind.Desc(2, w, 4, virtqtest.Write, 0)
	d.Desc(0, table, 48, virtqtest.Indirect, 0)
	d.Publish(0)
	c, err := q.Pop()
	if err != nil {
		t.Fatal(err)
	}
	var got [8]byte
	c.Gather(got[:], 0)
	if string(got[:]) != "abcdefgh" || c.WritableLen() != 4 {
		t.Errorf("indirect chain %+v read %q", c, got)
	}
}

// TestMalformed feeds the corruptions a driver can make; each must be an
// error naming the problem, never a panic or an endless walk.
func TestMalformed(t *testing.T) {
	cases := []struct {
		name  string
		build func(d *virtqtest.Driver)
		want  error
	}{
		{"head out of range", func(d *virtqtest.Driver) { d.Publish(300) }, queue.ErrDescIndex},
		{"next out of range", func(d *virtqtest.Driver) {
			d.Desc(0, 0x40000, 4, virtqtest.Next, 99)
			d.Publish(0)
		}, queue.ErrDescIndex},
		{"loop", func(d *virtqtest.Driver) {
			d.Desc(0, 0x40000, 4, virtqtest.Next, 1)
			d.Desc(1, 0x40000, 4, virtqtest.Next, 0)
			d.Publish(0)
		}, queue.ErrChainTooLong},
		{"self loop", func(d *virtqtest.Driver) {
			d.Desc(3, 0x40000, 4, virtqtest.Next, 3)
			d.Publish(3)
		}, queue.ErrChainTooLong},
		{"buffer outside RAM", func(d *virtqtest.Driver) {
			d.Desc(0, 1<<40, 4, 0, 0)
			d.Publish(0)
		}, queue.ErrDescBuffer},
		{"buffer crossing the end of RAM", func(d *virtqtest.Driver) {
			d.Desc(0, 1<<20-2, 4, 0, 0)
			d.Publish(0)
		}, queue.ErrDescBuffer},
		{"readable after writable", func(d *virtqtest.Driver) {
			d.Desc(0, 0x40000, 4, virtqtest.Next|virtqtest.Write, 1)
			d.Desc(1, 0x40000, 4, 0, 0)
			d.Publish(0)
		}, queue.ErrDescOrder},
		{"avail index jump", func(d *virtqtest.Driver) { d.SetAvailIdx(100) }, queue.ErrAvailIndex},
		{"indirect with next", func(d *virtqtest.Driver) {
			d.Desc(0, 0x40000, 32, virtqtest.Indirect|virtqtest.Next, 1)
			d.Publish(0)
		}, queue.ErrIndirect},
		{"nested indirect", func(d *virtqtest.Driver) {
			d.Desc(0, 0x40000, 16, virtqtest.Indirect, 0)
			tbl := virtqtest.New(d.Mem, 0x40000, 1, 0)
			tbl.Desc(0, 0x40000, 16, virtqtest.Indirect, 0)
			d.Publish(0)
		}, queue.ErrIndirect},
		{"indirect table length", func(d *virtqtest.Driver) {
			d.Desc(0, 0x40000, 20, virtqtest.Indirect, 0)
			d.Publish(0)
		}, queue.ErrIndirect},
		{"indirect loop", func(d *virtqtest.Driver) {
			d.Desc(0, 0x40000, 32, virtqtest.Indirect, 0)
			tbl := virtqtest.New(d.Mem, 0x40000, 2, 0)
			tbl.Desc(0, 0x50000, 4, virtqtest.Next, 1)
			tbl.Desc(1, 0x50000, 4, virtqtest.Next, 0)
			d.Publish(0)
		}, queue.ErrChainTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, q := setup(t, 8)
			c.build(d)
			_, err := q.Pop()
			if !errors.Is(err, c.want) {
				t.Errorf("Pop: %v, want %v", err, c.want)
			}
		})
	}
}

func TestActivateValidates(t *testing.T) {
	mem := virtqtest.Memory(64 << 10)
	for _, c := range []struct {
		name string
		set  func(q *queue.Queue)
	}{
		{"size not a power of two", func(q *queue.Queue) { q.Size = 6 }},
		{"size zero", func(q *queue.Queue) { q.Size = 0 }},
		{"size above maximum", func(q *queue.Queue) { q.Size = 16 }},
		{"unaligned descriptors", func(q *queue.Queue) { q.DescAddr = 8 }},
		{"unaligned used ring", func(q *queue.Queue) { q.UsedAddr = 0x3002 }},
		{"rings outside RAM", func(q *queue.Queue) { q.UsedAddr = 1 << 30 }},
	} {
		q := queue.New(8)
		q.DescAddr, q.AvailAddr, q.UsedAddr = 0x1000, 0x2000, 0x3000
		c.set(q)
		if err := q.Activate(mem); !errors.Is(err, queue.ErrQueueConfig) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestWantsInterrupt(t *testing.T) {
	d, q := setup(t, 8)
	if !q.WantsInterrupt() {
		t.Error("interrupts wanted by default")
	}
	d.NoInterrupt(true)
	if q.WantsInterrupt() {
		t.Error("VIRTQ_AVAIL_F_NO_INTERRUPT ignored")
	}
}

func TestSegments(t *testing.T) {
	bufs := [][]byte{[]byte("abc"), []byte("defg"), []byte("hi")}
	var got []string
	for _, s := range queue.Segments(bufs, 2, 8) {
		got = append(got, string(s))
	}
	if want := []string{"c", "defg", "h"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Segments = %q", got)
	}
}

// FuzzPop parses arbitrary ring memory: whatever the bytes, Pop returns a
// chain inside guest memory or an error, and terminates.
func FuzzPop(f *testing.F) {
	f.Add([]byte{}, uint16(4))
	seed := make([]byte, 0x400)
	seed[0x40+2] = 1 // avail idx 1, head 0, descriptor 0: 4 bytes at 0x100
	seed[0] = 0x00
	seed[1] = 0x01
	seed[8] = 4
	f.Add(seed, uint16(4))
	loop := append([]byte(nil), seed...)
	loop[12], loop[14] = 1, 0 // NEXT to itself
	f.Add(loop, uint16(4))
	f.Fuzz(func(t *testing.T, ring []byte, size uint16) {
		if size == 0 || size > 256 || size&(size-1) != 0 {
			return
		}
		mem := make([]byte, 64<<10)
		copy(mem, ring)
		m, err := guestmem.New(guestmem.Region{Data: mem})
		if err != nil {
			t.Fatal(err)
		}
		q := queue.New(size)
		q.DescAddr, q.AvailAddr, q.UsedAddr = 0, 16*uint64(size), 0x8000
		if err := q.Activate(m); err != nil {
			return
		}
		for i := 0; i < 4; i++ {
			c, err := q.Pop()
			if err != nil || c == nil {
				return
			}
			if len(c.Readable)+len(c.Writable) > 1024*2 {
				t.Fatalf("chain of %d buffers", len(c.Readable)+len(c.Writable))
			}
			q.Push(c.Head, uint32(c.WritableLen()))
		}
	})
}
