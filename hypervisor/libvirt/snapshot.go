package libvirt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/vmdk"
)

// A snapshot directory holds libvirt's save image (virDomainSaveFlags: the
// domain XML and QEMU's migration stream of device state and guest memory)
// and a manifest that Restore checks before handing the image to
// virDomainRestoreFlags.
const (
	snapshotManifest = "snapshot.json"
	snapshotImage    = "memory.save"
	snapshotFormat   = "hypercim-libvirt-snapshot/1"
)

type manifest struct {
	Format  string         `json:"format"`
	UUID    string         `json:"uuid"`
	Name    string         `json:"name"`
	Created time.Time      `json:"created"`
	Uptime  time.Duration  `json:"uptime_ns"` // guest uptime when saved
	Paused  bool           `json:"paused"`
	Disks   []manifestDisk `json:"disks"`
}

type manifestDisk struct {
	ID    string `json:"id"`
	Bytes uint64 `json:"bytes"` // virtual size
}

// Snapshot implements hypervisor.Machine. With opts.Stop it saves the
// machine (virDomainSaveFlags, which stops the emulator once the state is
// written); otherwise it takes an external memory-only snapshot, after
// which the machine goes on paused or running as before, and subscribers
// see only the pause while the state is written. Both write the same save
// image format, which Restore hands to virDomainRestoreFlags.
//
// QEMU cannot save a machine while its vmdk driver has a disk open (the
// driver blocks migration, which saving uses), so sparse, stream-optimized
// and split VMDKs and deltas make Snapshot fail with
// hypervisor.ErrNotSupported, saying what to do instead. Flat VMDKs are
// opened as raw ranges of their extent, and raw disks are fine.
func (m *Machine) Snapshot(ctx context.Context, dir string, opts hypervisor.SnapshotOptions) error {
	conn, st, release, err := m.begin(ctx, "snapshot", isLive)
	if err != nil {
		return err
	}
	defer release()
	dom := m.dom()
	text, err := conn.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return m.fail("snapshot", err)
	}
	live, err := parseDomainXML(text)
	if err != nil {
		return err
	}
	man := manifest{Format: snapshotFormat, UUID: live.cfg.UUID, Name: live.cfg.Name, Created: time.Now().UTC(), Paused: st == hypervisor.StatePaused}
	if !live.started.IsZero() {
		man.Uptime = time.Since(live.started)
	}
	for _, d := range live.cfg.Disks {
		if live.drivers[d.ID] == "vmdk" {
			return vmdkSnapshotError(d, inspectKind(d.Path))
		}
		_, capacity, _, err := conn.DomainGetBlockInfo(dom, live.targets[d.ID], 0)
		if err != nil {
			return m.fail("snapshot: size of disk "+d.ID, err)
		}
		man.Disks = append(man.Disks, manifestDisk{ID: d.ID, Bytes: capacity})
	}
	if err := hypervisor.CreateSnapshotDir(dir); err != nil {
		return err
	}
	if err := writeManifest(dir, man); err != nil {
		return err
	}

	if opts.Stop {
		return m.saveAndStop(conn, dom, dir, man)
	}
	return m.snapshotLive(conn, dom, dir, man, live)
}

// snapshotLive writes the state of a machine that goes on: an external
// memory-only snapshot without libvirt metadata (the disks are the
// caller's business, so each is marked snapshot='no'). libvirt pauses the
// domain, has QEMU write its migration stream in the save image format
// virDomainRestoreFlags reads, and resumes it. The emulator keeps running,
// which saving and restoring would not: that cost a QEMU exit (libvirt
// waits for it in 200 ms steps) and a new QEMU start, seconds under load.
func (m *Machine) snapshotLive(conn *golibvirt.Libvirt, dom golibvirt.Domain, dir string, man manifest, live definition) error {
	image := filepath.Join(dir, snapshotImage)
	spec := libvirtxml.DomainSnapshot{
		Memory: &libvirtxml.DomainSnapshotMemory{Snapshot: "external", File: image},
		Disks:  &libvirtxml.DomainSnapshotDisks{},
	}
	for _, d := range live.cfg.Disks {
		spec.Disks.Disks = append(spec.Disks.Disks, libvirtxml.DomainSnapshotDisk{Name: live.targets[d.ID], Snapshot: "no"})
	}
	text, err := spec.Marshal()
	if err != nil {
		return fmt.Errorf("libvirt: snapshot: %w", err)
	}
	var hidden []expectation
	if !man.Paused {
		hidden = []expectation{
			{key: lifecycleKey(golibvirt.DomainEventSuspended, int32(golibvirt.DomainEventSuspendedPaused)), reason: "paused to write a snapshot"},
			{key: lifecycleKey(golibvirt.DomainEventResumed, int32(golibvirt.DomainEventResumedUnpaused)), reason: "running again after the snapshot"},
		}
	}
	m.expect(hidden...)
	if _, err := conn.DomainSnapshotCreateXML(dom, text, uint32(golibvirt.DomainSnapshotCreateNoMetadata)); err != nil {
		m.unexpect(hidden...)
		removeSnapshotFiles(dir)
		return m.fail("snapshot", err)
	}
	return syncSnapshot(dir)
}

