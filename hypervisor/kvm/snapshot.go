package kvm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/legacy"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/mmio"
	vpci "github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/pci"
)

// Snapshot files inside the snapshot directory.
const (
	snapshotStateFile  = "state.json"
	snapshotMemoryFile = "memory.bin"
	snapshotFormat     = "hypercim-kvm-snapshot"
	snapshotVersion    = 1
	// memChunk is the granularity at which zero memory is left as a hole.
	memChunk = 64 << 10
)

// snapshotState is state.json: everything but guest memory. Each device's
// part is the state type its own package defines.
type snapshotState struct {
	Format      string
	Version     int
	Time        time.Time
	Machine     string
	VCPUs       int
	MemoryBytes uint64
	Transport   Transport
	VM          *vmState
	CPUs        []*vcpuState
	Serial      legacy.SerialState
	I8042       legacy.I8042State
	Devices     []deviceState
}

// deviceState is one virtio device's place and transport state.
type deviceState struct {
	ID       string
	Kind     string // "disk", "nic" or "rng"
	DiskSize int64  `json:",omitempty"`
	Position int    // virtio-mmio window or PCI slot
	MMIO     *mmio.State
	PCI      *vpci.State
}

func (s *virtioSlot) kind() string {
	switch {
	case s.blk != nil:
		return "disk"
	case s.net != nil:
		return "nic"
	}
	return "rng"
}

// Snapshot implements hypervisor.Machine.
func (m *Machine) Snapshot(ctx context.Context, dir string, opts hypervisor.SnapshotOptions) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	state, err := m.requireState("snapshot", hypervisor.StateRunning, hypervisor.StatePaused, hypervisor.StateShuttingDown)
	if err != nil {
		return err
	}
	m.mu.Lock()
	v := m.vm
	m.mu.Unlock()
	if state != hypervisor.StatePaused {
		if err := m.pauseVM(ctx); err != nil {
			return err
		}
	}
	err = v.writeSnapshot(dir, m.uuid)
	switch {
	case err == nil && opts.Stop:
		m.teardown()
		m.setState(hypervisor.StateStopped, "saved to "+dir)
	case state != hypervisor.StatePaused:
		v.run()
	}
	if err != nil {
		return fmt.Errorf("%w: writing %s: %w", hypervisor.ErrSnapshot, dir, err)
	}
	return nil
}

// writeSnapshot saves a paused VM into dir.
func (v *vm) writeSnapshot(dir, uuid string) error {
	if err := hypervisor.CreateSnapshotDir(dir); err != nil {
		return err
	}
	st := &snapshotState{Format: snapshotFormat, Version: snapshotVersion, Time: time.Now().UTC(), Machine: uuid,
		VCPUs: len(v.vcpus), MemoryBytes: v.ram.mem.Size(), Transport: v.opts.Transport}
	var err error
	if st.VM, err = v.saveVMState(); err != nil {
		return err
	}
	for _, c := range v.vcpus {
		var cs *vcpuState
		if err := c.do(func() (err error) { cs, err = c.saveState(); return err }); err != nil {
			return fmt.Errorf("vCPU %d: %w", c.id, err)
		}
		st.CPUs = append(st.CPUs, cs)
	}
	st.Serial, st.I8042 = v.serial.State(), v.kbd.State()
	for _, s := range v.slots() {
		d := deviceState{ID: s.id, Kind: s.kind()}
		if s.blk != nil {
			d.DiskSize = s.blk.Backend().Size()
			// Disk contents must match memory: everything the guest was
			// told is written reaches the image first.
			if err := s.blk.Backend().Flush(); err != nil {
				return fmt.Errorf("flushing disk %s: %w", s.id, err)
			}
		}
		if s.window != nil {
			ms := s.window.t.State()
			d.MMIO, d.Position = &ms, v.windowIndex(s.window)
		}
		if s.pci != nil {
			ps := s.pci.State()
			d.PCI, d.Position = &ps, s.slot
		}
		st.Devices = append(st.Devices, d)
	}
	if err := hypervisor.WriteFileDurably(filepath.Join(dir, snapshotMemoryFile), v.writeMemory); err != nil {
		return fmt.Errorf("guest memory: %w", err)
	}
	js, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return err
	}
	return hypervisor.WriteFileDurably(filepath.Join(dir, snapshotStateFile), func(f *os.File) error {
		_, err := f.Write(js)
		return err
	})
}

