package blk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Backend is the disk image behind the device: what vmdk.Disk and a raw
// *os.File wrapper provide.
type Backend interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Flush() error
	Size() int64
}

// Discarder is a Backend that can deallocate a range (VIRTIO_BLK_T_DISCARD).
type Discarder interface {
	Discard(off, length int64) error
}

// ZeroWriter is a Backend that can zero a range without a data buffer
// (VIRTIO_BLK_T_WRITE_ZEROES); without it zeroes are written as data.
type ZeroWriter interface {
	WriteZeroes(off, length int64) error
}

// Sector is the virtio-blk addressing unit.
const Sector = 512

// Feature bits (virtio 1.2 §5.2.3).
const (
	featSegMax      = 2
	featRO          = 5
	featBlkSize     = 6
	featFlush       = 9
	featDiscard     = 13
	featWriteZeroes = 14
)

// Request types and status values (virtio 1.2 §5.2.6).
const (
	reqIn          = 0
	reqOut         = 1
	reqFlush       = 4
	reqGetID       = 8
	reqDiscard     = 11
	reqWriteZeroes = 13

	statusOK     = 0
	statusIOErr  = 1
	statusUnsupp = 2

	headerSize = 16
	idSize     = 20
	queueSize  = 256
	segMax     = queueSize - 2
	// maxDiscardSectors bounds one discard or write-zeroes segment.
	maxDiscardSectors = 1 << 22
)

// ErrRequest reports a malformed request the device completed with an
// error status.
var ErrRequest = errors.New("malformed virtio-blk request")

// Stats counts the device's completed requests.
type Stats struct {
	ReadOps, WriteOps     uint64
	ReadBytes, WriteBytes uint64
	FlushOps              uint64
}

// Device is one virtio-blk disk.
type Device struct {
	name     string
	serial   string
	backend  Backend
	readOnly bool
	sectors  uint64

	requests virtio.SingleQueue

	readOps, writeOps, readBytes, writeBytes, flushOps atomic.Uint64
}

// New returns a disk named name (its device-error and statistics label)
// whose GET_ID serial is serial (at most 20 bytes are used).
func New(name, serial string, backend Backend, readOnly bool) *Device {
	return &Device{name: name, serial: serial, backend: backend, readOnly: readOnly,
		sectors: uint64(backend.Size()) / Sector}
}

// Type implements virtio.Device.
func (d *Device) Type() uint32 { return virtio.IDBlock }

// Name implements virtio.Device.
func (d *Device) Name() string { return d.name }

// Backend returns the image behind the device.
func (d *Device) Backend() Backend { return d.backend }

// Features implements virtio.Device.
func (d *Device) Features() uint64 {
	f := uint64(1)<<featSegMax | 1<<featBlkSize | 1<<featFlush | 1<<virtio.FeatureIndirectDesc
	if d.readOnly {
		f |= 1 << featRO
	} else {
		f |= 1<<featDiscard | 1<<featWriteZeroes
	}
	return f
}

// QueueSizes implements virtio.Device.
func (d *Device) QueueSizes() []uint16 { return []uint16{queueSize} }

// config builds struct virtio_blk_config (virtio 1.2 §5.2.4).
func (d *Device) config() []byte {
	c := make([]byte, 60)
	binary.LittleEndian.PutUint64(c[0:], d.sectors)
	binary.LittleEndian.PutUint32(c[12:], segMax)
	binary.LittleEndian.PutUint32(c[20:], Sector)
	binary.LittleEndian.PutUint16(c[34:], 1)                 // num_queues
	binary.LittleEndian.PutUint32(c[36:], maxDiscardSectors) // max_discard_sectors
	binary.LittleEndian.PutUint32(c[40:], 1)                 // max_discard_seg
	binary.LittleEndian.PutUint32(c[44:], 1)                 // discard_sector_alignment
	binary.LittleEndian.PutUint32(c[48:], maxDiscardSectors) // max_write_zeroes_sectors
	binary.LittleEndian.PutUint32(c[52:], 1)                 // max_write_zeroes_seg
	c[56] = 1                                                // write_zeroes_may_unmap
	return c
}

// ReadConfig implements virtio.Device.
func (d *Device) ReadConfig(off uint64, data []byte) {
	c := d.config()
	for i := range data {
		if o := off + uint64(i); o < uint64(len(c)) {
			data[i] = c[o]
		} else {
			data[i] = 0
		}
	}
}

// WriteConfig implements virtio.Device; the configuration is read-only.
func (d *Device) WriteConfig(uint64, []byte) {}

// Activate implements virtio.Device.
func (d *Device) Activate(_ *guestmem.Memory, _ uint64, queues []*queue.Queue, irq virtio.Interrupt) error {
	d.requests.Start(queues[0], irq)
	return nil
}

// Reset implements virtio.Device.
func (d *Device) Reset() { d.requests.Stop() }

// Notify implements virtio.Device: serve every available request.
func (d *Device) Notify(int) { d.requests.Serve(d.serve) }