// saveAndStop writes the state with virDomainSaveFlags, which stops the
// emulator once it is written (DMTF "save").
func (m *Machine) saveAndStop(conn *golibvirt.Libvirt, dom golibvirt.Domain, dir string, man manifest) error {
	var hidden []expectation
	if !man.Paused {
		suspended := lifecycleKey(golibvirt.DomainEventSuspended, int32(golibvirt.DomainEventSuspendedPaused))
		hidden = append(hidden, expectation{key: suspended, reason: "paused to write a snapshot"})
	}
	m.expect(hidden...)
	flags := golibvirt.DomainSaveRunning
	if man.Paused {
		flags = golibvirt.DomainSavePaused
	}
	if err := conn.DomainSaveFlags(dom, filepath.Join(dir, snapshotImage), nil, uint32(flags)); err != nil {
		m.unexpect(hidden...)
		removeSnapshotFiles(dir)
		return m.fail("snapshot", err)
	}
	m.detachConsole()
	return syncSnapshot(dir)
}

// syncSnapshot makes the image libvirtd wrote, and its name, durable.
func syncSnapshot(dir string) error {
	for _, p := range []string{filepath.Join(dir, snapshotImage), dir} {
		if err := hypervisor.SyncPath(p); err != nil {
			return fmt.Errorf("libvirt: snapshot: %w", err)
		}
	}
	return nil
}

// removeSnapshotFiles undoes a snapshot that failed, leaving the empty
// directory.
func removeSnapshotFiles(dir string) {
	os.Remove(filepath.Join(dir, snapshotImage))
	os.Remove(filepath.Join(dir, snapshotManifest))
}

// CanSave implements hypervisor.SaveChecker from the machine's definition:
// Snapshot of the running or paused machine is refused while one of its
// disks is open through QEMU's vmdk driver.
func (m *Machine) CanSave() error {
	def := m.definition()
	for _, d := range def.cfg.Disks {
		if def.drivers[d.ID] == "vmdk" {
			return vmdkSnapshotError(d, "a VMDK that is not flat (sparse, stream-optimized, split, or a delta)")
		}
	}
	return nil
}

// inspectKind names the kind of VMDK at path for an error message: "a
// monolithicSparse VMDK", "a twoGbMaxExtentSparse VMDK delta".
func inspectKind(path string) string {
	info, err := vmdk.Inspect(path, vmdk.OpenOptions{})
	if err != nil || info.Subformat == "" {
		return "a sparse VMDK"
	}
	kind := "a " + string(info.Subformat) + " VMDK"
	if info.ParentCID != "" {
		kind += " delta"
	}
	return kind
}

// vmdkSnapshotError refuses the snapshot of a running machine with a disk
// open through QEMU's vmdk driver. The driver registers a migration
// blocker, and libvirt writes memory with QEMU's migration stream whatever
// the API (virDomainSave, an external snapshot with memory; internal
// snapshots need qcow2), so there is no way round it on this backend.
func vmdkSnapshotError(d hypervisor.DiskConfig, kind string) error {
	return fmt.Errorf("libvirt: snapshot: %w: disk %s (%s) is %s, which QEMU opens with its vmdk driver, and that driver "+
		"cannot save a running machine (QEMU: \"does not support live migration\"). Shut the machine down instead; "+
		"or, while it is stopped, convert the disk to a flat VMDK (hypercim vmdk convert --subformat monolithicFlat SRC DST) "+
		"or a raw image and point the machine at it; or run the machine on the kvm backend, which snapshots any VMDK",
		hypervisor.ErrNotSupported, d.ID, d.Path, kind)
}

