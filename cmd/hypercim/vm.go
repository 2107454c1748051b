package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm"
	"github.com/hypercim/hypercim/hypervisor/libvirt"
)

// Exit statuses of `vm run` besides 0 (the guest powered off) and 2
// (usage).
const (
	exitVMMError   = 1 // the machine could not be defined, started or run
	exitGuestCrash = 3 // the guest crashed: triple fault, panic, failure code
	exitSignal     = 130
	// detachKey (Ctrl-]) ends an interactive session, stopping the machine.
	detachKey = 0x1d
)

const vmUsage = `usage: hypercim vm run --kernel FILE [options]

Runs a virtual machine in the foreground with its first serial port on this
terminal, and exits when the guest powers off.

  --kernel FILE      Linux bzImage, ELF vmlinux or hypercim's test guest (required)
  --initrd FILE      initial ramdisk
  --cmdline TEXT     kernel command line
  --disk FILE[,ro][,format=vmdk|raw]
                     a virtio disk (repeatable): a VMDK of any variant or a raw image
  --nic TAP[,mac=52:54:00:xx:xx:xx]
                     a virtio network adapter on an existing host tap interface
                     (repeatable); with --backend libvirt also
                     network=NAME (a libvirt network) or bridge=BR (a host bridge)
  --cpus N           virtual CPUs (default 1)
  --memory SIZE      guest RAM, e.g. 64M, 1G; a plain number is MiB (default 256M)
  --backend kvm|libvirt
                     hypercim's own VMM on /dev/kvm (default) or libvirtd
  --transport pci|mmio
                     virtio transport of the kvm backend (default pci)
  --name NAME        machine name (default: derived from the kernel file)
  --no-reboot        exit when the guest reboots instead of booting it again

On a terminal, input goes to the guest and Ctrl-] stops the machine. With
input from a pipe, the input is typed into the guest until it ends.

With --backend libvirt the machine is a libvirt domain, defined for the
run and undefined afterwards. libvirtd must run (virtlogd -d && libvirtd -d
where there is no systemd; see docs/hypervisor-libvirt.md), and QEMU runs
as an unprivileged user (libvirt-qemu on Debian), so every directory on the
paths of the kernel, initrd and disks must be searchable by it. Without
hardware KVM (kvm_intel, kvm_amd) QEMU emulates the CPU: a Linux kernel
takes seconds to boot.

Exit status: 0 when the guest powered off (or was stopped with Ctrl-]),
1 when the machine could not be run, 2 for bad arguments, 3 when the guest
crashed (the reason is printed), 130 when interrupted by a signal.
`

// repeated collects a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// vmRunOptions is the parsed command line of `vm run`.
type vmRunOptions struct {
	cfg       hypervisor.Config
	backend   string
	transport string
	noReboot  bool
}

func runVM(env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.stdout, vmUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	if args[0] != "run" {
		return &exitError{code: 2, msg: fmt.Sprintf("hypercim vm: unknown subcommand %q\n\n%s", args[0], vmUsage)}
	}
	opts, err := parseVMRun(args[1:], env.stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.stdout, vmUsage)
		return nil
	}
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("hypercim vm run: %v\nRun 'hypercim vm --help' for usage.", err)}
	}
	return runMachine(env, opts)
}

func parseVMRun(args []string, stderr io.Writer) (*vmRunOptions, error) {
	fs := flag.NewFlagSet("vm run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		disks, nics repeated
		o           vmRunOptions
		memory      string
	)
	kernel := fs.String("kernel", "", "")
	initrd := fs.String("initrd", "", "")
	cmdline := fs.String("cmdline", "", "")
	cpus := fs.Int("cpus", 1, "")
	name := fs.String("name", "", "")
	fs.StringVar(&memory, "memory", "256M", "")
	fs.Var(&disks, "disk", "")
	fs.Var(&nics, "nic", "")
	fs.StringVar(&o.backend, "backend", "kvm", "")
	fs.StringVar(&o.transport, "transport", "", "")
	fs.BoolVar(&o.noReboot, "no-reboot", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *kernel == "" {
		return nil, errors.New("--kernel is required")
	}
	if o.backend != "kvm" && o.backend != "libvirt" {
		return nil, fmt.Errorf("--backend %q: want kvm or libvirt", o.backend)
	}
	if o.transport != "" && o.backend != "kvm" {
		return nil, errors.New("--transport applies to the kvm backend only")
	}
	mem, err := parseSize(memory)
	if err != nil {
		return nil, fmt.Errorf("--memory: %w", err)
	}
	uuid, err := newUUID()
	if err != nil {
		return nil, err
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	o.cfg = hypervisor.Config{
		Name: *name, UUID: uuid, VCPUs: *cpus, MemoryBytes: mem,
		Boot: hypervisor.BootSource{Kernel: abs(*kernel), Cmdline: *cmdline},
	}
	if *initrd != "" {
		o.cfg.Boot.Initrd = abs(*initrd)
	}
	if o.cfg.Name == "" {
		o.cfg.Name = strings.TrimSuffix(filepath.Base(*kernel), filepath.Ext(*kernel)) + "-" + uuid[:8]
	}
	for i, d := range disks {
		dc, err := parseDisk(d, i)
		if err != nil {
			return nil, err
		}
		dc.Path = abs(dc.Path)
		o.cfg.Disks = append(o.cfg.Disks, dc)
	}
	for i, n := range nics {
		nc, err := parseNIC(n, i)
		if err != nil {
			return nil, err
		}
		if nc.Network != "" && o.backend != "libvirt" {
			return nil, fmt.Errorf("--nic %q: network= and bridge= apply to the libvirt backend only", n)
		}
		o.cfg.NICs = append(o.cfg.NICs, nc)
	}
	return &o, nil
}

// parseSize reads "64M", "1G", "512MiB" or a plain number of MiB.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := uint64(1 << 20)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		case 'T':
			mult, t = 1<<40, t[:n-1]
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%q is not a size such as 64M or 1G", s)
	}
	if v > (1<<63)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return v * mult, nil
}

