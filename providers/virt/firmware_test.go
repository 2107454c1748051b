package virt

import (
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// TestVSSDFirmwareBoot: an empty KernelPath asks for firmware boot, so the
// server's default kernel, initrd and command line are all dropped; an
// absent KernelPath keeps the defaults; an InitrdPath given with the empty
// KernelPath stays, for the manager to refuse.
func TestVSSDFirmwareBoot(t *testing.T) {
	defaults := func() vmm.Definition {
		return vmm.Definition{Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd", Cmdline: "console=ttyS0"}
	}
	vssd := func(props map[string]string) *cim.Instance {
		i := cim.NewInstance(classVSSD)
		for k, v := range props {
			i.Set(k, cim.NewString(v))
		}
		return i
	}
	for _, c := range []struct {
		props map[string]string
		want  vmm.Definition
	}{
		{map[string]string{"KernelPath": ""}, vmm.Definition{}},
		{map[string]string{"ElementName": "x"}, vmm.Definition{Name: "x", Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd", Cmdline: "console=ttyS0"}},
		{map[string]string{"KernelPath": "", "InitrdPath": "/boot/i2"}, vmm.Definition{Initrd: "/boot/i2"}},
	} {
		def := defaults()
		if err := applyVSSD(&def, vssd(c.props)); err != nil {
			t.Fatal(err)
		}
		if def.Name != c.want.Name || def.Kernel != c.want.Kernel || def.Initrd != c.want.Initrd || def.Cmdline != c.want.Cmdline {
			t.Errorf("%v: kernel %q initrd %q cmdline %q, want %+v", c.props, def.Kernel, def.Initrd, def.Cmdline, c.want)
		}
	}
}
