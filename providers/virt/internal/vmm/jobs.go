package vmm

import (
	"context"
	"sort"
	"sync"
	"time"
)

// JobState is CIM_ConcreteJob.JobState (same values).
type JobState uint16

// Job states the manager uses.
const (
	JobNew        JobState = 2
	JobRunning    JobState = 4
	JobCompleted  JobState = 7
	JobTerminated JobState = 8
	JobKilled     JobState = 9
	JobException  JobState = 10
)

// Finished reports whether the job has ended.
func (s JobState) Finished() bool { return s >= JobCompleted }

// Element effects of CIM_AffectedJobElement.ElementEffects.
const (
	EffectExclusiveUse     uint16 = 2
	EffectElementIntegrity uint16 = 4
	EffectCreate           uint16 = 5
)

// Owners of jobs: the service whose method started them.
const (
	OwnerManagement = "management"
	OwnerSnapshot   = "snapshot"
)

// Affected is an element a job works on.
type Affected struct {
	// Kind is "system" or "snapshot"; ID its UUID.
	Kind    string
	ID      string
	Effects []uint16
}

// Result is what an operation produced.
type Result struct {
	System   string   `json:",omitempty"`
	Snapshot string   `json:",omitempty"`
	Devices  []string `json:",omitempty"` // device IDs, for the resource methods
}

// Job is a snapshot of one job's record.
type Job struct {
	ID          string
	Name        string
	Method      string
	Owner       string
	User        string `json:",omitempty"`
	Affected    []Affected
	State       JobState
	Percent     uint16
	ErrCode     Code   `json:",omitempty"`
	ErrMsg      string `json:",omitempty"`
	Created     time.Time
	Started     time.Time
	Ended       time.Time `json:",omitempty"`
	Changed     time.Time
	Retention   time.Duration
	Result      Result
	Cancellable bool `json:",omitempty"`
	// Hidden jobs ran for a synchronous call whose caller got the result
	// directly; nobody can name them, so they are dropped when they end.
	Hidden bool `json:"-"`
}

// Err returns the job's failure as an *Error, nil unless it failed.
func (j Job) Err() error {
	if j.State != JobException && j.State != JobTerminated && j.State != JobKilled {
		return nil
	}
	return &Error{Code: j.ErrCode, Msg: j.ErrMsg}
}

// job is a live job.
type job struct {
	mu     sync.Mutex
	rec    Job
	cancel context.CancelFunc
	done   chan struct{}
	result Result
	err    error
}

func (j *job) snapshot() Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.rec
	c.Affected = append([]Affected(nil), j.rec.Affected...)
	return c
}

// progress lets work report how far it got.
type progress func(percent int)

// jobTable holds the jobs, persisted at creation and at their end.
type jobTable struct {
	m    *Manager
	mu   sync.Mutex
	jobs map[string]*job
}

func (t *jobTable) get(id string) (*job, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	j, ok := t.jobs[id]
	return j, ok
}

func (t *jobTable) list() []Job {
	t.mu.Lock()
	js := make([]*job, 0, len(t.jobs))
	for _, j := range t.jobs {
		js = append(js, j)
	}
	t.mu.Unlock()
	out := make([]Job, 0, len(js))
	for _, j := range js {
		if s := j.snapshot(); !s.Hidden {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.Before(out[b].Created) })
	return out
}

func (t *jobTable) persist(j *job) {
	rec := j.snapshot()
	if rec.Hidden {
		return
	}
	err := t.m.store.Update(func(tx Tx) error { return putJSON(tx, bucketJobs, rec.ID, rec) })
	if err != nil {
		t.m.log.WithError(err).WithField("job", rec.ID).Error("persisting job")
	}
}

