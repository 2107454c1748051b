package virt

import (
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// TestProcessorLimitUnits: a processor allocation gives its Limit and
// Reservation in percent of the system's processor capacity, or, with
// AllocationUnits "count" as the profiles' first clients write it, in
// vCPUs; either way it reads back in percent, and out of range or
// unenforceable values are refused with the property named.
func TestProcessorLimitUnits(t *testing.T) {
	f := newFixture(t)
	vm := f.defineVM("units", 2, 32, 0)
	uuid, _ := vm.Key("Name")
	proc := rasdPath(uuid.Str(), "proc", partDevice)
	get := func() *cim.Instance {
		t.Helper()
		i, err := f.p.get(proc)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	modify := func(props map[string]cim.Value) (uint32, string) {
		t.Helper()
		i := get().Clone()
		for _, name := range []string{"Weight", "Limit", "Reservation", "AllocationUnits", "VirtualQuantity"} {
			i.Set(name, cim.Value{})
		}
		for name, v := range props {
			i.Set(name, v)
		}
		rc, out := f.invoke(f.p.vsmsPath(), "ModifyResourceSettings", pv("ResourceSettings", emb(i)))
		return rc, errorMessage(out)
	}
	for _, c := range []struct {
		props       map[string]cim.Value
		rc          uint32
		msg         string
		weight, lim uint64
	}{
		{props: map[string]cim.Value{"AllocationUnits": cim.NewString("count"), "Limit": cim.NewUint64(1)}, weight: 100, lim: 50},
		{props: map[string]cim.Value{"AllocationUnits": cim.NewString("count"), "Limit": cim.NewUint64(2), "Reservation": cim.NewUint64(2)}, weight: 100, lim: 100},
		{props: map[string]cim.Value{"Limit": cim.NewUint64(40), "Weight": cim.NewUint32(250)}, weight: 250, lim: 40},
		{props: map[string]cim.Value{"AllocationUnits": cim.NewString("count"), "Reservation": cim.NewUint64(3)}, rc: 1, msg: "Reservation", weight: 250, lim: 40},
		{props: map[string]cim.Value{"Reservation": cim.NewUint64(10)}, rc: 1, msg: "Reservation", weight: 250, lim: 40},
		{props: map[string]cim.Value{"AllocationUnits": cim.NewString("hertz*10^6"), "Limit": cim.NewUint64(10)}, rc: 4, msg: "AllocationUnits", weight: 250, lim: 40},
		{props: map[string]cim.Value{"Limit": cim.NewUint64(101)}, rc: 4, msg: "Limit", weight: 250, lim: 40},
		{props: map[string]cim.Value{"Weight": cim.NewUint32(0)}, weight: 100, lim: 40},
	} {
		rc, msg := modify(c.props)
		if rc != c.rc || c.rc != 0 && !strings.Contains(msg, c.msg) {
			t.Errorf("ModifyResourceSettings %v: %d %q, want %d naming %s", c.props, rc, msg, c.rc, c.msg)
		}
		i := get()
		if w, l := uint64(i.Get("Weight").Uint32()), i.Get("Limit").Uint64(); w != c.weight || l != c.lim {
			t.Errorf("after %v: Weight %d Limit %d, want %d and %d", c.props, w, l, c.weight, c.lim)
		}
		if u := i.Get("AllocationUnits").Str(); u != "percent" || i.Get("Reservation").Uint64() != 0 || i.Get("VirtualQuantity").Uint64() != 2 {
			t.Errorf("after %v: %s", c.props, i)
		}
	}

	// The kvm engine has no memory limits: the templates offer none.
	for _, tr := range templateRoles {
		tpl, err := f.p.templateInstance(poolByKey(poolMemory), tr.role)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"Limit", "Reservation", "Weight"} {
			if !tpl.Get(name).IsNull() {
				t.Errorf("memory template %s offers %s on kvm", tr.role, name)
			}
		}
	}
}
