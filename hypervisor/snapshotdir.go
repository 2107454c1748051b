package hypervisor

import (
	"fmt"
	"os"
	"path/filepath"
)

// Helpers the backends share to write Machine.Snapshot's directory, so
// both treat it alike: created with mode 0700, never written over, and
// durable once Snapshot returns.

// CreateSnapshotDir prepares dir for Machine.Snapshot: it creates it (and
// missing parents) with mode 0700, or accepts an existing empty
// directory. A directory that holds anything is refused with
// ErrInvalidConfig, so one snapshot never overwrites another.
func CreateSnapshotDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: snapshot directory: %w", ErrInvalidConfig, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%w: snapshot directory: %w", ErrInvalidConfig, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: snapshot directory %s exists and is not empty", ErrInvalidConfig, dir)
	}
	return nil
}

// WriteFileDurably writes path through fill: into a temporary file beside
// it, which is synced, renamed over path, and made durable by syncing the
// directory. A crash leaves the old file or the new one, never part of
// one; once it returns, the new one survives a crash.
func WriteFileDurably(path string, fill func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncPath(filepath.Dir(path))
}

// SyncPath flushes a file, or a directory's entries, to stable storage;
// for files another process wrote (a hypervisor's save image).
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}