func (t *jobTable) remove(id string) {
	t.mu.Lock()
	j := t.jobs[id]
	delete(t.jobs, id)
	t.mu.Unlock()
	if j != nil {
		last := j.snapshot()
		t.m.notify(Change{Kind: "job", ID: id, Event: Deleted, Job: &last})
	}
	if err := t.m.store.Update(func(tx Tx) error { return tx.Delete(bucketJobs, id) }); err != nil {
		t.m.log.WithError(err).WithField("job", id).Error("deleting job")
	}
}

// expire drops ended jobs whose retention has passed.
func (t *jobTable) expire(now time.Time) {
	t.mu.Lock()
	var gone []string
	for id, j := range t.jobs {
		j.mu.Lock()
		if j.rec.State.Finished() && now.Sub(j.rec.Ended) > j.rec.Retention {
			gone = append(gone, id)
		}
		j.mu.Unlock()
	}
	t.mu.Unlock()
	for _, id := range gone {
		t.remove(id)
	}
}

// jobSpec describes work to run as a job.
type jobSpec struct {
	Name        string
	Method      string
	Owner       string
	User        string
	Affected    []Affected
	Cancellable bool
	Hidden      bool
	// SelfTimed work ends by itself when the caller's wait is over (a
	// wait on the guest bounded by the same timeout): the caller waits a
	// little longer for its result instead of getting a job.
	SelfTimed bool
}

// start registers a job and runs work in its own goroutine. release runs
// when the work ends, before waiters are woken.
func (t *jobTable) start(spec jobSpec, release func(), work func(ctx context.Context, p progress) (Result, error)) *job {
	now := time.Now().UTC()
	ctx, cancel := context.WithCancel(t.m.ctx)
	j := &job{cancel: cancel, done: make(chan struct{}), rec: Job{
		ID: newUUID(), Name: spec.Name, Method: spec.Method, Owner: spec.Owner, User: spec.User,
		Affected: spec.Affected, State: JobRunning, Created: now, Started: now, Changed: now,
		Retention: t.m.opts.JobRetention, Cancellable: spec.Cancellable, Hidden: spec.Hidden,
	}}
	t.mu.Lock()
	t.jobs[j.rec.ID] = j
	t.mu.Unlock()
	t.persist(j)
	if !spec.Hidden {
		t.m.notify(Change{Kind: "job", ID: j.rec.ID, Event: Created})
	}
	t.m.wg.Add(1)
	go func() {
		defer t.m.wg.Done()
		defer cancel()
		res, err := work(ctx, func(pct int) {
			j.mu.Lock()
			if pct > 99 {
				pct = 99
			}
			if pct > int(j.rec.Percent) {
				j.rec.Percent = uint16(pct)
			}
			j.mu.Unlock()
		})
		release()
		t.finish(j, res, err, ctx)
	}()
	return j
}

func (t *jobTable) finish(j *job, res Result, err error, ctx context.Context) {
	now := time.Now().UTC()
	j.mu.Lock()
	j.result, j.err = res, err
	j.rec.Result = res
	j.rec.Ended, j.rec.Changed = now, now
	switch {
	case err == nil:
		j.rec.State, j.rec.Percent = JobCompleted, 100
	case ctx.Err() != nil && t.m.ctx.Err() == nil:
		j.rec.State = JobTerminated
		j.rec.ErrCode, j.rec.ErrMsg = Failed, "terminated by request: "+err.Error()
	default:
		j.rec.State = JobException
		j.rec.ErrCode, j.rec.ErrMsg = CodeOf(err), err.Error()
	}
	hidden := j.rec.Hidden
	// done closes under the lock, so runLong either unhides the job
	// before this decision or sees it ended.
	close(j.done)
	j.mu.Unlock()
	if hidden {
		t.mu.Lock()
		delete(t.jobs, j.rec.ID)
		t.mu.Unlock()
		return
	}
	t.persist(j)
	t.m.notify(Change{Kind: "job", ID: j.rec.ID, Event: Modified})
	t.m.log.WithFields(map[string]any{"job": j.rec.ID, "name": j.rec.Name, "state": j.rec.State}).Info("job ended")
}

