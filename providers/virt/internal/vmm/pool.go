package vmm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/vmdk"
)

// pool is the storage pool: one directory under the data directory that
// holds every disk image of every system. Paths clients give are resolved
// inside it, symbolic links included, and refused when they lead out.
type pool struct {
	dir string // absolute, symbolic links resolved
}

func openPool(dir string) (*pool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating the storage pool %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("storage pool %s: %w", dir, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, err
	}
	return &pool{dir: real}, nil
}

// abs returns the host path of a pool-relative path.
func (p *pool) abs(rel string) string { return filepath.Join(p.dir, filepath.FromSlash(rel)) }

// resolve maps a path a client gave (absolute, or relative to the pool)
// to the pool-relative path it names, refusing any path that is not
// inside the pool once symbolic links are followed.
func (p *pool) resolve(path string) (string, error) {
	if path == "" {
		return "", errorf(InvalidParameter, "empty image path")
	}
	if strings.ContainsRune(path, 0) {
		return "", errorf(InvalidParameter, "image path %q contains a NUL byte", path)
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.dir, abs)
	}
	abs = filepath.Clean(abs)
	real, err := realPath(abs)
	if err != nil {
		return "", wrapf(InvalidParameter, err, "image path %q", path)
	}
	rel, err := filepath.Rel(p.dir, real)
	if err != nil || !filepath.IsLocal(rel) {
		return "", errorf(InvalidParameter, "image path %q is outside the storage pool %s: images must lie inside the pool directory", path, p.dir)
	}
	return filepath.ToSlash(rel), nil
}

// realPath resolves symbolic links of the longest existing prefix of path.
func realPath(path string) (string, error) {
	r, err := filepath.EvalSymlinks(path)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	dir, base := filepath.Split(path)
	dir = filepath.Clean(dir)
	if dir == path {
		return path, nil
	}
	rd, err := realPath(dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(rd, base), nil
}

// exists reports whether the pool-relative path names a regular file.
func (p *pool) exists(rel string) (bool, error) {
	st, err := os.Stat(p.abs(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !st.Mode().IsRegular():
		return false, errorf(InvalidParameter, "%s is not a regular file", rel)
	}
	return true, nil
}

// imageInfo describes an existing image.
type imageInfo struct {
	Format    string
	Subformat string
	Size      int64
	Parent    string // pool-relative parent, for a delta
}

// inspect reads an existing image.
func (p *pool) inspect(rel string) (imageInfo, error) {
	info, err := vmdk.Inspect(p.abs(rel), vmdk.OpenOptions{})
	if err != nil {
		return imageInfo{}, wrapf(InvalidParameter, err, "image %s cannot be used", rel)
	}
	out := imageInfo{Format: string(info.Format), Subformat: string(info.Subformat), Size: info.VirtualSize}
	switch info.Format {
	case vmdk.FormatVMDK, vmdk.FormatRaw:
	default:
		return out, errorf(InvalidParameter, "image %s is %s; the storage pool serves VMDK and raw images (convert it with hypercim vmdk convert)", rel, info.Format)
	}
	if len(info.Chain) > 1 {
		return out, errorf(InvalidParameter, "image %s is a delta of %s; give the system a standalone image (the server makes and tracks deltas itself)", rel, info.Chain[1])
	}
	return out, nil
}

// create makes a new empty image.
func (p *pool) create(rel string, size int64, format, subformat string) error {
	abs := p.abs(rel)
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return wrapf(Failed, err, "creating the directory of %s", rel)
	}
	if format == "raw" {
		f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return errorf(InUse, "image %s exists already", rel)
			}
			return wrapf(Failed, err, "creating %s", rel)
		}
		err = f.Truncate(size)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(abs)
			return wrapf(Failed, err, "creating %s", rel)
		}
		return syncDir(filepath.Dir(abs))
	}
	err := vmdk.Create(abs, vmdk.CreateOptions{Subformat: vmdk.Subformat(subformat), Size: size})
	switch {
	case errors.Is(err, fs.ErrExist):
		return wrapf(InUse, err, "image %s", rel)
	case errors.Is(err, vmdk.ErrInvalidArgument):
		return wrapf(InvalidParameter, err, "image %s", rel)
	case err != nil:
		return wrapf(Failed, err, "creating image %s", rel)
	}
	return nil
}

// delta creates child as an empty delta of parent (both pool-relative).
func (p *pool) delta(parent, child string) error {
	if err := vmdk.Snapshot(p.abs(parent), p.abs(child), vmdk.CreateOptions{}); err != nil {
		return wrapf(Failed, err, "creating delta %s of %s", child, parent)
	}
	return nil
}

// files lists every file of an image: its descriptor and extents.
func (p *pool) files(rel string) []string {
	abs := p.abs(rel)
	out := []string{abs}
	info, err := vmdk.Inspect(abs, vmdk.OpenOptions{IgnoreCIDMismatch: true})
	if err != nil {
		return out
	}
	dir := filepath.Dir(abs)
	for _, e := range info.Extents {
		if e.File == "" {
			continue
		}
		f := filepath.Join(dir, filepath.FromSlash(e.File))
		if f != abs && filepath.Dir(f) == dir {
			out = append(out, f)
		}
	}
	return out
}

// remove deletes an image's files; a missing file is not an error.
func (p *pool) remove(rel string) error {
	var errs []error
	for _, f := range p.files(rel) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newName returns a pool-relative file name that does not exist yet, made
// from stem ("web1-disk0") and the format's extension.
func (p *pool) newName(stem, format string, taken func(string) bool) string {
	ext := ".vmdk"
	if format == "raw" {
		ext = ".img"
	}
	stem = sanitize(stem)
	for i := 0; ; i++ {
		name := stem + ext
		if i > 0 {
			name = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
		if taken(name) {
			continue
		}
		if _, err := os.Lstat(p.abs(name)); errors.Is(err, fs.ErrNotExist) {
			return name
		}
	}
}

// deltaName names a new delta of image rel, next to it (deltas must live
// in their parent's directory for the parent link to stay inside it).
func (p *pool) deltaName(rel string) string {
	dir, base := filepath.Split(filepath.FromSlash(rel))
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if i := strings.LastIndex(stem, "~"); i > 0 {
		stem = stem[:i]
	}
	for {
		name := filepath.Join(dir, stem+"~"+randomHex(4)+".vmdk")
		if _, err := os.Lstat(p.abs(name)); errors.Is(err, fs.ErrNotExist) {
			return filepath.ToSlash(name)
		}
	}
}

// space returns the size and free space of the pool's file system.
func (p *pool) space() (capacity, free uint64) {
	var st unix.Statfs_t
	if err := unix.Statfs(p.dir, &st); err != nil {
		return 0, 0
	}
	return st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize)
}

// sanitize keeps a name usable as a file name stem.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 48 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		out = "image"
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
