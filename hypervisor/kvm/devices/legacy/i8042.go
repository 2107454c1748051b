package legacy

import (
	"sync"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
)

// The i8042 keyboard controller's ports and interrupt.
const (
	I8042DataPort    = 0x60
	I8042CommandPort = 0x64
	I8042KeyboardIRQ = 1
)

// Status register bits.
const (
	i8042OBF  = 0x01 // output buffer full
	i8042SYS  = 0x04 // system flag, set after self-test
	i8042CMD  = 0x08 // last write was to the command port
	i8042KBEN = 0x10 // keyboard not inhibited
	i8042AUX  = 0x20 // output buffer holds AUX data
)

// Controller configuration byte bits.
const (
	ctrKbdInt   = 0x01
	ctrAuxInt   = 0x02
	ctrSys      = 0x04
	ctrKbdOff   = 0x10
	ctrAuxOff   = 0x20
	ctrXlate    = 0x40
	ctrDefaults = ctrKbdInt | ctrSys | ctrAuxOff | ctrXlate
)

// I8042 emulates the PS/2 controller with a keyboard and no mouse. The
// guest resets the machine with command 0xFE (Linux reboot=k) or by
// clearing the reset bit of the output port; the host asks the guest to
// shut down by typing Ctrl+Alt+Del (SendCtrlAltDel), the one power request
// every PC operating system understands without ACPI.
type I8042 struct {
	mu      sync.Mutex
	irq     devices.InterruptLine
	reset   func(reason string)
	st      I8042State
	pulsing bool // keyboard line level driven high, lowered on next read
}

// I8042State is the controller's state for snapshots.
type I8042State struct {
	CTR     uint8
	Status  uint8
	Pending uint8 // controller command waiting for its data byte, or 0
	KbdCmd  uint8 // keyboard command waiting for its parameter, or 0
	Out     []I8042Byte
}

// I8042Byte is one byte queued for the guest and whether it is AUX data.
type I8042Byte struct {
	Value uint8
	Aux   bool
}

// NewI8042 returns a controller raising irq for keyboard data and calling
// reset when the guest pulses the CPU reset line.
func NewI8042(irq devices.InterruptLine, reset func(reason string)) *I8042 {
	return &I8042{irq: irq, reset: reset, st: I8042State{CTR: ctrDefaults, Status: i8042SYS | i8042KBEN}}
}

// Read implements devices.Device for both ports, inserted at 0x60 with a
// width of 5 (0x60 data, 0x64 status).
func (k *I8042) Read(offset uint64, data []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch offset {
	case 0:
		data[0] = k.pop()
	case 4:
		data[0] = k.status()
	default:
		data[0] = 0xff
	}
	for i := 1; i < len(data); i++ {
		data[i] = 0xff
	}
	k.updateIRQ()
}

// Write implements devices.Device.
func (k *I8042) Write(offset uint64, data []byte) {
	k.mu.Lock()
	var resetReason string
	switch offset {
	case 0:
		k.st.Status &^= i8042CMD
		resetReason = k.dataWrite(data[0])
	case 4:
		k.st.Status |= i8042CMD
		resetReason = k.command(data[0])
	}
	k.updateIRQ()
	k.mu.Unlock()
	if resetReason != "" && k.reset != nil {
		k.reset(resetReason)
	}
}

func (k *I8042) status() uint8 {
	s := k.st.Status
	if len(k.st.Out) > 0 {
		s |= i8042OBF
		if k.st.Out[0].Aux {
			s |= i8042AUX
		}
	}
	return s
}

func (k *I8042) pop() uint8 {
	if len(k.st.Out) == 0 {
		return 0
	}
	b := k.st.Out[0]
	k.st.Out = k.st.Out[1:]
	if len(k.st.Out) == 0 {
		k.st.Out = nil
	}
	return b.Value
}

func (k *I8042) push(aux bool, bs ...uint8) {
	for _, b := range bs {
		if len(k.st.Out) < 64 {
			k.st.Out = append(k.st.Out, I8042Byte{Value: b, Aux: aux})
		}
	}
}

