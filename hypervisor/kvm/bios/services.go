package bios

import (
	"encoding/binary"
	"fmt"

	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
)

// video serves int 10h: text output goes to the serial console; mode and
// cursor queries answer as an 80x25 colour text adapter would.
func (g *Gate) video(f *frame) {
	switch f.ah() {
	case 0x0e: // teletype output
		g.out([]byte{f.al()})
	case 0x09, 0x0a: // character (and attribute) CX times
		b := make([]byte, f.cx())
		for i := range b {
			b[i] = f.al()
		}
		g.out(b)
	case 0x13: // write string ES:BP, CX characters; AL bit 1: with attributes
		n, step := uint64(f.cx()), uint64(1)
		if f.al()&2 != 0 {
			step = 2
		}
		raw := make([]byte, n*step)
		if err := g.cfg.Memory.Read(linear(f.es(), f.bp()), raw); err != nil {
			g.report(fmt.Errorf("%w: int 10h AH=13h string at %04x:%04x: %w", ErrFrame, f.es(), f.bp(), err))
			return
		}
		out := make([]byte, 0, n)
		for i := uint64(0); i < uint64(len(raw)); i += step {
			out = append(out, raw[i])
		}
		g.out(out)
	case 0x0f: // current mode: 80 columns, mode 3, page 0
		f.setAX(80<<8 | 3)
		f.setBX(f.bx() & 0x00ff) // BH: page 0
	case 0x03: // cursor position and shape
		f.setCX(0x0607)
		f.setDX(0)
	case 0x08: // character at cursor: a blank, light grey
		f.setAX(0x0720)
	}
	// Mode set, cursor moves, scrolling and palette calls change nothing
	// on a serial console and return nothing.
}

func (g *Gate) out(b []byte) {
	if g.cfg.Console != nil && len(b) > 0 {
		g.cfg.Console.Write(b) //nolint:errcheck // a failing sink must not stall the guest
	}
}

// int 15h status codes.
const (
	sysUnsupported = 0x86
	apmCannotEnter = 0x60
	smap           = 0x534d4150 // "SMAP"
)

// system serves int 15h: the memory map (E820h, E801h, 88h), the A20
// gate and APM power management.
func (g *Gate) system(f *frame) {
	switch ax := f.ax(); {
	case f.u32(frEAX) == 0xe820:
		g.e820(f)
	case ax == 0xe801:
		low, high := g.extendedMemory()
		f.setAX(uint16(low))
		f.setCX(uint16(low))
		f.setBX(uint16(high))
		f.setDX(uint16(high))
		f.ok()
	case f.ah() == 0x88:
		low, high := g.extendedMemory()
		f.setAX(uint16(min(low+high*64, 0xffff)))
		f.ok()
	case ax == 0x2401: // enable A20: it is always enabled
		f.setAH(0)
		f.ok()
	case ax == 0x2402: // A20 status
		f.setAX(0x0001)
		f.ok()
	case ax == 0x2403: // A20 support: port 92h
		f.setAH(0)
		f.setBX(0x0002)
		f.ok()
	case f.ah() == 0x53:
		g.apm(f)
	default:
		// Includes 2400h: the A20 line cannot be disabled on this machine.
		f.fail(sysUnsupported)
	}
}

// extendedMemory is RAM above 1 MiB for E801h: KiB up to 16 MiB and 64 KiB
// blocks from 16 MiB to the PCI hole.
func (g *Gate) extendedMemory() (lowKB, high64K uint64) {
	low, _ := boot.SplitRAM(g.cfg.Memory.Size())
	if low <= 1<<20 {
		return 0, 0
	}
	lowKB = (min(low, 16<<20) - 1<<20) >> 10
	if low > 16<<20 {
		high64K = (low - 16<<20) >> 16
	}
	return lowKB, high64K
}

