package net

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Tap is an open Linux tap interface carrying plain Ethernet frames (no
// packet-information prefix, no offload header).
type Tap struct {
	name string
	f    *os.File
}

// OpenTap attaches to the tap interface name, creating it when it does not
// exist (it then disappears when closed).
func OpenTap(name string) (*Tap, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/net/tun: %w", err)
	}
	req, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %q: %w", name, err)
	}
	req.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, req); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("attaching to tap %q: %w", name, err)
	}
	// A non-blocking descriptor lets the Go poller park readers, and Close
	// wake them.
	return &Tap{name: req.Name(), f: os.NewFile(uintptr(fd), "tap:"+name)}, nil
}

// Name is the interface name.
func (t *Tap) Name() string { return t.name }

// Read reads one frame.
func (t *Tap) Read(p []byte) (int, error) { return t.f.Read(p) }

// Write sends one frame.
func (t *Tap) Write(p []byte) (int, error) { return t.f.Write(p) }

// Close detaches from the interface.
func (t *Tap) Close() error { return t.f.Close() }
