package vmrun

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/hypervisor"
)

// Usage is the help text of `hypercim vm`.
const Usage = `usage: hypercim vm run --kernel FILE [options]
       hypercim vm run --firmware --disk FILE [options]

Runs a virtual machine in the foreground with its first serial port on this
terminal, and exits when the guest powers off.

  --kernel FILE      Linux bzImage, ELF vmlinux or hypercim's test guest
  --initrd FILE      initial ramdisk
  --cmdline TEXT     kernel command line
  --firmware         boot through a PC BIOS instead of a kernel: the BIOS loads
                     sector 0 of the first --disk and runs it (a boot loader
                     such as GRUB, SYSLINUX or a DOS boot sector); its int 10h
                     output appears on the serial console
  --bios FILE        kvm backend: the BIOS image for --firmware (default
                     hypercim-bios beside this program, built by make build);
                     libvirt runs SeaBIOS
  --disk FILE[,ro][,format=vmdk|raw]
                     a virtio disk (repeatable): a VMDK of any variant or a raw image
  --nic TAP[,mac=52:54:00:xx:xx:xx]
                     a virtio network adapter on an existing host tap interface
                     (repeatable); with --backend libvirt also
                     network=NAME (a libvirt network) or bridge=BR (a host bridge)
  --cpus N           virtual CPUs (default 1)
  --memory SIZE      guest RAM, e.g. 64M, 1G; a plain number is MiB (default 256M)
  --overcommit       allow more guest RAM than the host has (refused otherwise:
                     a guest using it all would get the VMM killed by the OOM killer)
  --backend kvm|libvirt
                     hypercim's own VMM on /dev/kvm (default) or libvirtd
  --transport pci|mmio
                     virtio transport of the kvm backend (default pci)
  --name NAME        machine name (default: derived from the kernel or disk file)
  --no-reboot        exit when the guest reboots instead of booting it again

On a terminal, input goes to the guest and Ctrl-] stops the machine. With
input from a pipe, the input is typed into the guest until it ends.

With the kvm backend the machine runs in bin/hypercim-vmm, a small binary
holding only the VMM, which hypercim executes in its place when it is
installed beside it.

With --backend libvirt the machine is a libvirt domain, defined for the
run and undefined afterwards. libvirtd must run (virtlogd -d && libvirtd -d
where there is no systemd; see docs/hypervisor-libvirt.md), and QEMU runs
as an unprivileged user (libvirt-qemu on Debian), so every directory on the
paths of the kernel, initrd and disks must be searchable by it. Without
hardware KVM (kvm_intel, kvm_amd) QEMU emulates the CPU: a Linux kernel
takes seconds to boot.

Firmware boot needs no kernel: --firmware and --kernel exclude each other.
A disk that cannot be booted (no 55AAh signature in sector 0) ends the run
with exit status 3 and the BIOS's explanation.

Exit status: 0 when the guest powered off (or was stopped with Ctrl-]),
1 when the machine could not be run, 2 for bad arguments, 3 when the guest
crashed (the reason is printed), 130 when interrupted by a signal.
`

// Backends.
const (
	BackendKVM     = "kvm"
	BackendLibvirt = "libvirt"
)

// Options is a parsed `vm run` command line.
type Options struct {
	Config     hypervisor.Config
	Backend    string
	Transport  string // kvm backend: "pci", "mmio" or "" (the default)
	NoReboot   bool
	Overcommit bool
	// BIOS is the kvm backend's BIOS image for firmware boot; "" is the
	// engine's default (hypercim-bios beside the executable).
	BIOS string
}

// repeated collects a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// Parse reads the arguments of `vm run`. It returns flag.ErrHelp for
// --help; other errors are usage errors.
func Parse(args []string) (*Options, error) {
	fs := flag.NewFlagSet("vm run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		disks, nics repeated
		o           Options
		memory      string
	)
	kernel := fs.String("kernel", "", "")
	initrd := fs.String("initrd", "", "")
	cmdline := fs.String("cmdline", "", "")
	firmware := fs.Bool("firmware", false, "")
	fs.StringVar(&o.BIOS, "bios", "", "")
	cpus := fs.Int("cpus", 1, "")
	name := fs.String("name", "", "")
	fs.StringVar(&memory, "memory", "256M", "")
	fs.Var(&disks, "disk", "")
	fs.Var(&nics, "nic", "")
	fs.StringVar(&o.Backend, "backend", BackendKVM, "")
	fs.StringVar(&o.Transport, "transport", "", "")
	fs.BoolVar(&o.NoReboot, "no-reboot", false, "")
	fs.BoolVar(&o.Overcommit, "overcommit", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *firmware && (*kernel != "" || *initrd != "" || *cmdline != ""):
		return nil, errors.New("--firmware boots the first --disk: it takes no --kernel, --initrd or --cmdline")
	case *firmware && len(disks) == 0:
		return nil, errors.New("--firmware needs a --disk to boot")
	case !*firmware && *kernel == "":
		return nil, errors.New("--kernel is required (or --firmware with a --disk to boot)")
	case o.BIOS != "" && !*firmware:
		return nil, errors.New("--bios applies to --firmware only")
	}
	if o.Backend != BackendKVM && o.Backend != BackendLibvirt {
		return nil, fmt.Errorf("--backend %q: want kvm or libvirt", o.Backend)
	}
	if o.Transport != "" && o.Backend != BackendKVM {
		return nil, errors.New("--transport applies to the kvm backend only")
	}
	if o.BIOS != "" && o.Backend != BackendKVM {
		return nil, errors.New("--bios applies to the kvm backend only (libvirt runs SeaBIOS)")
	}
	mem, err := ParseSize(memory)
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
	o.Config = hypervisor.Config{
		Name: *name, UUID: uuid, VCPUs: *cpus, MemoryBytes: mem,
		Boot: hypervisor.BootSource{Firmware: *firmware, Cmdline: *cmdline},
	}
	if *kernel != "" {
		o.Config.Boot.Kernel = abs(*kernel)
	}
	if *initrd != "" {
		o.Config.Boot.Initrd = abs(*initrd)
	}
	if o.BIOS != "" {
		o.BIOS = abs(o.BIOS)
	}
	if o.Config.Name == "" {
		from := *kernel
		if *firmware {
			from = strings.Split(disks[0], ",")[0]
		}
		o.Config.Name = strings.TrimSuffix(filepath.Base(from), filepath.Ext(from)) + "-" + uuid[:8]
	}
	for i, d := range disks {
		dc, err := parseDisk(d, i)
		if err != nil {
			return nil, err
		}
		dc.Path = abs(dc.Path)
		o.Config.Disks = append(o.Config.Disks, dc)
	}
	for i, n := range nics {
		nc, err := parseNIC(n, i)
		if err != nil {
			return nil, err
		}
		if nc.Network != "" && o.Backend != BackendLibvirt {
			return nil, fmt.Errorf("--nic %q: network= and bridge= apply to the libvirt backend only", n)
		}
		o.Config.NICs = append(o.Config.NICs, nc)
	}
	return &o, nil
}

// ParseSize reads "64M", "1G", "512MiB" or a plain number of MiB.
func ParseSize(s string) (uint64, error) {
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
