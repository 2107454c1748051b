package vmm

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/hypervisor"
)

// Options configure a Manager.
type Options struct {
	// Engine runs the machines; the caller opens and closes it.
	Engine hypervisor.Engine
	// Store keeps the manager's state.
	Store Store
	// DataDir is the manager's directory: images/ is the storage pool,
	// state/ holds snapshot memory and saved states, boot/ is a default
	// place for kernels.
	DataDir string
	// PoolDir overrides the storage pool directory (DataDir/images).
	PoolDir string
	// BootDirs are the directories kernels and initial RAM disks may be
	// taken from; DataDir/boot when empty. A client cannot make the
	// hypervisor load any other host file into a guest.
	BootDirs []string
	// Limits bound what a system may have; zero fields take host values.
	Limits Limits
	// JobRetention is how long ended jobs stay visible
	// (TimeBeforeRemoval); 5 minutes when zero.
	JobRetention time.Duration
	// GuestTimeout bounds how long a graceful shutdown or reboot waits for
	// the guest when the client gives no timeout; 5 minutes when zero.
	GuestTimeout time.Duration
	// LongCreateBytes: defining or adding disks that create images of at
	// least this many bytes in total runs as a job; 1 GiB when zero.
	LongCreateBytes int64
	// StopMachinesOnClose applies each running system's
	// AutomaticShutdownAction when the manager closes: for engines whose
	// machines live in this process (kvm).
	StopMachinesOnClose bool
	// Log receives the manager's log; logrus' standard logger when nil.
	Log logrus.FieldLogger
	// OnChange, when set, is told about every change of a system or job,
	// after it happened, from the goroutine that made it; it must not
	// block or call back into operations of the manager (reads are fine).
	OnChange func(Change)
}

// Event says what happened to a system or job.
type Event int

// Change events.
const (
	Created Event = iota + 1
	Modified
	Deleted
)

// Change is one change of a system or job. A deleted one comes with its
// last view.
type Change struct {
	Kind   string // "system" or "job"
	ID     string
	Event  Event
	System *System
	Job    *Job
}

// notify reports a change; no lock of the manager may be held.
func (m *Manager) notify(c Change) {
	if m.opts.OnChange != nil {
		m.opts.OnChange(c)
	}
}

// Limits bound the resources of one system.
type Limits struct {
	MaxVCPUs     int
	MinMemoryMiB uint64
	MaxMemoryMiB uint64
	MaxDisks     int
	MaxNICs      int
	// MaxDiskBytes is the largest image the pool creates.
	MaxDiskBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxVCPUs <= 0 {
		l.MaxVCPUs = runtime.NumCPU()
	}
	if l.MinMemoryMiB == 0 {
		l.MinMemoryMiB = 4
	}
	if l.MaxMemoryMiB == 0 {
		l.MaxMemoryMiB = hostMemoryMiB()
	}
	if l.MaxDisks <= 0 {
		l.MaxDisks = 16
	}
	if l.MaxNICs <= 0 {
		l.MaxNICs = 8
	}
	if l.MaxDiskBytes <= 0 {
		l.MaxDiskBytes = 2<<40 - 1<<30 // what a monolithicSparse image addresses, rounded down
	}
	return l
}

// hostMemoryMiB reads MemTotal from /proc/meminfo (1 GiB if unreadable).
func hostMemoryMiB() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1024
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			if kb, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
				return kb / 1024
			}
		}
	}
	return 1024
}

// Manager keeps the virtual systems of one engine: their definitions,
// states, disks, snapshots and the jobs working on them, persisted in a
// Store so that they survive restarts and crashes.
type Manager struct {
	opts     Options
	eng      hypervisor.Engine
	store    Store
	pool     *pool
	stateDir string
	bootDirs []string
	limits   Limits
	log      logrus.FieldLogger
	hostID   string

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	jobs   *jobTable

	mu      sync.RWMutex
	systems map[string]*system // by UUID
	names   map[string]string  // lower-case name -> UUID (reserved while defining)
	snaps   map[string]*snapshotRecord
	// claims are images promised to an operation not yet committed, so
	// two concurrent requests cannot both take one image.
	claims  map[string]string
	closed  bool
	closing atomic.Bool
}

// system is one system in memory.
type system struct {
	uuid string
	// op is held by the operation in progress: requests that find it taken
	// are refused as busy rather than queued.
	op chan struct{}

	mu      sync.Mutex
	rec     *systemRecord
	machine hypervisor.Machine
	opName  string // what holds op, for busy messages
	// transition is the state change a job carries out (0: none); it is
	// cleared with opName.
	transition Transition
	changed    chan struct{}
	reason     string // the engine's reason for the last state change
	resets     uint64 // guest resets seen, for reboot
	stopWatch  context.CancelFunc
}

