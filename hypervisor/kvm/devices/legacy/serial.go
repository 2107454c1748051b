package legacy

import (
	"errors"
	"io"
	"sync"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
)

// COM1 is the first serial port's base I/O port and ISA interrupt.
const (
	COM1Port = 0x3f8
	COM1IRQ  = 4
	// SerialPorts is the width of a UART's register block.
	SerialPorts = 8
)

// 16550A register offsets, and bits of the registers the model implements.
const (
	uartRBR = 0 // receive buffer (read), THR (write), DLL when LCR.DLAB
	uartIER = 1 // interrupt enable, DLM when LCR.DLAB
	uartIIR = 2 // interrupt identification (read), FCR (write)
	uartLCR = 3
	uartMCR = 4
	uartLSR = 5
	uartMSR = 6
	uartSCR = 7

	ierRDI  = 0x01 // received data available
	ierTHRI = 0x02 // transmitter holding register empty
	ierRLSI = 0x04 // receiver line status

	iirNone  = 0x01
	iirRLSI  = 0x06
	iirRDI   = 0x04
	iirTHRI  = 0x02
	iirFIFOs = 0xc0 // FIFOs enabled, reported in the top bits of IIR

	lcrDLAB = 0x80

	mcrDTR  = 0x01
	mcrRTS  = 0x02
	mcrOUT1 = 0x04
	mcrOUT2 = 0x08
	mcrLoop = 0x10

	lsrDR   = 0x01 // data ready
	lsrOE   = 0x02 // overrun
	lsrTHRE = 0x20
	lsrTEMT = 0x40

	msrCTS = 0x10
	msrDSR = 0x20
	msrRI  = 0x40
	msrDCD = 0x80

	fcrEnable  = 0x01
	fcrClearRX = 0x02
)

// MaxSerialInput bounds the host input waiting for the guest to read it.
const MaxSerialInput = 64 << 10

// ErrInputFull is returned by Serial.Input when the guest is not reading.
var ErrInputFull = errors.New("serial input buffer full: the guest is not reading its console")

// Serial is a 16550A UART. What the guest transmits goes to the output
// writer at once (there is no baud-rate delay); host input waits in a
// buffer that stands in for the receive FIFO.
type Serial struct {
	mu     sync.Mutex
	out    io.Writer
	irq    devices.InterruptLine
	regs   SerialState
	thriOn bool // THR-empty interrupt pending (cleared by IIR read or THR write)
	level  bool // current level of the interrupt line
}

// SerialState is the UART's register file and pending input: everything a
// snapshot needs to continue the port where it was.
type SerialState struct {
	IER, LCR, MCR, LSR, SCR, FCR uint8
	DLL, DLM                     uint8
	THRIPending                  bool
	Input                        []byte
}

// NewSerial returns a UART that writes guest output to out and raises irq.
func NewSerial(out io.Writer, irq devices.InterruptLine) *Serial {
	return &Serial{out: out, irq: irq, regs: SerialState{
		LSR: lsrTHRE | lsrTEMT,
		MCR: mcrOUT2,
		DLL: 0x0c, // 9600 baud, what firmware leaves behind
	}}
}

// Read implements devices.Device.
func (s *Serial) Read(offset uint64, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range data {
		data[i] = s.readReg(offset + uint64(i))
	}
	s.updateIRQ()
}

func (s *Serial) readReg(off uint64) uint8 {
	r := &s.regs
	switch off {
	case uartRBR:
		if r.LCR&lcrDLAB != 0 {
			return r.DLL
		}
		if len(r.Input) == 0 {
			return 0
		}
		b := r.Input[0]
		r.Input = r.Input[1:]
		if len(r.Input) == 0 {
			r.Input = nil
		}
		return b
	case uartIER:
		if r.LCR&lcrDLAB != 0 {
			return r.DLM
		}
		return r.IER
	case uartIIR:
		id := s.pending()
		if id == iirTHRI {
			s.thriOn = false // reading IIR acknowledges THR empty
		}
		if r.FCR&fcrEnable != 0 {
			id |= iirFIFOs
		}
		return id
	case uartLCR:
		return r.LCR
	case uartMCR:
		return r.MCR
	case uartLSR:
		lsr := r.LSR
		if len(r.Input) > 0 {
			lsr |= lsrDR
		}
		r.LSR &^= lsrOE // overrun is cleared by reading LSR
		return lsr
	case uartMSR:
		if r.MCR&mcrLoop != 0 {
			var msr uint8
			if r.MCR&mcrDTR != 0 {
				msr |= msrDSR
			}
			if r.MCR&mcrRTS != 0 {
				msr |= msrCTS
			}
			if r.MCR&mcrOUT1 != 0 {
				msr |= msrRI
			}
			if r.MCR&mcrOUT2 != 0 {
				msr |= msrDCD
			}
			return msr
		}
		return msrDCD | msrDSR | msrCTS
	case uartSCR:
		return r.SCR
	}
	return 0xff
}