// e820 returns entry EBX of the memory map into ES:DI.
func (g *Gate) e820(f *frame) {
	m := boot.MemoryMap(g.cfg.Memory.Size())
	i, size := f.u32(frEBX), f.u32(frECX)
	if f.u32(frEDX) != smap || size < 20 || int(i) >= len(m) {
		f.fail(sysUnsupported)
		return
	}
	n := uint32(20)
	if size >= 24 {
		n = 24 // ACPI 3.0 extended attributes: bit 0, "enabled"
	}
	b := make([]byte, n)
	le := binary.LittleEndian
	le.PutUint64(b[0:], m[i].Addr)
	le.PutUint64(b[8:], m[i].Size)
	le.PutUint32(b[16:], m[i].Type)
	if n == 24 {
		le.PutUint32(b[20:], 1)
	}
	at := linear(f.es(), f.di())
	if err := g.cfg.Memory.Write(at, b); err != nil {
		g.report(fmt.Errorf("%w: int 15h E820h buffer at %04x:%04x: %w", ErrFrame, f.es(), f.di(), err))
		f.fail(sysUnsupported)
		return
	}
	next := i + 1
	if int(next) == len(m) {
		next = 0
	}
	f.set32(frEAX, smap)
	f.set32(frEBX, next)
	f.set32(frECX, n)
	f.ok()
}

// apm serves the real-mode APM 1.2 calls a boot loader or DOS uses to
// power the machine off (AX=5307h, BX=0001h, CX=0003h).
func (g *Gate) apm(f *frame) {
	switch f.al() {
	case 0x00: // installation check
		if f.bx() != 0 {
			f.fail(0x09) // unrecognized device ID
			return
		}
		f.setAX(0x0102) // version 1.2
		f.setBX(0x504d) // "PM"
		f.setCX(0x0000) // neither protected-mode interface
		f.ok()
	case 0x01, 0x04, 0x05, 0x06, 0x08, 0x0d, 0x0f: // connect, disconnect, idle, busy, enable
		f.ok()
	case 0x0a: // power status: on line, no battery
		f.setBX(0x01ff)
		f.setCX(0x80ff)
		f.ok()
	case 0x0e: // driver version
		f.setAX(0x0102)
		f.ok()
	case 0x07: // set power state
		switch f.cx() {
		case 0x0000: // ready
			f.ok()
		case 0x0003: // off
			f.ok()
			g.cfg.PowerOff("guest powered off through APM (int 15h AX=5307h)")
		default: // standby, suspend: not on this machine
			f.fail(apmCannotEnter)
		}
	default:
		f.fail(sysUnsupported)
	}
}

// keyboard serves int 16h from the serial line: bytes the UART received
// are keys, queued in the BDA's keyboard buffer so a peek survives.
func (g *Gate) keyboard(f *frame) {
	switch f.ah() {
	case 0x00, 0x10: // read a key (the ROM waits until one is there)
		g.fillKeys()
		key, ok := g.popKey(true)
		if !ok {
			key = 0
		}
		f.setAX(key)
	case 0x01, 0x11: // peek: ZF set when none
		g.fillKeys()
		key, ok := g.popKey(false)
		f.setFlag(flagZF, !ok)
		if ok {
			f.setAX(key)
		}
	case 0x02, 0x12: // shift flags: none
		f.setAX(0)
	case 0x05: // store CH scan code, CL character
		if g.pushKey(uint16(f.ch())<<8 | uint16(f.cl())) {
			f.setAL(0)
		} else {
			f.setAL(1)
		}
	}
}

// UART registers the keyboard reads.
const (
	uartRBR   = 0
	uartLSR   = 5
	lsrDataRd = 0x01
)

// fillKeys moves received serial bytes into the keyboard buffer.
func (g *Gate) fillKeys() {
	if g.cfg.UART == nil {
		return
	}
	for {
		var lsr [1]byte
		g.cfg.UART.Read(uartLSR, lsr[:])
		if lsr[0]&lsrDataRd == 0 {
			return
		}
		var b [1]byte
		g.cfg.UART.Read(uartRBR, b[:])
		if !g.pushKey(keyOf(b[0])) {
			return // full: the byte is dropped, as a PC beeps and drops it
		}
	}
}