func (v *vm) windowIndex(w *mmioWindow) int {
	for i, c := range v.windows {
		if c == w {
			return i
		}
	}
	return -1
}

// writeMemory writes guest RAM as one file, regions in address order,
// leaving all-zero chunks as holes so an idle 4 GiB guest costs little.
func (v *vm) writeMemory(f *os.File) error {
	zero := make([]byte, memChunk)
	var off int64
	for _, r := range v.ram.mem.Regions() {
		for i := 0; i < len(r.Data); i += memChunk {
			chunk := r.Data[i:min(i+memChunk, len(r.Data))]
			if !bytes.Equal(chunk, zero[:len(chunk)]) {
				if _, err := f.WriteAt(chunk, off+int64(i)); err != nil {
					return err
				}
			}
		}
		off += int64(len(r.Data))
	}
	return f.Truncate(off)
}

// readMemory loads a memory file written by writeMemory, reading only the
// data extents (the holes are already zero in fresh RAM).
func (v *vm) readMemory(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if uint64(st.Size()) != v.ram.mem.Size() {
		return fmt.Errorf("memory file is %d bytes, the machine has %d", st.Size(), v.ram.mem.Size())
	}
	var base int64
	for _, r := range v.ram.mem.Regions() {
		end := base + int64(len(r.Data))
		for pos := base; pos < end; {
			data, err := unix.Seek(int(f.Fd()), pos, unix.SEEK_DATA)
			if errors.Is(err, unix.ENXIO) || (err == nil && data >= end) {
				break
			}
			if err != nil { // no SEEK_DATA support: read everything
				data = pos
			}
			hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
			if err != nil || hole > end {
				hole = end
			}
			if _, err := f.ReadAt(r.Data[data-base:hole-base], data); err != nil && err != io.EOF {
				return err
			}
			pos = hole
		}
		base = end
	}
	return nil
}

// Restore implements hypervisor.Machine.
func (m *Machine) Restore(ctx context.Context, dir string, opts hypervisor.RestoreOptions) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	prev, err := m.requireState("restore", hypervisor.StateStopped, hypervisor.StateCrashed)
	if err != nil {
		return err
	}
	st, err := readSnapshotState(dir)
	if err != nil {
		return err
	}
	m.mu.Lock()
	cfg := m.cfg.Clone()
	m.mu.Unlock()
	if err := st.check(cfg, m.eng.opts.Transport); err != nil {
		return err
	}
	m.setState(hypervisor.StateStarting, "restoring from "+dir)
	v, err := m.restoreRun(dir, st)
	if err != nil {
		m.setState(prev, fmt.Sprintf("restore failed: %v", err))
		return fmt.Errorf("%w: restoring %s from %s: %w", hypervisor.ErrSnapshot, m.uuid, dir, err)
	}
	m.install(v, true)
	if opts.Paused {
		m.mu.Lock()
		m.prevState = hypervisor.StateRunning
		m.mu.Unlock()
		m.setState(hypervisor.StatePaused, "restored from "+dir+", paused")
		return nil
	}
	v.run()
	m.setState(hypervisor.StateRunning, "restored from "+dir)
	return nil
}