// Open loads the manager's state, finishes or rolls back what a crash
// interrupted, brings the engine in line with the stored definitions and
// starts the systems whose AutomaticStartupAction says so.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Engine == nil || opts.Store == nil || opts.DataDir == "" {
		return nil, errors.New("vmm: Engine, Store and DataDir are required")
	}
	if opts.JobRetention <= 0 {
		opts.JobRetention = 5 * time.Minute
	}
	if opts.GuestTimeout <= 0 {
		opts.GuestTimeout = 5 * time.Minute
	}
	if opts.LongCreateBytes <= 0 {
		opts.LongCreateBytes = 1 << 30
	}
	log := opts.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	poolDir := opts.PoolDir
	if poolDir == "" {
		poolDir = filepath.Join(opts.DataDir, "images")
	}
	p, err := openPool(poolDir)
	if err != nil {
		return nil, err
	}
	stateDir := filepath.Join(opts.DataDir, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("vmm: %w", err)
	}
	boot := opts.BootDirs
	if len(boot) == 0 {
		boot = []string{filepath.Join(opts.DataDir, "boot")}
		os.MkdirAll(boot[0], 0o750)
	}
	var bootDirs []string
	for _, d := range boot {
		r, err := filepath.EvalSymlinks(d)
		if err != nil {
			return nil, fmt.Errorf("vmm: boot directory %s: %w", d, err)
		}
		if r, err = filepath.Abs(r); err != nil {
			return nil, err
		}
		bootDirs = append(bootDirs, r)
	}
	m := &Manager{
		opts: opts, eng: opts.Engine, store: opts.Store, pool: p, stateDir: stateDir, bootDirs: bootDirs,
		limits: opts.Limits.withDefaults(), log: log.WithField("provider", "virt"),
		systems: map[string]*system{}, names: map[string]string{}, snaps: map[string]*snapshotRecord{}, claims: map[string]string{},
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.jobs = &jobTable{m: m, jobs: map[string]*job{}}
	if err := m.load(); err != nil {
		m.cancel()
		return nil, err
	}
	if err := m.recover(ctx); err != nil {
		m.cancel()
		return nil, err
	}
	if err := m.reconcile(ctx); err != nil {
		m.cancel()
		m.stopWatches()
		return nil, err
	}
	m.wg.Add(1)
	go m.janitor()
	return m, nil
}

// load reads the store into memory.
func (m *Manager) load() error {
	return m.store.Update(func(tx Tx) error {
		if f := tx.Get(bucketMeta, "format"); f != nil {
			if v, _ := strconv.Atoi(string(f)); v > storeFormat {
				return fmt.Errorf("vmm: the store has layout %d, this server reads up to %d: use a newer hypercimd", v, storeFormat)
			}
		} else if err := tx.Put(bucketMeta, "format", []byte(strconv.Itoa(storeFormat))); err != nil {
			return err
		}
		if id := tx.Get(bucketMeta, "host"); id != nil {
			m.hostID = string(id)
		} else {
			m.hostID = newUUID()
			if err := tx.Put(bucketMeta, "host", []byte(m.hostID)); err != nil {
				return err
			}
		}
		err := tx.ForEach(bucketSystems, func(k string, v []byte) error {
			rec := &systemRecord{}
			if _, err := getJSON(tx, bucketSystems, k, rec); err != nil {
				return err
			}
			if rec.Images == nil {
				rec.Images = map[string]*imageRecord{}
			}
			m.systems[rec.UUID] = &system{uuid: rec.UUID, rec: rec, op: make(chan struct{}, 1), changed: make(chan struct{})}
			m.names[strings.ToLower(rec.Def.Name)] = rec.UUID
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.ForEach(bucketSnapshots, func(k string, v []byte) error {
			rec := &snapshotRecord{}
			if _, err := getJSON(tx, bucketSnapshots, k, rec); err != nil {
				return err
			}
			m.snaps[rec.ID] = rec
			return nil
		})
		if err != nil {
			return err
		}
		// Jobs that were running when the server stopped did not finish.
		now := time.Now().UTC()
		var interrupted []Job
		err = tx.ForEach(bucketJobs, func(k string, v []byte) error {
			var j Job
			if _, err := getJSON(tx, bucketJobs, k, &j); err != nil {
				return err
			}
			if !j.State.Finished() {
				j.State, j.ErrCode, j.Ended, j.Changed = JobException, Failed, now, now
				j.ErrMsg = "interrupted: the server stopped before the job ended; what the job had done was rolled back"
				interrupted = append(interrupted, j)
			}
			done := make(chan struct{})
			close(done)
			m.jobs.jobs[j.ID] = &job{rec: j, done: done, cancel: func() {}}
			return nil
		})
		if err != nil {
			return err
		}
		for _, j := range interrupted {
			if err := putJSON(tx, bucketJobs, j.ID, j); err != nil {
				return err
			}
		}
		return nil
	})
}

// janitor drops expired jobs, looking at least twice per retention
// period so a short TimeBeforeRemoval is kept to.
func (m *Manager) janitor() {
	defer m.wg.Done()
	t := time.NewTicker(min(10*time.Second, max(m.opts.JobRetention/2, 50*time.Millisecond)))
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case now := <-t.C:
			m.jobs.expire(now.UTC())
		}
	}
}

