package conformance

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestVirtKill9: hypercimd is killed with SIGKILL at random moments of a
// define / start / snapshot loop. After each restart every acknowledged
// operation is visible (systems defined, jobs started, snapshots whose job
// completed), no system is lost or doubled, every system is reported off
// and starts again, and the storage pool holds exactly the images the
// systems and snapshots use.
func TestVirtKill9(t *testing.T) {
	s := newVirtServer(t)
	_, vsms, snapsvc := s.discoverVSMS()
	guest := filepath.Join(s.bin, "hypercim-testguest")
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	defined := map[string]string{} // ElementName -> system path, acknowledged
	jobs := map[string]bool{}      // job paths acknowledged
	snaps := map[string]bool{}     // snapshot VSSD paths whose job was seen complete
	n := 0
	for round := range 3 {
		var killed atomic.Bool
		delay := time.Duration(300+rng.IntN(900)) * time.Millisecond
		d := s.d
		timer := time.AfterFunc(delay, func() {
			killed.Store(true)
			d.Kill()
		})
		for !killed.Load() {
			n++
			name := fmt.Sprintf("crash-%d", n)
			r, ok := s.tryCall(vsms, "DefineSystem",
				param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", name),
					pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))},
				param{"ResourceSettings", strings.Join([]string{
					embedded("CIM_ResourceAllocationSettingData", pu16("ResourceType", 4), pu64("VirtualQuantity", 16)),
					embedded("CIM_StorageAllocationSettingData", pu16("ResourceType", 31), pu64("VirtualQuantity", 4<<20)),
				}, ",")})
			if !ok {
				break
			}
			if r.rc != 0 {
				t.Fatalf("DefineSystem %s: %d %s", name, r.rc, r.errMsg)
			}
			vm := r.refs["ResultingSystem"][0]
			defined[name] = vm
			if r, ok = s.tryCall(vm, "RequestStateChange", param{"RequestedState", "2"}); !ok {
				break
			}
			switch r.rc {
			case 0:
			case 4096:
				job := r.refs["Job"][0]
				jobs[job] = true
				if _, ok = s.tryJob(job); !ok {
					break
				}
			default:
				t.Fatalf("start %s: %d %s", name, r.rc, r.errMsg)
			}
			if !ok {
				break
			}
			if r, ok = s.tryCall(snapsvc, "CreateSnapshot", param{"SnapshotType", "2"}, s.ref("AffectedSystem", vm)); !ok {
				break
			}
			switch r.rc {
			case 0:
				snaps[r.refs["ResultingSnapshot"][0]] = true
			case 4096:
				job := r.refs["Job"][0]
				jobs[job] = true
				if done, ok := s.tryJob(job); ok && done != "" {
					snaps[done] = true
				}
			default:
				t.Fatalf("CreateSnapshot of %s: %d %s", name, r.rc, r.errMsg)
			}
		}
		timer.Stop()
		d.Wait()
		s.d = nil
		t.Logf("round %d: killed after %s; %d systems, %d jobs, %d snapshots acknowledged", round, delay, len(defined), len(jobs), len(snaps))
		s.start()
		s.checkAfterCrash(defined, jobs, snaps)
	}
	// Everything still works after the crashes: start a system that was
	// snapshotted and apply its snapshot.
	for snap := range snaps {
		owner := s.ain(snap, "CIM_SnapshotOfVirtualSystem")
		if len(owner) != 1 {
			t.Fatalf("snapshot %s belongs to %v", snap, owner)
		}
		s.finish("ApplySnapshot", s.call(snapsvc, "ApplySnapshot", s.ref("Snapshot", snap)))
		if got := s.gi(owner[0]).num("EnabledState"); got != 2 {
			t.Fatalf("after applying a full snapshot taken while running, EnabledState %d", got)
		}
		break
	}
}

