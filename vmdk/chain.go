package vmdk

import (
	"fmt"
	"os"
	"path/filepath"
)

// CommitOptions controls Commit.
type CommitOptions struct {
	// RemoveChild deletes the child's files once its data is in the
	// parent; otherwise the child stays, relinked to the parent's new CID
	// (and, its content being in the parent already, reads the same).
	RemoveChild       bool
	AllowOutsidePaths bool
	Progress          ProgressFunc
}

// Commit writes everything a delta holds (data and zeroed grains) into its
// immediate parent. The parent changes, so its other deltas become
// invalid, exactly as with VMware's snapshot deletion.
func Commit(child string, opts CommitOptions) error {
	c, err := Open(child, OpenOptions{ReadOnly: true, AllowOutsidePaths: opts.AllowOutsidePaths})
	if err != nil {
		return err
	}
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	if c.parent == nil {
		return fmt.Errorf("%w: %s has no parent to commit into", ErrInvalidArgument, child)
	}
	parentPath := c.parent.path
	p, err := Open(parentPath, OpenOptions{AllowOutsidePaths: opts.AllowOutsidePaths})
	if err != nil {
		return fmt.Errorf("opening parent for writing: %w", err)
	}
	total := c.Size()
	if total > p.Size() {
		// The child was grown after the snapshot: grow the parent too.
		if err := p.grow(total); err != nil {
			p.Close()
			return fmt.Errorf("growing %s to the child's size: %w", parentPath, err)
		}
	}
	buf := make([]byte, copyChunk)
	err = c.Map(0, total, func(m MapEntry) error {
		if opts.Progress != nil {
			opts.Progress(m.Offset, total)
		}
		if m.Depth != 0 {
			return nil // already the parent's (or an ancestor's) content
		}
		if !m.Data {
			return p.WriteZeroes(m.Offset, m.Length)
		}
		for off := m.Offset; off < m.Offset+m.Length; {
			n := min(int64(len(buf)), m.Offset+m.Length-off)
			if _, err := c.ReadAt(buf[:n], off); err != nil {
				return err
			}
			if _, err := p.WriteAt(buf[:n], off); err != nil {
				return err
			}
			off += n
		}
		return nil
	})
	if err == nil {
		err = p.Flush()
	}
	newCID := p.desc.cid
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("committing into %s: %w", parentPath, err)
	}
	if opts.Progress != nil {
		opts.Progress(total, total)
	}
	files, desc, descPath := c.imageFiles(), c.desc, c.descPath
	c.Close()
	c = nil
	if opts.RemoveChild {
		for _, f := range files {
			os.Remove(f)
		}
		syncDir(filepath.Dir(child))
		return nil
	}
	desc.parentCID = newCID
	return rewriteDescriptor(child, descPath, desc)
}

// imageFiles lists the files of this image (not its parents).
func (d *Disk) imageFiles() []string {
	var files []string
	if d.descPath != "" {
		files = append(files, d.descPath)
	}
	for _, pe := range d.exts {
		for _, f := range pe.ext.files() {
			if f != d.descPath {
				files = append(files, f)
			}
		}
	}
	return files
}

// RebaseOptions controls Rebase.
type RebaseOptions struct {
	// Unsafe only rewrites the parent link, assuming the new parent has
	// the same content as the old chain.
	Unsafe            bool
	AllowOutsidePaths bool
	Progress          ProgressFunc
}

// Rebase makes newParent the parent of child ("" makes child standalone).
// Unless opts.Unsafe, every range where the new parent differs from what
// child showed through its old chain is first copied into child, so the
// child's content stays exactly the same.
func Rebase(child, newParent string, opts RebaseOptions) error {
	var np *Disk
	var hint string
	cid := uint32(noParentCID)
	if newParent != "" {
		var err error
		np, err = Open(newParent, OpenOptions{ReadOnly: true, AllowOutsidePaths: opts.AllowOutsidePaths})
		if err != nil {
			return fmt.Errorf("opening new parent: %w", err)
		}
		defer np.Close()
		if np.desc == nil {
			return fmt.Errorf("%w: new parent %s is not a VMDK", ErrInvalidArgument, newParent)
		}
		if hint, err = relativeHint(child, newParent, opts.AllowOutsidePaths); err != nil {
			return err
		}
		cid = np.desc.cid
	}
	ropts := OpenOptions{ReadOnly: opts.Unsafe, AllowOutsidePaths: opts.AllowOutsidePaths, IgnoreCIDMismatch: opts.Unsafe}
	d, err := Open(child, ropts)
	if err != nil {
		return err
	}
	if d.desc == nil {
		d.Close()
		return fmt.Errorf("%w: %s is not a VMDK", ErrInvalidArgument, child)
	}
	if !opts.Unsafe {
		if err := copyDifferences(d, np, opts.Progress); err != nil {
			d.Close()
			return err
		}
	}
	desc, descPath := d.desc, d.descPath
	if err := d.Close(); err != nil {
		return err
	}
	desc.parentHint, desc.parentCID = hint, cid
	return rewriteDescriptor(child, descPath, desc)
}

// copyDifferences writes into d (through its current chain) every range
// d does not hold itself where np reads differently.
func copyDifferences(d, np *Disk, progress ProgressFunc) error {
	total := d.Size()
	a := make([]byte, zeroGranule)
	b := make([]byte, zeroGranule)
	return d.Map(0, total, func(m MapEntry) error {
		if progress != nil {
			progress(m.Offset, total)
		}
		if m.Depth == 0 && m.Data {
			return nil // the child's own data stays as it is
		}
		for off := m.Offset; off < m.Offset+m.Length; {
			n := min(int64(len(a)), m.Offset+m.Length-off)
			if _, err := d.ReadAt(a[:n], off); err != nil {
				return err
			}
			clear(b[:n])
			if np != nil && off < np.Size() {
				k := min(n, np.Size()-off)
				if _, err := np.ReadAt(b[:k], off); err != nil {
					return err
				}
			}
			if string(a[:n]) != string(b[:n]) {
				if _, err := d.WriteAt(a[:n], off); err != nil {
					return err
				}
			}
			off += n
		}
		return nil
	})
}
