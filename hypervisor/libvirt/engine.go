package libvirt

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"libvirt.org/go/libvirtxml"

	"github.com/hypercim/hypercim/hypervisor"
)

// Defaults for Options.
const (
	DefaultURI         = "qemu:///system"
	DefaultSocket      = "/var/run/libvirt/libvirt-sock"
	DefaultDialTimeout = 5 * time.Second
)

// Options configure Open. The zero value connects to the system QEMU
// driver of the local libvirtd.
type Options struct {
	// URI is the libvirt driver URI; empty means DefaultURI.
	URI string
	// Socket is libvirtd's UNIX socket; empty means DefaultSocket.
	Socket string
	// DialTimeout bounds each connection attempt; zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// DomainType is the libvirt domain type, "kvm" or "qemu" (TCG).
	// Empty chooses "kvm" when the host has hardware KVM (the kvm_intel or
	// kvm_amd module) and libvirt offers it, else "qemu".
	DomainType string
	// ConsoleRing is the size of each machine's console history; zero
	// means hypervisor.DefaultConsoleRing.
	ConsoleRing int
	// Instance names one of several hypercim installations sharing a
	// libvirtd: an engine sees only the domains defined with its own
	// Instance. Empty is the default installation.
	Instance string
	// Overcommit accepts machines with more memory than libvirtd's host
	// has (virNodeGetInfo), which Define and Reconfigure otherwise refuse:
	// QEMU would start them and be killed by the host's OOM killer once
	// the guest used the memory.
	Overcommit bool
}

// Engine is hypervisor.Engine on libvirtd. Machines are persistent
// libvirt domains marked with hypercim's metadata element, so they outlive
// the process and are found again by Lookup and Machines.
type Engine struct {
	opts       Options
	domainType string
	// qemu is who QEMU runs as, to whom disk files libvirt does not
	// relabel are made accessible.
	qemu qemuIdentity

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the supervisor has stopped

	mu       sync.Mutex
	conn     *golibvirt.Libvirt // nil while reconnecting
	machines map[string]*Machine
	closed   bool
}

var _ hypervisor.Engine = (*Engine)(nil)

// Open connects to libvirtd and starts following its domain events. When
// libvirtd is not running it fails with an error wrapping
// hypervisor.ErrUnavailable that says how to start it.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.URI == "" {
		opts.URI = DefaultURI
	}
	if opts.Socket == "" {
		opts.Socket = DefaultSocket
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < opts.DialTimeout {
		opts.DialTimeout = max(time.Until(d), time.Millisecond)
	}
	conn, err := dial(opts)
	if err != nil {
		return nil, err
	}
	caps, err := capabilities(conn)
	if err != nil {
		conn.Disconnect()
		return nil, err
	}
	domainType := opts.DomainType
	switch domainType {
	case "":
		domainType = chooseDomainType(caps)
	case "kvm", "qemu":
	default:
		conn.Disconnect()
		return nil, fmt.Errorf("%w: domain type %q is not kvm or qemu", hypervisor.ErrInvalidConfig, domainType)
	}
	e := &Engine{opts: opts, domainType: domainType, qemu: qemuIdentityFrom(caps, domainType), conn: conn, machines: map[string]*Machine{}, done: make(chan struct{})}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	ready := make(chan error, 1)
	go e.supervise(conn, ready)
	if err := <-ready; err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// dial opens one connection to libvirtd.
func dial(opts Options) (*golibvirt.Libvirt, error) {
	conn := golibvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(opts.Socket), dialers.WithLocalTimeout(opts.DialTimeout)))
	if err := conn.ConnectToURI(golibvirt.ConnectURI(opts.URI)); err != nil {
		if disconnected(err) {
			return nil, fmt.Errorf("libvirt: %w: cannot reach libvirtd at %s (%w); %s", hypervisor.ErrUnavailable, opts.Socket, err, startHint)
		}
		return nil, wrap("connect to "+opts.URI, err)
	}
	return conn, nil
}

