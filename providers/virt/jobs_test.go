package virt

import (
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// TestFailedJob: a job that fails is an HC_ConcreteJob in JobState 10
// (Exception) whose ErrorCode is the return code the method would have
// returned and whose ErrorDescription says why; GetError returns the same
// as an embedded CIM_Error, and GetErrors as its one element.
func TestFailedJob(t *testing.T) {
	f := newFixtureWith(t, func(o *vmm.Options) { o.GuestTimeout = 2 * time.Second })
	vm := f.defineVM("deaf", 1, 32, 0)
	uuid := vm.Keys[1].Value.Str()
	if rc, out := f.invoke(vm, "RequestStateChange", pv("RequestedState", cim.NewUint16(2)), pv("TimeoutPeriod", interval(guestTimeout))); rc != 0 {
		t.Fatalf("start: %d %s", rc, errorMessage(out))
	}
	f.waitConsole(uuid, "testguest: ready", 1)
	mach, err := f.eng.Lookup(t.Context(), uuid)
	if err != nil {
		t.Fatal(err)
	}
	oks := strings.Count(string(mach.Console().History()), "ok")
	if _, err := mach.Console().Write([]byte("halt\n")); err != nil { // interrupts off: the power button goes unheard
		t.Fatal(err)
	}
	f.waitConsole(uuid, "ok", oks+1)
	rc, out := f.invoke(vm, "RequestStateChange", pv("RequestedState", cim.NewUint16(4)))
	if rc != 4096 {
		t.Fatalf("shutdown: %d %s", rc, errorMessage(out))
	}
	jv, _ := out.get("Job")
	var job *cim.Instance
	deadline := time.Now().Add(guestTimeout)
	for {
		if job, err = f.p.get(jv.Ref()); err != nil {
			t.Fatal(err)
		}
		if job.Get("JobState").Uint16() != 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running: %s", job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	desc := job.Get("ErrorDescription").Str()
	if job.Get("JobState").Uint16() != 10 || job.Get("ErrorCode").Uint16() != uint16(rscTimeout) || !strings.Contains(desc, "did not power off") {
		t.Fatalf("failed job: %s", job)
	}
	if job.Get("PercentComplete").Uint16() == 100 {
		t.Fatalf("a failed job at 100 percent: %s", job)
	}
	rc, out = f.invoke(jv.Ref(), "GetError")
	ev, _ := out.get("Error")
	ce := ev.Instance()
	if rc != 0 || ce == nil || ce.ClassName != "CIM_Error" || ce.Get("Message").Str() != desc || ce.Get("OwningEntity").Str() != "HC" ||
		ce.Get("CIMStatusCode").Uint32() != uint32(cim.ErrFailed) || ce.Get("ProbableCause").IsNull() {
		t.Fatalf("GetError: %d %v", rc, ce)
	}
	rc, out = f.invoke(jv.Ref(), "GetErrors")
	if es, _ := out.get("Errors"); rc != 0 || es.Len() != 1 || es.Index(0).Instance().Get("Message").Str() != desc {
		t.Fatalf("GetErrors: %d %v", rc, es)
	}
	// A job that completed has no error.
	rc, out = f.invoke(vm, "RequestStateChange", pv("RequestedState", cim.NewUint16(3)))
	if rc != 0 {
		t.Fatalf("turn off: %d %s", rc, errorMessage(out))
	}
	rc, out = f.invoke(vm, "RequestStateChange", pv("RequestedState", cim.NewUint16(2)))
	if rc != 4096 {
		t.Fatalf("start: %d %s", rc, errorMessage(out))
	}
	done, _ := out.get("Job")
	f.waitJob(done.Ref())
	if rc, out := f.invoke(done.Ref(), "GetError"); rc != 0 {
		t.Fatalf("GetError of a completed job: %d", rc)
	} else if ev, _ := out.get("Error"); !ev.IsNull() {
		t.Fatalf("GetError of a completed job: %v", ev)
	}
}
