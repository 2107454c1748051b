package devices

// InterruptLine is one input pin of the interrupt controllers (a GSI).
type InterruptLine interface {
	// SetLevel drives a level-triggered line (PCI INTx).
	SetLevel(high bool) error
	// Pulse raises and lowers the line: an edge (ISA devices, virtio-mmio).
	Pulse() error
}

// Reporter receives guest misbehaviour a device detected and survived: a bad
// virtqueue descriptor, an access to a register that does not exist, a
// failed backend I/O. The machine turns reports into device-error events.
type Reporter interface {
	Report(device string, err error)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(device string, err error)

// Report calls f.
func (f ReporterFunc) Report(device string, err error) { f(device, err) }
