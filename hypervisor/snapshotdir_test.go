package hypervisor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateSnapshotDir(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "a", "b")
	if err := CreateSnapshotDir(fresh); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Errorf("created %v, %v; want a 0700 directory", st, err)
	}
	if err := CreateSnapshotDir(fresh); err != nil {
		t.Errorf("an existing empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(fresh, "state"), []byte("x"), 0o600)
	if err := CreateSnapshotDir(fresh); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("a used directory: %v, want ErrInvalidConfig", err)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := CreateSnapshotDir(file); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("a file: %v, want ErrInvalidConfig", err)
	}
}

func TestWriteFileDurably(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	write := func(content string, fail error) error {
		return WriteFileDurably(path, func(f *os.File) error {
			if _, err := f.WriteString(content); err != nil {
				return err
			}
			return fail
		})
	}
	if err := write("one", nil); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("disk full")
	if err := write("two, torn", broken); !errors.Is(err, broken) {
		t.Errorf("a failing fill: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "one" {
		t.Errorf("after a failed rewrite: %q, %v; want the old content", b, err)
	}
	if err := write("two", nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := SyncPath(filepath.Join(dir, "missing")); err == nil {
		t.Error("SyncPath of a missing file succeeded")
	}
}
