package vmm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// SnapshotRequest describes a snapshot to take.
type SnapshotRequest struct {
	Kind        SnapshotKind
	Name        string
	Description string
}

// CreateSnapshot takes a snapshot of a system, as a job. Every disk image
// becomes read-only and the system continues on a new VMDK delta of it; a
// full snapshot of a running, paused or saved system also keeps its memory
// and device state. A running system pauses while its state is written.
func (m *Manager) CreateSnapshot(ctx context.Context, uuid string, req SnapshotRequest, co CallOptions) (Outcome, error) {
	if req.Kind != SnapshotFull && req.Kind != SnapshotDisk {
		return Outcome{}, errorf(InvalidParameter, "snapshot type %d is not 2 (full) or 3 (disk)", req.Kind)
	}
	if len(req.Name) > 128 || strings.ContainsAny(req.Name, "\x00\n") {
		return Outcome{}, errorf(InvalidParameter, "snapshot name: at most 128 characters on one line")
	}
	s, release, err := m.acquire(uuid, "snapshot")
	if err != nil {
		return Outcome{}, err
	}
	rec := s.record()
	mach := s.mach()
	if mach == nil {
		release()
		return Outcome{}, errorf(Failed, "virtual system %s is not available in the %s engine", uuid, m.eng.Name())
	}
	st := mach.State()
	if st == hypervisor.StateStarting || st == hypervisor.StateShuttingDown {
		release()
		return Outcome{}, errorf(InvalidState, "cannot snapshot virtual system %s while it is %s", uuid, st)
	}
	for _, d := range rec.Def.Disks {
		if d.Image != "" && d.Format == "raw" {
			release()
			return Outcome{}, errorf(NotSupported, "disk %s of %s is a raw image; snapshots keep disks as VMDK deltas, which need VMDK images (convert it with hypercim vmdk convert)", d.ID, uuid)
		}
	}
	// An active system stops with its state written while its disks move
	// onto deltas, for a disk-only snapshot too: refuse before the job
	// where the engine cannot write it.
	if why := cannotSave(mach); why != "" && active(st) && !rec.Saved {
		release()
		return Outcome{}, errorf(NotSupported, "cannot snapshot %s while it is %s: %s", uuid, st, why)
	}
	id := newUUID()
	spec := jobSpec{Name: "Create snapshot", Method: "CreateSnapshot", Owner: OwnerSnapshot, Affected: []Affected{
		{Kind: "system", ID: s.uuid, Effects: []uint16{EffectExclusiveUse}},
		{Kind: "snapshot", ID: id, Effects: []uint16{EffectCreate}},
	}}
	return m.runLong(ctx, co, spec, release, func(ctx context.Context, p progress) (Result, error) {
		return Result{System: s.uuid, Snapshot: id}, m.snapshot(ctx, s, mach, id, req, p)
	})
}