// parseDisk reads FILE[,ro][,format=vmdk|raw].
func parseDisk(s string, i int) (hypervisor.DiskConfig, error) {
	parts := strings.Split(s, ",")
	d := hypervisor.DiskConfig{ID: fmt.Sprintf("disk%d", i), Path: parts[0]}
	if d.Path == "" {
		return d, fmt.Errorf("--disk %q: no file", s)
	}
	for _, p := range parts[1:] {
		switch {
		case p == "ro":
			d.ReadOnly = true
		case strings.HasPrefix(p, "format="):
			d.Format = strings.TrimPrefix(p, "format=")
		default:
			return d, fmt.Errorf("--disk %q: unknown option %q (want ro or format=vmdk|raw)", s, p)
		}
	}
	return d, nil
}

// parseNIC reads TAP[,mac=ADDR], network=NAME[,mac=ADDR] or
// bridge=BR[,mac=ADDR].
func parseNIC(s string, i int) (hypervisor.NICConfig, error) {
	parts := strings.Split(s, ",")
	n := hypervisor.NICConfig{ID: fmt.Sprintf("nic%d", i)}
	if network, ok := strings.CutPrefix(parts[0], "network="); ok {
		n.Network = network
	} else if bridge, ok := strings.CutPrefix(parts[0], "bridge="); ok {
		n.Network = "bridge:" + bridge
	} else {
		n.Tap = parts[0]
	}
	if n.Tap == "" && n.Network == "" || n.Network == "bridge:" {
		return n, fmt.Errorf("--nic %q: no tap, network or bridge named", s)
	}
	for _, p := range parts[1:] {
		mac, ok := strings.CutPrefix(p, "mac=")
		if !ok {
			return n, fmt.Errorf("--nic %q: unknown option %q (want mac=ADDR)", s, p)
		}
		n.MAC = strings.ToLower(mac)
	}
	return n, nil
}

func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func openEngine(ctx context.Context, o *vmRunOptions) (hypervisor.Engine, error) {
	if o.backend == "libvirt" {
		return libvirt.Open(ctx, libvirt.Options{})
	}
	return kvm.New(kvm.Options{Transport: kvm.Transport(o.transport)})
}

// runMachine runs the machine until the guest powers off, crashes or the
// user detaches, and maps the outcome to an exit status.
func runMachine(env *cliEnv, o *vmRunOptions) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.cfg.Console = env.stdout
	eng, err := openEngine(ctx, o)
	if err != nil {
		return &exitError{code: exitVMMError, msg: fmt.Sprintf("hypercim vm run: %v", err)}
	}
	defer eng.Close()
	m, err := eng.Define(ctx, o.cfg)
	if err != nil {
		return &exitError{code: exitVMMError, msg: fmt.Sprintf("hypercim vm run: %v", err)}
	}
	defer m.Undefine(context.Background()) //nolint:errcheck // the machine is stopped by then
	events := m.Events(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := m.Start(ctx); err != nil {
		return &exitError{code: exitVMMError, msg: fmt.Sprintf("hypercim vm run: %v", err)}
	}
	detached := make(chan struct{})
	restore := forwardInput(env, m, detached)
	defer restore()

	stop := func() { m.Stop(context.Background()) } //nolint:errcheck // it may have stopped already
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return &exitError{code: exitVMMError, msg: "hypercim vm run: the engine closed"}
			}
			switch {
			case ev.Kind == hypervisor.EventGuestShutdown:
				return nil
			case ev.Kind == hypervisor.EventGuestPanic:
				stop()
				restore()
				return &exitError{code: exitGuestCrash, msg: "hypercim vm run: guest crashed: " + ev.Reason}
			case ev.Kind == hypervisor.EventGuestReset && o.noReboot:
				stop()
				return nil
			case ev.Kind == hypervisor.EventDeviceError:
				fmt.Fprintf(env.stderr, "hypercim vm run: device error: %s\n", ev.Reason)
			case ev.Kind == hypervisor.EventStateChanged && ev.State == hypervisor.StateStopped:
				return nil
			}
		case <-detached:
			stop()
			return nil
		case sig := <-sigs:
			stop()
			restore()
			return &exitError{code: exitSignal, msg: fmt.Sprintf("hypercim vm run: stopped by %v", sig)}
		}
	}
}

// forwardInput types stdin into the guest. A terminal is put in raw mode
// (so keys such as Ctrl-C reach the guest) and Ctrl-] detaches; a pipe is
// copied until it ends. It returns a function restoring the terminal.
func forwardInput(env *cliEnv, m hypervisor.Machine, detached chan<- struct{}) func() {
	f, ok := env.stdin.(*os.File)
	if ok && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err == nil {
			keepOutputProcessing(int(f.Fd()))
			fmt.Fprint(env.stderr, "hypercim vm run: serial console attached; Ctrl-] stops the machine\n")
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
	if env.stdin != nil {
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := env.stdin.Read(buf)
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
