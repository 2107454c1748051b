package vmdk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ConvertOptions controls Convert.
type ConvertOptions struct {
	// SrcFormat forces the source format; FormatAuto detects it.
	SrcFormat Format
	// DstFormat forces the destination format. FormatAuto uses the
	// content of an existing destination, else the extension: ".vmdk" is
	// VMDK, anything else raw.
	DstFormat Format
	// Subformat of a new VMDK destination; default monolithicSparse.
	Subformat Subformat
	// Adapter and HWVersion of a new VMDK destination.
	Adapter   Adapter
	HWVersion int
	// Overwrite replaces an existing destination instead of writing into
	// it.
	Overwrite bool
	// AllowOutsidePaths as in OpenOptions.
	AllowOutsidePaths bool
	// Compression of a streamOptimized destination; default
	// CompressionFast.
	Compression Compression
	// Progress, if set, receives bytes done out of the virtual size.
	Progress ProgressFunc
}

// copyChunk is the unit convert reads and writes; zeroGranule is the unit
// below which it does not look for zero data to skip.
const (
	copyChunk   = 4 << 20
	zeroGranule = 64 << 10
)

// Convert copies the disk src into dst, sparse-aware: unallocated and
// all-zero grains of the source are not written to a new destination.
// An existing destination (without Overwrite) is written in place, zero
// ranges included, and must be at least as large as the source.
func Convert(src, dst string, opts ConvertOptions) error {
	if _, err := opts.Compression.zlibLevel(); err != nil {
		return err
	}
	in, err := Open(src, OpenOptions{ReadOnly: true, Format: opts.SrcFormat, AllowOutsidePaths: opts.AllowOutsidePaths})
	if err != nil {
		return fmt.Errorf("opening source: %w", err)
	}
	defer in.Close()
	if same, _ := sameFile(src, dst); same {
		return fmt.Errorf("%w: source and destination are the same file", ErrInvalidArgument)
	}
	out, fresh, err := openDestination(dst, in.Size(), opts)
	if err != nil {
		return err
	}
	err = copyDisk(in, out, fresh, opts.Progress)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil && fresh {
		removeImage(dst)
	}
	return err
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// openDestination creates or opens the target; fresh reports a new image
// (known to read as zeros everywhere).
func openDestination(dst string, size int64, opts ConvertOptions) (*Disk, bool, error) {
	_, statErr := os.Stat(dst)
	exists := statErr == nil
	if exists && !opts.Overwrite {
		d, err := Open(dst, OpenOptions{Format: opts.DstFormat, AllowOutsidePaths: opts.AllowOutsidePaths, Compression: opts.Compression})
		if err != nil {
			return nil, false, fmt.Errorf("opening existing destination (pass --overwrite to replace it): %w", err)
		}
		if opts.Subformat != "" && d.subformat != opts.Subformat {
			d.Close()
			return nil, false, fmt.Errorf("%w: destination %s exists as %s, not %s (pass --overwrite / Overwrite to recreate it)", ErrInvalidArgument, dst, formatName(d), opts.Subformat)
		}
		if d.Format() == FormatRaw && d.Size() != size {
			d.Close()
			if err := os.Truncate(dst, size); err != nil {
				return nil, false, err
			}
			d, err = Open(dst, OpenOptions{Format: FormatRaw})
			if err != nil {
				return nil, false, err
			}
		}
		if d.Size() < size {
			d.Close()
			return nil, false, fmt.Errorf("%w: destination %s holds %d bytes, the source %d", ErrInvalidArgument, dst, d.Size(), size)
		}
		return d, false, nil
	}
	format := opts.DstFormat
	if format == FormatAuto {
		format = formatFromExtension(dst)
	}
	switch format {
	case FormatRaw:
		if exists {
			removeImage(dst)
		}
		f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, false, err
		}
		err = f.Truncate(size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, false, err
		}
	case FormatVMDK:
		if exists {
			removeImage(dst)
		}
		sub := opts.Subformat
		if sub == "" {
			sub = MonolithicSparse
		}
		if err := Create(dst, CreateOptions{Subformat: sub, Size: roundUp(size, sectorSize), Adapter: opts.Adapter, HWVersion: opts.HWVersion}); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, fmt.Errorf("%w: cannot write %s images (raw and vmdk can be written)", ErrUnsupported, format)
	}
	d, err := Open(dst, OpenOptions{Format: format, Compression: opts.Compression})
	if err != nil {
		removeImage(dst)
		return nil, false, err
	}
	return d, true, nil
}

func formatName(d *Disk) string {
	if d.subformat != "" {
		return string(d.subformat)
	}
	return string(d.format)
}

func formatFromExtension(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".vmdk":
		return FormatVMDK
	case ".qcow2", ".qcow":
		return FormatQCOW2
	}
	return FormatRaw
}

// removeImage deletes an image and the extent files its descriptor names.
func removeImage(path string) {
	if d, err := Open(path, OpenOptions{ReadOnly: true}); err == nil {
		var files []string
		for _, pe := range d.exts {
			files = append(files, pe.ext.files()...)
		}
		d.Close()
		for _, f := range files {
			if f != path {
				os.Remove(f)
			}
		}
	}
	os.Remove(path)
}

// copyDisk copies in to out by allocation map. Zero runs are skipped for a
// fresh destination and written as zeros otherwise.
func copyDisk(in, out *Disk, fresh bool, progress ProgressFunc) error {
	total := in.Size()
	buf := make([]byte, copyChunk)
	report := func(done int64) {
		if progress != nil {
			progress(done, total)
		}
	}
	report(0)
	err := in.Map(0, total, func(m MapEntry) error {
		if !m.Data {
			report(m.Offset + m.Length)
			if fresh {
				return nil
			}
			return out.WriteZeroes(m.Offset, m.Length)
		}
		for off := m.Offset; off < m.Offset+m.Length; {
			n := min(int64(len(buf)), m.Offset+m.Length-off)
			if _, err := in.ReadAt(buf[:n], off); err != nil {
				return err
			}
			if err := writeSkippingZeros(out, buf[:n], off, fresh); err != nil {
				return err
			}
			off += n
			report(off)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return out.Flush()
}

// writeSkippingZeros writes b at off, leaving out all-zero granules when
// the destination already reads zeros there.
func writeSkippingZeros(out *Disk, b []byte, off int64, fresh bool) error {
	for i := int64(0); i < int64(len(b)); {
		// Find a run of granules that are all zero or all non-zero.
		j := i
		zero := isZero(b[i:min(i+zeroGranule, int64(len(b)))])
		for j < int64(len(b)) {
			e := min(j+zeroGranule, int64(len(b)))
			if isZero(b[j:e]) != zero {
				break
			}
			j = e
		}
		var err error
		switch {
		case zero && fresh:
		case zero:
			err = out.WriteZeroes(off+i, j-i)
		default:
			_, err = out.WriteAt(b[i:j], off+i)
		}
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}