func (m *Manager) snapshot(ctx context.Context, s *system, mach hypervisor.Machine, id string, req SnapshotRequest, p progress) error {
	rec := s.record()
	st := mach.State()
	wasActive := active(st)
	state := snapStopped
	switch {
	case rec.Saved:
		state = snapSaved
	case st == hypervisor.StatePaused:
		state = snapPaused
	case wasActive:
		state = snapRunning
	}
	memory := req.Kind == SnapshotFull && state != snapStopped
	snapDir := m.snapshotDir(s.uuid, id)
	tmpDir := filepath.Join(m.stateDirOf(s.uuid), "tmp-"+id)
	in := &intent{Op: "snapshot", System: s.uuid}
	leaves := map[string]string{} // disk ID -> new leaf
	for _, d := range rec.Def.Disks {
		if d.Image != "" {
			leaves[d.ID] = m.pool.deltaName(d.Image)
			in.Images = append(in.Images, leaves[d.ID])
		}
	}
	stateDir := tmpDir
	if memory {
		stateDir = snapDir
		in.States = append(in.States, m.relState(snapDir))
	}
	if wasActive {
		in.States = append(in.States, m.relState(tmpDir))
	}
	if err := m.begin(in); err != nil {
		return err
	}
	fail := func(err error) error {
		m.rollback(ctx, in)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(stateDir), 0o700); err != nil {
		return fail(wrapf(Failed, err, "creating %s", filepath.Dir(stateDir)))
	}
	// 1. Stop the machine with its state written, so its disks are closed
	//    and can be switched to new deltas.
	if wasActive {
		if err := mach.Snapshot(ctx, stateDir, hypervisor.SnapshotOptions{Stop: true}); err != nil {
			return fail(engineErr(err, "writing the state of %s", s.uuid))
		}
	} else if memory { // saved: the snapshot keeps a copy of the saved state
		if err := linkTree(m.saveDir(s.uuid), snapDir); err != nil {
			return fail(wrapf(Failed, err, "keeping the saved state of %s", s.uuid))
		}
	}
	p(40)
	resume := func() error {
		if !wasActive {
			return nil
		}
		return mach.Restore(ctx, stateDir, hypervisor.RestoreOptions{Paused: state == snapPaused})
	}
	// 2. Freeze the current images under new deltas.
	newDef := rec.Def.Clone()
	for i, d := range newDef.Disks {
		if d.Image == "" {
			continue
		}
		if err := m.pool.delta(d.Image, leaves[d.ID]); err != nil {
			resume()
			return fail(err)
		}
		newDef.Disks[i].Image = leaves[d.ID]
	}
	p(60)
	// 3. Point the machine at the deltas and continue where it was.
	oldCfg := mach.Config()
	if err := mach.Reconfigure(ctx, m.engineConfig(s.uuid, newDef)); err != nil {
		resume()
		return fail(engineErr(err, "switching %s to its new disk deltas", s.uuid))
	}
	if err := resume(); err != nil {
		// Back to the original images, which nothing wrote since.
		rerr := mach.Reconfigure(ctx, oldCfg)
		if rerr == nil {
			rerr = resume()
		}
		if rerr != nil {
			m.log.WithError(rerr).WithField("system", s.uuid).Error("resuming after a failed snapshot")
		}
		return fail(engineErr(err, "resuming %s on its new disk deltas", s.uuid))
	}
	p(90)
	name := req.Name
	if name == "" {
		name = fmt.Sprintf("%s %s", rec.Def.Name, time.Now().UTC().Format("2006-01-02 15:04:05"))
	}
	snap := &snapshotRecord{ID: id, System: s.uuid, Parent: rec.Branch, Name: name, Description: req.Description,
		Kind: req.Kind, Created: time.Now().UTC(), Def: rec.Def.Clone(), State: state, Memory: memory}
	var trash []string
	if wasActive && !memory {
		trash = append(trash, trashState(m.relState(tmpDir)))
	}
	err := m.commit(s, func(r *systemRecord) error {
		r.Def.Disks = newDef.Disks
		for _, d := range rec.Def.Disks {
			if d.Image != "" {
				r.Images[leaves[d.ID]] = &imageRecord{Parent: d.Image, Created: true}
			}
		}
		r.Branch = id
		return nil
	}, func(tx Tx) error {
		if err := putJSON(tx, bucketSnapshots, id, snap); err != nil {
			return err
		}
		if err := putTrash(tx, trash); err != nil {
			return err
		}
		return tx.Delete(bucketIntents, in.ID)
	})
	if err != nil {
		// The machine runs on the deltas: stop it before they go.
		return fail(err)
	}
	m.mu.Lock()
	m.snaps[id] = snap
	m.mu.Unlock()
	m.emptyTrash(trash)
	m.log.WithFields(map[string]any{"system": s.uuid, "snapshot": id, "kind": req.Kind}).Info("snapshot taken")
	return nil
}