// Write implements devices.Device.
func (s *Serial) Write(offset uint64, data []byte) {
	s.mu.Lock()
	var out []byte
	for i, v := range data {
		if b, ok := s.writeReg(offset+uint64(i), v); ok {
			out = append(out, b)
		}
	}
	s.updateIRQ()
	w := s.out
	s.mu.Unlock()
	if len(out) > 0 && w != nil {
		w.Write(out) //nolint:errcheck // a failing console must not stall the guest
	}
}

// writeReg stores one register and returns a byte to transmit, if any.
func (s *Serial) writeReg(off uint64, v uint8) (byte, bool) {
	r := &s.regs
	switch off {
	case uartRBR:
		if r.LCR&lcrDLAB != 0 {
			r.DLL = v
			return 0, false
		}
		s.thriOn = true // transmission is instant, so THR is empty again
		if r.MCR&mcrLoop != 0 {
			s.pushInput([]byte{v})
			return 0, false
		}
		return v, true
	case uartIER:
		if r.LCR&lcrDLAB != 0 {
			r.DLM = v
			return 0, false
		}
		if v&ierTHRI != 0 && r.IER&ierTHRI == 0 {
			s.thriOn = true // enabling THRI with THR empty interrupts at once
		}
		r.IER = v & 0x0f
	case uartIIR: // FCR
		r.FCR = v & 0xc9
		if v&fcrClearRX != 0 {
			r.Input = nil
		}
	case uartLCR:
		r.LCR = v
	case uartMCR:
		r.MCR = v & 0x1f
	case uartLSR, uartMSR:
		// read-only; writes are ignored as on real hardware
	case uartSCR:
		r.SCR = v
	}
	return 0, false
}

// pending returns the IIR code of the highest-priority pending interrupt.
func (s *Serial) pending() uint8 {
	r := &s.regs
	switch {
	case r.IER&ierRLSI != 0 && r.LSR&lsrOE != 0:
		return iirRLSI
	case r.IER&ierRDI != 0 && len(r.Input) > 0:
		return iirRDI
	case r.IER&ierTHRI != 0 && s.thriOn:
		return iirTHRI
	}
	return iirNone
}

// updateIRQ drives the line to match the pending state; the PIC and IOAPIC
// see a rising edge each time a new interrupt condition appears. OUT2 gates
// the line to the interrupt controller, as on a PC.
func (s *Serial) updateIRQ() {
	want := s.pending() != iirNone && s.regs.MCR&mcrOUT2 != 0
	if want != s.level && s.irq != nil {
		s.level = want
		s.irq.SetLevel(want) //nolint:errcheck // KVM_IRQ_LINE fails only on a dead VM
	}
}

// Input queues bytes for the guest to read, as if typed on the line.
func (s *Serial) Input(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.pushInput(p)
	s.updateIRQ()
	if n < len(p) {
		return n, ErrInputFull
	}
	return n, nil
}

func (s *Serial) pushInput(p []byte) int {
	room := MaxSerialInput - len(s.regs.Input)
	if room < len(p) {
		s.regs.LSR |= lsrOE
		p = p[:max(room, 0)]
	}
	s.regs.Input = append(s.regs.Input, p...)
	return len(p)
}

// State returns a copy of the UART's state for a snapshot.
func (s *Serial) State() SerialState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.regs
	st.Input = append([]byte(nil), s.regs.Input...)
	st.THRIPending = s.thriOn
	return st
}

// SetState restores a snapshot's UART state and re-raises its interrupt.
func (s *Serial) SetState(st SerialState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regs = st
	s.regs.Input = append([]byte(nil), st.Input...)
	s.thriOn = st.THRIPending
	s.level = false
	s.updateIRQ()
}
