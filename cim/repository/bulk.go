package repository

import (
	"errors"

	"github.com/hypercim/hypercim/cim"
)

// DefaultBulkOps is how many writes a BulkWriter gathers in one
// transaction before it commits on its own.
const DefaultBulkOps = 20000

// BulkWriter writes many definitions in few transactions: it keeps one
// write transaction open, commits it every MaxOps writes and when Commit
// is called. It is what the MOF compiler (through the mof.Target methods
// below) and the schema loader write with, so that compiling the whole
// DMTF schema costs one commit, not one per class.
//
// Reads see the writes made so far. While writes are pending, the
// BulkWriter holds the repository's write lock: other writers wait until
// Commit or Rollback. Reads of other goroutines go on, seeing the last
// commit. An error from a write leaves the pending writes in place (the
// refused write changed nothing), except a store failure, after which
// only Rollback is possible.
//
// A BulkWriter is not safe for concurrent use.
type BulkWriter struct {
	r *Repository
	// MaxOps is the number of writes after which the pending writes are
	// committed; DefaultBulkOps when 0.
	MaxOps int
	tx     *Tx
	ops    int
	err    error // the first write refused since the last commit
}

// NewBulkWriter returns a BulkWriter on r. Call Commit when done (or
// Rollback to drop what was not committed yet).
func (r *Repository) NewBulkWriter() *BulkWriter { return &BulkWriter{r: r} }

// read runs fn in the pending transaction, or in a read transaction when
// nothing is pending, so that reads do not take the write lock.
func (w *BulkWriter) read(fn func(tx *Tx) error) error {
	if w.tx != nil {
		return fn(w.tx)
	}
	return w.r.View(fn)
}

// write runs fn in the pending transaction, starting one if needed, and
// commits when MaxOps writes are pending.
func (w *BulkWriter) write(fn func(tx *Tx) error) error {
	if w.tx == nil {
		btx, err := w.r.db.Begin(true)
		if err != nil {
			return storeError("starting a write transaction", err)
		}
		w.tx = newTx(w.r, btx)
	}
	if err := fn(w.tx); err != nil {
		if w.err == nil {
			w.err = err
		}
		return err
	}
	w.ops++
	limit := w.MaxOps
	if limit <= 0 {
		limit = DefaultBulkOps
	}
	if w.ops >= limit {
		return w.Commit()
	}
	return nil
}

// Commit commits the pending writes (durably, as Update does). The
// BulkWriter can be used again afterwards.
func (w *BulkWriter) Commit() error {
	if w.tx == nil {
		return nil
	}
	tx := w.tx
	w.tx, w.ops, w.err = nil, 0, nil
	return tx.commit()
}

// Rollback drops the writes not committed yet.
func (w *BulkWriter) Rollback() error {
	if w.tx == nil {
		return nil
	}
	tx := w.tx
	w.tx, w.ops, w.err = nil, 0, nil
	tx.discard()
	if err := tx.btx.Rollback(); err != nil {
		return storeError("rolling back", err)
	}
	return nil
}

// Pending reports how many writes wait for a commit.
func (w *BulkWriter) Pending() int { return w.ops }

// Err returns the first write refused since the last Commit or Rollback,
// nil if none was: a caller that wants all or nothing rolls back then.
func (w *BulkWriter) Err() error { return w.err }

// notFound turns CIM_ERR_NOT_FOUND and CIM_ERR_INVALID_NAMESPACE into
// absence, as mof.Target reads report it.
func notFound(err error) error {
	if errors.Is(err, cim.ErrNotFound) || errors.Is(err, cim.ErrInvalidNamespace) {
		return nil
	}
	return err
}

// The mof.Target methods.

// EnsureNamespace creates ns if it does not exist.
func (w *BulkWriter) EnsureNamespace(ns string) error {
	exists := false
	if err := w.read(func(tx *Tx) error { exists = tx.NamespaceExists(ns); return nil }); err != nil {
		return err
	}
	if exists {
		return nil
	}
	return w.write(func(tx *Tx) error { return tx.EnsureNamespace(ns) })
}

// QualifierType returns a qualifier declaration, nil if there is none.
func (w *BulkWriter) QualifierType(ns, name string) (qt *cim.QualifierType, err error) {
	err = w.read(func(tx *Tx) error {
		qt, err = tx.GetQualifier(ns, name)
		return notFound(err)
	})
	return qt, err
}

// SetQualifierType creates or replaces a qualifier declaration.
func (w *BulkWriter) SetQualifierType(ns string, qt *cim.QualifierType) error {
	return w.write(func(tx *Tx) error { return tx.SetQualifier(ns, qt) })
}

// Class returns a resolved class, nil if there is none.
func (w *BulkWriter) Class(ns, name string) (c *cim.Class, err error) {
	err = w.read(func(tx *Tx) error {
		c, err = tx.GetClass(ns, name)
		return notFound(err)
	})
	return c, err
}

// PutClass creates or modifies a class (Tx.PutClass).
func (w *BulkWriter) PutClass(ns string, c *cim.Class) error {
	return w.write(func(tx *Tx) error { return tx.PutClass(ns, c) })
}

// PutInstance creates or replaces an instance (Tx.PutInstance).
func (w *BulkWriter) PutInstance(ns string, inst *cim.Instance) error {
	return w.write(func(tx *Tx) error { return tx.PutInstance(ns, inst) })
}

// Meta returns a marker (Tx.Meta).
func (w *BulkWriter) Meta(key string) (v string, err error) {
	err = w.read(func(tx *Tx) error {
		v, err = tx.Meta(key)
		return err
	})
	return v, err
}

// SetMeta sets a marker with the pending writes (Tx.SetMeta).
func (w *BulkWriter) SetMeta(key, value string) error {
	return w.write(func(tx *Tx) error { return tx.SetMeta(key, value) })
}
