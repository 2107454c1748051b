package vmrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm"
)

// Exit statuses besides 0 (the guest powered off) and 2 (usage).
const (
	ExitVMMError   = 1 // the machine could not be defined, started or run
	ExitUsage      = 2
	ExitGuestCrash = 3 // the guest crashed: triple fault, panic, failure code
	ExitSignal     = 130
	// detachKey (Ctrl-]) ends an interactive session, stopping the machine.
	detachKey = 0x1d
)

// ExitError is a run that ends with a non-zero status; Msg, when set, is
// printed on stderr.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Env is the process's standard streams; tests pass buffers.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Opener opens the engine the options name.
type Opener func(ctx context.Context, o *Options) (hypervisor.Engine, error)

// OpenKVM opens hypercim's VMM with the options of the command line; it
// refuses other backends, for binaries built without them.
func OpenKVM(_ context.Context, o *Options) (hypervisor.Engine, error) {
	if o.Backend != BackendKVM {
		return nil, fmt.Errorf("this binary runs the kvm backend only, not %q", o.Backend)
	}
	return kvm.New(kvm.Options{Transport: kvm.Transport(o.Transport), Overcommit: o.Overcommit, Firmware: o.BIOS})
}

// Run runs the machine until the guest powers off, crashes or the user
// detaches, and maps the outcome to an *ExitError (nil for status 0).
func Run(env Env, o *Options, open Opener) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.Config.Console = env.Stdout
	fail := func(err error) error {
		return &ExitError{Code: ExitVMMError, Msg: fmt.Sprintf("hypercim vm run: %v", err)}
	}
	eng, err := open(ctx, o)
	if err != nil {
		return fail(err)
	}
	defer eng.Close()
	m, err := eng.Define(ctx, o.Config)
	if err != nil {
		return fail(err)
	}
	defer m.Undefine(context.Background()) //nolint:errcheck // the machine is stopped by then
	events := m.Events(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := m.Start(ctx); err != nil {
		return fail(err)
	}
	detached := make(chan struct{})
	restore := forwardInput(env, m, detached)
	defer restore()

	stop := func() { m.Stop(context.Background()) } //nolint:errcheck // it may have stopped already
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return &ExitError{Code: ExitVMMError, Msg: "hypercim vm run: the engine closed"}
			}
			switch {
			case ev.Kind == hypervisor.EventGuestShutdown:
				return nil
			case ev.Kind == hypervisor.EventGuestPanic:
				stop()
				restore()
				return &ExitError{Code: ExitGuestCrash, Msg: "hypercim vm run: guest crashed: " + ev.Reason}
			case ev.Kind == hypervisor.EventGuestReset && o.NoReboot:
				stop()
				return nil
			case ev.Kind == hypervisor.EventDeviceError:
				fmt.Fprintf(env.Stderr, "hypercim vm run: device error: %s\n", ev.Reason)
			case ev.Kind == hypervisor.EventStateChanged && ev.State == hypervisor.StateStopped:
				return nil
			}
		case <-detached:
			stop()
			return nil
		case sig := <-sigs:
			stop()
			restore()
			return &ExitError{Code: ExitSignal, Msg: fmt.Sprintf("hypercim vm run: stopped by %v", sig)}
		}
	}
}

// forwardInput types stdin into the guest. A terminal is put in raw mode
// (so keys such as Ctrl-C reach the guest) and Ctrl-] detaches; a pipe is
// copied until it ends. It returns a function restoring the terminal.
func forwardInput(env Env, m hypervisor.Machine, detached chan<- struct{}) func() {
	f, ok := env.Stdin.(*os.File)
	if ok && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err == nil {
			keepOutputProcessing(int(f.Fd()))
			fmt.Fprint(env.Stderr, "hypercim vm run: serial console attached; Ctrl-] stops the machine\n")
			go func() {
				buf := make([]byte, 256)
				for {
					n, err := f.Read(buf)
					if err != nil {
						return
					}
					if i := strings.IndexByte(string(buf[:n]), detachKey); i >= 0 {
						m.Console().Write(buf[:i]) //nolint:errcheck
						close(detached)
						return
					}
					m.Console().Write(buf[:n]) //nolint:errcheck // the guest may have stopped
				}
			}()
			done := false
			return func() {
				if !done {
					done = true
					term.Restore(int(f.Fd()), old) //nolint:errcheck
				}
			}
		}
	}
	if env.Stdin != nil {
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := env.Stdin.Read(buf)
				if n > 0 {
					m.Console().Write(buf[:n]) //nolint:errcheck // the guest may have stopped
				}
				if err != nil {
					return
				}
			}
		}()
	}
	return func() {}
}

// keepOutputProcessing turns newline translation back on after MakeRaw:
// input stays raw, but a guest printing bare "\n" (as the test guest and
// many boot loaders do) still starts each line at the left margin.
func keepOutputProcessing(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return
	}
	t.Oflag |= unix.OPOST | unix.ONLCR
	unix.IoctlSetTermios(fd, unix.TCSETS, t) //nolint:errcheck // cosmetic
}
