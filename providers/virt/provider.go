package virt

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// Options configure a Provider.
type Options struct {
	// Manager holds the virtual systems.
	Manager *vmm.Manager
	// Class returns a resolved class of root/virt (the repository's).
	Class func(name string) (*cim.Class, error)
	// HostName is the Name of the host system; os.Hostname when empty.
	HostName string
	// Version is hypercim's version, reported as the kvm engine's version.
	Version string
	// EngineVersion is the engine's version (libvirtd's); Version when
	// empty.
	EngineVersion string
	// DefaultKernel, DefaultInitrd and DefaultCmdline are the boot source
	// of systems defined without one (clients that know only the DMTF
	// classes cannot name a kernel).
	DefaultKernel  string
	DefaultInitrd  string
	DefaultCmdline string
	// Log receives the provider's log.
	Log logrus.FieldLogger
}

// Provider serves the DMTF virtualization profiles in root/virt over a
// vmm.Manager: instances, associations and methods.
type Provider struct {
	m        *vmm.Manager
	classFn  func(string) (*cim.Class, error)
	hostName string
	version  string
	engVer   string
	log      logrus.FieldLogger

	bootKernel, bootInitrd, bootCmdline string

	ind *indicator // nil without a publisher

	mu      sync.RWMutex
	classes map[string]*cim.Class
}

// NewProvider returns a provider over opts.Manager.
func NewProvider(opts Options) (*Provider, error) {
	if opts.Manager == nil || opts.Class == nil {
		return nil, fmt.Errorf("virt: Manager and Class are required")
	}
	host := opts.HostName
	if host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		host = h
	}
	log := opts.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	engVer := opts.EngineVersion
	if engVer == "" {
		engVer = opts.Version
	}
	p := &Provider{m: opts.Manager, classFn: opts.Class, hostName: host, version: opts.Version, engVer: engVer,
		log: log, classes: map[string]*cim.Class{},
		bootKernel: opts.DefaultKernel, bootInitrd: opts.DefaultInitrd, bootCmdline: opts.DefaultCmdline}
	for _, c := range append(append([]string{}, instanceClasses...), associationClasses...) {
		if _, err := p.class(c); err != nil {
			return nil, fmt.Errorf("virt: class %s: %w (are hypercim's schemas installed in %s?)", c, err, Namespace)
		}
	}
	return p, nil
}

// InstanceClasses lists the classes whose instances the provider serves.
func InstanceClasses() []string { return append([]string(nil), instanceClasses...) }

// AssociationClasses lists the association classes the provider serves.
func AssociationClasses() []string { return append([]string(nil), associationClasses...) }

// class returns a resolved class, cached.
func (p *Provider) class(name string) (*cim.Class, error) {
	key := strings.ToLower(name)
	p.mu.RLock()
	c := p.classes[key]
	p.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	c, err := p.classFn(name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.classes[key] = c
	p.mu.Unlock()
	return c, nil
}

// inst builds an instance of one of our classes; set records the first
// error, which done returns with the instance and its path.
type inst struct {
	p   *Provider
	cls *cim.Class
	i   *cim.Instance
	err error
}

func (p *Provider) newInst(class string) *inst {
	c, err := p.class(class)
	if err != nil {
		return &inst{p: p, err: err}
	}
	return &inst{p: p, cls: c, i: c.NewInstance()}
}

func (b *inst) set(name string, v any) *inst {
	if b.err != nil {
		return b
	}
	if vv, ok := v.(cim.Value); ok {
		b.i.Set(name, vv)
		return b
	}
	if err := b.i.Assign(name, v); err != nil {
		b.err = fmt.Errorf("%s.%s: %w", b.cls.Name, name, err)
	}
	return b
}

// setIf sets the property when cond holds (leaving it NULL otherwise).
func (b *inst) setIf(cond bool, name string, v any) *inst {
	if cond {
		return b.set(name, v)
	}
	return b
}

func (b *inst) done() (*cim.Instance, error) {
	if b.err != nil {
		return nil, b.err
	}
	path, err := b.cls.InstancePath(Namespace, b.i)
	if err != nil {
		return nil, err
	}
	b.i.Path = path
	return b.i, nil
}

// world is a consistent view of the manager for one request.
type world struct {
	systems  []vmm.System
	byID     map[string]*vmm.System
	snaps    []vmm.Snapshot
	snapByID map[string]*vmm.Snapshot
	bySystem map[string][]*vmm.Snapshot
	jobs     []vmm.Job
}

func (p *Provider) world() *world {
	w := &world{systems: p.m.Systems(), snaps: p.m.Snapshots(""), jobs: p.m.Jobs()}
	w.byID = make(map[string]*vmm.System, len(w.systems))
	for i := range w.systems {
		w.byID[w.systems[i].UUID] = &w.systems[i]
	}
	w.snapByID = make(map[string]*vmm.Snapshot, len(w.snaps))
	w.bySystem = map[string][]*vmm.Snapshot{}
	for i := range w.snaps {
		s := &w.snaps[i]
		w.snapByID[s.ID] = s
		w.bySystem[s.System] = append(w.bySystem[s.System], s)
	}
	sort.SliceStable(w.jobs, func(i, j int) bool { return w.jobs[i].Created.Before(w.jobs[j].Created) })
	return w
}

// worldOf is a view focused on one system (cheaper than the whole world).
func (p *Provider) worldOf(uuid string) (*world, error) {
	v, err := p.m.System(uuid)
	if err != nil {
		return nil, err
	}
	w := &world{systems: []vmm.System{v}, snaps: p.m.Snapshots(v.UUID)}
	w.byID = map[string]*vmm.System{v.UUID: &w.systems[0]}
	w.snapByID = map[string]*vmm.Snapshot{}
	w.bySystem = map[string][]*vmm.Snapshot{}
	for i := range w.snaps {
		s := &w.snaps[i]
		w.snapByID[s.ID] = s
		w.bySystem[s.System] = append(w.bySystem[s.System], s)
	}
	return w, nil
}

// notFound is the CIM error for a path that names nothing of ours.
func notFound(path *cim.ObjectPath) error {
	return cim.Errorf(cim.ErrNotFound, "no instance %s", path)
}
