package hypervisor

import (
	"errors"
	"strings"
	"testing"
)

func TestSyntaxChecks(t *testing.T) {
	for s, want := range map[string]bool{
		"6a7c5e2e-0000-4000-8000-00000000000a": true,
		"6A7C5E2E-0000-4000-8000-00000000000A": false, // not lower case
		"6a7c5e2e00004000800000000000000a":     false,
		"6a7c5e2e-0000-4000-8000-00000000000":  false,
		"6a7c5e2e-0000-4000-8000-00000000000g": false,
		"6a7c5e2e-0000-4000-8000_00000000000a": false,
		"":                                     false,
	} {
		if got := canonicalUUID(s); got != want {
			t.Errorf("canonicalUUID(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"52:54:00:12:34:56": true, "52:54:00:12:34:5g": false, "52-54-00-12-34-56": false,
		"52:54:00:12:34": false, "52:54:00:12:34:56:78": false, "52:54:00:AB:34:56": false,
	} {
		if got := canonicalMAC(s); got != want {
			t.Errorf("canonicalMAC(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"disk0": true, "D.1_x-2": true, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"": false, "-disk": false, "_disk": false, "disk 0": false, "disk/0": false, "dïsk": false,
	} {
		if got := validID(s); got != want {
			t.Errorf("validID(%q) = %v", s, got)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Config{Name: "m", UUID: "6a7c5e2e-0000-4000-8000-00000000000a", VCPUs: 1, MemoryBytes: 64 << 20,
		Boot:  BootSource{Kernel: "/k"},
		Disks: []DiskConfig{{ID: "disk0", Path: "/d.vmdk"}}, NICs: []NICConfig{{ID: "nic0", MAC: "52:54:00:00:00:01"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Config){
		"no name":             func(c *Config) { c.Name = "" },
		"bad UUID":            func(c *Config) { c.UUID = "x" },
		"no vCPU":             func(c *Config) { c.VCPUs = 0 },
		"odd memory":          func(c *Config) { c.MemoryBytes = 1<<20 + 1 },
		"no kernel":           func(c *Config) { c.Boot.Kernel = "" },
		"bad disk ID":         func(c *Config) { c.Disks[0].ID = "a b" },
		"no disk path":        func(c *Config) { c.Disks[0].Path = "" },
		"bad format":          func(c *Config) { c.Disks[0].Format = "qcow2" },
		"bad NIC ID":          func(c *Config) { c.NICs[0].ID = "" },
		"bad MAC":             func(c *Config) { c.NICs[0].MAC = "52:54:00:00:00" },
		"ID used twice":       func(c *Config) { c.NICs[0].ID = "disk0" },
		"disk ID twice":       func(c *Config) { c.Disks = append(c.Disks, c.Disks[0]) },
		"firmware and kernel": func(c *Config) { c.Boot.Firmware = true },
		"firmware and initrd": func(c *Config) { c.Boot = BootSource{Firmware: true, Initrd: "/i"} },
		"firmware, cmdline":   func(c *Config) { c.Boot = BootSource{Firmware: true, Cmdline: "quiet"} },
		"firmware, no disk":   func(c *Config) { c.Boot = BootSource{Firmware: true}; c.Disks = nil },
	} {
		c := good.Clone()
		edit(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateFirmware(t *testing.T) {
	c := Config{Name: "m", UUID: "6a7c5e2e-0000-4000-8000-00000000000a", VCPUs: 1, MemoryBytes: 64 << 20,
		Boot: BootSource{Firmware: true}, Disks: []DiskConfig{{ID: "disk0", Path: "/d.vmdk"}}}
	if err := c.Validate(); err != nil {
		t.Fatalf("firmware boot from one disk: %v", err)
	}
	c.Disks = nil
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "needs a disk") {
		t.Errorf("firmware boot without a disk: %v", err)
	}
}

func TestLimits(t *testing.T) {
	for _, ok := range []Limits{{}, {CPUWeight: 1, CPUCapPercent: 100}, {MemoryHardLimit: 1 << 30, MemorySoftLimit: 1 << 29}, {MemorySoftLimit: 1 << 20}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, bad := range []Limits{{CPUWeight: 10001}, {CPUCapPercent: 101}, {MemoryHardLimit: 1000}, {MemoryHardLimit: 1 << 20, MemorySoftLimit: 2 << 20}} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	cpu := Limits{CPUWeight: 1, CPUCapPercent: 1}
	if err := (Limits{CPUWeight: 200, CPUCapPercent: 50}).Unsupported(cpu, "kvm"); err != nil {
		t.Error(err)
	}
	err := Limits{CPUWeight: 200, MemoryHardLimit: 1 << 30, MemorySoftLimit: 1 << 29}.Unsupported(cpu, "kvm")
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "memory hard limit or a memory soft limit") {
		t.Errorf("memory limits on a CPU-only engine: %v", err)
	}
}
