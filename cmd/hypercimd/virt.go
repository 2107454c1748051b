package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm"
	"github.com/hypercim/hypercim/hypervisor/libvirt"
	"github.com/hypercim/hypercim/providers/interop"
	"github.com/hypercim/hypercim/providers/virt"
	"github.com/hypercim/hypercim/wbem"
)

// virtConfig holds the virtualization flags.
type virtConfig struct {
	hypervisor     string
	bootDirs       stringList
	defaultKernel  string
	defaultInitrd  string
	defaultCmdline string
	libvirtURI     string
	libvirtSocket  string
	libvirtType    string
	jobRetention   time.Duration
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// declare adds the virtualization flags to fs.
func (v *virtConfig) declare(fs *flag.FlagSet) {
	fs.StringVar(&v.hypervisor, "hypervisor", "kvm", "engine that runs the virtual systems of root/virt: kvm (hypercim's VMM on /dev/kvm), libvirt (a running libvirtd) or none (no virtualization provider)")
	fs.Var(&v.bootDirs, "virt-boot-dir", "directory (`DIR`) kernels and initial RAM disks of virtual systems may come from; repeatable; default DATA-DIR/virt/boot, /boot and the directory of the hypercimd binary")
	fs.StringVar(&v.defaultKernel, "virt-default-kernel", "", "kernel (`FILE`, in a boot directory) of virtual systems defined without HC_VirtualSystemSettingData.KernelPath, as clients that know only the DMTF classes define them")
	fs.StringVar(&v.defaultInitrd, "virt-default-initrd", "", "initial RAM disk (`FILE`) that goes with --virt-default-kernel")
	fs.StringVar(&v.defaultCmdline, "virt-default-cmdline", "", "kernel command line (`TEXT`) that goes with --virt-default-kernel")
	fs.StringVar(&v.libvirtURI, "libvirt-uri", libvirt.DefaultURI, "libvirt driver `URI` of --hypervisor libvirt")
	fs.StringVar(&v.libvirtSocket, "libvirt-socket", libvirt.DefaultSocket, "libvirtd's UNIX socket (`PATH`) for --hypervisor libvirt")
	fs.StringVar(&v.libvirtType, "libvirt-domain-type", "", "libvirt domain type, kvm or qemu (software emulation); default kvm where the host has hardware virtualization")
	fs.DurationVar(&v.jobRetention, "virt-job-retention", 5*time.Minute, "how long ended jobs (HC_ConcreteJob) stay visible: their TimeBeforeRemoval")
}

// virtProvider is the virtualization provider as the daemon runs it: the
// engine and the provider (its store lives in the repository).
type virtProvider struct {
	eng hypervisor.Engine
	svc *virt.Service
	log interface{ Warn(...any) }
}

// openVirt opens the engine --hypervisor names and the virtualization
// provider over it, registers it with the core and, when the interop
// provider is given, registers the profiles it implements. It returns nil
// for --hypervisor none.
func (d *daemon) openVirt(srv *wbem.Server, ip *interop.Provider) (*virtProvider, error) {
	cfg := d.cfg.virt
	if cfg.hypervisor == "none" {
		d.log.Info("--hypervisor none: root/virt serves no virtual systems")
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(d.cfg.dataDir, "virt")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("virtualization: %w", err)
	}
	var eng hypervisor.Engine
	var engVersion string
	var err error
	switch cfg.hypervisor {
	case "kvm":
		eng, err = kvm.New(kvm.Options{})
		if errors.Is(err, hypervisor.ErrUnavailable) {
			err = fmt.Errorf("%w; start with --hypervisor libvirt or --hypervisor none", err)
		}
		engVersion = productVersion()
	case "libvirt":
		if err := reachableByQEMU(d.cfg.dataDir, dir); err != nil {
			return nil, fmt.Errorf("virtualization: %w", err)
		}
		eng, err = libvirt.Open(ctx, libvirt.Options{URI: cfg.libvirtURI, Socket: cfg.libvirtSocket, DomainType: cfg.libvirtType})
	default:
		return nil, fmt.Errorf("--hypervisor %q: choose kvm, libvirt or none", cfg.hypervisor)
	}
	if err != nil {
		return nil, fmt.Errorf("virtualization: opening the %s engine: %w", cfg.hypervisor, err)
	}
	store := virt.ProviderStore(srv.ProviderStore("virt"))
	boot := cfg.bootDirs
	if len(boot) == 0 {
		boot = defaultBootDirs(dir)
	}
	svc, err := virt.Open(ctx, virt.Config{
		Engine: eng, Store: store, DataDir: dir, BootDirs: boot,
		DefaultKernel: cfg.defaultKernel, DefaultInitrd: cfg.defaultInitrd, DefaultCmdline: cfg.defaultCmdline,
		Class:   func(name string) (*cim.Class, error) { return srv.Class(virt.Namespace, name) },
		Version: productVersion(), EngineVersion: engVersion,
		StopMachinesOnClose: eng.Name() == "kvm", JobRetention: cfg.jobRetention,
		Log: d.log.WithField("provider", "virt"), Publisher: srv,
	})
	if err != nil {
		eng.Close()
		return nil, err
	}
	v := &virtProvider{eng: eng, svc: svc, log: d.log}
	if err := svc.Register(srv.Registry()); err != nil {
		v.close()
		return nil, fmt.Errorf("virtualization: %w", err)
	}
	if ip != nil {
		if err := registerVirtProfiles(ip, svc); err != nil {
			v.close()
			return nil, err
		}
	}
	d.log.WithField("hypervisor", eng.Name()).WithField("pool", filepath.Join(dir, "images")).Info("virtualization provider ready in root/virt")
	return v, nil
}

// reachableByQEMU lets QEMU, which libvirt runs as an unprivileged user,
// reach the storage pool: the data directory and the provider's
// directories become searchable by others (mode o+x, not readable: names
// cannot be listed), the images directory is created so. libvirt gives
// each image to QEMU's user when a machine starts; everything else in the
// data directory keeps its own, private, mode.
func reachableByQEMU(dataDir, dir string) error {
	for _, d := range []string{filepath.Join(dir, "images"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
	}
	for _, d := range []string{dataDir, dir, filepath.Join(dir, "images"), filepath.Join(dir, "state")} {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
			return err
		}
	}
	return nil
}

// defaultBootDirs are where kernels may come from without --virt-boot-dir.
func defaultBootDirs(dir string) []string {
	boot := filepath.Join(dir, "boot")
	os.MkdirAll(boot, 0o750)
	out := []string{boot}
	if st, err := os.Stat("/boot"); err == nil && st.IsDir() {
		out = append(out, "/boot")
	}
	if exe, err := os.Executable(); err == nil {
		out = append(out, filepath.Dir(exe))
	}
	return out
}

// registerVirtProfiles advertises the virtualization profiles in
// root/interop (DSP1033), with their references and central instances.
func registerVirtProfiles(ip *interop.Provider, svc *virt.Service) error {
	ids := map[string]string{}
	profiles := svc.Profiles()
	for _, p := range profiles {
		ids[p.Name] = interop.Profile{Name: p.Name, Version: p.Version}.ID()
	}
	for _, p := range profiles {
		var refs []string
		for _, r := range p.References {
			refs = append(refs, ids[r])
		}
		if _, err := ip.RegisterProfile(interop.Profile{Name: p.Name, Version: p.Version, References: refs,
			CentralNamespace: virt.Namespace, Central: p.Central}); err != nil {
			return fmt.Errorf("virtualization: registering profile %s: %w", p.Name, err)
		}
	}
	ip.SetHostSystem(svc.HostPath())
	return nil
}

// close applies the shutdown actions of running systems (kvm) and
// releases the engine and the store.
func (v *virtProvider) close() {
	if v == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := v.svc.Close(ctx); err != nil {
		v.log.Warn("closing the virtualization provider: ", err)
	}
	if err := v.eng.Close(); err != nil {
		v.log.Warn("closing the hypervisor engine: ", err)
	}
}