func readSnapshotState(dir string) (*snapshotState, error) {
	b, err := os.ReadFile(filepath.Join(dir, snapshotStateFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hypervisor.ErrSnapshot, err)
	}
	st := &snapshotState{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", hypervisor.ErrSnapshot, snapshotStateFile, err)
	}
	if st.Format != snapshotFormat || st.Version != snapshotVersion {
		return nil, fmt.Errorf("%w: %s is format %q version %d, want %q version %d",
			hypervisor.ErrSnapshot, dir, st.Format, st.Version, snapshotFormat, snapshotVersion)
	}
	if st.VM == nil || len(st.CPUs) != st.VCPUs {
		return nil, fmt.Errorf("%w: %s has state for %d of %d vCPUs", hypervisor.ErrSnapshot, dir, len(st.CPUs), st.VCPUs)
	}
	return st, nil
}

// check verifies the snapshot fits the machine it is restored into: same
// vCPUs, memory and transport, and the same devices, disks of equal size.
func (st *snapshotState) check(cfg hypervisor.Config, transport Transport) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", hypervisor.ErrSnapshot, fmt.Sprintf(format, args...))
	}
	switch {
	case st.VCPUs != cfg.VCPUs:
		return bad("snapshot has %d vCPUs, the machine %d", st.VCPUs, cfg.VCPUs)
	case st.MemoryBytes != cfg.MemoryBytes:
		return bad("snapshot has %d MiB of memory, the machine %d MiB", st.MemoryBytes>>20, cfg.MemoryBytes>>20)
	case st.Transport != transport:
		return bad("snapshot uses virtio-%s, the engine virtio-%s", st.Transport, transport)
	}
	want := map[string]string{rngID: "rng"}
	for _, d := range cfg.Disks {
		want[d.ID] = "disk"
	}
	for _, n := range cfg.NICs {
		want[n.ID] = "nic"
	}
	if len(want) != len(st.Devices) {
		return bad("snapshot has %d devices, the machine %d", len(st.Devices), len(want))
	}
	for _, d := range st.Devices {
		if want[d.ID] != d.Kind {
			return bad("snapshot device %s (%s) is not in the machine's configuration", d.ID, d.Kind)
		}
	}
	return nil
}

// restoreRun builds a VM from a snapshot, paused.
func (m *Machine) restoreRun(dir string, st *snapshotState) (*vm, error) {
	placement := map[string]int{}
	for _, d := range st.Devices {
		placement[d.ID] = d.Position
	}
	v, err := m.newRun(placement)
	if err != nil {
		return nil, err
	}
	if err := v.restore(dir, st); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// restore loads memory and device, interrupt controller and vCPU state.
func (v *vm) restore(dir string, st *snapshotState) error {
	f, err := os.Open(filepath.Join(dir, snapshotMemoryFile))
	if err != nil {
		return err
	}
	err = v.readMemory(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("guest memory: %w", err)
	}
	if err := v.restoreVMState(st.VM); err != nil {
		return err
	}
	if err := v.createVCPUs(nil); err != nil {
		return err
	}
	for i, c := range v.vcpus {
		cs := st.CPUs[i]
		if err := c.do(func() error { return c.restoreState(cs) }); err != nil {
			return fmt.Errorf("vCPU %d: %w", i, err)
		}
	}
	v.serial.SetState(st.Serial)
	v.kbd.SetState(st.I8042)
	byID := map[string]*virtioSlot{}
	for _, s := range v.slots() {
		byID[s.id] = s
	}
	for _, d := range st.Devices {
		s := byID[d.ID]
		if s == nil {
			return fmt.Errorf("device %s is missing", d.ID)
		}
		if s.blk != nil && s.blk.Backend().Size() != d.DiskSize {
			return fmt.Errorf("disk %s is %d bytes, it was %d when the snapshot was taken", d.ID, s.blk.Backend().Size(), d.DiskSize)
		}
		switch {
		case s.window != nil && d.MMIO != nil:
			err = s.window.t.SetState(*d.MMIO)
		case s.pci != nil && d.PCI != nil:
			err = s.pci.SetState(*d.PCI)
		default:
			err = fmt.Errorf("device %s has no state for its transport", d.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
