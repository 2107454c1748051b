package vmm_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// TestLargeDiskJob: defining a system or adding a disk whose new images
// reach LongCreateBytes runs as a job that ends Completed at 100 percent
// with the image in the pool; smaller ones complete within the call, and
// a caller that waits gets the result without a job.
func TestLargeDiskJob(t *testing.T) {
	e := newEnv(t, func(o *vmm.Options) { o.LongCreateBytes = 8 << 20 })
	ctx := context.Background()
	// Below the threshold: no job.
	out, err := e.m.Define(ctx, "", e.interactive("small", 1, newDisk(4)), vmm.CallOptions{})
	if err != nil || out.Job != nil || out.System == "" {
		t.Fatalf("small disk: %+v %v", out, err)
	}
	// At the threshold, asynchronous: a job.
	out, err = e.m.Define(ctx, "", e.interactive("large", 1, newDisk(8)), vmm.CallOptions{User: "alice"})
	if err != nil || out.Job == nil {
		t.Fatalf("large disk: %+v %v", out, err)
	}
	if out.Job.Method != "DefineSystem" || out.Job.User != "alice" || out.Job.Retention <= 0 {
		t.Fatalf("large-disk job: %+v", out.Job)
	}
	j, err := e.m.WaitJob(ctx, out.Job.ID)
	if err != nil || j.State != vmm.JobCompleted || j.Percent != 100 || j.ErrCode != 0 || j.Result.System == "" || j.Err() != nil {
		t.Fatalf("large-disk job at its end: %+v %v", j, err)
	}
	v := mustSystem(t, e, j.Result.System)
	if len(v.Def.Disks) != 1 || v.Def.Disks[0].SizeBytes != 8<<20 {
		t.Fatalf("system the job defined: %+v", v.Def.Disks)
	}
	if _, err := os.Stat(e.m.ImagePath(v.Def.Disks[0].Image)); err != nil {
		t.Fatalf("the job's image: %v", err)
	}
	// Adding a large disk to the system: a job too.
	out, err = e.m.Modify(ctx, v.UUID, func(d *vmm.Definition) error {
		d.Disks = append(d.Disks, newDisk(12))
		return nil
	}, vmm.CallOptions{})
	if err != nil || out.Job == nil {
		t.Fatalf("adding a large disk: %+v %v", out, err)
	}
	if j, _ := e.m.WaitJob(ctx, out.Job.ID); j.State != vmm.JobCompleted || len(j.Result.Devices) != 1 {
		t.Fatalf("add-disk job: %+v", j)
	}
	if n := len(mustSystem(t, e, v.UUID).Def.Disks); n != 2 {
		t.Fatalf("%d disks after the job", n)
	}
	// A caller that waits gets the result directly and sees no new job.
	jobs := len(e.m.Jobs())
	out, err = e.m.Define(ctx, "", e.interactive("large-sync", 1, newDisk(16)), sync30)
	if err != nil || out.Job != nil || out.System == "" {
		t.Fatalf("synchronous large disk: %+v %v", out, err)
	}
	if n := len(e.m.Jobs()); n != jobs {
		t.Fatalf("%d jobs after a synchronous call, want %d", n, jobs)
	}
}

// TestJobRemoval: an ended job stays visible for its TimeBeforeRemoval,
// then disappears, from memory and from the store.
func TestJobRemoval(t *testing.T) {
	const retention = 500 * time.Millisecond
	e := newEnv(t, func(o *vmm.Options) { o.LongCreateBytes = 1 << 20; o.JobRetention = retention })
	ctx := context.Background()
	out, err := e.m.Define(ctx, "", e.interactive("retained", 1, newDisk(2)), vmm.CallOptions{})
	if err != nil || out.Job == nil {
		t.Fatalf("Define: %+v %v", out, err)
	}
	j, _ := e.m.WaitJob(ctx, out.Job.ID)
	if j.State != vmm.JobCompleted || j.Retention != retention {
		t.Fatalf("job: %+v", j)
	}
	if _, err := e.m.Job(j.ID); err != nil {
		t.Fatalf("the job is gone at once: %v", err)
	}
	deadline := time.Now().Add(guestTimeout)
	for {
		_, err := e.m.Job(j.ID)
		if vmm.CodeOf(err) == vmm.NotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still there %s after it ended (TimeBeforeRemoval %s): %v", time.Since(j.Ended), retention, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if since := time.Since(j.Ended); since < retention {
		t.Fatalf("job removed %s after its end, before its TimeBeforeRemoval %s", since, retention)
	}
	if len(e.m.Jobs()) != 0 {
		t.Fatalf("jobs left: %+v", e.m.Jobs())
	}
	e.reopen()
	if _, err := e.m.Job(j.ID); vmm.CodeOf(err) != vmm.NotFound {
		t.Fatalf("the removed job is back after a restart: %v", err)
	}
}

// TestJobFailure: a graceful shutdown the guest ignores ends, when the
// guest timeout is over, in JobException with the Timeout code, a message
// and an error to hand to GetError; the system is running again.
func TestJobFailure(t *testing.T) {
	e := newEnv(t, func(o *vmm.Options) { o.GuestTimeout = 2 * time.Second })
	ctx := context.Background()
	id := e.define(e.interactive("deaf", 1))
	g := e.guest(id)
	e.state(id, vmm.TransitionStart)
	g.waitFor("testguest: ready")
	g.cmd("halt", "ok") // interrupts off: the power button goes unheard
	out, err := e.m.RequestState(ctx, id, vmm.TransitionShutdown, vmm.CallOptions{})
	if err != nil || out.Job == nil || !out.Job.Cancellable {
		t.Fatalf("shutdown: %+v %v", out, err)
	}
	j, _ := e.m.WaitJob(ctx, out.Job.ID)
	if j.State != vmm.JobException || j.ErrCode != vmm.Timeout || j.ErrMsg == "" || j.Ended.IsZero() {
		t.Fatalf("failed job: %+v", j)
	}
	var verr *vmm.Error
	if err := j.Err(); !errors.As(err, &verr) || verr.Code != vmm.Timeout || err.Error() != j.ErrMsg {
		t.Fatalf("the job's error: %#v", j.Err())
	}
	if got, err := e.m.Job(j.ID); err != nil || got.State != vmm.JobException {
		t.Fatalf("the failed job as listed: %+v %v", got, err)
	}
	// The guest ignored the request: the system shows running again (not
	// shutting down), the shutdown stays the last request, and turning it
	// off works.
	e.wantState(id, hypervisor.StateRunning)
	if v := mustSystem(t, e, id); v.Requested != uint16(vmm.TransitionShutdown) || v.Transitioning != 0 {
		t.Fatalf("after the failed shutdown: requested %d, transitioning %d", v.Requested, v.Transitioning)
	}
	e.state(id, vmm.TransitionOff)
	e.wantState(id, hypervisor.StateStopped)
	// The failure survives a restart as it was.
	e.reopen()
	if got, err := e.m.Job(j.ID); err != nil || got.State != vmm.JobException || got.ErrCode != vmm.Timeout || got.ErrMsg != j.ErrMsg {
		t.Fatalf("the failed job after a restart: %+v %v", got, err)
	}
}