// capabilities reads libvirtd's host and guest capabilities.
func capabilities(conn *golibvirt.Libvirt) (*libvirtxml.Caps, error) {
	text, err := conn.ConnectGetCapabilities()
	if err != nil {
		return nil, wrap("read capabilities", err)
	}
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(text); err != nil {
		return nil, fmt.Errorf("libvirt: parsing capabilities: %w", err)
	}
	return &caps, nil
}

// chooseDomainType picks kvm only where a stock guest runs on it: a host
// with VT-x or SVM (kvm_intel, kvm_amd) whose libvirt offers kvm. Other
// /dev/kvm providers, such as PVM, need paravirtualised guest kernels.
func chooseDomainType(caps *libvirtxml.Caps) string {
	if !hypervisor.HardwareKVM() {
		return "qemu"
	}
	for _, g := range caps.Guests {
		if g.Arch.Name != "x86_64" {
			continue
		}
		for _, d := range g.Arch.Domains {
			if d.Type == "kvm" {
				return "kvm"
			}
		}
	}
	return "qemu"
}

// Name implements hypervisor.Engine.
func (e *Engine) Name() string { return "libvirt" }

// DomainType is the libvirt domain type machines are defined with.
func (e *Engine) DomainType() string { return e.domainType }

// client returns the current connection.
func (e *Engine) client() (*golibvirt.Libvirt, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return nil, fmt.Errorf("libvirt: %w: the engine is closed", hypervisor.ErrUnavailable)
	case e.conn == nil:
		return nil, fmt.Errorf("libvirt: %w: reconnecting to libvirtd at %s; %s", hypervisor.ErrUnavailable, e.opts.Socket, startHint)
	}
	return e.conn, nil
}

// Define implements hypervisor.Engine: it defines a persistent domain.
func (e *Engine) Define(ctx context.Context, cfg hypervisor.Config) (hypervisor.Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := e.client()
	if err != nil {
		return nil, err
	}
	uuid, err := parseUUID(cfg.UUID)
	if err != nil {
		return nil, err
	}
	if _, err := conn.DomainLookupByUUID(uuid); err == nil {
		return nil, fmt.Errorf("libvirt: define: %w: a domain with UUID %s exists", hypervisor.ErrExists, cfg.UUID)
	} else if !golibvirt.IsNotFound(err) {
		return nil, wrap("define", err)
	}
	if other, err := conn.DomainLookupByName(cfg.Name); err == nil {
		return nil, fmt.Errorf("libvirt: define: %w: domain %q exists with UUID %s", hypervisor.ErrExists, cfg.Name, formatUUID(other.UUID))
	} else if !golibvirt.IsNotFound(err) {
		return nil, wrap("define", err)
	}
	text, err := e.prepare(conn, cfg, definition{})
	if err != nil {
		return nil, err
	}
	dom, err := conn.DomainDefineXMLFlags(text, golibvirt.DomainDefineValidate)
	if err != nil {
		return nil, wrap("define "+cfg.Name, err)
	}
	def, err := readDefinition(conn, dom)
	if err != nil {
		return nil, err
	}
	return e.adopt(dom, def, cfg.Console), nil
}

// prepare checks cfg against the host and renders its domain XML. prev is
// the machine's current definition when it is redefined: disks keep their
// guest names and NICs their MACs.
func (e *Engine) prepare(conn *golibvirt.Libvirt, cfg hypervisor.Config, prev definition) (string, error) {
	cfg = cfg.Clone()
	if !e.opts.Overcommit {
		_, kib, _, _, _, _, _, _, err := conn.NodeGetInfo()
		if err != nil {
			return "", wrap("read the host's memory size", err)
		}
		if err := hypervisor.CheckMemory(cfg.MemoryBytes, kib<<10, "libvirt.Options.Overcommit (hypercim vm run --overcommit)"); err != nil {
			return "", err
		}
	}
	for _, f := range []*string{&cfg.Boot.Kernel, &cfg.Boot.Initrd} {
		if *f == "" {
			continue
		}
		abs, err := filepath.Abs(*f)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return "", fmt.Errorf("%w: boot file: %w", hypervisor.ErrInvalidConfig, err)
		}
		*f = abs
	}
	placed, err := e.placeDisks(cfg.Disks, prev.targets, nil)
	if err != nil {
		return "", err
	}
	for i := range cfg.NICs {
		if err := e.resolveNIC(conn, &cfg.NICs[i], prev.cfg.NICs); err != nil {
			return "", err
		}
	}
	return domainXML(cfg, e.domainType, newMeta(e.opts.Instance, placed), placed)
}