// keyOf maps a serial byte to a PC key word: scan code in the high byte
// for the keys boot menus test, the character in the low byte.
func keyOf(c byte) uint16 {
	var scan byte
	switch c {
	case '\r', '\n':
		c, scan = '\r', 0x1c
	case 0x08, 0x7f:
		c, scan = 0x08, 0x0e
	case 0x1b:
		scan = 0x01
	case '\t':
		scan = 0x0f
	case ' ':
		scan = 0x39
	}
	return uint16(scan)<<8 | uint16(c)
}

func (g *Gate) kbdPointers() (head, tail uint16, ok bool) {
	var b [4]byte
	if g.cfg.Memory.Read(bdaKbdHead, b[:]) != nil {
		return 0, 0, false
	}
	head, tail = binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint16(b[2:])
	bad := func(p uint16) bool { return p < kbdBufStart || p >= kbdBufEnd || p%2 != 0 }
	if bad(head) || bad(tail) {
		// The guest scribbled over the BDA: start with an empty buffer.
		head, tail = kbdBufStart, kbdBufStart
	}
	return head, tail, true
}

func nextKbd(p uint16) uint16 {
	if p += 2; p >= kbdBufEnd {
		p = kbdBufStart
	}
	return p
}

func (g *Gate) pushKey(key uint16) bool {
	head, tail, ok := g.kbdPointers()
	if !ok || nextKbd(tail) == head {
		return false
	}
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], key)
	g.cfg.Memory.Write(0x400+uint64(tail), b[:])                                         //nolint:errcheck // read above
	g.cfg.Memory.Write(bdaKbdTail, binary.LittleEndian.AppendUint16(nil, nextKbd(tail))) //nolint:errcheck // read above
	return true
}

func (g *Gate) popKey(remove bool) (uint16, bool) {
	head, tail, ok := g.kbdPointers()
	if !ok || head == tail {
		return 0, false
	}
	var b [2]byte
	g.cfg.Memory.Read(0x400+uint64(head), b[:]) //nolint:errcheck // read above
	if remove {
		g.cfg.Memory.Write(bdaKbdHead, binary.LittleEndian.AppendUint16(nil, nextKbd(head))) //nolint:errcheck // read above
	}
	return binary.LittleEndian.Uint16(b[:]), true
}

// clock serves int 1Ah: the BIOS tick count the timer interrupt keeps in
// the BDA, and the real-time clock read from the host (UTC).
func (g *Gate) clock(f *frame) {
	mem := g.cfg.Memory
	switch f.ah() {
	case 0x00: // ticks since midnight in CX:DX, AL: midnight passed
		var b [5]byte
		mem.Read(bdaTicks, b[:]) //nolint:errcheck // the BDA is RAM
		t := binary.LittleEndian.Uint32(b[:])
		f.setCX(uint16(t >> 16))
		f.setDX(uint16(t))
		f.setAL(b[4])
		mem.Write(bdaMidnight, []byte{0}) //nolint:errcheck // as above
		f.ok()
	case 0x01: // set ticks
		mem.Write(bdaTicks, binary.LittleEndian.AppendUint32(nil, uint32(f.cx())<<16|uint32(f.dx()))) //nolint:errcheck // as above
		mem.Write(bdaMidnight, []byte{0})                                                             //nolint:errcheck // as above
		f.ok()
	case 0x02: // RTC time: CH hours, CL minutes, DH seconds (BCD), DL DST
		t := g.cfg.Now().UTC()
		f.setCX(uint16(bcd(t.Hour()))<<8 | uint16(bcd(t.Minute())))
		f.setDX(uint16(bcd(t.Second())) << 8)
		f.ok()
	case 0x04: // RTC date: CH century, CL year, DH month, DL day (BCD)
		t := g.cfg.Now().UTC()
		f.setCX(uint16(bcd(t.Year()/100))<<8 | uint16(bcd(t.Year()%100)))
		f.setDX(uint16(bcd(int(t.Month())))<<8 | uint16(bcd(t.Day())))
		f.ok()
	case 0x03, 0x05: // set RTC time or date: the host's clock is kept
		f.ok()
	default:
		f.setFlag(flagCF, true)
	}
}

func bcd(v int) byte { return byte(v/10%10<<4 | v%10) }