// TestVirtKill9StartupActions: after hypercimd is killed with SIGKILL,
// each system comes back as its AutomaticStartupAction says: 3 (restart
// if previously active) running again if it ran, off if it did not; 4
// (always) running even though it did not run; 2 (none) off although it
// ran. The restarted guests boot again.
func TestVirtKill9StartupActions(t *testing.T) {
	s := newVirtServer(t)
	_, vsms, _ := s.discoverVSMS()
	guest := filepath.Join(s.bin, "hypercim-testguest")
	define := func(name string, action uint64, running bool) string {
		t.Helper()
		r := s.call(vsms, "DefineSystem", param{"SystemSettings", embedded("HC_VirtualSystemSettingData",
			pstr("ElementName", name), pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))},
			param{"ResourceSettings", embedded("CIM_ResourceAllocationSettingData", pu16("ResourceType", 4), pu64("VirtualQuantity", 16))})
		if r.rc != 0 {
			t.Fatalf("DefineSystem %s: %d %s", name, r.rc, r.errMsg)
		}
		vm := r.refs["ResultingSystem"][0]
		// The action through ModifySystemSettings, with DMTF's class.
		r = s.call(vsms, "ModifySystemSettings", param{"SystemSettings", embedded("CIM_VirtualSystemSettingData",
			pstr("InstanceID", "HC:"+keyOf(vm, "Name")), pu16("AutomaticStartupAction", action))})
		if r.rc != 0 {
			t.Fatalf("ModifySystemSettings %s: %d %s", name, r.rc, r.errMsg)
		}
		if p := s.gi(s.ain(vm, "CIM_SettingsDefineState")[0]); p.num("AutomaticStartupAction") != action {
			t.Fatalf("%s: AutomaticStartupAction %s, want %d", name, p["AutomaticStartupAction"], action)
		}
		if running {
			if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000130.000000:000"}); r.rc != 0 {
				t.Fatalf("start %s: %d %s", name, r.rc, r.errMsg)
			}
			s.console(keyOf(vm, "Name")).expect("testguest: ready")
		}
		return vm
	}
	systems := []struct {
		vm   string
		want uint64 // EnabledState after the restart
	}{
		{define("restart-if-active-ran", 3, true), 2},
		{define("restart-if-active-idle", 3, false), 3},
		{define("always", 4, false), 2},
		{define("none-ran", 2, true), 3},
	}
	s.d.Kill()
	s.d.Wait()
	s.d = nil
	s.start()
	for _, sys := range systems {
		s.waitState(sys.vm, sys.want)
		if sys.want == 2 {
			s.console(keyOf(sys.vm, "Name")).retry("echo back", "back")
		}
	}
}

// tryCall is call that returns ok=false when the server died under it.
func (s *virtServer) tryCall(path, method string, ps ...param) (methodResult, bool) {
	if s.dead() {
		return methodResult{}, false
	}
	out, err := s.wbemcli(true, "cmx", s.url(path), methodArg(method, ps))
	if err != nil {
		return methodResult{}, false
	}
	r, err := parseMethodResponse(out)
	return r, err == nil
}

func (s *virtServer) dead() bool { return s.d.Exited() }

// tryJob waits for a job while the server lives; it returns the
// snapshot the job created once it completed.
func (s *virtServer) tryJob(job string) (string, bool) {
	deadline := time.Now().Add(virtTimeout)
	for time.Now().Before(deadline) {
		out, err := s.wbemcli(true, "gi", "-nl", s.url(job))
		if err != nil {
			return "", false
		}
		switch parseProps(out).num("JobState") {
		case 7:
			for _, a := range s.pathsAllowFail("ain", "-ac", "CIM_AffectedJobElement", s.url(job)) {
				if classOf(a) == "HC_VirtualSystemSettingData" {
					return a, true
				}
			}
			return "", !s.dead()
		case 8, 9, 10:
			s.t.Fatalf("job %s failed: %s", job, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", false
}

func (s *virtServer) pathsAllowFail(args ...string) []string {
	out, err := s.wbemcli(true, args...)
	if err != nil {
		return nil
	}
	var ps []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ps = append(ps, l)
		}
	}
	return ps
}

// checkAfterCrash verifies the state a restart after SIGKILL recovered.
func (s *virtServer) checkAfterCrash(defined map[string]string, jobs, snaps map[string]bool) {
	s.t.Helper()
	names := map[string]int{}
	for _, vm := range s.ein("HC_ComputerSystem") {
		p := s.gi(vm)
		names[p.str("ElementName")]++
		if p.num("EnabledState") != 3 {
			s.t.Fatalf("%s after the crash: EnabledState %s, want 3 (its AutomaticStartupAction is none)", vm, p["EnabledState"])
		}
	}
	for name, vm := range defined {
		if names[name] != 1 {
			s.t.Fatalf("acknowledged system %s (%s) appears %d times after the restart", name, vm, names[name])
		}
	}
	for name, n := range names {
		if n != 1 {
			s.t.Fatalf("system %s appears %d times", name, n)
		}
	}
	for job := range jobs {
		if p := s.gi(job); p.num("JobState") < 7 {
			s.t.Fatalf("job %s is still %s after the restart", job, p["JobState"])
		}
	}
	for snap := range snaps {
		if p := s.gi(snap); p.str("Caption") != "Snapshot" {
			s.t.Fatalf("snapshot %s after the restart: %v", snap, p)
		}
	}
	// The pool holds exactly the images of the systems and snapshots.
	used := map[string]bool{}
	for _, a := range s.ein("HC_StorageAllocationSettingData") {
		if hr := s.gi(a).str("HostResource"); hr != "" {
			used[filepath.Base(hr)] = true
		}
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, "virt", "images"))
	if err != nil {
		s.t.Fatal(err)
	}
	var files, missing []string
	for _, e := range entries {
		files = append(files, e.Name())
		if !used[e.Name()] {
			s.t.Fatalf("image %s in the pool belongs to no system or snapshot (pool: %v)", e.Name(), files)
		}
	}
	for name := range used {
		if _, err := os.Stat(filepath.Join(s.dir, "virt", "images", name)); err != nil {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		s.t.Fatalf("images in use but missing: %v", missing)
	}
}