// Close applies the shutdown actions (when configured), waits for running
// jobs until ctx ends, and stops following the engine. It does not close
// the engine.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.closing.Store(true)
	if m.opts.StopMachinesOnClose {
		m.applyShutdownActions(ctx)
	}
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	m.cancel()
	select {
	case <-done:
	case <-ctx.Done():
	}
	m.stopWatches()
	return nil
}

func (m *Manager) stopWatches() {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, s := range m.systems {
		s.mu.Lock()
		if s.stopWatch != nil {
			s.stopWatch()
		}
		s.mu.Unlock()
	}
}

// ---------------------------------------------------------------------------
// Views

// System is a system as the manager reports it.
type System struct {
	UUID     string
	Def      Definition
	Created  time.Time
	Modified time.Time
	// State is the engine's; Saved is set for a system saved to disk.
	State hypervisor.State
	Saved bool
	// Requested is the last state change a client asked for and the
	// server accepted (0: none); Transitioning the one a job is carrying
	// out (0: none).
	Requested, Transitioning uint16
	// Busy names the operation in progress, "" when idle.
	Busy        string
	LastApplied string
	Branch      string
	// Reason is the engine's explanation of the last state change.
	Reason string
	// CannotSave is set when the engine cannot write the memory and device
	// state of the system while it runs or is paused (saving, snapshots of
	// an active system): why, and what to do instead.
	CannotSave string
}

func (s *system) view() System {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := System{UUID: s.uuid, Def: s.rec.Def.Clone(), Created: s.rec.Created, Modified: s.rec.Modified,
		Saved: s.rec.Saved, Requested: s.rec.Requested, Transitioning: uint16(s.transition), Busy: s.opName, LastApplied: s.rec.LastApplied,
		Branch: s.rec.Branch, Reason: s.reason}
	if s.transition != 0 {
		v.Requested = uint16(s.transition) // accepted, recorded when the job ends
	}
	if s.machine != nil {
		v.State = s.machine.State()
		v.CannotSave = cannotSave(s.machine)
	}
	return v
}

