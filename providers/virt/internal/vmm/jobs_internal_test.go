package vmm

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func jobManager(t *testing.T) *Manager {
	st, err := OpenBoltStore(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := &Manager{store: st, log: logrus.New(), opts: Options{JobRetention: time.Minute}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.jobs = &jobTable{m: m, jobs: map[string]*job{}}
	t.Cleanup(func() { m.cancel(); m.wg.Wait() })
	return m
}

// TestRunLongModes checks the three ways a caller gets long work: a job at
// once, the result within its wait, or the job when the wait is over.
func TestRunLongModes(t *testing.T) {
	m := jobManager(t)
	ctx := context.Background()
	release := func() {}
	gate := make(chan struct{})
	slow := func(ctx context.Context, p progress) (Result, error) {
		p(50)
		<-gate
		return Result{System: "s"}, nil
	}
	// Asynchronous.
	out, err := m.runLong(ctx, CallOptions{}, jobSpec{Name: "a"}, release, slow)
	if err != nil || out.Job == nil || out.Job.State != JobRunning {
		t.Fatalf("async: %+v %v", out, err)
	}
	// Synchronous, done in time.
	fast := func(ctx context.Context, p progress) (Result, error) { return Result{Snapshot: "x"}, nil }
	out, err = m.runLong(ctx, CallOptions{Wait: time.Minute}, jobSpec{Name: "b"}, release, fast)
	if err != nil || out.Job != nil || out.Snapshot != "x" {
		t.Fatalf("sync: %+v %v", out, err)
	}
	failing := func(ctx context.Context, p progress) (Result, error) { return Result{}, errorf(InvalidState, "no") }
	_, err = m.runLong(ctx, CallOptions{Wait: time.Minute}, jobSpec{Name: "c"}, release, failing)
	if CodeOf(err) != InvalidState {
		t.Fatalf("sync failure: %v", err)
	}
	if n := len(m.Jobs()); n != 1 {
		t.Fatalf("%d jobs visible; the synchronous calls must leave none", n)
	}
	// Synchronous, wait over: the job becomes visible and goes on.
	out, err = m.runLong(ctx, CallOptions{Wait: 20 * time.Millisecond}, jobSpec{Name: "d"}, release, slow)
	if err != nil || out.Job == nil || !out.TimedOut {
		t.Fatalf("sync timeout: %+v %v", out, err)
	}
	if j, err := m.Job(out.Job.ID); err != nil || j.Percent != 50 {
		t.Fatalf("timed-out job: %+v %v", j, err)
	}
	close(gate)
	for _, j := range m.Jobs() {
		j, _ = m.WaitJob(ctx, j.ID)
		if j.State != JobCompleted || j.Percent != 100 || j.Result.System != "s" {
			t.Fatalf("job %+v", j)
		}
	}
	if err := errors.Join(m.DeleteJob(out.Job.ID)); err != nil {
		t.Fatal(err)
	}
}