// Restore implements hypervisor.Machine with virDomainRestoreFlags. The
// domain XML handed to libvirt is the machine's current definition, not
// the one in the image, so disks are those of the current Config; they
// must be the same disks (by ID) with the same virtual sizes as when the
// snapshot was written.
func (m *Machine) Restore(ctx context.Context, dir string, opts hypervisor.RestoreOptions) error {
	conn, _, release, err := m.begin(ctx, "restore", isStopped)
	if err != nil {
		return err
	}
	defer release()
	man, err := readManifest(dir)
	if err != nil {
		return err
	}
	if man.UUID != m.UUID() {
		return fmt.Errorf("libvirt: restore: %w: %s holds a snapshot of machine %s (%s), not of %s", hypervisor.ErrSnapshot, dir, man.UUID, man.Name, m.UUID())
	}
	image := filepath.Join(dir, snapshotImage)
	if _, err := os.Stat(image); err != nil {
		return fmt.Errorf("libvirt: restore: %w: %w", hypervisor.ErrSnapshot, err)
	}
	if err := m.refresh(conn); err != nil {
		return err
	}
	def := m.definition()
	if err := checkSnapshotDisks(conn, m.dom(), man, def); err != nil {
		return err
	}
	xml, err := conn.DomainGetXMLDesc(m.dom(), golibvirt.DomainXMLInactive|golibvirt.DomainXMLSecure|golibvirt.DomainXMLMigratable)
	if err != nil {
		return m.fail("restore", err)
	}
	started := lifecycleKey(golibvirt.DomainEventStarted, int32(golibvirt.DomainEventStartedRestored))
	suspended := lifecycleKey(golibvirt.DomainEventSuspended, int32(golibvirt.DomainEventSuspendedRestored))
	hidden := []expectation{hide(suspended), hide(lifecycleKey(golibvirt.DomainEventResumed, int32(golibvirt.DomainEventResumedUnpaused)))}
	if opts.Paused {
		hidden = []expectation{hide(started)}
	}
	m.expect(hidden...)
	if err := conn.DomainRestoreFlags(image, golibvirt.OptString{xml}, uint32(golibvirt.DomainSavePaused)); err != nil {
		m.unexpect(hidden...)
		err = withAccessHint(m.fail("restore", err))
		if !errors.Is(err, hypervisor.ErrInvalidState) {
			err = fmt.Errorf("%w (%w)", err, hypervisor.ErrSnapshot)
		}
		return err
	}
	return m.run(ctx, conn, time.Now().Add(-man.Uptime), !opts.Paused, hidden)
}

// checkSnapshotDisks compares the machine's disks with the snapshot's.
func checkSnapshotDisks(conn *golibvirt.Libvirt, dom golibvirt.Domain, man manifest, def definition) error {
	var want, have []string
	for _, d := range man.Disks {
		want = append(want, d.ID)
	}
	for _, d := range def.cfg.Disks {
		have = append(have, d.ID)
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(want, have) {
		return fmt.Errorf("libvirt: restore: %w: the snapshot has disks [%s], the machine has [%s]",
			hypervisor.ErrSnapshot, strings.Join(want, " "), strings.Join(have, " "))
	}
	for _, d := range man.Disks {
		_, capacity, _, err := conn.DomainGetBlockInfo(dom, def.targets[d.ID], 0)
		if err != nil {
			return wrap("restore: size of disk "+d.ID, err)
		}
		if capacity != d.Bytes {
			return fmt.Errorf("libvirt: restore: %w: disk %s is %d bytes, the snapshot was taken with %d", hypervisor.ErrSnapshot, d.ID, capacity, d.Bytes)
		}
	}
	return nil
}

func writeManifest(dir string, man manifest) error {
	data, err := json.MarshalIndent(man, "", "  ")
	if err == nil {
		err = hypervisor.WriteFileDurably(filepath.Join(dir, snapshotManifest), func(f *os.File) error {
			_, err := f.Write(append(data, '\n'))
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("libvirt: snapshot manifest: %w", err)
	}
	return nil
}

func readManifest(dir string) (manifest, error) {
	var man manifest
	data, err := os.ReadFile(filepath.Join(dir, snapshotManifest))
	if err != nil {
		return man, fmt.Errorf("libvirt: restore: %w: %w", hypervisor.ErrSnapshot, err)
	}
	if err := json.Unmarshal(data, &man); err != nil {
		return man, fmt.Errorf("libvirt: restore: %w: %s is not a libvirt-backend snapshot: %w", hypervisor.ErrSnapshot, dir, err)
	}
	if man.Format != snapshotFormat {
		return man, fmt.Errorf("libvirt: restore: %w: %s is not a libvirt-backend snapshot (format %q, want %q)",
			hypervisor.ErrSnapshot, dir, man.Format, snapshotFormat)
	}
	return man, nil
}