// ApplySnapshot returns a system to a snapshot, as a job: the system is
// turned off, each disk continues on a new delta of the image the snapshot
// froze, the snapshot's devices, processors and memory come back, and a
// full snapshot's running, paused or saved state is restored. What the
// system did since is discarded.
func (m *Manager) ApplySnapshot(ctx context.Context, snapID string, co CallOptions) (Outcome, error) {
	snap, err := m.Snapshot(snapID)
	if err != nil {
		return Outcome{}, err
	}
	s, release, err := m.acquire(snap.System, "apply snapshot")
	if err != nil {
		return Outcome{}, err
	}
	mach := s.mach()
	if mach == nil {
		release()
		return Outcome{}, errorf(Failed, "virtual system %s is not available in the %s engine", snap.System, m.eng.Name())
	}
	if st := mach.State(); st == hypervisor.StateStarting {
		release()
		return Outcome{}, errorf(InvalidState, "cannot apply a snapshot to %s while it is starting", snap.System)
	}
	spec := jobSpec{Name: "Apply snapshot", Method: "ApplySnapshot", Owner: OwnerSnapshot, Affected: []Affected{
		{Kind: "system", ID: s.uuid, Effects: []uint16{EffectExclusiveUse, EffectElementIntegrity}},
		{Kind: "snapshot", ID: snap.ID},
	}}
	return m.runLong(ctx, co, spec, release, func(ctx context.Context, p progress) (Result, error) {
		return Result{System: s.uuid, Snapshot: snap.ID}, m.apply(ctx, s, mach, snap.ID, p)
	})
}

func (m *Manager) apply(ctx context.Context, s *system, mach hypervisor.Machine, snapID string, p progress) error {
	m.mu.RLock()
	snap := m.snaps[snapID]
	m.mu.RUnlock()
	if snap == nil {
		return errorf(NotFound, "snapshot %s was destroyed", snapID)
	}
	rec := s.record()
	in := &intent{Op: "apply", System: s.uuid}
	newDef := rec.Def.Clone()
	newDef.VCPUs, newDef.MemoryMiB = snap.Def.VCPUs, snap.Def.MemoryMiB
	newDef.ProcessorName, newDef.MemoryName = snap.Def.ProcessorName, snap.Def.MemoryName
	newDef.Kernel, newDef.Initrd, newDef.Cmdline = snap.Def.Kernel, snap.Def.Initrd, snap.Def.Cmdline
	newDef.Disks, newDef.NICs = snap.Def.Clone().Disks, snap.Def.Clone().NICs
	for i, d := range newDef.Disks {
		if d.Image != "" {
			newDef.Disks[i].Image = m.pool.deltaName(d.Image)
			in.Images = append(in.Images, newDef.Disks[i].Image)
		}
	}
	save := m.saveDir(s.uuid)
	restoreSaved := snap.Memory && snap.State == snapSaved
	if restoreSaved {
		in.States = append(in.States, m.relState(save)+".new")
	}
	if err := m.begin(in); err != nil {
		return err
	}
	fail := func(err error) error {
		m.rollback(ctx, in)
		return err
	}
	if active(mach.State()) || mach.State() == hypervisor.StateCrashed {
		if err := mach.Stop(ctx); err != nil {
			return fail(engineErr(err, "turning off %s", s.uuid))
		}
	}
	p(20)
	for i, d := range newDef.Disks {
		if d.Image == "" {
			continue
		}
		if err := m.pool.delta(snap.Def.Disks[i].Image, d.Image); err != nil {
			return fail(err)
		}
	}
	p(40)
	oldCfg := mach.Config()
	if err := mach.Reconfigure(ctx, m.engineConfig(s.uuid, newDef)); err != nil {
		return fail(engineErr(err, "switching %s to the snapshot's disks", s.uuid))
	}
	if restoreSaved {
		if err := linkTree(m.snapshotDir(s.uuid, snap.ID), save+".new"); err != nil {
			mach.Reconfigure(ctx, oldCfg)
			return fail(wrapf(Failed, err, "restoring the saved state of snapshot %s", snap.ID))
		}
	}
	running := false
	if snap.Memory && !restoreSaved {
		err := mach.Restore(ctx, m.snapshotDir(s.uuid, snap.ID), hypervisor.RestoreOptions{Paused: snap.State == snapPaused})
		if err != nil {
			mach.Reconfigure(ctx, oldCfg)
			return fail(engineErr(err, "restoring the state of snapshot %s", snap.ID))
		}
		running = true
	}
	p(80)
	trash := []string{}
	if rec.Saved || restoreSaved {
		trash = append(trash, trashState(m.relState(save)))
	}
	err := m.commit(s, func(r *systemRecord) error {
		r.Def = newDef
		for i, d := range newDef.Disks {
			if d.Image != "" {
				r.Images[d.Image] = &imageRecord{Parent: snap.Def.Disks[i].Image, Created: true}
			}
		}
		r.LastApplied, r.Branch = snap.ID, snap.ID
		r.Saved, r.WasActive = restoreSaved, running
		return nil
	}, func(tx Tx) error {
		if err := putTrash(tx, trash); err != nil {
			return err
		}
		return tx.Delete(bucketIntents, in.ID)
	})
	if err != nil {
		if running {
			mach.Stop(ctx)
		}
		mach.Reconfigure(ctx, oldCfg)
		return fail(err)
	}
	m.emptyTrash(trash)
	if restoreSaved {
		// The new saved state replaces the old one (already deleted).
		if err := os.Rename(save+".new", save); err != nil {
			m.log.WithError(err).WithField("system", s.uuid).Error("installing the snapshot's saved state")
		}
	}
	m.collectLocked(ctx, s)
	m.log.WithFields(map[string]any{"system": s.uuid, "snapshot": snap.ID}).Info("snapshot applied")
	return nil
}

