package vmdk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
	// CompressionDefault.
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
	if _, err := opts.Compression.Level(); err != nil {
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
// fresh destination and written as zeros otherwise. Chunks are read ahead
// on every core (so a compressed source inflates in parallel, and reading
// overlaps the compression of a streamOptimized destination) while this
// goroutine writes them in order.
func copyDisk(in, out *Disk, fresh bool, progress ProgressFunc) error {
	total := in.Size()
	report := func(done int64) {
		if progress != nil {
			progress(done, total)
		}
	}
	report(0)
	r := startReadAhead(in, runtime.GOMAXPROCS(0))
	defer r.stop()
	for t := range r.ordered {
		<-t.done
		if t.err != nil {
			return t.err
		}
		var err error
		switch {
		case t.buf != nil:
			err = writeSkippingZeros(out, t.buf, t.off, fresh)
			r.free <- t.buf
		case !fresh:
			err = out.WriteZeroes(t.off, t.n)
		}
		if err != nil {
			return err
		}
		report(t.off + t.n)
	}
	if err := r.mapErr; err != nil {
		return err
	}
	return out.Flush()
}

// copyTask is one piece of a copy: a chunk of data (buf, filled by a
// reader) or a zero run (buf nil). done is closed once it may be written.
type copyTask struct {
	off, n int64
	buf    []byte
	err    error
	done   chan struct{}
}

// readAhead maps and reads a disk in a producer and reader goroutines,
// handing the pieces out in disk order on ordered. Buffers are taken from
// free in that same order, so the oldest pending task always has one and
// the consumer never waits on a later task: memory stays at a few chunks
// per core whatever the disk size.
type readAhead struct {
	ordered chan *copyTask
	free    chan []byte
	quit    chan struct{}
	wg      sync.WaitGroup
	mapErr  error // set before ordered is closed
}

func startReadAhead(in *Disk, readers int) *readAhead {
	buffers := readers + 2
	r := &readAhead{
		ordered: make(chan *copyTask, 2*buffers),
		free:    make(chan []byte, buffers),
		quit:    make(chan struct{}),
	}
	for range buffers {
		r.free <- make([]byte, copyChunk)
	}
	work := make(chan *copyTask)
	for range readers {
		r.wg.Go(func() {
			for t := range work {
				_, t.err = in.ReadAt(t.buf, t.off)
				close(t.done)
			}
		})
	}
	zeroDone := make(chan struct{})
	close(zeroDone)
	errStopped := errors.New("copy stopped")
	send := func(t *copyTask, ch chan<- *copyTask) error {
		select {
		case ch <- t:
			return nil
		case <-r.quit:
			return errStopped
		}
	}
	r.wg.Go(func() {
		defer close(r.ordered)
		defer close(work)
		err := in.Map(0, in.Size(), func(m MapEntry) error {
			if !m.Data {
				return send(&copyTask{off: m.Offset, n: m.Length, done: zeroDone}, r.ordered)
			}
			for off := m.Offset; off < m.Offset+m.Length; {
				t := &copyTask{off: off, n: min(copyChunk, m.Offset+m.Length-off), done: make(chan struct{})}
				select {
				case buf := <-r.free:
					t.buf = buf[:t.n]
				case <-r.quit:
					return errStopped
				}
				if err := send(t, r.ordered); err != nil {
					return err
				}
				if err := send(t, work); err != nil {
					return err
				}
				off += t.n
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopped) {
			r.mapErr = err
		}
	})
	return r
}

// stop ends the producer and readers, for an early return of the consumer,
// and waits for them: none touches the disk after stop.
func (r *readAhead) stop() {
	close(r.quit)
	r.wg.Wait()
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
