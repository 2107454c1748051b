package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/hypercim/hypercim/hypervisor"
)

// console is a machine's hypervisor.Console: output history and
// subscriptions come from the machine's ConsoleBuffer, input goes to the
// current console stream.
type console struct{ m *Machine }

func (c *console) History() []byte { return c.m.buf.History() }

func (c *console) Subscribe(ctx context.Context) <-chan []byte { return c.m.buf.Subscribe(ctx) }

// Write sends input to the guest's serial port. It fails with a
// *hypervisor.StateError while no console stream is open (the machine is
// not running).
func (c *console) Write(p []byte) (int, error) {
	if s := c.m.currentSession(); s != nil {
		if n, err := s.in.Write(p); err == nil {
			return n, nil
		}
	}
	return 0, stateError("write to the console of", c.m.State(), nil)
}

// consoleSession is one open virDomainOpenConsole stream. It has its own
// connection to libvirtd, so a slow Config.Console sink delays only this
// stream, never the engine's calls or events.
type consoleSession struct {
	conn *golibvirt.Libvirt
	in   *io.PipeWriter
	done chan struct{}
}

var errSessionClosed = errors.New("console session closed")

// ensureConsole attaches the console unless a stream is open.
func (m *Machine) ensureConsole(ctx context.Context) error {
	if s := m.currentSession(); s != nil {
		select {
		case <-s.done:
		default:
			return nil
		}
	}
	return m.attachConsole(ctx)
}

// attachConsole opens the machine's serial console (forcing out any other
// client, as virsh console --force does) and streams its output into the
// ConsoleBuffer until the emulator exits. A stream the machine had is
// closed first: after a restart of the emulator or of libvirtd it may be
// dead without having noticed yet. It returns once libvirtd has accepted
// the stream, so that output the guest produces afterwards is captured.
func (m *Machine) attachConsole(ctx context.Context) error {
	m.detachConsole()
	conn, err := dial(m.e.opts)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	s := &consoleSession{conn: conn, in: pw, done: make(chan struct{})}
	opened := make(chan struct{})
	input := &firstRead{r: pr, opened: opened}
	result := make(chan error, 1)
	m.mu.Lock()
	m.session = s
	m.mu.Unlock()
	go func() {
		defer close(s.done)
		err := conn.DomainOpenConsoleBidirectional(m.dom(), nil, input, m.buf, uint32(golibvirt.DomainConsoleForce))
		result <- err
		pw.CloseWithError(errSessionClosed)
		pr.CloseWithError(errSessionClosed)
		conn.Disconnect()
		m.mu.Lock()
		if m.session == s {
			m.session = nil
		}
		m.mu.Unlock()
	}()
	// go-libvirt starts reading the input stream only once libvirtd has
	// acknowledged the open call, so the first Read marks the moment
	// output starts to flow.
	select {
	case <-opened:
		return nil
	case err := <-result:
		if err == nil {
			err = errors.New("the stream ended at once")
		}
		return m.fail("open console", err)
	case <-ctx.Done():
		m.endSession(s)
		return fmt.Errorf("libvirt: open console: %w", ctx.Err())
	}
}

// detachConsole closes the console stream, if any, and waits for it.
func (m *Machine) detachConsole() {
	if s := m.currentSession(); s != nil {
		m.endSession(s)
	}
}

// currentSession returns the open console stream, if any.
func (m *Machine) currentSession() *consoleSession {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.session
}

func (m *Machine) endSession(s *consoleSession) {
	s.conn.Disconnect()
	s.in.CloseWithError(errSessionClosed)
	<-s.done
}

// firstRead signals its first Read.
type firstRead struct {
	r      io.Reader
	once   sync.Once
	opened chan struct{}
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(func() { close(f.opened) })
	return f.r.Read(p)
}

var _ hypervisor.Console = (*console)(nil)
