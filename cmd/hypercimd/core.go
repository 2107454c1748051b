package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/providers/interop"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/testprovider"
)

// productName is what the interop namespace calls the server.
const productName = "hypercim"

// protocolCIMXML names the CIM-XML entry of the protocol table, as the
// interop provider advertises it.
const protocolCIMXML = interop.ProtocolCIMXML

// core is the CIMOM core and the providers the daemon runs in it.
type core struct {
	server *wbem.Server
	ops    wbem.Operations
	virt   *virtProvider
	log    interface{ Warn(...any) }
}

// newCore starts the CIMOM core on the daemon's repository and users;
// registerProviders adds the providers once the listeners are known.
func newCore(d *daemon) (*core, error) {
	srv, err := wbem.NewServer(wbem.Config{
		Repository: d.repo,
		Authorizer: d.users,
		Logger:     d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the CIMOM core: %w", err)
	}
	enableIndications(srv)
	return &core{server: srv, ops: srv, log: d.log}, nil
}

// registerProviders registers the interop provider (advertising the
// endpoints), the test provider when asked for, and the virtualization
// provider.
func (c *core) registerProviders(d *daemon, eps []*endpoint) error {
	ip, err := interop.New(c.server, interop.Config{
		Product:   productName,
		Version:   productVersion(),
		Listeners: advertisedListeners(eps, d.cfg.noAuth),
	})
	if err != nil {
		return fmt.Errorf("the interop provider: %w", err)
	}
	if err := ip.Register(c.server.Registry()); err != nil {
		return fmt.Errorf("the interop provider: %w", err)
	}
	if d.cfg.testProvider != "" {
		if err := d.serveTestProvider(c.server); err != nil {
			return err
		}
	}
	c.virt, err = d.openVirt(c.server, ip)
	if errors.Is(err, hypervisor.ErrUnavailable) && !d.cfg.explicit["hypervisor"] {
		// The default engine needs /dev/kvm; a machine without it still
		// gets a working server (make run on a fresh machine).
		d.log.WithError(err).Warn("serving without virtualization: root/virt has no virtual systems (choose --hypervisor libvirt, or --hypervisor none to silence this)")
		return nil
	}
	return err
}

func (c *core) close() {
	c.virt.close()
	if err := c.server.Close(); err != nil {
		c.log.Warn("closing the CIMOM core: ", err)
	}
}

// advertisedListeners describes the endpoints for the interop namespace:
// the URL a client uses (the host name for an address on every
// interface) and the authentication offered.
func advertisedListeners(eps []*endpoint, noAuth bool) []interop.Listener {
	host, _ := os.Hostname()
	var out []interop.Listener
	for _, e := range eps {
		addr := e.ln.Addr().String()
		if h, port, err := net.SplitHostPort(addr); err == nil && host != "" {
			if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
				addr = net.JoinHostPort(host, port)
			}
		}
		for i, name := range e.protocols {
			var schemes []string
			switch {
			case noAuth:
			case name == protocolCIMXML:
				schemes = []string{"Basic"}
			default:
				schemes = []string{"Basic", "Digest"}
			}
			out = append(out, interop.Listener{Protocol: name, URL: e.scheme() + "://" + addr + e.paths[i], Authentication: schemes})
		}
	}
	return out
}

// serveTestProvider compiles the test provider's classes into the namespace
// --test-provider names and registers the provider for them: hypercim's
// conformance tests and benchmarks drive a real daemon with it.
func (d *daemon) serveTestProvider(srv *wbem.Server) error {
	ns := d.cfg.testProvider
	quals, err := fs.ReadFile(schemas.Files(), "qualifiers.mof")
	if err != nil {
		return err
	}
	w := d.repo.NewBulkWriter()
	comp := &mof.Compiler{Target: w, Namespace: ns}
	if _, err := comp.CompileSource("testprovider.mof", append(quals, testprovider.MOF...)); err != nil {
		w.Rollback()
		return fmt.Errorf("--test-provider: compiling its classes into %s: %w", ns, err)
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("--test-provider: %w", err)
	}
	p := testprovider.New()
	p.GenCount, p.GenPayload = d.cfg.testGenCount, d.cfg.testGenPayload
	p.Events = srv
	if d.cfg.testGenPrepared {
		prepared, err := prepareGen(srv, ns, p)
		if err != nil {
			return fmt.Errorf("--test-provider-prepared: %w", err)
		}
		if err := srv.Registry().Register(ns, prepared, testprovider.Classes()...); err != nil {
			return fmt.Errorf("--test-provider: %w", err)
		}
	} else if err := p.Register(srv.Registry(), ns); err != nil {
		return fmt.Errorf("--test-provider: %w", err)
	}
	d.log.WithField("namespace", ns).Warn("serving the test provider's classes (T_*): for hypercim's own tests, not for production")
	return nil
}

// preparedGen is the test provider with its T_Gen instances built once,
// paths included, and served from memory: a provider that keeps its
// instances ready, so that benchmarks measure the server's path (core,
// encoder, HTTP) rather than the generation of the instances. The
// instances are shared, read-only: the core passes an instance that
// carries its path and needs no filtering through unchanged.
type preparedGen struct {
	*testprovider.Provider
	gen  []*cim.Instance
	byID map[string]*cim.Instance
}

func prepareGen(srv *wbem.Server, ns string, p *testprovider.Provider) (*preparedGen, error) {
	class, err := srv.Class(ns, "T_Gen")
	if err != nil {
		return nil, err
	}
	g := &preparedGen{Provider: p, gen: make([]*cim.Instance, 0, p.GenCount), byID: make(map[string]*cim.Instance, p.GenCount)}
	err = p.EnumerateInstances(context.Background(), ns, class, func(inst *cim.Instance) error {
		path, err := class.InstancePath(ns, inst)
		if err != nil {
			return err
		}
		inst.Path = path
		g.gen = append(g.gen, inst)
		g.byID[inst.Get("Id").Str()] = inst
		return nil
	})
	return g, err
}

// EnumerateInstances implements wbem.InstanceProvider.
func (g *preparedGen) EnumerateInstances(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error {
	if !cim.EqualNames(class.Name, "T_Gen") {
		return g.Provider.EnumerateInstances(ctx, ns, class, yield)
	}
	for i, inst := range g.gen {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := yield(inst); err != nil {
			return err
		}
	}
	return nil
}

// GetInstance implements wbem.InstanceProvider.
func (g *preparedGen) GetInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (*cim.Instance, error) {
	if !cim.EqualNames(class.Name, "T_Gen") {
		return g.Provider.GetInstance(ctx, ns, class, name)
	}
	id, _ := name.Key("Id")
	if inst := g.byID[id.Str()]; inst != nil {
		return inst, nil
	}
	return nil, cim.Errorf(cim.ErrNotFound, "Instance not found: %s", name.ModelPath())
}