// placeDisks inspects disks, makes the files QEMU will open accessible to
// it, and gives each disk a guest name, keeping the names in keep (by disk
// ID) and avoiding those in busy.
func (e *Engine) placeDisks(disks []hypervisor.DiskConfig, keep map[string]string, busy map[string]bool) ([]placedDisk, error) {
	used := map[string]bool{}
	for name := range busy {
		used[name] = true
	}
	var placed []placedDisk
	for _, d := range disks {
		d, layout, err := inspectDisk(d)
		if err != nil {
			return nil, err
		}
		for _, g := range layout.grants {
			if err := grantAccess(g.path, e.qemu, g.perm); err != nil {
				return nil, fmt.Errorf("disk %s: %w", d.ID, err)
			}
		}
		p := placedDisk{cfg: d, layout: layout, target: keep[d.ID]}
		if p.target == "" || used[p.target] {
			p.target = ""
		}
		placed = append(placed, p)
		if p.target != "" {
			used[p.target] = true
		}
	}
	for i := range placed {
		if placed[i].target == "" {
			placed[i].target = diskTarget(used)
			used[placed[i].target] = true
		}
	}
	return placed, nil
}

// resolveNIC fills in what a NIC config leaves to the engine: the MAC it
// had before, and libvirt's "default" network when that is running.
func (e *Engine) resolveNIC(conn *golibvirt.Libvirt, n *hypervisor.NICConfig, prev []hypervisor.NICConfig) error {
	if n.MAC == "" {
		for _, p := range prev {
			if p.ID == n.ID {
				n.MAC = p.MAC
			}
		}
	}
	if n.Network != "" || n.Tap != "" {
		if n.Network != "" && n.Tap != "" {
			return fmt.Errorf("%w: NIC %s names both a network and a tap device", hypervisor.ErrInvalidConfig, n.ID)
		}
		return nil
	}
	net, err := conn.NetworkLookupByName("default")
	if err != nil {
		return nil // no default network: the NIC has no link
	}
	if active, err := conn.NetworkIsActive(net); err == nil && active == 1 {
		n.Network = "default"
	}
	return nil
}

// readDefinition reads a domain's persistent definition.
func readDefinition(conn *golibvirt.Libvirt, dom golibvirt.Domain) (definition, error) {
	text, err := conn.DomainGetXMLDesc(dom, golibvirt.DomainXMLInactive)
	if err != nil {
		return definition{}, wrap("read definition", err)
	}
	return parseDomainXML(text)
}

// adopt registers a machine object for dom, or refreshes the one known.
func (e *Engine) adopt(dom golibvirt.Domain, def definition, sink io.Writer) *Machine {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.machines[def.cfg.UUID]
	if !ok {
		m = newMachine(e, dom)
		e.machines[def.cfg.UUID] = m
	}
	m.setDefinition(def)
	if sink != nil {
		m.sink.set(sink)
	}
	return m
}

// Lookup implements hypervisor.Engine. It also finds hypercim's domains
// defined by an earlier process, and attaches to the console of a running
// machine when no console stream is open.
func (e *Engine) Lookup(ctx context.Context, uuid string) (hypervisor.Machine, error) {
	id, err := parseUUID(uuid)
	if err != nil {
		return nil, fmt.Errorf("libvirt: lookup: %w: %w", hypervisor.ErrNotFound, err)
	}
	conn, err := e.client()
	if err != nil {
		return nil, err
	}
	dom, err := conn.DomainLookupByUUID(id)
	if err != nil {
		if golibvirt.IsNotFound(err) {
			e.forget(uuid)
		}
		return nil, wrap("lookup "+uuid, err)
	}
	return e.open(ctx, conn, dom)
}