// cannotSave is the engine's reason why it cannot write the state of mach
// while mach is active, "" when it can.
func cannotSave(mach hypervisor.Machine) string {
	if sc, ok := mach.(hypervisor.SaveChecker); ok {
		if err := sc.CanSave(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// Systems returns every system, by name.
func (m *Manager) Systems() []System {
	m.mu.RLock()
	ss := make([]*system, 0, len(m.systems))
	for _, s := range m.systems {
		ss = append(ss, s)
	}
	m.mu.RUnlock()
	out := make([]System, len(ss))
	for i, s := range ss {
		out[i] = s.view()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Def.Name < out[j].Def.Name })
	return out
}

// System returns one system.
func (m *Manager) System(uuid string) (System, error) {
	s, err := m.lookup(uuid)
	if err != nil {
		return System{}, err
	}
	return s.view(), nil
}

func (m *Manager) lookup(uuid string) (*system, error) {
	m.mu.RLock()
	s, ok := m.systems[strings.ToLower(uuid)]
	m.mu.RUnlock()
	if !ok {
		return nil, errorf(NotFound, "no virtual system %s", uuid)
	}
	return s, nil
}

// Snapshots returns the snapshots of one system ("" for all), oldest first.
func (m *Manager) Snapshots(systemUUID string) []Snapshot {
	m.mu.RLock()
	var out []Snapshot
	for _, r := range m.snaps {
		if systemUUID == "" || strings.EqualFold(r.System, systemUUID) {
			out = append(out, r.view())
		}
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Snapshot returns one snapshot.
func (m *Manager) Snapshot(id string) (Snapshot, error) {
	m.mu.RLock()
	r, ok := m.snaps[strings.ToLower(id)]
	m.mu.RUnlock()
	if !ok {
		return Snapshot{}, errorf(NotFound, "no snapshot %s", id)
	}
	return r.view(), nil
}

// HostID is the host's identity, made once and kept in the store.
func (m *Manager) HostID() string { return m.hostID }

// EngineName is the engine's short name ("kvm", "libvirt").
func (m *Manager) EngineName() string { return m.eng.Name() }

// SupportedLimits are the resource limits the engine enforces (non-zero
// fields); none when it implements no hypervisor.LimitSupporter.
func (m *Manager) SupportedLimits() hypervisor.Limits {
	if ls, ok := m.eng.(hypervisor.LimitSupporter); ok {
		return ls.SupportedLimits()
	}
	return hypervisor.Limits{}
}

// Limits returns the per-system limits in force.
func (m *Manager) Limits() Limits { return m.limits }

// PoolDir is the storage pool's directory.
func (m *Manager) PoolDir() string { return m.pool.dir }

// PoolSpace returns the size and free space of the storage pool.
func (m *Manager) PoolSpace() (capacity, free uint64) { return m.pool.space() }

// ImagePath returns the host path of a pool-relative image path.
func (m *Manager) ImagePath(rel string) string {
	if rel == "" {
		return ""
	}
	return m.pool.abs(rel)
}

// ---------------------------------------------------------------------------
// Helpers

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// acquire takes a system for an operation, refusing when another holds it.
func (m *Manager) acquire(uuid, op string) (*system, func(), error) {
	s, err := m.lookup(uuid)
	if err != nil {
		return nil, nil, err
	}
	select {
	case s.op <- struct{}{}:
	default:
		s.mu.Lock()
		other := s.opName
		s.mu.Unlock()
		return nil, nil, errorf(Busy, "virtual system %s is busy (%s in progress); retry when it has ended", uuid, other)
	}
	m.mu.RLock()
	_, still := m.systems[s.uuid]
	m.mu.RUnlock()
	if !still {
		<-s.op
		return nil, nil, errorf(NotFound, "no virtual system %s", uuid)
	}
	s.mu.Lock()
	s.opName = op
	s.mu.Unlock()
	m.notify(Change{Kind: "system", ID: s.uuid, Event: Modified})
	var once sync.Once
	return s, func() {
		once.Do(func() {
			s.mu.Lock()
			s.opName, s.transition = "", 0
			s.mu.Unlock()
			<-s.op
			m.notify(Change{Kind: "system", ID: s.uuid, Event: Modified})
		})
	}, nil
}

// commit applies edit to the system's record and persists it in one
// transaction together with extra (snapshot records, intent removal,
// trash). On failure nothing changes in memory.
func (m *Manager) commit(s *system, edit func(rec *systemRecord) error, extra func(tx Tx) error) error {
	if err := m.commitLocked(s, edit, extra); err != nil {
		return err
	}
	m.notify(Change{Kind: "system", ID: s.uuid, Event: Modified})
	return nil
}

func (m *Manager) commitLocked(s *system, edit func(rec *systemRecord) error, extra func(tx Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.rec.clone()
	if edit != nil {
		if err := edit(rec); err != nil {
			return err
		}
	}
	rec.Modified = time.Now().UTC()
	err := m.store.Update(func(tx Tx) error {
		if err := putJSON(tx, bucketSystems, rec.UUID, rec); err != nil {
			return err
		}
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
	if err != nil {
		return wrapf(Failed, err, "saving virtual system %s", s.uuid)
	}
	s.rec = rec
	return nil
}

// record returns a copy of the system's record.
func (s *system) record() *systemRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.clone()
}

func (s *system) mach() hypervisor.Machine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.machine
}

func active(st hypervisor.State) bool {
	return st == hypervisor.StateRunning || st == hypervisor.StatePaused || st == hypervisor.StateShuttingDown ||
		st == hypervisor.StateStarting
}

// stateDirOf is the directory of a system's memory states.
func (m *Manager) stateDirOf(uuid string) string { return filepath.Join(m.stateDir, uuid) }

func (m *Manager) saveDir(uuid string) string { return filepath.Join(m.stateDirOf(uuid), "save") }

func (m *Manager) snapshotDir(uuid, snap string) string {
	return filepath.Join(m.stateDirOf(uuid), "snapshots", snap)
}

// relState expresses a path under the state directory relative to it, for
// intents and trash.
func (m *Manager) relState(path string) string {
	rel, err := filepath.Rel(m.stateDir, path)
	if err != nil || !filepath.IsLocal(rel) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// StateDir is the directory holding a system's saved state and snapshot
// memory.
func (m *Manager) StateDir(uuid string) string { return m.stateDirOf(uuid) }
