package libvirt

import (
	"context"
	"fmt"
	"slices"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/hypercim/hypercim/hypervisor"
)

// Reconfigure implements hypervisor.Machine: the definition of a stopped
// machine is replaced (virDomainDefineXML on the same UUID, after
// virDomainRename when the name changes). Disks keep their guest names and
// NICs their MACs where the new config leaves them unset.
func (m *Machine) Reconfigure(ctx context.Context, cfg hypervisor.Config) error {
	conn, _, release, err := m.begin(ctx, "reconfigure", isStopped)
	if err != nil {
		return err
	}
	defer release()
	if cfg.UUID != m.UUID() {
		return fmt.Errorf("%w: the UUID cannot change (%s to %s)", hypervisor.ErrInvalidConfig, m.UUID(), cfg.UUID)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := m.refresh(conn); err != nil {
		return err
	}
	prev := m.definition()
	text, err := m.e.prepare(conn, cfg, prev)
	if err != nil {
		return err
	}
	renamed := cfg.Name != prev.cfg.Name
	if renamed {
		if other, err := conn.DomainLookupByName(cfg.Name); err == nil {
			return fmt.Errorf("libvirt: reconfigure: %w: domain %q exists with UUID %s", hypervisor.ErrExists, cfg.Name, formatUUID(other.UUID))
		}
		if _, err := conn.DomainRename(m.dom(), golibvirt.OptString{cfg.Name}, 0); err != nil {
			return m.fail("rename", err)
		}
		m.mu.Lock()
		m.name = cfg.Name
		m.mu.Unlock()
	}
	if _, err := conn.DomainDefineXMLFlags(text, golibvirt.DomainDefineValidate); err != nil {
		if renamed {
			conn.DomainRename(m.dom(), golibvirt.OptString{prev.cfg.Name}, 0)
			m.mu.Lock()
			m.name = prev.cfg.Name
			m.mu.Unlock()
		}
		return m.fail("reconfigure", err)
	}
	m.sink.set(cfg.Console)
	return m.refresh(conn)
}

// AttachDisk implements hypervisor.Machine. On a running or paused machine
// the disk is hot-plugged (virtio-blk on PCI, announced to the guest by
// ACPI) and added to the definition; on a stopped one only the definition
// changes.
func (m *Machine) AttachDisk(ctx context.Context, disk hypervisor.DiskConfig) error {
	return m.attach(ctx, "attach a disk to", func(cfg *hypervisor.Config, def definition, busy map[string]bool) (string, *machineMeta, error) {
		cfg.Disks = append(cfg.Disks, disk)
		if err := cfg.Validate(); err != nil {
			return "", nil, err
		}
		placed, err := m.e.placeDisks([]hypervisor.DiskConfig{disk}, nil, busy)
		if err != nil {
			return "", nil, err
		}
		el := diskElement(placed[0])
		text, err := el.Marshal()
		if err != nil || placed[0].layout.flat == nil {
			return text, nil, err
		}
		meta := def.meta
		meta.Disks = append(slices.Clone(meta.Disks), metaDisk{ID: disk.ID, Descriptor: placed[0].layout.flat.descriptor})
		return text, &meta, nil
	})
}

// AttachNIC implements hypervisor.Machine, like AttachDisk.
func (m *Machine) AttachNIC(ctx context.Context, nic hypervisor.NICConfig) error {
	return m.attach(ctx, "attach a NIC to", func(cfg *hypervisor.Config, def definition, _ map[string]bool) (string, *machineMeta, error) {
		cfg.NICs = append(cfg.NICs, nic)
		if err := cfg.Validate(); err != nil {
			return "", nil, err
		}
		conn, err := m.e.client()
		if err != nil {
			return "", nil, err
		}
		if err := m.e.resolveNIC(conn, &nic, nil); err != nil {
			return "", nil, err
		}
		el := nicElement(nic)
		text, err := el.Marshal()
		return text, nil, err
	})
}

// attach adds the device that build renders. build gets a copy of the
// config to validate against, the definition, and the guest disk names in
// use; it returns the device XML and, when the metadata element must
// change, its new content.
func (m *Machine) attach(ctx context.Context, op string, build func(*hypervisor.Config, definition, map[string]bool) (string, *machineMeta, error)) error {
	conn, active, def, release, err := m.beginDeviceChange(ctx, op)
	if err != nil {
		return err
	}
	defer release()
	busy := map[string]bool{}
	for _, t := range def.targets {
		busy[t] = true
	}
	if active {
		text, err := conn.DomainGetXMLDesc(m.dom(), 0)
		if err != nil {
			return m.fail(op, err)
		}
		live, err := parseDomainXML(text)
		if err != nil {
			return err
		}
		for _, t := range live.targets {
			busy[t] = true
		}
	}
	cfg := def.cfg.Clone()
	device, meta, err := build(&cfg, def, busy)
	if err != nil {
		return err
	}
	flags, impact := deviceFlags(active)
	if err := conn.DomainAttachDeviceFlags(m.dom(), device, uint32(flags)); err != nil {
		return m.fail(op, err)
	}
	if meta != nil {
		if err := m.setMeta(conn, *meta, impact); err != nil {
			conn.DomainDetachDeviceFlags(m.dom(), device, uint32(flags))
			return err
		}
	}
	return m.refresh(conn)
}

// beginDeviceChange starts a hot-plug or unplug, allowed in any state: it
// takes the operation slot and returns the connection, whether an
// emulator runs (the change is then live too) and the persistent
// definition as libvirt has it now.
func (m *Machine) beginDeviceChange(ctx context.Context, op string) (*golibvirt.Libvirt, bool, definition, func(), error) {
	var active bool
	conn, _, release, err := m.begin(ctx, op, func(_ hypervisor.State, a bool) bool { active = a; return true })
	if err != nil {
		return nil, false, definition{}, nil, err
	}
	if err := m.refresh(conn); err != nil {
		release()
		return nil, false, definition{}, nil, err
	}
	return conn, active, m.definition(), release, nil
}

// deviceFlags are the flags of a device change: the definition always,
// the running emulator too when there is one.
func deviceFlags(active bool) (golibvirt.DomainDeviceModifyFlags, golibvirt.DomainModificationImpact) {
	if active {
		return golibvirt.DomainDeviceModifyConfig | golibvirt.DomainDeviceModifyLive, golibvirt.DomainAffectConfig | golibvirt.DomainAffectLive
	}
	return golibvirt.DomainDeviceModifyConfig, golibvirt.DomainAffectConfig
}

// setMeta replaces hypercim's metadata element.
func (m *Machine) setMeta(conn *golibvirt.Libvirt, meta machineMeta, impact golibvirt.DomainModificationImpact) error {
	err := conn.DomainSetMetadata(m.dom(), int32(golibvirt.DomainMetadataElement), golibvirt.OptString{meta.xml("")},
		golibvirt.OptString{machineKey}, golibvirt.OptString{machineNS}, impact)
	return m.fail("update metadata", err)
}

// DetachDisk implements hypervisor.Machine. On a running machine it
// returns once the guest has released the disk (libvirt's DEVICE_REMOVED
// event), or fails when ctx ends first; the removal then still completes
// whenever the guest acknowledges it.
func (m *Machine) DetachDisk(ctx context.Context, id string) error {
	return m.detach(ctx, "detach a disk from", id, func(def definition) bool {
		return slices.ContainsFunc(def.cfg.Disks, func(d hypervisor.DiskConfig) bool { return d.ID == id })
	})
}

// DetachNIC implements hypervisor.Machine, like DetachDisk.
func (m *Machine) DetachNIC(ctx context.Context, id string) error {
	return m.detach(ctx, "detach a NIC from", id, func(def definition) bool {
		return slices.ContainsFunc(def.cfg.NICs, func(n hypervisor.NICConfig) bool { return n.ID == id })
	})
}

func (m *Machine) detach(ctx context.Context, op, id string, has func(definition) bool) error {
	conn, active, def, release, err := m.beginDeviceChange(ctx, op)
	if err != nil {
		return err
	}
	defer release()
	if !has(def) {
		return fmt.Errorf("%w: machine %s has no device %q", hypervisor.ErrInvalidConfig, m.UUID(), id)
	}
	a := alias(id)
	flags, impact := deviceFlags(active)
	var removed chan error
	if active {
		removed = m.awaitRemoval(a)
		defer m.cancelRemoval(a)
	}
	if err := conn.DomainDetachDeviceAlias(m.dom(), a, uint32(flags)); err != nil {
		return m.fail(op, err)
	}
	if removed != nil {
		select {
		case err := <-removed:
			if err != nil {
				return fmt.Errorf("libvirt: %s: device %s: %w", op, id, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("libvirt: %s: the guest has not released %s yet (it will be removed when it does): %w", op, id, ctx.Err())
		}
	}
	if i := slices.IndexFunc(def.meta.Disks, func(d metaDisk) bool { return d.ID == id }); i >= 0 {
		meta := def.meta
		meta.Disks = slices.Delete(slices.Clone(meta.Disks), i, i+1)
		if err := m.setMeta(conn, meta, impact); err != nil {
			return err
		}
	}
	return m.refresh(conn)
}

// awaitRemoval registers for the DEVICE_REMOVED event of a device alias.
func (m *Machine) awaitRemoval(alias string) chan error {
	ch := make(chan error, 1)
	m.mu.Lock()
	m.removals[alias] = ch
	m.mu.Unlock()
	return ch
}

func (m *Machine) cancelRemoval(alias string) {
	m.mu.Lock()
	delete(m.removals, alias)
	m.mu.Unlock()
}

// deviceRemoved delivers a removal outcome to its waiter, if any.
func (m *Machine) deviceRemoved(alias string, err error) {
	m.mu.Lock()
	ch := m.removals[alias]
	delete(m.removals, alias)
	m.mu.Unlock()
	if ch != nil {
		ch <- err
	}
}
