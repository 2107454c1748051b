package conformance

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
)

// waitState polls a system until its EnabledState is want and returns
// its properties then.
func (s *virtServer) waitState(vm string, want uint64) props {
	s.t.Helper()
	deadline := time.Now().Add(virtTimeout)
	for {
		p := s.gi(vm)
		if p.num("EnabledState") == want {
			return p
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: EnabledState %s after %s, want %d (%v)", vm, p["EnabledState"], virtTimeout, want, p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkHealth checks OperationalStatus and HealthState of a system.
func (s *virtServer) checkHealth(p props, ops []uint16, health uint64) {
	s.t.Helper()
	if got := uint16s(p["OperationalStatus"]); !slices.Equal(got, ops) || p.num("HealthState") != health {
		s.t.Fatalf("OperationalStatus %v HealthState %s, want %v and %d (%v)", got, p["HealthState"], ops, health, p)
	}
}

// TestVirtFollowsGuest: on the kvm engine, what the guest does by itself
// shows in the system's state: a power-off makes it Disabled and healthy,
// a crash (triple fault) Disabled with OperationalStatus Error and
// HealthState major failure, and either can start again.
func TestVirtFollowsGuest(t *testing.T) {
	s := newVirtServer(t)
	_, vsms, _ := s.discoverVSMS()
	r := s.call(vsms, "DefineSystem", param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", "self-willed"),
		pstr("KernelPath", filepath.Join(s.bin, "hypercim-testguest")), pstr("KernelCommandLine", "testguest.interactive"))})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	start := func() *console {
		t.Helper()
		if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000130.000000:000"}); r.rc != 0 {
			t.Fatalf("start: %d %s", r.rc, r.errMsg)
		}
		s.checkHealth(s.waitState(vm, 2), []uint16{2}, 5)
		con := s.console(keyOf(vm, "Name"))
		con.retry("echo up", "up")
		return con
	}

	start().cmd("poweroff", "")
	p := s.waitState(vm, 3)
	s.checkHealth(p, []uint16{2}, 5)
	if !slices.Contains(uint16s(p["AvailableRequestedStates"]), 2) {
		t.Fatalf("a system the guest powered off cannot start: %v", p)
	}

	con := start()
	if _, err := con.conn.Write([]byte("triplefault\n")); err != nil {
		t.Fatal(err)
	}
	p = s.waitState(vm, 3)
	s.checkHealth(p, []uint16{6}, 20)
	if !slices.Contains(uint16s(p["AvailableRequestedStates"]), 2) {
		t.Fatalf("a crashed system cannot start: %v", p)
	}
	start()
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off: %d %s", r.rc, r.errMsg)
	}
	s.checkHealth(s.waitState(vm, 3), []uint16{2}, 5)
}

// TestVirtLibvirtFollowsEngine: on the libvirt engine, what an
// administrator does to the domain behind hypercim's back shows in the
// system's state within seconds: virsh suspend makes it Quiesce (9),
// virsh resume Enabled again, virsh destroy Disabled.
func TestVirtLibvirtFollowsEngine(t *testing.T) {
	libvirtdtest.Start(t)
	name := libvirtDomainName(t, "hcv")
	virsh := func(args ...string) {
		t.Helper()
		if out, err := runVirsh(args...); err != nil {
			t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	s := newVirtServer(t, "--hypervisor", "libvirt", "--libvirt-domain-type", "qemu")
	_, vsms, _ := s.discoverVSMS()
	r := s.call(vsms, "DefineSystem", param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", name),
		pstr("KernelPath", filepath.Join(s.bin, "hypercim-testguest")), pstr("KernelCommandLine", "testguest.interactive"))},
		param{"ResourceSettings", embedded("CIM_ResourceAllocationSettingData", pu16("ResourceType", 4), pu64("VirtualQuantity", 32))})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000130.000000:000"}); r.rc != 0 {
		t.Fatalf("start: %d %s", r.rc, r.errMsg)
	}
	s.console(keyOf(vm, "Name")).retry("echo up", "up")
	s.checkHealth(s.waitState(vm, 2), []uint16{2}, 5)

	virsh("suspend", name)
	s.checkHealth(s.waitState(vm, 9), []uint16{2}, 5)
	virsh("resume", name)
	s.checkHealth(s.waitState(vm, 2), []uint16{2}, 5)
	virsh("destroy", name)
	p := s.waitState(vm, 3)
	s.checkHealth(p, []uint16{2}, 5)
	if !slices.Contains(uint16s(p["AvailableRequestedStates"]), 2) {
		t.Fatalf("a destroyed domain cannot start again: %v", p)
	}
	// hypercim starts it again, and its view still agrees with libvirt's.
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000130.000000:000"}); r.rc != 0 {
		t.Fatalf("start after virsh destroy: %d %s", r.rc, r.errMsg)
	}
	s.console(keyOf(vm, "Name")).retry("echo again", "again")
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off: %d %s", r.rc, r.errMsg)
	}
	s.waitState(vm, 3)
	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", vm)); r.rc != 0 {
		t.Fatalf("DestroySystem: %d %s", r.rc, r.errMsg)
	}
}