// open returns the machine for one of hypercim's domains.
func (e *Engine) open(ctx context.Context, conn *golibvirt.Libvirt, dom golibvirt.Domain) (*Machine, error) {
	uuid := formatUUID(dom.UUID)
	e.mu.Lock()
	m, known := e.machines[uuid]
	e.mu.Unlock()
	if !known {
		def, err := readDefinition(conn, dom)
		if err != nil {
			return nil, err
		}
		switch {
		case !def.hypercim:
			return nil, fmt.Errorf("libvirt: lookup: %w: domain %s (%s) was not defined by hypercim", hypervisor.ErrNotFound, dom.Name, uuid)
		case def.meta.Instance != e.opts.Instance:
			return nil, fmt.Errorf("libvirt: lookup: %w: domain %s (%s) belongs to hypercim instance %q", hypervisor.ErrNotFound, dom.Name, uuid, def.meta.Instance)
		}
		m = e.adopt(dom, def, nil)
	}
	if st, _, err := m.status(); err == nil && (st == hypervisor.StateRunning || st == hypervisor.StatePaused) {
		// The domain outlived the process that started it, or another
		// client took its console: take the console (back), as virsh
		// console --force would. Best effort: a failure leaves the
		// machine usable, and the next Lookup tries again.
		m.ensureConsole(ctx)
	}
	return m, nil
}

// Machines implements hypervisor.Engine: every domain carrying hypercim's
// metadata, running or not.
func (e *Engine) Machines(ctx context.Context) ([]hypervisor.Machine, error) {
	conn, err := e.client()
	if err != nil {
		return nil, err
	}
	doms, _, err := conn.ConnectListAllDomains(1, golibvirt.ConnectListDomainsActive|golibvirt.ConnectListDomainsInactive)
	if err != nil {
		return nil, wrap("list domains", err)
	}
	var out []hypervisor.Machine
	for _, dom := range doms {
		m, err := e.open(ctx, conn, dom)
		switch {
		case err == nil:
			out = append(out, m)
		case errors.Is(err, hypervisor.ErrNotFound):
			// not hypercim's, or undefined meanwhile
		default:
			return nil, err
		}
	}
	return out, nil
}

// forget drops a machine whose domain no longer exists.
func (e *Engine) forget(uuid string) {
	e.mu.Lock()
	m := e.machines[uuid]
	delete(e.machines, uuid)
	e.mu.Unlock()
	if m != nil {
		m.retire()
	}
}

// machine returns the machine object for a domain UUID, if any.
func (e *Engine) machine(uuid golibvirt.UUID) *Machine {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.machines[formatUUID(uuid)]
}

func (e *Engine) allMachines() []*Machine {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Machine, 0, len(e.machines))
	for _, m := range e.machines {
		out = append(out, m)
	}
	return out
}

// Close implements hypervisor.Engine. Domains keep running: they belong to
// libvirtd, and a later Open finds them again.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	conn := e.conn
	e.mu.Unlock()
	e.cancel()
	<-e.done
	for _, m := range e.allMachines() {
		m.detachConsole()
		m.hub.Close()
	}
	if conn != nil {
		if err := conn.Disconnect(); err != nil && !disconnected(err) {
			return wrap("disconnect", err)
		}
	}
	return nil
}

func parseUUID(s string) (golibvirt.UUID, error) {
	var u golibvirt.UUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(u) || len(s) != 36 {
		return u, fmt.Errorf("%w: UUID %q is not canonical", hypervisor.ErrInvalidConfig, s)
	}
	copy(u[:], b)
	return u, nil
}

func formatUUID(u golibvirt.UUID) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