// serve executes one request and returns the bytes written to the guest,
// status byte included. A chain that cannot carry a request (no header or
// no status byte) is an error: the device cannot even report a status.
func (d *Device) serve(c *queue.Chain) (uint32, error) {
	var hdr [headerSize]byte
	wlen := c.WritableLen()
	if c.Gather(hdr[:], 0) < headerSize || wlen < 1 {
		return 0, fmt.Errorf("%w: chain %d has %d readable and %d writable bytes (need a %d-byte header and a status byte)",
			ErrRequest, c.Head, c.ReadableLen(), wlen, headerSize)
	}
	typ := binary.LittleEndian.Uint32(hdr[0:])
	sector := binary.LittleEndian.Uint64(hdr[8:])
	status, written := byte(statusOK), 0
	switch typ {
	case reqIn:
		n := wlen - 1
		if err := d.checkRange(sector, n); err != nil {
			status = statusIOErr
			break
		}
		if err := d.readInto(queue.Segments(c.Writable, 0, n), int64(sector*Sector)); err != nil {
			status = statusIOErr
			break
		}
		written = n
		d.readOps.Add(1)
		d.readBytes.Add(uint64(n))
	case reqOut:
		n := c.ReadableLen() - headerSize
		if d.readOnly || d.checkRange(sector, n) != nil {
			status = statusIOErr
			break
		}
		if err := d.writeFrom(queue.Segments(c.Readable, headerSize, headerSize+n), int64(sector*Sector)); err != nil {
			status = statusIOErr
			break
		}
		d.writeOps.Add(1)
		d.writeBytes.Add(uint64(n))
	case reqFlush:
		if err := d.backend.Flush(); err != nil {
			status = statusIOErr
		}
		d.flushOps.Add(1)
	case reqGetID:
		id := make([]byte, idSize)
		copy(id, d.serial)
		written = c.Scatter(id, 0)
		if written > wlen-1 {
			written = wlen - 1
		}
	case reqDiscard, reqWriteZeroes:
		if d.readOnly {
			status = statusIOErr
			break
		}
		status = d.discard(c, typ == reqWriteZeroes)
	default:
		status = statusUnsupp
	}
	c.Scatter([]byte{status}, wlen-1)
	return uint32(written + 1), nil
}

func (d *Device) checkRange(sector uint64, n int) error {
	if n%Sector != 0 {
		return fmt.Errorf("%w: length %d is not a multiple of %d", ErrRequest, n, Sector)
	}
	if sector > d.sectors || uint64(n/Sector) > d.sectors-sector {
		return fmt.Errorf("%w: sectors %d+%d beyond the disk's %d", ErrRequest, sector, n/Sector, d.sectors)
	}
	return nil
}

func (d *Device) readInto(segs [][]byte, off int64) error {
	for _, s := range segs {
		if _, err := d.backend.ReadAt(s, off); err != nil {
			return err
		}
		off += int64(len(s))
	}
	return nil
}

func (d *Device) writeFrom(segs [][]byte, off int64) error {
	for _, s := range segs {
		if _, err := d.backend.WriteAt(s, off); err != nil {
			return err
		}
		off += int64(len(s))
	}
	return nil
}

// discard serves DISCARD and WRITE_ZEROES: one 16-byte segment
// {sector u64, num_sectors u32, flags u32} after the header.
func (d *Device) discard(c *queue.Chain, zero bool) byte {
	var seg [16]byte
	if c.ReadableLen() != headerSize+len(seg) || c.Gather(seg[:], headerSize) != len(seg) {
		return statusUnsupp // more than max_discard_seg (1) segments
	}
	sector := binary.LittleEndian.Uint64(seg[0:])
	count := binary.LittleEndian.Uint32(seg[8:])
	if count > maxDiscardSectors || d.checkRange(sector, int(count)*Sector) != nil {
		return statusIOErr
	}
	off, n := int64(sector*Sector), int64(count)*Sector
	var err error
	switch b := d.backend.(type) {
	case ZeroWriter:
		if zero {
			err = b.WriteZeroes(off, n)
		} else if dis, ok := d.backend.(Discarder); ok {
			err = dis.Discard(off, n)
		} else {
			err = b.WriteZeroes(off, n)
		}
	case Discarder:
		if zero {
			err = writeZeroes(d.backend, off, n)
		} else {
			err = b.Discard(off, n)
		}
	default:
		// Discard is a hint (virtio 1.2 §5.2.6.2), so zeroing is a valid
		// implementation; write-zeroes must zero.
		err = writeZeroes(d.backend, off, n)
	}
	if err != nil {
		return statusIOErr
	}
	d.writeOps.Add(1)
	return statusOK
}

func writeZeroes(b Backend, off, n int64) error {
	zero := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zero)))
		if _, err := b.WriteAt(zero[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats {
	return Stats{
		ReadOps: d.readOps.Load(), WriteOps: d.writeOps.Load(),
		ReadBytes: d.readBytes.Load(), WriteBytes: d.writeBytes.Load(),
		FlushOps: d.flushOps.Load(),
	}
}
