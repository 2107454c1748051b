package kvm

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/bios"
	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/legacy"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/pci"
)

// exitKind is how a guest ended a VM's run.
type exitKind int

const (
	exitPowerOff exitKind = iota + 1
	exitReset
	exitCrash
)

// vmHooks connect a VM to the machine that owns it.
type vmHooks struct {
	// exit is called once, from a vCPU or device, when the guest powers
	// off, resets or crashes; the VM is already stopping its vCPUs.
	exit func(kind exitKind, reason string)
	// report receives guest misbehaviour devices survived.
	report func(device string, err error)
	// console receives the first serial port's output.
	console io.Writer
}

// vm is one run of a machine: the KVM VM with its memory, vCPU threads and
// devices. A reset or restore builds a new vm; a vm is never restarted.
type vm struct {
	sys   *system
	fd    int
	cfg   hypervisor.Config
	opts  Options
	hooks vmHooks
	ram   *guestRAM
	ctl   *control
	vcpus []*vcpu
	lines *irqLines

	pio, mmio devices.Bus
	serial    *legacy.Serial
	kbd       *legacy.I8042
	pciBus    *pci.Bus

	// mu guards the virtio device slots, which hot-plug changes while
	// vCPUs run.
	mu      sync.Mutex
	virtio  []*virtioSlot
	windows []*mmioWindow

	// CPU limits of the vCPU threads (limits.go): the cap in percent of a
	// host CPU (0: none) and the nice level standing for the weight.
	capPercent atomic.Uint32
	nice       atomic.Int32

	exitOnce sync.Once
	// reported remembers unknown ports and MMIO pages already reported,
	// so a guest probing in a loop produces one event per address.
	reported sync.Map
}

