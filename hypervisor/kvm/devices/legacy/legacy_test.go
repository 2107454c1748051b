package legacy

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
)

type irqLine struct {
	mu     sync.Mutex
	level  bool
	rising int
}

func (l *irqLine) SetLevel(h bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h && !l.level {
		l.rising++
	}
	l.level = h
	return nil
}
func (l *irqLine) Pulse() error { l.SetLevel(true); return l.SetLevel(false) }

func rd(d interface{ Read(uint64, []byte) }, off uint64) byte {
	b := []byte{0}
	d.Read(off, b)
	return b[0]
}

func wr(d interface{ Write(uint64, []byte) }, off uint64, v byte) { d.Write(off, []byte{v}) }

func TestSerialOutputInputAndInterrupts(t *testing.T) {
	var out bytes.Buffer
	irq := &irqLine{}
	s := NewSerial(&out, irq)
	wr(s, uartMCR, mcrOUT2|mcrDTR|mcrRTS)
	for _, c := range []byte("hi") {
		if rd(s, uartLSR)&lsrTHRE == 0 {
			t.Fatal("THR never empty")
		}
		wr(s, uartRBR, c)
	}
	if out.String() != "hi" {
		t.Errorf("output %q", out.String())
	}
	wr(s, uartIER, ierRDI)
	if irq.level {
		t.Error("interrupt with nothing received")
	}
	if _, err := s.Input([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if !irq.level || rd(s, uartIIR)&0x0f != iirRDI {
		t.Error("received data did not raise the interrupt")
	}
	if rd(s, uartRBR) != 'a' || rd(s, uartRBR) != 'b' || rd(s, uartLSR)&lsrDR != 0 || irq.level {
		t.Error("reading the FIFO empty must lower the interrupt")
	}
	// THR-empty interrupt: raised when enabled, cleared by reading IIR.
	wr(s, uartIER, ierTHRI)
	if !irq.level || rd(s, uartIIR)&0x0f != iirTHRI || irq.level {
		t.Error("THRE interrupt")
	}
	// OUT2 gates the line.
	wr(s, uartMCR, 0)
	s.Input([]byte("x"))
	wr(s, uartIER, ierRDI)
	if irq.level {
		t.Error("interrupt reached the PIC with OUT2 clear")
	}
	// Divisor latch.
	wr(s, uartLCR, lcrDLAB)
	wr(s, uartRBR, 0x01)
	if rd(s, uartRBR) != 0x01 {
		t.Error("DLL")
	}
	wr(s, uartLCR, 0x03)
	// Snapshot state round-trips, input included.
	st := s.State()
	s2 := NewSerial(&out, &irqLine{})
	s2.SetState(st)
	if rd(s2, uartRBR) != 'x' {
		t.Error("pending input lost across SetState")
	}
}

func TestSerialLoopbackAndOverflow(t *testing.T) {
	var out bytes.Buffer
	s := NewSerial(&out, nil)
	wr(s, uartMCR, mcrLoop|mcrRTS)
	wr(s, uartRBR, 'z')
	if out.Len() != 0 || rd(s, uartRBR) != 'z' || rd(s, uartMSR)&msrCTS == 0 {
		t.Error("loopback")
	}
	n, err := s.Input(make([]byte, MaxSerialInput+10))
	if n != MaxSerialInput || !errors.Is(err, ErrInputFull) || rd(s, uartLSR)&lsrOE == 0 {
		t.Errorf("overflow: %d %v", n, err)
	}
	wr(s, uartIIR, fcrEnable|fcrClearRX)
	if rd(s, uartLSR)&lsrDR != 0 {
		t.Error("FCR did not clear the receive FIFO")
	}
}

func TestI8042(t *testing.T) {
	var resets []string
	irq := &irqLine{}
	k := NewI8042(irq, func(r string) { resets = append(resets, r) })
	const data, cmd = 0, 4
	wr(k, cmd, 0xaa)
	if rd(k, cmd)&i8042OBF == 0 || rd(k, data) != 0x55 {
		t.Error("self-test")
	}
	wr(k, cmd, 0x20)
	ctr := rd(k, data)
	if ctr != ctrDefaults {
		t.Errorf("CTR %#x", ctr)
	}
	wr(k, data, 0xf2) // identify
	if got := []byte{rd(k, data), rd(k, data), rd(k, data)}; !bytes.Equal(got, []byte{0xfa, 0xab, 0x83}) {
		t.Errorf("identify %x", got)
	}
	k.SendCtrlAltDel()
	if !irq.level {
		t.Error("keys did not raise IRQ 1")
	}
	var keys []byte
	for rd(k, cmd)&i8042OBF != 0 {
		keys = append(keys, rd(k, data))
	}
	if !bytes.Equal(keys, []byte{0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d}) || irq.level {
		t.Errorf("Ctrl+Alt+Del in set 1: %x (irq %v)", keys, irq.level)
	}
	wr(k, cmd, 0x60)
	wr(k, data, ctr&^ctrXlate) // translation off: set 2 codes
	k.SendCtrlAltDel()
	if rd(k, data) != 0x14 {
		t.Error("untranslated scancodes")
	}
	wr(k, cmd, 0xfe)
	wr(k, cmd, 0xd1)
	wr(k, data, 0x00)
	if len(resets) != 2 || !strings.Contains(resets[0], "0xfe") {
		t.Errorf("resets %q", resets)
	}
	st := k.State()
	k2 := NewI8042(nil, nil)
	k2.SetState(st)
	if rd(k2, data) != rd(k, data) {
		t.Error("state round trip")
	}
}

func TestResetAndExitPorts(t *testing.T) {
	var got []string
	r := NewResetControl(func(s string) { got = append(got, s) })
	wr(r, 0, 0x02)
	wr(r, 0, 0x06)
	a := NewSystemControlA(func(s string) { got = append(got, s) })
	if rd(a, 0)&0x02 == 0 {
		t.Error("A20 not reported enabled")
	}
	wr(a, 0, 0x01)
	if len(got) != 2 || !strings.Contains(got[0], "0xcf9") || !strings.Contains(got[1], "0x92") {
		t.Errorf("resets %q", got)
	}
	var code = -1
	wr(NewDebugExit(func(c uint8) { code = int(c) }), 0, 7)
	if code != 7 {
		t.Errorf("debug exit code %d", code)
	}
	var panics []string
	p := NewPVPanic(func(s string) { panics = append(panics, s) })
	if rd(p, 0) != 0x03 {
		t.Error("pvpanic capabilities")
	}
	wr(p, 0, 0)
	wr(p, 0, 1)
	if len(panics) != 1 {
		t.Errorf("panics %q", panics)
	}
	var post POST
	wr(&post, 0, 0x42)
	if post.Last() != 0x42 || rd(&post, 0) != 0x42 {
		t.Error("POST code")
	}
}