// DestroySnapshot deletes a snapshot, as a job. Its children become
// children of its parent; the disk images only it kept are deleted or
// merged into their single delta, so chains do not grow without end.
func (m *Manager) DestroySnapshot(ctx context.Context, snapID string, co CallOptions) (Outcome, error) {
	snap, err := m.Snapshot(snapID)
	if err != nil {
		return Outcome{}, err
	}
	s, release, err := m.acquire(snap.System, "destroy snapshot")
	if err != nil {
		return Outcome{}, err
	}
	spec := jobSpec{Name: "Destroy snapshot", Method: "DestroySnapshot", Owner: OwnerSnapshot, Affected: []Affected{
		{Kind: "system", ID: s.uuid, Effects: []uint16{EffectElementIntegrity}},
	}}
	return m.runLong(ctx, co, spec, release, func(ctx context.Context, p progress) (Result, error) {
		return Result{System: s.uuid}, m.destroySnapshot(ctx, s, snap.ID, p)
	})
}

func (m *Manager) destroySnapshot(ctx context.Context, s *system, id string, p progress) error {
	m.mu.RLock()
	snap := m.snaps[id]
	var children []*snapshotRecord
	for _, r := range m.snaps {
		if r.Parent == id {
			c := *r
			c.Parent = snap.Parent
			children = append(children, &c)
		}
	}
	m.mu.RUnlock()
	if snap == nil {
		return errorf(NotFound, "snapshot %s was destroyed already", id)
	}
	trash := []string{trashState(m.relState(m.snapshotDir(s.uuid, id)))}
	err := m.commit(s, func(r *systemRecord) error {
		if r.LastApplied == id {
			r.LastApplied = ""
		}
		if r.Branch == id {
			r.Branch = snap.Parent
		}
		return nil
	}, func(tx Tx) error {
		if err := tx.Delete(bucketSnapshots, id); err != nil {
			return err
		}
		for _, c := range children {
			if err := putJSON(tx, bucketSnapshots, c.ID, c); err != nil {
				return err
			}
		}
		return putTrash(tx, trash)
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.snaps, id)
	for _, c := range children {
		m.snaps[c.ID] = c
	}
	m.mu.Unlock()
	m.emptyTrash(trash)
	p(30)
	m.collectLocked(ctx, s)
	m.log.WithFields(map[string]any{"system": s.uuid, "snapshot": id}).Info("snapshot destroyed")
	return nil
}

// collect runs the image garbage collection of a system when it is idle.
// A client operation meanwhile is refused as busy, naming it.
func (m *Manager) collect(s *system) {
	select {
	case s.op <- struct{}{}:
	default:
		return
	}
	s.mu.Lock()
	s.opName = "clean-up of unused images"
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.opName = ""
		s.mu.Unlock()
		<-s.op
	}()
	m.collectLocked(m.ctx, s)
}