// command handles a write to port 0x64 and returns a reset reason, if any.
func (k *I8042) command(c uint8) string {
	switch c {
	case 0x20: // read configuration byte
		k.push(false, k.st.CTR)
	case 0x60, 0xd1, 0xd2, 0xd3, 0xd4: // commands followed by a data byte
		k.st.Pending = c
	case 0xa7:
		k.st.CTR |= ctrAuxOff
	case 0xa8:
		k.st.CTR &^= ctrAuxOff
	case 0xa9: // test AUX port: there is none
		k.push(false, 0xff)
	case 0xaa: // controller self-test
		k.st.Status |= i8042SYS
		k.push(false, 0x55)
	case 0xab: // keyboard interface test
		k.push(false, 0x00)
	case 0xad:
		k.st.CTR |= ctrKbdOff
	case 0xae:
		k.st.CTR &^= ctrKbdOff
	case 0xd0: // read output port: reset line inactive, A20 on
		k.push(false, 0x03)
	case 0xfe:
		return "guest pulsed the reset line through the i8042 (command 0xfe)"
	default:
		if c >= 0xf0 && c&0x01 == 0 { // pulse output lines, bit 0 is CPU reset
			return "guest pulsed the reset line through the i8042"
		}
	}
	return ""
}

// dataWrite handles a write to port 0x60: a parameter for a pending
// controller command, or a command for the keyboard itself.
func (k *I8042) dataWrite(v uint8) string {
	if p := k.st.Pending; p != 0 {
		k.st.Pending = 0
		switch p {
		case 0x60:
			k.st.CTR = v
		case 0xd1: // write output port; bit 0 low holds the CPU in reset
			if v&0x01 == 0 {
				return "guest cleared the reset bit of the i8042 output port"
			}
		case 0xd2:
			k.push(false, v)
		case 0xd3:
			k.push(true, v)
		case 0xd4: // byte for the AUX device: nobody answers
			k.push(true, 0xfe)
		}
		return ""
	}
	if c := k.st.KbdCmd; c != 0 { // parameter of a keyboard command
		k.st.KbdCmd = 0
		if c == 0xf0 && v == 0 {
			k.push(false, 0xfa, 0x02) // current scancode set: 2
			return ""
		}
		k.push(false, 0xfa)
		return ""
	}
	switch v {
	case 0xff: // reset and self-test
		k.push(false, 0xfa, 0xaa)
	case 0xf2: // identify: MF2 keyboard
		k.push(false, 0xfa, 0xab, 0x83)
	case 0xee: // echo
		k.push(false, 0xee)
	case 0xed, 0xf0, 0xf3: // LEDs, scancode set, typematic: take a parameter
		k.st.KbdCmd = v
		k.push(false, 0xfa)
	default: // enable, disable, set defaults and the rest: acknowledge
		k.push(false, 0xfa)
	}
	return ""
}

// SendCtrlAltDel types Ctrl+Alt+Del and releases the keys, in the scancode
// set the guest reads (set 1 when the controller translates).
func (k *I8042) SendCtrlAltDel() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.st.CTR&ctrXlate != 0 {
		k.push(false, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d)
	} else {
		k.push(false, 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14)
	}
	k.updateIRQ()
}

// updateIRQ raises IRQ1 while keyboard data waits and interrupts are on.
// The line is pulsed: the PIC is edge-triggered for ISA and the guest
// drains the buffer in its handler.
func (k *I8042) updateIRQ() {
	want := len(k.st.Out) > 0 && !k.st.Out[0].Aux && k.st.CTR&ctrKbdInt != 0 && k.st.CTR&ctrKbdOff == 0
	if want == k.pulsing || k.irq == nil {
		return
	}
	k.pulsing = want
	k.irq.SetLevel(want) //nolint:errcheck // fails only on a dead VM
}

// State returns the controller's state for a snapshot.
func (k *I8042) State() I8042State {
	k.mu.Lock()
	defer k.mu.Unlock()
	st := k.st
	st.Out = append([]I8042Byte(nil), k.st.Out...)
	return st
}

// SetState restores a snapshot's controller state.
func (k *I8042) SetState(st I8042State) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.st = st
	k.st.Out = append([]I8042Byte(nil), st.Out...)
	k.pulsing = false
	k.updateIRQ()
}
