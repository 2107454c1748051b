package kvm

import (
	"errors"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor"
)

func TestVCPUCPUID(t *testing.T) {
	supported := []kvmCPUIDEntry2{
		{Function: 1, EBX: 0xff00abcd, EDX: leaf1EDXHTT},
		{Function: 7, Index: 0, EDX: leaf7EDXFSRM | 1},
		{Function: 0xa, EAX: 0x7300403},
		{Function: 0xb, Index: 1, EDX: 0},
	}
	c := vcpuCPUID(supported, 3, 1)
	e := c.Entries[:c.NEnt]
	if e[0].EBX>>24 != 3 || e[0].EBX&0xffff != 0xabcd || e[0].ECX&leaf1ECXHypervisor == 0 || e[0].EDX&leaf1EDXHTT != 0 {
		t.Errorf("leaf 1 %+v", e[0])
	}
	if e[1].EDX != 1 || e[2].EAX != 0 || e[3].EDX != 3 {
		t.Errorf("leaves 7, 0xa, 0xb: %+v", e[1:])
	}
	if supported[0].EBX != 0xff00abcd {
		t.Error("the supported list was modified")
	}
}

func TestOptions(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil || o.Device != DefaultDevice || o.Transport != TransportPCI {
		t.Errorf("defaults %+v %v", o, err)
	}
	if host, err := hypervisor.HostMemory(); err != nil || o.MaxMemoryBytes != host {
		t.Errorf("default memory limit %d, host %d (%v)", o.MaxMemoryBytes, host, err)
	}
	if o, _ := (Options{Overcommit: true}).withDefaults(); o.MaxMemoryBytes != 0 {
		t.Errorf("overcommit still limits memory to %d", o.MaxMemoryBytes)
	}
	if _, err := (Options{Transport: "isa"}).withDefaults(); err == nil {
		t.Error("unknown transport accepted")
	}
	if _, err := New(Options{Device: "/nonexistent/kvm"}); !errors.Is(err, hypervisor.ErrUnavailable) {
		t.Errorf("missing device: %v", err)
	}
}

func TestNICMAC(t *testing.T) {
	a, _ := nicMAC("u1", hypervisor.NICConfig{ID: "nic0"})
	b, _ := nicMAC("u1", hypervisor.NICConfig{ID: "nic0"})
	c, _ := nicMAC("u1", hypervisor.NICConfig{ID: "nic1"})
	if a != b || a == c || a[0] != 0x52 || a[0]&1 != 0 {
		t.Errorf("generated MACs %x %x %x", a, b, c)
	}
	m, err := nicMAC("u1", hypervisor.NICConfig{ID: "nic0", MAC: "02:00:00:00:00:09"})
	if err != nil || m != [6]byte{2, 0, 0, 0, 0, 9} {
		t.Errorf("configured MAC %x %v", m, err)
	}
}

// TestEngineDefine covers validation and bookkeeping without running.
func TestEngineDefine(t *testing.T) {
	e := newTestEngine(t, Options{MaxVCPUs: 8})
	ctx := t.Context()
	cfg := hypervisor.Config{Name: "a", UUID: uuidFor(1), VCPUs: 1, MemoryBytes: 64 << 20, Boot: hypervisor.BootSource{Kernel: "/k"}}
	m, err := e.Define(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Define(ctx, cfg); !errors.Is(err, hypervisor.ErrExists) {
		t.Errorf("duplicate UUID: %v", err)
	}
	dup := cfg
	dup.UUID = uuidFor(2)
	if _, err := e.Define(ctx, dup); !errors.Is(err, hypervisor.ErrExists) {
		t.Errorf("duplicate name: %v", err)
	}
	for _, bad := range []func(*hypervisor.Config){
		func(c *hypervisor.Config) { c.VCPUs = 9 },
		func(c *hypervisor.Config) { c.MemoryBytes = 2 << 20 },
		func(c *hypervisor.Config) { c.MemoryBytes = 4000 << 30 }, // more than the host has
		func(c *hypervisor.Config) { c.UUID = "nope" },
	} {
		c := cfg
		c.Name, c.UUID = "b", uuidFor(3)
		bad(&c)
		if _, err := e.Define(ctx, c); !errors.Is(err, hypervisor.ErrInvalidConfig) {
			t.Errorf("invalid config accepted: %v", err)
		}
	}
	if got, err := e.Lookup(ctx, uuidFor(1)); err != nil || got != m {
		t.Errorf("Lookup: %v", err)
	}
	if _, err := e.Lookup(ctx, uuidFor(9)); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("Lookup of unknown: %v", err)
	}
	for name, op := range map[string]func() error{
		"stop":   func() error { return m.Stop(ctx) },
		"pause":  func() error { return m.Pause(ctx) },
		"resume": func() error { return m.Resume(ctx) },
		"reset":  func() error { return m.Reset(ctx) },
		"snapshot": func() error {
			return m.Snapshot(ctx, t.TempDir(), hypervisor.SnapshotOptions{})
		},
		"shutdown": func() error { return m.Shutdown(ctx) },
	} {
		var se *hypervisor.StateError
		if err := op(); !errors.As(err, &se) || !errors.Is(err, hypervisor.ErrInvalidState) {
			t.Errorf("%s on a stopped machine: %v", name, err)
		}
	}
	if err := m.Start(ctx); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("start with a missing kernel: %v", err)
	}
	if m.State() != hypervisor.StateStopped {
		t.Errorf("state %v after a failed start", m.State())
	}
	if err := m.Restore(ctx, t.TempDir(), hypervisor.RestoreOptions{}); !errors.Is(err, hypervisor.ErrSnapshot) {
		t.Errorf("restore from an empty directory: %v", err)
	}
	re := cfg
	re.VCPUs = 2
	if err := m.Reconfigure(ctx, re); err != nil || m.Config().VCPUs != 2 {
		t.Errorf("Reconfigure: %v", err)
	}
	re.MemoryBytes = 4000 << 30
	if err := m.Reconfigure(ctx, re); !errors.Is(err, hypervisor.ErrInvalidConfig) || !strings.Contains(err.Error(), "Overcommit") {
		t.Errorf("Reconfigure to more memory than the host has: %v", err)
	}
	re.MemoryBytes = cfg.MemoryBytes
	re.UUID = uuidFor(5)
	if err := m.Reconfigure(ctx, re); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("UUID change: %v", err)
	}
	if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: "d", Path: "/x.vmdk"}); err != nil || len(m.Config().Disks) != 1 {
		t.Errorf("attach to a stopped machine: %v", err)
	}
	if err := m.DetachDisk(ctx, "nope"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("detach unknown: %v", err)
	}
	if err := m.Undefine(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, _ := e.Machines(ctx); len(ms) != 0 {
		t.Errorf("%d machines after undefine", len(ms))
	}
}
