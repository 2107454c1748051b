package vmm

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/vmdk"
)

// intent is the write-ahead record of an operation that creates files or
// engine objects before its result is committed. It is stored before the
// first side effect and deleted in the transaction that commits the
// result, so after a crash every intent left names an operation that did
// not complete: recover undoes it (or, for Forward intents, finishes it).
type intent struct {
	ID     string
	Op     string
	System string
	Time   time.Time
	// Images are pool-relative images the operation created.
	Images []string `json:",omitempty"`
	// States are state-directory-relative paths the operation created.
	States []string `json:",omitempty"`
	// Undefine: the operation defined the system in the engine.
	Undefine bool `json:",omitempty"`
	// Forward: finish the operation on recovery instead of undoing it
	// (DestroySystem: once images are consolidated there is no way back).
	Forward bool `json:",omitempty"`
	// Merge is an image merge (snapshot consolidation) in progress.
	Merge *mergeIntent `json:",omitempty"`
}

type mergeIntent struct {
	Child, Parent string // pool-relative
}

// begin stores an intent.
func (m *Manager) begin(in *intent) error {
	in.ID, in.Time = newUUID(), time.Now().UTC()
	if err := m.store.Update(func(tx Tx) error { return putJSON(tx, bucketIntents, in.ID, in) }); err != nil {
		return wrapf(Failed, err, "recording the start of %s", in.Op)
	}
	return nil
}

// forget deletes an intent in its own transaction (after a rollback).
func (m *Manager) forget(in *intent) {
	if err := m.store.Update(func(tx Tx) error { return tx.Delete(bucketIntents, in.ID) }); err != nil {
		m.log.WithError(err).WithField("intent", in.ID).Error("deleting intent")
	}
}

// undo reverses an intent's side effects. Errors are logged: undo runs
// when something already failed, and what it cannot remove is left for
// recovery to try again (the intent stays when undo is incomplete).
func (m *Manager) undo(ctx context.Context, in *intent) bool {
	ok := true
	if in.Undefine {
		if mach, err := m.eng.Lookup(ctx, in.System); err == nil {
			if active(mach.State()) {
				mach.Stop(ctx)
			}
			if err := mach.Undefine(ctx); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
				m.log.WithError(err).WithField("system", in.System).Error("undoing a definition")
				ok = false
			}
		}
	} else if len(in.Images) > 0 {
		// A machine still running on an image about to go is stopped
		// first: the operation that gave it the image did not complete.
		if mach, err := m.eng.Lookup(ctx, in.System); err == nil && active(mach.State()) {
			for _, d := range mach.Config().Disks {
				if slices.ContainsFunc(in.Images, func(rel string) bool { return m.pool.abs(rel) == d.Path }) {
					mach.Stop(ctx)
					break
				}
			}
		}
	}
	for _, rel := range in.Images {
		if err := m.pool.remove(rel); err != nil {
			m.log.WithError(err).WithField("image", rel).Error("removing an image of an undone operation")
			ok = false
		}
	}
	for _, rel := range in.States {
		if err := os.RemoveAll(filepath.Join(m.stateDir, filepath.FromSlash(rel))); err != nil {
			m.log.WithError(err).WithField("path", rel).Error("removing state of an undone operation")
			ok = false
		}
	}
	return ok
}

// rollback undoes an operation that failed and forgets its intent.
func (m *Manager) rollback(ctx context.Context, in *intent) {
	if m.undo(ctx, in) {
		m.forget(in)
	}
}

// Trash keys: "image:" + pool-relative image, "state:" + state-relative
// path. Files to delete are recorded in the transaction that stops
// referencing them and deleted after it commits, so a crash in between
// leaves them for recovery rather than leaking or deleting too early.
func trashImage(rel string) string { return "image:" + rel }
func trashState(rel string) string { return "state:" + rel }

func putTrash(tx Tx, keys []string) error {
	for _, k := range keys {
		if err := tx.Put(bucketTrash, k, nil); err != nil {
			return err
		}
	}
	return nil
}

// emptyTrash deletes the files of the given trash keys and then the keys.
func (m *Manager) emptyTrash(keys []string) {
	var done []string
	for _, k := range keys {
		var err error
		switch {
		case strings.HasPrefix(k, "image:"):
			err = m.pool.remove(strings.TrimPrefix(k, "image:"))
		case strings.HasPrefix(k, "state:"):
			rel := strings.TrimPrefix(k, "state:")
			if rel != "" {
				err = os.RemoveAll(filepath.Join(m.stateDir, filepath.FromSlash(rel)))
			}
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.log.WithError(err).WithField("file", k).Error("deleting a file no longer used")
			continue
		}
		done = append(done, k)
	}
	if len(done) == 0 {
		return
	}
	err := m.store.Update(func(tx Tx) error {
		for _, k := range done {
			if err := tx.Delete(bucketTrash, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		m.log.WithError(err).Error("clearing the trash list")
	}
}

// recover finishes what a crash interrupted: it undoes (or completes) the
// operations whose intents remain and deletes the trash.
func (m *Manager) recover(ctx context.Context) error {
	var intents []*intent
	var trash []string
	err := m.store.View(func(tx Tx) error {
		if err := tx.ForEach(bucketIntents, func(k string, _ []byte) error {
			in := &intent{}
			if _, err := getJSON(tx, bucketIntents, k, in); err != nil {
				return err
			}
			intents = append(intents, in)
			return nil
		}); err != nil {
			return err
		}
		return tx.ForEach(bucketTrash, func(k string, _ []byte) error {
			trash = append(trash, k)
			return nil
		})
	})
	if err != nil {
		return err
	}
	slices.SortFunc(intents, func(a, b *intent) int { return a.Time.Compare(b.Time) })
	for _, in := range intents {
		log := m.log.WithFields(map[string]any{"op": in.Op, "system": in.System, "since": in.Time})
		switch {
		case in.Forward:
			log.Warn("completing an operation a restart interrupted")
			if err := m.finishDestroy(ctx, in); err != nil {
				return err
			}
		case in.Merge != nil:
			// A merge writes the child's data into its parent, which is
			// safe to repeat; relink the child (its parent's CID may have
			// changed) and let the garbage collection redo it.
			log.Warn("repairing an image merge a restart interrupted")
			child := m.pool.abs(in.Merge.Child)
			if _, err := os.Stat(child); err == nil {
				if err := vmdk.Rebase(child, m.pool.abs(in.Merge.Parent), vmdk.RebaseOptions{Unsafe: true}); err != nil {
					log.WithError(err).Error("relinking the merged image")
				}
			}
			m.forget(in)
		default:
			log.Warn("rolling back an operation a restart interrupted")
			m.rollback(ctx, in)
		}
	}
	m.emptyTrash(trash)
	return nil
}
