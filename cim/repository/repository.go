package repository

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/hypercim/hypercim/cim"
)

// FileName is the name of the database file in the data directory.
const FileName = "repository.db"

// DefaultLockTimeout is how long Open waits for another process to release
// the data directory before it gives up.
const DefaultLockTimeout = 250 * time.Millisecond

// ErrInUse is the error (tested with errors.Is) Open returns when another
// process holds the data directory.
var ErrInUse = errors.New("the data directory is in use by another hypercim process")

// inUseError names the data directory another process holds.
type inUseError struct{ dir string }

func (e *inUseError) Error() string {
	return "the data directory " + e.dir + " is in use by another hypercim process (is hypercimd running?)"
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// Options tune Open. The zero value is what the server uses.
type Options struct {
	// LockTimeout is how long to wait for another process to close the
	// repository; DefaultLockTimeout when zero.
	LockTimeout time.Duration
	// InitialMmapSize is the size of address space mapped at open, in
	// bytes (1 GiB when zero). While the database fits in it, a writer
	// never waits for readers to remap the file.
	InitialMmapSize int
}

// Repository is an open repository. It is safe for concurrent use by any
// number of goroutines: reads run in parallel with each other and with the
// one write transaction that may be in progress.
type Repository struct {
	db    *bolt.DB
	dir   string
	cache *cache
}

// Open opens (creating if needed) the repository in directory dir, which is
// created with mode 0700 if it does not exist. Only one process may have a
// repository open: when another holds it, Open fails after
// Options.LockTimeout with an error that wraps ErrInUse and says so.
func Open(dir string, opts *Options) (*Repository, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.InitialMmapSize <= 0 {
		o.InitialMmapSize = 1 << 30
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         o.LockTimeout,
		InitialMmapSize: o.InitialMmapSize,
		FreelistType:    bolt.FreelistMapType,
		NoStatistics:    true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &inUseError{dir: dir}
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	r := &Repository{db: db, dir: dir}
	if err := r.init(); err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// init creates the top-level buckets of a new database and checks the
// format of an existing one.
func (r *Repository) init() error {
	err := r.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists([]byte(bucketMarkers)); err != nil {
			return err
		}
		switch v := meta.Get([]byte(keyFormat)); {
		case v == nil:
			return meta.Put([]byte(keyFormat), []byte{formatVersion})
		case len(v) != 1 || v[0] != formatVersion:
			return fmt.Errorf("the repository in %s has format %v, which this hypercim does not read (it reads format %d)", r.dir, v, formatVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("initializing the repository: %w", err)
	}
	var gen uint64
	r.db.View(func(tx *bolt.Tx) error { gen = uint64(tx.ID()); return nil })
	r.cache = newCache(gen)
	return nil
}

// Close closes the repository. It waits for the transactions in
// progress, including a BulkWriter's pending writes: commit or roll them
// back first.
func (r *Repository) Close() error { return r.db.Close() }

// Dir returns the data directory.
func (r *Repository) Dir() string { return r.dir }

// View runs fn in a read-only transaction: fn sees one consistent snapshot
// of the repository, whatever writers commit meanwhile. Keep read
// transactions short; the Repository's own enumeration methods read in
// chunks for that reason.
func (r *Repository) View(fn func(tx *Tx) error) error {
	btx, err := r.db.Begin(false)
	if err != nil {
		return storeError("starting a read transaction", err)
	}
	tx := newTx(r, btx)
	defer btx.Rollback()
	return fn(tx)
}

// Update runs fn in a read-write transaction and commits it if fn returns
// nil; an error from fn rolls everything back. The commit is on disk
// (fsync) when Update returns nil: it survives a crash at any point after.
// Write transactions run one at a time; keep them short.
func (r *Repository) Update(fn func(tx *Tx) error) error {
	btx, err := r.db.Begin(true)
	if err != nil {
		return storeError("starting a write transaction", err)
	}
	tx := newTx(r, btx)
	committing := false
	defer func() {
		if !committing { // fn failed or panicked
			btx.Rollback()
			tx.discard()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committing = true
	return tx.commit()
}

// storeError wraps a bbolt or I/O error as CIM_ERR_FAILED.
func storeError(what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *cim.Error
	if errors.As(err, &ce) {
		return ce
	}
	return cim.WrapError(cim.ErrFailed, err, "repository: "+what)
}

// corrupt reports damaged stored data.
func corrupt(format string, args ...any) *cim.Error {
	return cim.Errorf(cim.ErrFailed, "repository data is damaged: "+format, args...)
}
