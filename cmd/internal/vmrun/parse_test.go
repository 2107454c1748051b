package vmrun

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]uint64{"64M": 64 << 20, "1G": 1 << 30, "512MiB": 512 << 20, "256": 256 << 20, "2048k": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1M", "1.5G", "12Q", "99999999999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	o, err := Parse([]string{"--kernel", "k", "--disk", "a.vmdk,ro", "--disk", "b.img,format=raw",
		"--nic", "tap0,mac=52:54:00:AA:00:01", "--cpus", "2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	d := o.Config.Disks
	if len(d) != 2 || !d[0].ReadOnly || d[1].Format != "raw" || d[1].ID != "disk1" || !filepath.IsAbs(d[0].Path) {
		t.Errorf("disks %+v", d)
	}
	if n := o.Config.NICs; len(n) != 1 || n[0].Tap != "tap0" || n[0].MAC != "52:54:00:aa:00:01" {
		t.Errorf("NICs %+v", n)
	}
	if o.Config.VCPUs != 2 || o.Config.MemoryBytes != 256<<20 || o.Backend != "kvm" {
		t.Errorf("config %+v", o.Config)
	}
	o, err = Parse([]string{"--backend", "libvirt", "--kernel", "k", "--nic", "network=default,mac=52:54:00:aa:00:02", "--nic", "bridge=br0", "--nic", "tap3"})
	if err != nil {
		t.Fatal(err)
	}
	want := []hypervisor.NICConfig{
		{ID: "nic0", Network: "default", MAC: "52:54:00:aa:00:02"},
		{ID: "nic1", Network: "bridge:br0"},
		{ID: "nic2", Tap: "tap3"},
	}
	if !slices.Equal(o.Config.NICs, want) {
		t.Errorf("libvirt NICs %+v, want %+v", o.Config.NICs, want)
	}
}

func TestParseFirmware(t *testing.T) {
	o, err := Parse([]string{"--firmware", "--disk", "dos.vmdk", "--cpus", "2", "--memory", "32M", "--bios", "my-bios"})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	b := o.Config.Boot
	if !b.Firmware || b.Kernel != "" || len(o.Config.Disks) != 1 || !filepath.IsAbs(o.BIOS) || filepath.Base(o.BIOS) != "my-bios" {
		t.Errorf("boot %+v, BIOS %q", b, o.BIOS)
	}
	if o.Config.VCPUs != 2 || o.Config.MemoryBytes != 32<<20 || !strings.HasPrefix(o.Config.Name, "dos-") {
		t.Errorf("config %+v", o.Config)
	}
	for args, msg := range map[string]string{
		"--firmware":                                     "needs a --disk",
		"--firmware --disk d --kernel k":                 "takes no --kernel",
		"--firmware --disk d --cmdline x":                "takes no --kernel",
		"--disk d":                                       "--kernel is required",
		"--kernel k --bios b":                            "--firmware only",
		"--firmware --disk d --backend libvirt --bios b": "kvm backend only",
	} {
		if _, err := Parse(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error saying %q", args, err, msg)
		}
	}
}
