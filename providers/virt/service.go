package virt

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/wbem"
)

// Store is the transactional key-value store the provider keeps its state
// in (see Config.Store).
type Store = vmm.Store

// Tx is one transaction of a Store.
type Tx = vmm.Tx

// ProviderStore adapts the core's per-provider store (kept in the
// repository database: one store per data directory) to the Store the
// provider needs.
func ProviderStore(ps wbem.ProviderStore) Store { return providerStore{ps} }

type providerStore struct{ ps wbem.ProviderStore }

func (p providerStore) View(fn func(Tx) error) error {
	return p.ps.View(func(tx wbem.ProviderTx) error { return fn(tx) })
}

func (p providerStore) Update(fn func(Tx) error) error {
	return p.ps.Update(func(tx wbem.ProviderTx) error { return fn(tx) })
}

// Config configures a Service.
type Config struct {
	// Engine runs the virtual systems; the caller closes it after the
	// service.
	Engine hypervisor.Engine
	// Store keeps definitions, snapshots, jobs and the intent journal.
	Store Store
	// DataDir is the provider's directory: images/ (the storage pool) and
	// state/ (saved states and snapshot memory).
	DataDir string
	// BootDirs are the directories kernels and initial RAM disks may come
	// from; DataDir/boot when empty.
	BootDirs []string
	// DefaultKernel, DefaultInitrd and DefaultCmdline boot the systems
	// defined without a boot source.
	DefaultKernel, DefaultInitrd, DefaultCmdline string
	// Class returns the resolved classes of root/virt.
	Class func(name string) (*cim.Class, error)
	// HostName names the host system; os.Hostname when empty.
	HostName string
	// Version is hypercim's version; EngineVersion the engine's.
	Version, EngineVersion string
	// StopMachinesOnClose applies each running system's
	// AutomaticShutdownAction at Close: set it for engines whose machines
	// live in the server's process (kvm).
	StopMachinesOnClose bool
	// JobRetention is how long ended jobs stay (TimeBeforeRemoval).
	JobRetention time.Duration
	// Log receives the provider's log.
	Log logrus.FieldLogger
	// Publisher, when set, receives lifecycle indications of virtual
	// systems and jobs.
	Publisher Publisher
}

// Service is the virtualization provider with the manager behind it.
type Service struct {
	*Provider
	m *vmm.Manager
}

// Open loads the virtual systems, recovers from an interrupted run,
// reconciles the engine, and returns the provider ready to register.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	boot := cfg.BootDirs
	if len(boot) == 0 {
		boot = []string{filepath.Join(cfg.DataDir, "boot")}
	}
	// The provider comes into being after the manager, which reports its
	// changes from Open on: those of the start-up go unannounced.
	var ready atomic.Pointer[Provider]
	onChange := func(c vmm.Change) {
		if p := ready.Load(); p != nil {
			p.onChange(c)
		}
	}
	m, err := vmm.Open(ctx, vmm.Options{Engine: cfg.Engine, Store: cfg.Store, DataDir: cfg.DataDir, BootDirs: boot,
		StopMachinesOnClose: cfg.StopMachinesOnClose, JobRetention: cfg.JobRetention, Log: cfg.Log, OnChange: onChange})
	if err != nil {
		return nil, fmt.Errorf("virtualization: %w", err)
	}
	p, err := NewProvider(Options{Manager: m, Class: cfg.Class, HostName: cfg.HostName, Version: cfg.Version,
		EngineVersion: cfg.EngineVersion, DefaultKernel: cfg.DefaultKernel, DefaultInitrd: cfg.DefaultInitrd,
		DefaultCmdline: cfg.DefaultCmdline, Log: cfg.Log})
	if err != nil {
		m.Close(ctx)
		return nil, err
	}
	if cfg.Publisher != nil {
		p.SetPublisher(cfg.Publisher)
	}
	ready.Store(p)
	return &Service{Provider: p, m: m}, nil
}

// Close applies the shutdown actions (when configured) and waits for
// running jobs until ctx ends.
func (s *Service) Close(ctx context.Context) error { return s.m.Close(ctx) }
