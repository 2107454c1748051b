package vmm

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/vmdk"
)

var (
	uuidPattern     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	netNamePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$`)
)

// NewDiskID returns the first "diskN" not used in d.
func NewDiskID(d *Definition) string {
	return newID("disk", func(id string) bool { return d.Disk(id) != nil })
}

// NewNICID returns the first "nicN" not used in d.
func NewNICID(d *Definition) string {
	return newID("nic", func(id string) bool { return d.NIC(id) != nil })
}

func newID(prefix string, used func(string) bool) string {
	for i := 0; ; i++ {
		if id := fmt.Sprintf("%s%d", prefix, i); !used(id) {
			return id
		}
	}
}

// newImage is an image an operation creates.
type newImage struct {
	Rel       string
	Size      int64
	Format    string
	Subformat string
}

// resize grows an existing image.
type resize struct {
	Rel  string
	Size int64
}

// plan is what prepare found an operation has to do with images.
type plan struct {
	creates []newImage
	resizes []resize
	claimed []string
}

func (p *plan) createBytes() int64 {
	var n int64
	for _, c := range p.creates {
		n += c.Size
	}
	return n
}

// release returns the plan's image claims.
func (m *Manager) release(p *plan) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rel := range p.claimed {
		delete(m.claims, rel)
	}
}

// prepare checks a definition for system uuid and completes it (device
// IDs, MAC addresses, image paths, formats and sizes). old is the current
// definition when modifying, nil when defining. It claims the images the
// definition newly uses; the caller releases the plan when done.
func (m *Manager) prepare(uuid string, d *Definition, old *Definition) (*plan, error) {
	bad := func(format string, args ...any) (*plan, error) {
		return nil, errorf(InvalidParameter, format, args...)
	}
	lim := m.limits
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" {
		d.Name = "vm-" + uuid[:8]
	}
	if len(d.Name) > 128 || strings.ContainsFunc(d.Name, unicode.IsControl) {
		return bad("ElementName %q: a name has 1 to 128 characters and no control characters", d.Name)
	}
	if d.VCPUs < 1 || d.VCPUs > lim.MaxVCPUs {
		return bad("%d virtual processors: this host allows 1 to %d", d.VCPUs, lim.MaxVCPUs)
	}
	if d.MemoryMiB < lim.MinMemoryMiB || d.MemoryMiB > lim.MaxMemoryMiB {
		return bad("%d MiB of memory: this host allows %d to %d MiB", d.MemoryMiB, lim.MinMemoryMiB, lim.MaxMemoryMiB)
	}
	if d.Kernel == "" {
		// No kernel: the system boots its first disk through the BIOS.
		if d.Initrd != "" || d.Cmdline != "" {
			return bad("InitrdPath and KernelCommandLine need a KernelPath; a system without one boots its first disk through the BIOS")
		}
		if !slices.ContainsFunc(d.Disks, func(dk Disk) bool { return dk.Media || dk.Image != "" }) {
			return bad("nothing to boot: give the path of a kernel in HC_VirtualSystemSettingData.KernelPath (allowed directories: %s), or a disk with an image, whose boot sector the BIOS runs", strings.Join(m.bootDirs, ", "))
		}
	}
	var err error
	if d.Kernel != "" && (old == nil || d.Kernel != old.Kernel) {
		if d.Kernel, err = m.bootFile(d.Kernel, "KernelPath"); err != nil {
			return nil, err
		}
	}
	if d.Initrd != "" && (old == nil || d.Initrd != old.Initrd) {
		if d.Initrd, err = m.bootFile(d.Initrd, "InitrdPath"); err != nil {
			return nil, err
		}
	}
	if len(d.Cmdline) > 4096 || strings.ContainsFunc(d.Cmdline, func(r rune) bool { return r == 0 || r == '\n' }) {
		return bad("KernelCommandLine: at most 4096 characters on one line")
	}
	if d.Startup == 0 {
		d.Startup = startupDefault
	}
	if d.Shutdown == 0 {
		d.Shutdown = shutdownDefault
	}
	if d.Recovery == 0 {
		d.Recovery = recoveryDefault
	}
	if d.Startup < StartupNone || d.Startup > StartupAlways {
		return bad("AutomaticStartupAction %d is not 2 (none), 3 (restart if previously active) or 4 (always)", d.Startup)
	}
	if d.Shutdown < ShutdownTurnOff || d.Shutdown > ShutdownGuest {
		return bad("AutomaticShutdownAction %d is not 2 (turn off), 3 (save state) or 4 (shut down)", d.Shutdown)
	}
	if d.Recovery < RecoveryNone || d.Recovery > RecoveryRevert {
		return bad("AutomaticRecoveryAction %d is not 2 (none), 3 (restart) or 4 (revert to snapshot)", d.Recovery)
	}
	m.mu.RLock()
	owner, taken := m.names[strings.ToLower(d.Name)]
	m.mu.RUnlock()
	if taken && owner != uuid {
		return nil, errorf(InUse, "a virtual system named %q exists already (%s); choose another ElementName", d.Name, owner)
	}
	if err := m.checkNICs(uuid, d, old); err != nil {
		return nil, err
	}
	return m.planDisks(uuid, d, old)
}

// bootFile resolves a kernel or initrd path inside the boot directories.
func (m *Manager) bootFile(path, what string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(m.bootDirs[0], path)
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(path))
	if err != nil {
		return "", wrapf(InvalidParameter, err, "%s %q", what, path)
	}
	inside := slices.ContainsFunc(m.bootDirs, func(dir string) bool {
		rel, err := filepath.Rel(dir, real)
		return err == nil && filepath.IsLocal(rel)
	})
	if !inside {
		return "", errorf(InvalidParameter, "%s %q is outside the boot directories (%s); put the file there or start the server with --virt-boot-dir", what, path, strings.Join(m.bootDirs, ", "))
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", wrapf(InvalidParameter, err, "%s %q", what, path)
	}
	if !st.Mode().IsRegular() {
		return "", errorf(InvalidParameter, "%s %q is not a regular file", what, path)
	}
	return real, nil
}

// checkNICs validates the adapters and fills in IDs and MAC addresses.
func (m *Manager) checkNICs(uuid string, d *Definition, old *Definition) error {
	if len(d.NICs) > m.limits.MaxNICs {
		return errorf(InvalidParameter, "%d Ethernet adapters: at most %d", len(d.NICs), m.limits.MaxNICs)
	}
	macs := map[string]string{}
	for _, v := range m.Systems() {
		if v.UUID == uuid {
			continue
		}
		for _, n := range v.Def.NICs {
			macs[n.MAC] = v.UUID
		}
	}
	seen := map[string]bool{}
	for i := range d.NICs {
		n := &d.NICs[i]
		if n.ID == "" {
			n.ID = newID("nic", func(id string) bool { return seen[id] || d.NIC(id) != nil })
		}
		if !deviceIDPattern.MatchString(n.ID) || seen[n.ID] || d.Disk(n.ID) != nil {
			return errorf(InvalidParameter, "Ethernet adapter ID %q is invalid or used twice", n.ID)
		}
		seen[n.ID] = true
		if n.MAC == "" {
			n.MAC = m.newMAC(macs)
		}
		hw, err := net.ParseMAC(n.MAC)
		if err != nil || len(hw) != 6 {
			return errorf(InvalidParameter, "Ethernet adapter %s: MAC address %q is not six hexadecimal pairs (52:54:00:12:34:56)", n.ID, n.MAC)
		}
		if hw[0]&1 != 0 {
			return errorf(InvalidParameter, "Ethernet adapter %s: %s is a multicast address; an adapter needs a unicast one", n.ID, n.MAC)
		}
		n.MAC = hw.String()
		if other, ok := macs[n.MAC]; ok {
			return errorf(InUse, "Ethernet adapter %s: MAC address %s is used by virtual system %s", n.ID, n.MAC, other)
		}
		macs[n.MAC] = uuid
		if !n.Connected {
			n.Connection = ""
			continue
		}
		if n.Connection == "" {
			continue
		}
		kind, name, _ := strings.Cut(n.Connection, ":")
		if !netNamePattern.MatchString(name) {
			return errorf(InvalidParameter, "Ethernet connection %q: expected tap:NAME, network:NAME or bridge:NAME", n.Connection)
		}
		switch {
		case kind == "tap" && m.eng.Name() == "kvm", (kind == "network" || kind == "bridge") && m.eng.Name() == "libvirt":
		case kind == "tap" || kind == "network" || kind == "bridge":
			return errorf(NotSupported, "Ethernet connection %q: the %s engine connects adapters to %s", n.Connection, m.eng.Name(),
				map[string]string{"kvm": "host tap devices (tap:NAME)", "libvirt": "libvirt networks (network:NAME) and host bridges (bridge:NAME)"}[m.eng.Name()])
		default:
			return errorf(InvalidParameter, "Ethernet connection %q: expected tap:NAME, network:NAME or bridge:NAME", n.Connection)
		}
	}
	return nil
}

// newMAC picks a free locally administered address in QEMU's 52:54:00 range.
func (m *Manager) newMAC(used map[string]string) string {
	for {
		var b [3]byte
		rand.Read(b[:])
		mac := fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
		if _, ok := used[mac]; !ok {
			return mac
		}
	}
}

// planDisks validates the drives, resolves their images inside the pool,
// and plans the images to create or grow.
func (m *Manager) planDisks(uuid string, d *Definition, old *Definition) (*plan, error) {
	if len(d.Disks) > m.limits.MaxDisks {
		return nil, errorf(InvalidParameter, "%d disk drives: at most %d", len(d.Disks), m.limits.MaxDisks)
	}
	p := &plan{}
	fail := func(err error) (*plan, error) {
		m.release(p)
		return nil, err
	}
	seen := map[string]bool{}
	planned := map[string]bool{}
	for i := range d.Disks {
		dk := &d.Disks[i]
		if dk.ID == "" {
			dk.ID = newID("disk", func(id string) bool { return seen[id] || d.Disk(id) != nil })
		}
		if !deviceIDPattern.MatchString(dk.ID) || seen[dk.ID] {
			return fail(errorf(InvalidParameter, "disk drive ID %q is invalid or used twice", dk.ID))
		}
		seen[dk.ID] = true
		var prev *Disk
		if old != nil {
			prev = old.Disk(dk.ID)
		}
		if !dk.Media {
			if prev != nil && dk.Image == prev.Image {
				if dk.SizeBytes != prev.SizeBytes && dk.Image != "" {
					if err := m.planResize(p, d, dk, prev); err != nil {
						return fail(err)
					}
				}
				continue // unchanged image (or still none)
			}
			if dk.Image != "" {
				return fail(errorf(InvalidParameter, "disk %s: internal error, image given without media", dk.ID))
			}
			*dk = Disk{ID: dk.ID, Name: dk.Name}
			continue
		}
		dk.Media = false
		if dk.Format == "" {
			dk.Format = "vmdk"
		}
		if dk.Format != "vmdk" && dk.Format != "raw" {
			return fail(errorf(InvalidParameter, "disk %s: image format %q is not vmdk or raw", dk.ID, dk.Format))
		}
		var rel string
		if dk.Image != "" {
			r, err := m.pool.resolve(dk.Image)
			if err != nil {
				return fail(err)
			}
			rel = r
		}
		if prev != nil && rel != "" && rel == prev.Image {
			// The same image again: only the size may change.
			ro := dk.ReadOnly
			*dk = *prev
			dk.ReadOnly = ro
			continue
		}
		exists := false
		if rel != "" {
			var err error
			if exists, err = m.pool.exists(rel); err != nil {
				return fail(wrapf(InvalidParameter, err, "disk %s", dk.ID))
			}
		}
		if exists {
			info, err := m.pool.inspect(rel)
			if err != nil {
				return fail(err)
			}
			if dk.SizeBytes != 0 && dk.SizeBytes != info.Size {
				return fail(errorf(Incompatible, "disk %s: image %s holds %d bytes, the request asks for %d; leave the size out to use the image as it is", dk.ID, rel, info.Size, dk.SizeBytes))
			}
			dk.Format, dk.Subformat, dk.SizeBytes, dk.Owned = info.Format, info.Subformat, info.Size, false
			if info.Format == "raw" {
				dk.Subformat = ""
			}
		} else {
			if dk.SizeBytes <= 0 {
				return fail(errorf(InvalidParameter, "disk %s: a new image needs a positive size (VirtualQuantity of the logical disk allocation)", dk.ID))
			}
			if dk.SizeBytes > m.limits.MaxDiskBytes {
				return fail(errorf(InvalidParameter, "disk %s: %d bytes is more than the %d bytes an image may hold", dk.ID, dk.SizeBytes, m.limits.MaxDiskBytes))
			}
			dk.SizeBytes = (dk.SizeBytes + 511) &^ 511
			switch {
			case dk.Format == "raw":
				dk.Subformat = ""
			case dk.Subformat == "":
				dk.Subformat = defaultDiskSubfmt
			case !slices.Contains(vmdk.Subformats(), vmdk.Subformat(dk.Subformat)):
				return fail(errorf(InvalidParameter, "disk %s: VMDK subformat %q cannot be created (creatable: %v)", dk.ID, dk.Subformat, vmdk.Subformats()))
			}
			if strings.HasPrefix(dk.Subformat, "monolithicFlat") || strings.HasSuffix(dk.Subformat, "Flat") || dk.Format == "raw" {
				if _, free := m.pool.space(); uint64(dk.SizeBytes) > free {
					return fail(errorf(InsufficientResources, "disk %s: a %s image of %d bytes does not fit the %d bytes free in the storage pool", dk.ID, dk.Subformat+dk.Format, dk.SizeBytes, free))
				}
			}
			if rel == "" {
				rel = m.pool.newName(d.Name+"-"+dk.ID, dk.Format, func(n string) bool { return planned[n] || m.claimedBy(n) != "" })
			}
			dk.Owned = true
			p.creates = append(p.creates, newImage{Rel: rel, Size: dk.SizeBytes, Format: dk.Format, Subformat: dk.Subformat})
		}
		if planned[rel] {
			return fail(errorf(InUse, "disk %s: image %s is given to two drives", dk.ID, rel))
		}
		planned[rel] = true
		dk.Image = rel
		if err := m.claim(p, uuid, rel); err != nil {
			return fail(err)
		}
	}
	return p, nil
}

// planResize accepts a larger size for an unchanged image when it can grow.
func (m *Manager) planResize(p *plan, d *Definition, dk, prev *Disk) error {
	if dk.SizeBytes < prev.SizeBytes {
		return errorf(InvalidParameter, "disk %s: shrinking an image (%d to %d bytes) would lose data; only growing is supported", dk.ID, prev.SizeBytes, dk.SizeBytes)
	}
	if dk.SizeBytes > m.limits.MaxDiskBytes {
		return errorf(InvalidParameter, "disk %s: %d bytes is more than the %d bytes an image may hold", dk.ID, dk.SizeBytes, m.limits.MaxDiskBytes)
	}
	dk.SizeBytes = (dk.SizeBytes + 511) &^ 511
	p.resizes = append(p.resizes, resize{Rel: dk.Image, Size: dk.SizeBytes})
	return nil
}

// claimedBy returns the system that uses or claims an image, "" if none.
func (m *Manager) claimedBy(rel string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if u, ok := m.claims[rel]; ok {
		return u
	}
	for u, s := range m.systems {
		s.mu.Lock()
		_, ok := s.rec.Images[rel]
		s.mu.Unlock()
		if ok {
			return u
		}
	}
	return ""
}

func (m *Manager) claim(p *plan, uuid, rel string) error {
	if other := m.claimedBy(rel); other != "" && other != uuid {
		return errorf(InUse, "image %s is used by virtual system %s", rel, other)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if other, ok := m.claims[rel]; ok && other != uuid {
		return errorf(InUse, "image %s is being given to virtual system %s", rel, other)
	}
	m.claims[rel] = uuid
	p.claimed = append(p.claimed, rel)
	return nil
}

// createImages makes the planned images, reporting progress.
func (m *Manager) createImages(p *plan, prog progress) error {
	total := max(p.createBytes(), 1)
	var done int64
	for _, c := range p.creates {
		if err := m.pool.create(c.Rel, c.Size, c.Format, c.Subformat); err != nil {
			return err
		}
		done += c.Size
		if prog != nil {
			prog(int(done * 90 / total))
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Define

// Define creates a new system from def (uuid "" chooses one). Images the
// disks name that do not exist are created in the pool; when they total
// LongCreateBytes or more the work runs as a job.
func (m *Manager) Define(ctx context.Context, uuid string, def Definition, co CallOptions) (Outcome, error) {
	uuid = strings.ToLower(uuid)
	if uuid == "" {
		uuid = newUUID()
	} else if !uuidPattern.MatchString(uuid) {
		return Outcome{}, errorf(InvalidParameter, "VirtualSystemIdentifier %q is not a UUID (8-4-4-4-12 hexadecimal)", uuid)
	}
	def = def.Clone()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Outcome{}, errorf(Failed, "the server is stopping")
	}
	if _, ok := m.systems[uuid]; ok {
		m.mu.Unlock()
		return Outcome{}, errorf(InUse, "a virtual system with identifier %s exists already", uuid)
	}
	m.mu.Unlock()
	p, err := m.prepare(uuid, &def, nil)
	if err != nil {
		return Outcome{}, err
	}
	key := strings.ToLower(def.Name)
	m.mu.Lock()
	if other, ok := m.names[key]; ok {
		m.mu.Unlock()
		m.release(p)
		return Outcome{}, errorf(InUse, "a virtual system named %q exists already (%s); choose another ElementName", def.Name, other)
	}
	if _, ok := m.systems[uuid]; ok {
		m.mu.Unlock()
		m.release(p)
		return Outcome{}, errorf(InUse, "a virtual system with identifier %s exists already", uuid)
	}
	m.names[key] = uuid
	m.mu.Unlock()
	work := func(ctx context.Context, prog progress) (Result, error) {
		defer m.release(p)
		err := m.define(ctx, uuid, def, p, prog)
		if err != nil {
			m.mu.Lock()
			delete(m.names, key)
			m.mu.Unlock()
		}
		return Result{System: uuid}, err
	}
	if p.createBytes() >= m.opts.LongCreateBytes {
		spec := jobSpec{Name: "Define virtual system", Method: "DefineSystem", Owner: OwnerManagement,
			Affected: []Affected{{Kind: "system", ID: uuid, Effects: []uint16{EffectCreate}}}}
		return m.runLong(ctx, co, spec, func() {}, work)
	}
	res, err := work(ctx, nil)
	return Outcome{Result: res}, err
}

func (m *Manager) define(ctx context.Context, uuid string, def Definition, p *plan, prog progress) error {
	in := &intent{Op: "define", System: uuid, Undefine: true}
	for _, c := range p.creates {
		in.Images = append(in.Images, c.Rel)
	}
	if err := m.begin(in); err != nil {
		return err
	}
	if err := m.createImages(p, prog); err != nil {
		m.rollback(ctx, in)
		return err
	}
	now := time.Now().UTC()
	rec := &systemRecord{UUID: uuid, Def: def, Created: now, Modified: now, Images: map[string]*imageRecord{}}
	for _, d := range def.Disks {
		if d.Image != "" {
			rec.Images[d.Image] = &imageRecord{Created: d.Owned}
		}
	}
	mach, err := m.eng.Define(ctx, m.engineConfig(uuid, def))
	if err != nil {
		m.rollback(ctx, in)
		return engineErr(err, "defining %s in the %s engine", def.Name, m.eng.Name())
	}
	err = m.store.Update(func(tx Tx) error {
		if err := putJSON(tx, bucketSystems, uuid, rec); err != nil {
			return err
		}
		return tx.Delete(bucketIntents, in.ID)
	})
	if err != nil {
		m.rollback(ctx, in)
		return wrapf(Failed, err, "saving virtual system %s", uuid)
	}
	s := &system{uuid: uuid, rec: rec, machine: mach, op: make(chan struct{}, 1), changed: make(chan struct{})}
	m.mu.Lock()
	m.systems[uuid] = s
	m.mu.Unlock()
	m.watch(s)
	m.notify(Change{Kind: "system", ID: uuid, Event: Created})
	m.log.WithFields(map[string]any{"system": uuid, "name": def.Name}).Info("virtual system defined")
	return nil
}

// ---------------------------------------------------------------------------
// Modify

// Modify changes a system's definition: edit receives a copy of the
// current one. Processors, memory and the boot source change only while
// the system is stopped; disks and adapters are hot-plugged into a running
// system and resource limits changed live where the engine can; nothing
// but names, actions and limits changes while it is saved.
func (m *Manager) Modify(ctx context.Context, uuid string, edit func(*Definition) error, co CallOptions) (Outcome, error) {
	s, release, err := m.acquire(uuid, "modify")
	if err != nil {
		return Outcome{}, err
	}
	rec := s.record()
	def := rec.Def.Clone()
	if err := edit(&def); err != nil {
		release()
		return Outcome{}, err
	}
	p, err := m.prepare(s.uuid, &def, &rec.Def)
	if err != nil {
		release()
		return Outcome{}, err
	}
	mach := s.mach()
	if mach == nil {
		release()
		m.release(p)
		return Outcome{}, errorf(Failed, "virtual system %s is not available in the %s engine", uuid, m.eng.Name())
	}
	st := mach.State()
	oldCfg, newCfg := m.engineConfig(s.uuid, rec.Def), m.engineConfig(s.uuid, def)
	hardware := oldCfg.VCPUs != newCfg.VCPUs || oldCfg.MemoryBytes != newCfg.MemoryBytes || oldCfg.Boot != newCfg.Boot
	devices := !sameDevices(oldCfg, newCfg) || len(p.resizes) > 0
	_, liveLimits := mach.(hypervisor.ResourceLimiter)
	var refuse string
	switch {
	case st == hypervisor.StateStarting || st == hypervisor.StateShuttingDown:
		refuse = "it is " + st.String() + "; wait until it is running or stopped"
	case rec.Saved && (hardware || devices):
		refuse = "it is saved: its devices must stay as they were saved; start it, or turn it off (state 3) to discard the saved state"
	case active(st) && hardware:
		refuse = "processors, memory and the boot source change only while it is stopped (EnabledState 3); the " + m.eng.Name() + " engine cannot change them in a " + st.String() + " system"
	case active(st) && len(p.resizes) > 0:
		refuse = "disk images grow only while it is stopped"
	case active(st) && oldCfg.Limits != newCfg.Limits && !liveLimits:
		refuse = "the " + m.eng.Name() + " engine changes resource limits only while it is stopped (EnabledState 3)"
	}
	if refuse != "" {
		release()
		m.release(p)
		return Outcome{}, errorf(InvalidState, "cannot change virtual system %s: %s", uuid, refuse)
	}
	for _, r := range p.resizes {
		if r.Rel != "" && m.hasChildren(rec, r.Rel) {
			release()
			m.release(p)
			return Outcome{}, errorf(InvalidState, "disk image %s cannot grow: snapshots depend on it; destroy them first", r.Rel)
		}
	}
	work := func(ctx context.Context, prog progress) (Result, error) {
		defer m.release(p)
		ids, err := m.modify(ctx, s, mach, rec, def, p, prog)
		return Result{System: s.uuid, Devices: ids}, err
	}
	if p.createBytes() >= m.opts.LongCreateBytes {
		spec := jobSpec{Name: "Modify virtual system", Method: "ModifyResourceSettings", Owner: OwnerManagement,
			Affected: []Affected{{Kind: "system", ID: s.uuid, Effects: []uint16{EffectElementIntegrity}}}}
		return m.runLong(ctx, co, spec, release, work)
	}
	defer release()
	res, err := work(ctx, nil)
	return Outcome{Result: res}, err
}

func (m *Manager) hasChildren(rec *systemRecord, rel string) bool {
	for _, ir := range rec.Images {
		if ir.Parent == rel {
			return true
		}
	}
	return false
}

func (m *Manager) modify(ctx context.Context, s *system, mach hypervisor.Machine, rec *systemRecord, def Definition, p *plan, prog progress) ([]string, error) {
	in := &intent{Op: "modify", System: s.uuid}
	for _, c := range p.creates {
		in.Images = append(in.Images, c.Rel)
	}
	if len(in.Images) > 0 {
		if err := m.begin(in); err != nil {
			return nil, err
		}
	}
	fail := func(err error) ([]string, error) {
		if len(in.Images) > 0 {
			m.rollback(ctx, in)
		}
		return nil, err
	}
	if err := m.createImages(p, prog); err != nil {
		return fail(err)
	}
	oldCfg, newCfg := m.engineConfig(s.uuid, rec.Def), m.engineConfig(s.uuid, def)
	st := mach.State()
	setLimits := func(l hypervisor.Limits) error {
		if oldCfg.Limits == newCfg.Limits {
			return nil
		}
		return mach.(hypervisor.ResourceLimiter).SetLimits(ctx, l)
	}
	switch {
	case active(st):
		if err := m.hotplug(ctx, mach, oldCfg, newCfg); err != nil {
			return fail(err)
		}
		if err := setLimits(newCfg.Limits); err != nil {
			m.hotplug(ctx, mach, newCfg, oldCfg)
			return fail(engineErr(err, "changing the resource limits of %s", s.uuid))
		}
	case rec.Saved:
		if _, ok := mach.(hypervisor.ResourceLimiter); ok {
			if err := setLimits(newCfg.Limits); err != nil {
				return fail(engineErr(err, "changing the resource limits of %s", s.uuid))
			}
		} else if oldCfg.Limits != newCfg.Limits {
			return fail(errorf(InvalidState, "the %s engine cannot change the resource limits of a saved system; start it or discard its saved state first", m.eng.Name()))
		}
	default:
		for _, r := range p.resizes {
			if err := growImage(m.pool.abs(r.Rel), r.Size); err != nil {
				return fail(wrapf(Failed, err, "growing %s", r.Rel))
			}
		}
		if !sameHardware(mach.Config(), newCfg) {
			if err := mach.Reconfigure(ctx, newCfg); err != nil {
				return fail(engineErr(err, "reconfiguring %s", s.uuid))
			}
		}
	}
	if !strings.EqualFold(def.Name, rec.Def.Name) {
		if err := m.rename(s.uuid, rec.Def.Name, def.Name); err != nil {
			return fail(err)
		}
	}
	var changed []string
	for _, d := range def.Disks {
		if o := rec.Def.Disk(d.ID); o == nil || *o != d {
			changed = append(changed, d.ID)
		}
	}
	for _, n := range def.NICs {
		if o := rec.Def.NIC(n.ID); o == nil || *o != n {
			changed = append(changed, n.ID)
		}
	}
	err := m.commit(s, func(r *systemRecord) error {
		r.Def = def
		for _, d := range def.Disks {
			if d.Image != "" && r.Images[d.Image] == nil {
				r.Images[d.Image] = &imageRecord{Created: d.Owned}
			}
		}
		return nil
	}, func(tx Tx) error {
		if len(in.Images) > 0 {
			return tx.Delete(bucketIntents, in.ID)
		}
		return nil
	})
	if err != nil {
		if !strings.EqualFold(def.Name, rec.Def.Name) {
			m.rename(s.uuid, def.Name, rec.Def.Name)
		}
		if active(st) {
			setLimits(oldCfg.Limits)
			m.hotplug(ctx, mach, newCfg, oldCfg)
		} else {
			mach.Reconfigure(ctx, oldCfg)
		}
		return fail(err)
	}
	m.collectLocked(ctx, s)
	return changed, nil
}

// rename moves a system's entry in the name index.
func (m *Manager) rename(uuid, from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strings.ToLower(to)
	if other, ok := m.names[key]; ok && other != uuid {
		return errorf(InUse, "a virtual system named %q exists already (%s); choose another ElementName", to, other)
	}
	if m.names[strings.ToLower(from)] == uuid {
		delete(m.names, strings.ToLower(from))
	}
	m.names[key] = uuid
	return nil
}

// hotplug changes the devices of a running machine from cur to want,
// undoing what it did when a step fails.
func (m *Manager) hotplug(ctx context.Context, mach hypervisor.Machine, cur, want hypervisor.Config) error {
	var undo []func()
	fail := func(err error) error {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return err
	}
	sameDisk := func(a, b hypervisor.DiskConfig) bool {
		return a.ID == b.ID && a.Path == b.Path && a.ReadOnly == b.ReadOnly
	}
	sameNIC := func(a, b hypervisor.NICConfig) bool {
		return a.ID == b.ID && strings.EqualFold(a.MAC, b.MAC) && a.Tap == b.Tap && a.Network == b.Network
	}
	for _, d := range cur.Disks {
		if !slices.ContainsFunc(want.Disks, func(x hypervisor.DiskConfig) bool { return sameDisk(x, d) }) {
			if err := mach.DetachDisk(ctx, d.ID); err != nil {
				return fail(engineErr(err, "unplugging disk %s", d.ID))
			}
			undo = append(undo, func() { mach.AttachDisk(ctx, d) })
		}
	}
	for _, n := range cur.NICs {
		if !slices.ContainsFunc(want.NICs, func(x hypervisor.NICConfig) bool { return sameNIC(x, n) }) {
			if err := mach.DetachNIC(ctx, n.ID); err != nil {
				return fail(engineErr(err, "unplugging Ethernet adapter %s", n.ID))
			}
			undo = append(undo, func() { mach.AttachNIC(ctx, n) })
		}
	}
	for _, d := range want.Disks {
		if !slices.ContainsFunc(cur.Disks, func(x hypervisor.DiskConfig) bool { return sameDisk(x, d) }) {
			if err := mach.AttachDisk(ctx, d); err != nil {
				return fail(engineErr(err, "plugging in disk %s", d.ID))
			}
			undo = append(undo, func() { mach.DetachDisk(ctx, d.ID) })
		}
	}
	for _, n := range want.NICs {
		if !slices.ContainsFunc(cur.NICs, func(x hypervisor.NICConfig) bool { return sameNIC(x, n) }) {
			if err := mach.AttachNIC(ctx, n); err != nil {
				return fail(engineErr(err, "plugging in Ethernet adapter %s", n.ID))
			}
			undo = append(undo, func() { mach.DetachNIC(ctx, n.ID) })
		}
	}
	return nil
}

// growImage enlarges a VMDK or raw image.
func growImage(path string, size int64) error {
	info, err := vmdk.Inspect(path, vmdk.OpenOptions{})
	if err != nil {
		return err
	}
	if info.Format == vmdk.FormatRaw {
		return os.Truncate(path, size)
	}
	return vmdk.Resize(path, size, vmdk.ResizeOptions{})
}

// ---------------------------------------------------------------------------
// Destroy

// Destroy removes a system: it is turned off, taken out of the engine, its
// snapshots and saved state are deleted, and so are the images hypercim
// created for it. An image the system did not create is left in place,
// with the system's current content: snapshot deltas on it are merged
// into it first (which makes the call a job).
func (m *Manager) Destroy(ctx context.Context, uuid string, co CallOptions) (Outcome, error) {
	s, release, err := m.acquire(uuid, "destroy")
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Result: Result{System: s.uuid}}
	work := func(ctx context.Context, prog progress) (Result, error) {
		return out.Result, m.destroy(ctx, s, prog)
	}
	if m.needsConsolidation(s.record()) {
		spec := jobSpec{Name: "Destroy virtual system", Method: "DestroySystem", Owner: OwnerManagement,
			Affected: []Affected{{Kind: "system", ID: s.uuid, Effects: []uint16{EffectExclusiveUse}}}}
		return m.runLong(ctx, co, spec, release, work)
	}
	defer release()
	_, err = work(ctx, nil)
	return out, err
}

// chain returns an image's chain, leaf first.
func chain(rec *systemRecord, leaf string) []string {
	var out []string
	for img := leaf; img != "" && len(out) <= len(rec.Images); {
		out = append(out, img)
		ir := rec.Images[img]
		if ir == nil {
			break
		}
		img = ir.Parent
	}
	return out
}

func (m *Manager) needsConsolidation(rec *systemRecord) bool {
	for _, d := range rec.Def.Disks {
		c := chain(rec, d.Image)
		if len(c) > 1 && !rec.Images[c[len(c)-1]].Created {
			return true
		}
	}
	return false
}

func (m *Manager) destroy(ctx context.Context, s *system, prog progress) error {
	if mach := s.mach(); mach != nil && active(mach.State()) {
		if err := mach.Stop(ctx); err != nil {
			return engineErr(err, "turning off %s", s.uuid)
		}
	}
	rec := s.record()
	// Merge the deltas on images the system does not own into them, so
	// those images keep the system's current content.
	for _, d := range rec.Def.Disks {
		c := chain(rec, d.Image)
		if len(c) < 2 || rec.Images[c[len(c)-1]].Created {
			continue
		}
		for i := 0; i < len(c)-1; i++ {
			if err := m.mergeStep(ctx, s.uuid, c[i], c[i+1]); err != nil {
				return err
			}
			if prog != nil {
				prog((i + 1) * 80 / len(c))
			}
		}
	}
	in := &intent{Op: "destroy", System: s.uuid, Forward: true}
	if err := m.begin(in); err != nil {
		return err
	}
	return m.finishDestroy(ctx, in)
}

// mergeStep writes an image's data into its parent (consolidation),
// recording the merge so a crash in the middle can be repaired.
func (m *Manager) mergeStep(ctx context.Context, uuid, child, parent string) error {
	in := &intent{Op: "merge", System: uuid, Merge: &mergeIntent{Child: child, Parent: parent}}
	if err := m.begin(in); err != nil {
		return err
	}
	if err := vmdk.Commit(m.pool.abs(child), vmdk.CommitOptions{}); err != nil {
		m.forget(in)
		return wrapf(Failed, err, "merging image %s into %s", child, parent)
	}
	m.forget(in)
	return nil
}

// finishDestroy removes a system whose destruction is under way: engine,
// records, files. Recovery calls it for an interrupted destruction.
func (m *Manager) finishDestroy(ctx context.Context, in *intent) error {
	m.mu.RLock()
	s := m.systems[in.System]
	m.mu.RUnlock()
	if mach, err := m.eng.Lookup(ctx, in.System); err == nil {
		if active(mach.State()) {
			mach.Stop(ctx)
		}
		if err := mach.Undefine(ctx); err != nil {
			return engineErr(err, "removing %s from the %s engine", in.System, m.eng.Name())
		}
	}
	var trash []string
	var snaps []string
	if s != nil {
		rec := s.record()
		for rel, ir := range rec.Images {
			if ir.Created {
				trash = append(trash, trashImage(rel))
			}
		}
		m.mu.RLock()
		for id, r := range m.snaps {
			if r.System == in.System {
				snaps = append(snaps, id)
			}
		}
		m.mu.RUnlock()
	}
	trash = append(trash, trashState(m.relState(m.stateDirOf(in.System))))
	err := m.store.Update(func(tx Tx) error {
		if err := tx.Delete(bucketSystems, in.System); err != nil {
			return err
		}
		for _, id := range snaps {
			if err := tx.Delete(bucketSnapshots, id); err != nil {
				return err
			}
		}
		if err := putTrash(tx, trash); err != nil {
			return err
		}
		return tx.Delete(bucketIntents, in.ID)
	})
	if err != nil {
		return wrapf(Failed, err, "removing virtual system %s from the store", in.System)
	}
	if s != nil {
		last := s.view()
		defer m.notify(Change{Kind: "system", ID: in.System, Event: Deleted, System: &last})
		m.mu.Lock()
		delete(m.systems, in.System)
		if m.names[strings.ToLower(s.rec.Def.Name)] == in.System {
			delete(m.names, strings.ToLower(s.rec.Def.Name))
		}
		for _, id := range snaps {
			delete(m.snaps, id)
		}
		m.mu.Unlock()
		s.mu.Lock()
		if s.stopWatch != nil {
			s.stopWatch()
		}
		s.machine = nil
		s.mu.Unlock()
	}
	m.emptyTrash(trash)
	m.log.WithField("system", in.System).Info("virtual system destroyed")
	return nil
}