// collectLocked deletes the images nothing needs any more and merges an
// image only one delta needs into that delta's place, with the system held
// by the caller. An image is needed when a disk uses it, a snapshot froze
// it, or another image is a delta of it. A merge writes the delta's data
// into its parent (vmdk.Commit), then everything that named the delta
// names the parent; it waits while the delta is open in a running machine.
func (m *Manager) collectLocked(ctx context.Context, s *system) {
	for range 1000 {
		rec := s.record()
		refs := map[string]bool{}
		for _, d := range rec.Def.Disks {
			refs[d.Image] = true
		}
		m.mu.RLock()
		for _, r := range m.snaps {
			if r.System == s.uuid {
				for _, d := range r.Def.Disks {
					refs[d.Image] = true
				}
			}
		}
		m.mu.RUnlock()
		open := map[string]bool{}
		if mach := s.mach(); mach != nil && active(mach.State()) || rec.Saved {
			for _, d := range rec.Def.Disks {
				open[d.Image] = true
			}
		}
		children := map[string][]string{}
		for img, ir := range rec.Images {
			if ir.Parent != "" {
				children[ir.Parent] = append(children[ir.Parent], img)
			}
		}
		var drop, trash []string
		for img, ir := range rec.Images {
			if !refs[img] && len(children[img]) == 0 {
				drop = append(drop, img)
				if ir.Created {
					trash = append(trash, trashImage(img))
				}
			}
		}
		if len(drop) > 0 {
			err := m.commit(s, func(r *systemRecord) error {
				for _, img := range drop {
					delete(r.Images, img)
				}
				return nil
			}, func(tx Tx) error { return putTrash(tx, trash) })
			if err != nil {
				m.log.WithError(err).WithField("system", s.uuid).Error("image collection")
				return
			}
			m.emptyTrash(trash)
			continue
		}
		merged := false
		for img := range rec.Images {
			kids := children[img]
			if refs[img] || len(kids) != 1 || len(children[kids[0]]) > 0 || open[kids[0]] {
				continue
			}
			if err := m.merge(ctx, s, kids[0], img); err != nil {
				m.log.WithError(err).WithField("system", s.uuid).Error("merging images")
				return
			}
			merged = true
			break
		}
		if !merged {
			return
		}
	}
}

// merge writes child's data into parent and puts parent in child's place.
func (m *Manager) merge(ctx context.Context, s *system, child, parent string) error {
	if err := m.mergeStep(ctx, s.uuid, child, parent); err != nil {
		return err
	}
	var changed []*snapshotRecord
	m.mu.RLock()
	for _, r := range m.snaps {
		if r.System != s.uuid {
			continue
		}
		c := *r
		c.Def = r.Def.Clone()
		hit := false
		for i := range c.Def.Disks {
			if c.Def.Disks[i].Image == child {
				c.Def.Disks[i].Image, hit = parent, true
			}
		}
		if hit {
			changed = append(changed, &c)
		}
	}
	m.mu.RUnlock()
	trash := []string{trashImage(child)}
	err := m.commit(s, func(r *systemRecord) error {
		for i := range r.Def.Disks {
			if r.Def.Disks[i].Image == child {
				r.Def.Disks[i].Image = parent
			}
		}
		delete(r.Images, child)
		return nil
	}, func(tx Tx) error {
		for _, c := range changed {
			if err := putJSON(tx, bucketSnapshots, c.ID, c); err != nil {
				return err
			}
		}
		return putTrash(tx, trash)
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	for _, c := range changed {
		m.snaps[c.ID] = c
	}
	m.mu.Unlock()
	// The machine (stopped) must now use the parent.
	if mach := s.mach(); mach != nil && !active(mach.State()) {
		if err := m.syncStopped(ctx, s, mach); err != nil {
			return err
		}
	}
	m.emptyTrash(trash)
	return nil
}

// linkTree makes dst a copy of directory src, with hard links where the
// file system allows (the files are never written in place).
func linkTree(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if e.IsDir() {
			if err := linkTree(s, d); err != nil {
				return err
			}
			continue
		}
		if err := os.Link(s, d); err == nil {
			continue
		}
		if err := copyFile(s, d); err != nil {
			return err
		}
	}
	return syncDir(dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}