// terminate cancels a running, cancellable job.
func (t *jobTable) terminate(id string) error {
	j, ok := t.get(id)
	if !ok {
		return errorf(NotFound, "no job %s", id)
	}
	j.mu.Lock()
	state, can := j.rec.State, j.rec.Cancellable
	j.mu.Unlock()
	switch {
	case state.Finished():
		return errorf(InvalidState, "job %s has ended already", id)
	case !can:
		return errorf(NotSupported, "job %s (%s) cannot be interrupted; it ends on its own", id, j.rec.Name)
	}
	j.cancel()
	return nil
}

// Jobs lists the jobs, oldest first.
func (m *Manager) Jobs() []Job { return m.jobs.list() }

// Job returns one job.
func (m *Manager) Job(id string) (Job, error) {
	j, ok := m.jobs.get(id)
	if !ok {
		return Job{}, errorf(NotFound, "no job %s", id)
	}
	s := j.snapshot()
	if s.Hidden {
		return Job{}, errorf(NotFound, "no job %s", id)
	}
	return s, nil
}

// TerminateJob stops a job that waits on the guest (graceful shutdown,
// reboot); other jobs cannot be interrupted.
func (m *Manager) TerminateJob(id string) error { return m.jobs.terminate(id) }

// DeleteJob removes an ended job.
func (m *Manager) DeleteJob(id string) error {
	j, ok := m.jobs.get(id)
	if !ok {
		return errorf(NotFound, "no job %s", id)
	}
	if !j.snapshot().State.Finished() {
		return errorf(InvalidState, "job %s is still running; terminate it or wait for its end", id)
	}
	m.jobs.remove(id)
	return nil
}

// WaitJob waits until the job ends or ctx ends.
func (m *Manager) WaitJob(ctx context.Context, id string) (Job, error) {
	j, ok := m.jobs.get(id)
	if !ok {
		return Job{}, errorf(NotFound, "no job %s", id)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	return j.snapshot(), nil
}

// CallOptions say how a caller wants a long operation run.
type CallOptions struct {
	// Wait is how long the call waits for long work before returning it as
	// a job: 0 returns the job at once (asynchronous), more waits
	// (synchronous with a deadline).
	Wait time.Duration
	// User is the principal, recorded in the job.
	User string
}

// Outcome is what an operation returns.
type Outcome struct {
	Result
	// Job is set when the work goes on (or went on) as a job the caller
	// has to follow; nil when the work ended within the call.
	Job *Job
	// TimedOut is set when the caller waited (Wait > 0) and the work had
	// not ended by then; it continues as Job.
	TimedOut bool
}

// runLong runs long work as a job and returns according to co.
func (m *Manager) runLong(ctx context.Context, co CallOptions, spec jobSpec, release func(), work func(ctx context.Context, p progress) (Result, error)) (Outcome, error) {
	spec.User = co.User
	if co.Wait <= 0 {
		j := m.jobs.start(spec, release, work)
		s := j.snapshot()
		return Outcome{Job: &s}, nil
	}
	spec.Hidden = true
	j := m.jobs.start(spec, release, work)
	wait := co.Wait
	if spec.SelfTimed {
		wait += 5 * time.Second
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-j.done:
		return Outcome{Result: j.result}, j.err
	case <-timer.C:
	case <-ctx.Done():
	}
	// The caller stops waiting: the job becomes visible so it can be
	// followed.
	j.mu.Lock()
	j.rec.Hidden = false
	j.mu.Unlock()
	select {
	case <-j.done: // ended while we were unhiding it
		return Outcome{Result: j.result}, j.err
	default:
	}
	m.jobs.persist(j)
	s := j.snapshot()
	m.notify(Change{Kind: "job", ID: s.ID, Event: Created})
	return Outcome{Job: &s, TimedOut: true}, nil
}