// newVM creates the KVM VM, its memory, interrupt controllers, PIT, legacy
// devices and the configured virtio devices; vCPUs are created when the VM
// is booted or restored. placement puts virtio devices where a snapshot
// recorded them (window index or PCI slot by device ID); nil plugs them in
// configuration order.
func newVM(sys *system, cfg hypervisor.Config, opts Options, hooks vmHooks, placement map[string]int) (v *vm, err error) {
	fd, err := ioctl(sys.fd, kvmCreateVM, 0)
	if err != nil {
		return nil, fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	// Held in its own variable: every "return nil, err" below sets the
	// named result v to nil before this deferred cleanup runs.
	built := &vm{sys: sys, fd: int(fd), cfg: cfg.Clone(), opts: opts, hooks: hooks, ctl: newControl()}
	v = built
	defer func() {
		if err != nil {
			built.close()
		}
	}()
	unix.CloseOnExec(v.fd)
	v.capPercent.Store(cfg.Limits.CPUCapPercent)
	v.nice.Store(int32(weightNice(cfg.Limits.CPUWeight)))
	if _, err := ioctl(v.fd, kvmSetTSSAddr, boot.TSSAddr); err != nil {
		return nil, fmt.Errorf("KVM_SET_TSS_ADDR: %w", err)
	}
	identity := uint64(boot.IdentityMapAddr)
	ioctlPtr(v.fd, kvmSetIdentityMapAddr, &identity) //nolint:errcheck // only needed by VMX real mode
	// Memory slots go in before the interrupt controllers: changing slots
	// of a VM with an irqchip waits for an SRCU grace period (milliseconds).
	if v.ram, err = allocRAM(cfg.MemoryBytes); err != nil {
		return nil, err
	}
	if err := v.ram.register(v.fd); err != nil {
		return nil, err
	}
	if _, err := ioctl(v.fd, kvmCreateIRQChip, 0); err != nil {
		return nil, fmt.Errorf("KVM_CREATE_IRQCHIP: %w", err)
	}
	if err := ioctlPtr(v.fd, kvmCreatePIT2, &kvmPITConfig{Flags: kvmPITSpeakerDummy}); err != nil {
		return nil, fmt.Errorf("KVM_CREATE_PIT2: %w", err)
	}
	v.lines = newIRQLines(v.fd)
	if err := v.addLegacyDevices(); err != nil {
		return nil, err
	}
	if err := v.addVirtioDevices(placement); err != nil {
		return nil, err
	}
	if cfg.Boot.Firmware {
		if err := v.addBIOSGate(); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// addBIOSGate puts the paravirtual BIOS's gate on the port bus: int 13h
// reaches the machine's disks through it, int 10h the serial console.
func (v *vm) addBIOSGate() error {
	gate := bios.NewGate(bios.Config{
		Memory:  v.ram.mem,
		Drives:  v.biosDrives,
		Console: v.hooks.console,
		UART:    v.serial,
		PowerOff: func(reason string) {
			v.guestExit(exitPowerOff, reason)
		},
		BootFailed: func(reason string) { v.guestExit(exitCrash, reason) },
		Report:     func(err error) { v.report("bios", err) },
	})
	if err := v.pio.Insert(bios.GatePort, bios.Ports, gate); err != nil {
		return fmt.Errorf("placing the BIOS gate at port %#x: %w", bios.GatePort, err)
	}
	return nil
}

// biosDrives lists the disks in configuration order, BIOS drive 80h
// first. It runs on a vCPU thread; hot-plug changes v.cfg only while the
// vCPUs are paused.
func (v *vm) biosDrives() []bios.Drive {
	slots := v.slots()
	var out []bios.Drive
	for _, d := range v.cfg.Disks {
		for _, s := range slots {
			if s.id == d.ID && s.disk != nil {
				out = append(out, bios.Drive{ID: d.ID, Disk: s.disk, ReadOnly: d.ReadOnly})
			}
		}
	}
	return out
}

func (v *vm) addLegacyDevices() error {
	v.serial = legacy.NewSerial(v.hooks.console, v.lines.line(legacy.COM1IRQ))
	v.kbd = legacy.NewI8042(v.lines.line(legacy.I8042KeyboardIRQ), v.reset)
	v.pciBus = pci.NewBus()
	poweroff := func(code uint8) {
		if code == 0 {
			v.guestExit(exitPowerOff, "guest wrote 0 to the debug-exit port")
			return
		}
		v.guestExit(exitCrash, fmt.Sprintf("guest reported failure code %d through the debug-exit port", code))
	}
	panicked := func(reason string) { v.guestExit(exitCrash, reason) }
	for _, d := range []struct {
		port, size uint64
		dev        devices.Device
	}{
		{legacy.COM1Port, legacy.SerialPorts, v.serial},
		{legacy.I8042DataPort, 5, v.kbd},
		{legacy.POSTPort, 1, &legacy.POST{}},
		{legacy.SystemControlPort, 1, legacy.NewSystemControlA(v.reset)},
		{legacy.DebugExitPort, 1, legacy.NewDebugExit(poweroff)},
		{legacy.PVPanicPort, 1, legacy.NewPVPanic(panicked)},
		{pci.ConfigAddressPort, 4, v.pciBus.AddressPort(legacy.NewResetControl(v.reset))},
		{pci.ConfigDataPort, 4, v.pciBus.DataPort()},
	} {
		if err := v.pio.Insert(d.port, d.size, d.dev); err != nil {
			return fmt.Errorf("placing device at port %#x: %w", d.port, err)
		}
	}
	return nil
}

func (v *vm) reset(reason string) { v.guestExit(exitReset, reason) }

// boot loads what the machine boots, the BIOS or a kernel, and creates
// the vCPUs.
func (v *vm) boot(firmware []byte) error {
	if v.cfg.Boot.Firmware {
		cpu, err := bios.Load(v.ram.mem, firmware, bios.Machine{HardDisks: len(v.cfg.Disks), Now: time.Now()})
		if err != nil {
			return fmt.Errorf("%w: firmware: %w", hypervisor.ErrInvalidConfig, err)
		}
		return v.createVCPUs(cpu)
	}
	return v.bootKernel()
}

// bootKernel loads the configured kernel, initrd and command line and
// creates the vCPUs, the first one at the kernel's entry point.
func (v *vm) bootKernel() error {
	kf, err := os.Open(v.cfg.Boot.Kernel)
	if err != nil {
		return fmt.Errorf("%w: kernel: %w", hypervisor.ErrInvalidConfig, err)
	}
	defer kf.Close()
	kst, err := kf.Stat()
	if err != nil {
		return err
	}
	img, err := boot.Probe(kf, kst.Size())
	if err != nil {
		return fmt.Errorf("%w: %s: %w", hypervisor.ErrInvalidConfig, v.cfg.Boot.Kernel, err)
	}
	if _, ok := img.PVHEntry(); ok && v.opts.BootPVH {
		img.UsePVH() //nolint:errcheck // the image has the note
	}
	p := boot.Params{Cmdline: v.cmdline(), VCPUs: v.cfg.VCPUs, PCIRoutes: v.pciRoutes()}
	if v.cfg.Boot.Initrd != "" {
		f, err := os.Open(v.cfg.Boot.Initrd)
		if err != nil {
			return fmt.Errorf("%w: initrd: %w", hypervisor.ErrInvalidConfig, err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		p.Initrd, p.InitrdSize = f, st.Size()
	}
	cpu, err := boot.Load(v.ram.mem, img, p)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", hypervisor.ErrInvalidConfig, v.cfg.Boot.Kernel, err)
	}
	return v.createVCPUs(cpu)
}

// cmdline is the configured command line plus the virtio-mmio devices in
// the syntax Linux's virtio_mmio.device= parameter takes.
func (v *vm) cmdline() string {
	parts := []string{}
	if s := strings.TrimSpace(v.cfg.Boot.Cmdline); s != "" {
		parts = append(parts, s)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, w := range v.windows {
		if w.slot != nil {
			parts = append(parts, fmt.Sprintf("virtio_mmio.device=4K@%#x:%d", w.base, w.irq))
		}
	}
	return strings.Join(parts, " ")
}

// createVCPUs starts one locked thread per vCPU; each creates its vCPU and
// parks. bootCPU, when not nil, is the first vCPU's initial state.
func (v *vm) createVCPUs(bootCPU *boot.CPUState) error {
	for i := 0; i < v.cfg.VCPUs; i++ {
		c := &vcpu{id: i, vm: v, fd: -1, work: make(chan func())}
		ready := make(chan error, 1)
		go c.loop(func() error { return v.setupVCPU(c, bootCPU) }, ready)
		if err := <-ready; err != nil {
			if c.fd >= 0 {
				v.closeVCPU(c)
			}
			return fmt.Errorf("vCPU %d: %w", i, err)
		}
		v.vcpus = append(v.vcpus, c)
	}
	return nil
}

// setupVCPU runs on the vCPU's own thread.
func (v *vm) setupVCPU(c *vcpu, bootCPU *boot.CPUState) error {
	fd, err := ioctl(v.fd, kvmCreateVCPU, uintptr(c.id))
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	c.fd = int(fd)
	unix.CloseOnExec(c.fd)
	if nice := int(v.nice.Load()); nice != 0 {
		if err := setNice(int(c.tid.Load()), nice); err != nil {
			return err
		}
	}
	if c.run, c.runMap, err = mapRunData(c.fd, v.sys.runSize); err != nil {
		return fmt.Errorf("mapping kvm_run: %w", err)
	}
	if err := ioctlPtr(c.fd, kvmSetCPUID2, vcpuCPUID(v.sys.cpuid, c.id, v.cfg.VCPUs)); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %w", err)
	}
	if err := setLINT(c.fd); err != nil {
		return err
	}
	if c.id == 0 && bootCPU != nil {
		return setBootState(c.fd, bootCPU)
	}
	return nil
}

func (v *vm) closeVCPU(c *vcpu) {
	if c.runMap != nil {
		unix.Munmap(c.runMap) //nolint:errcheck
		c.runMap, c.run = nil, nil
	}
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// kickAll pulls every vCPU out of the guest.
func (v *vm) kickAll() {
	for _, c := range v.vcpus {
		c.kick()
	}
}

// run lets the vCPUs enter the guest and devices deliver input again.
func (v *vm) run() {
	v.ctl.set(stateRun)
	for _, s := range v.slots() {
		if s.net != nil {
			s.net.Thaw()
		}
	}
}

// pause stops every vCPU outside the guest and waits for them; devices
// that receive from the host stop changing guest memory too.
func (v *vm) pause(ctx context.Context) error {
	v.ctl.set(statePause)
	v.kickAll()
	for _, s := range v.slots() {
		if s.net != nil {
			s.net.Freeze()
		}
	}
	return v.ctl.waitParked(ctx)
}

// stop ends the vCPU threads; it does not wait for them.
func (v *vm) stop() {
	v.ctl.set(stateStop)
	v.kickAll()
}

// guestExit records how the guest ended the run and stops the vCPUs. Only
// the first call counts: a guest that triple-faults while powering off
// gets the power-off.
func (v *vm) guestExit(kind exitKind, reason string) {
	v.exitOnce.Do(func() {
		v.stop()
		if v.hooks.exit != nil {
			go v.hooks.exit(kind, reason)
		}
	})
}

// close stops everything and releases every resource of the run.
func (v *vm) close() {
	v.exitOnce.Do(func() {}) // a later guest exit is no longer news
	v.stop()
	v.ctl.waitExited()
	for _, c := range v.vcpus {
		v.closeVCPU(c)
	}
	v.vcpus = nil
	v.closeVirtio()
	// Destroying a VM with an irqchip waits for RCU grace periods (tens of
	// milliseconds); nothing depends on it any more, so it finishes in the
	// background and the engine waits for it only when it closes.
	fd, ram := v.fd, v.ram
	v.fd, v.ram = -1, nil
	v.sys.closing.Add(1)
	go func() {
		defer v.sys.closing.Done()
		if fd >= 0 {
			unix.Close(fd)
		}
		if ram != nil {
			ram.free()
		}
	}()
}

// portIO dispatches one port access from a vCPU.
func (v *vm) portIO(port uint16, data []byte, write bool) {
	var ok bool
	if write {
		ok = v.pio.Write(uint64(port), data)
	} else {
		ok = v.pio.Read(uint64(port), data)
	}
	if ok {
		return
	}
	if !write {
		devices.Put(data, 0xffffffffffffffff) // nothing drives the bus
	}
	if absentLegacyPort(port) {
		return
	}
	if _, seen := v.reported.LoadOrStore(uint64(port)|1<<63, true); !seen {
		dir := "read from"
		if write {
			dir = "write to"
		}
		v.report("port-io", fmt.Errorf("guest %s unknown I/O port %#x (%d bytes); further accesses to it are not reported", dir, port, len(data)))
	}
}

// absentLegacyPort lists PC ports operating systems probe routinely for
// devices this machine does not have; reading all-ones is the answer
// they expect, not guest misbehaviour.
func absentLegacyPort(port uint16) bool {
	switch {
	case port >= 0x2e8 && port < 0x300, port >= 0x3e8 && port < 0x3f0: // COM2-4
	case port == 0x70 || port == 0x71: // RTC/CMOS
	case port >= 0x3b0 && port < 0x3e0: // VGA
	case port >= 0x1f0 && port < 0x1f8, port >= 0x170 && port < 0x178, port == 0x3f6, port == 0x376: // IDE
	case port == 0x278 || port == 0x378 || port == 0x3bc: // parallel ports
	case port == 0x2e || port == 0x2f || port == 0x4e || port == 0x4f: // Super I/O
	case port == 0x87 || port == 0xed: // DMA page, delay port
	default:
		return false
	}
	return true
}

// mmioAccess dispatches one MMIO exit from a vCPU.
func (v *vm) mmioAccess(addr uint64, data []byte, write bool) {
	var ok bool
	if write {
		ok = v.mmio.Write(addr, data)
	} else {
		ok = v.mmio.Read(addr, data)
	}
	if ok {
		return
	}
	if !write {
		devices.Put(data, 0xffffffffffffffff)
	}
	if _, seen := v.reported.LoadOrStore(addr&^0xfff, true); !seen {
		dir := "read from"
		if write {
			dir = "write to"
		}
		v.report("mmio", fmt.Errorf("guest %s %#x, which is neither RAM nor a device (%d bytes); further accesses to this page are not reported", dir, addr, len(data)))
	}
}

func (v *vm) report(device string, err error) {
	if v.hooks.report != nil {
		v.hooks.report(device, err)
	}
}

// runStats are one run's counters.
type runStats struct {
	cpu   time.Duration
	disks []hypervisor.DiskStats
	nics  []hypervisor.NICStats
}

func (v *vm) stats() runStats {
	var st runStats
	for _, c := range v.vcpus {
		st.cpu += c.cpuTime()
	}
	for _, s := range v.slots() {
		switch {
		case s.blk != nil:
			b := s.blk.Stats()
			st.disks = append(st.disks, hypervisor.DiskStats{ID: s.id, ReadOps: b.ReadOps, WriteOps: b.WriteOps,
				ReadBytes: b.ReadBytes, WriteBytes: b.WriteBytes, FlushOps: b.FlushOps})
		case s.net != nil:
			n := s.net.Stats()
			st.nics = append(st.nics, hypervisor.NICStats{ID: s.id, RxBytes: n.RxBytes, TxBytes: n.TxBytes,
				RxPackets: n.RxPackets, TxPackets: n.TxPackets, RxDropped: n.RxDropped, TxDropped: n.TxDropped})
		}
	}
	return st
}
