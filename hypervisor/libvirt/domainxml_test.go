package libvirt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/hypercim/hypercim/hypervisor"
)

func TestAliasRoundTrip(t *testing.T) {
	for _, id := range []string{"disk0", "a.b", "a_b", "a__.b_", "x-1", "A9", "._."} {
		a := alias(id)
		if strings.ContainsFunc(a[len(aliasPrefix):], func(r rune) bool {
			return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			t.Errorf("alias(%q) = %q has characters libvirt refuses in user aliases", id, a)
		}
		if back, ok := unalias(a); !ok || back != id {
			t.Errorf("unalias(alias(%q)) = %q, %v", id, back, ok)
		}
	}
	for _, a := range []string{"virtio-disk0", "ua-", "ua-x_", "ua-x_q", "net0"} {
		if id, ok := unalias(a); ok {
			t.Errorf("unalias(%q) = %q, want no ID", a, id)
		}
	}
}

func TestDiskTargets(t *testing.T) {
	for i, want := range map[int]string{0: "a", 25: "z", 26: "aa", 27: "ab", 701: "zz", 702: "aaa"} {
		if got := diskLetters(i); got != want {
			t.Errorf("diskLetters(%d) = %q, want %q", i, got, want)
		}
	}
	if got := diskTarget(map[string]bool{"vda": true, "vdc": true}); got != "vdb" {
		t.Errorf("diskTarget = %q, want vdb", got)
	}
}

// images creates one disk image of each kind with the real qemu-img.
func images(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
		}
	}
	for name, args := range map[string][]string{
		"sparse.vmdk": {"-f", "vmdk"},
		"flat.vmdk":   {"-f", "vmdk", "-o", "subformat=monolithicFlat"},
		"stream.vmdk": {"-f", "vmdk", "-o", "subformat=streamOptimized"},
		"split.vmdk":  {"-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse"},
		"disk.raw":    {"-f", "raw"},
		"disk.qcow2":  {"-f", "qcow2"},
	} {
		p := filepath.Join(dir, name)
		run(append(append([]string{"create", "-q"}, args...), p, "8M")...)
		paths[name] = p
	}
	return paths
}

func TestInspectDisk(t *testing.T) {
	img := images(t)
	for _, c := range []struct {
		file, format   string
		driver, source string // source: base name QEMU opens
		flat           bool
	}{
		{"sparse.vmdk", "", "vmdk", "sparse.vmdk", false},
		{"stream.vmdk", "vmdk", "vmdk", "stream.vmdk", false},
		{"split.vmdk", "", "vmdk", "split.vmdk", false},
		{"flat.vmdk", "", "raw", "flat-flat.vmdk", true},
		{"disk.raw", "", "raw", "disk.raw", false},
		{"sparse.vmdk", "raw", "raw", "sparse.vmdk", false}, // the caller's word wins
	} {
		d, layout, err := inspectDisk(hypervisor.DiskConfig{ID: "d", Path: img[c.file], Format: c.format})
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if layout.driver != c.driver || filepath.Base(layout.file) != c.source || (layout.flat != nil) != c.flat {
			t.Errorf("%s (format %q): driver %s file %s flat %v; want %s %s %v", c.file, c.format, layout.driver, layout.file, layout.flat != nil, c.driver, c.source, c.flat)
		}
		if want := map[bool]string{true: "vmdk", false: c.driver}[c.flat]; d.Format != want {
			t.Errorf("%s: config format %q, want %q", c.file, d.Format, want)
		}
		if c.flat && (layout.flat.offset != 0 || layout.flat.size != 8<<20 || layout.flat.descriptor != img[c.file]) {
			t.Errorf("%s: flat extent %+v", c.file, *layout.flat)
		}
	}
	for _, c := range []struct{ file, format, want string }{
		{"disk.qcow2", "", "qcow2"},
		{"disk.raw", "vmdk", "not a VMDK"},
		{"missing.vmdk", "", "no such file"},
	} {
		path := img[c.file]
		if path == "" {
			path = filepath.Join(t.TempDir(), c.file)
		}
		_, _, err := inspectDisk(hypervisor.DiskConfig{ID: "d", Path: path, Format: c.format})
		if !errors.Is(err, hypervisor.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrInvalidConfig mentioning %q", c.file, err, c.want)
		}
	}
	// A flat extent shorter than its descriptor claims is left to QEMU.
	if err := os.Truncate(filepath.Join(filepath.Dir(img["flat.vmdk"]), "flat-flat.vmdk"), 4<<20); err != nil {
		t.Fatal(err)
	}
	if _, layout, err := inspectDisk(hypervisor.DiskConfig{ID: "d", Path: img["flat.vmdk"]}); err != nil || layout.driver != "vmdk" {
		t.Errorf("short flat extent: driver %q, %v; want vmdk", layout.driver, err)
	}
}

// TestInspectFlatDescriptors checks which descriptors are opened as raw
// ranges of their one flat extent, which go through QEMU's vmdk driver,
// and which are refused because package vmdk cannot open them.
func TestInspectFlatDescriptors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d-flat.vmdk"), make([]byte, 3*512), 0o644)
	const head = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\ncreateType=\"monolithicFlat\"\n"
	for i, c := range []struct {
		text   string
		driver string // "" when refused
		ro     bool
		off    uint64
	}{
		{head + "parentCID=ffffffff\nRW 2 FLAT \"d-flat.vmdk\" 1\n", "raw", false, 512},
		{head + "RDONLY 3 VMFS \"d-flat.vmdk\"\n", "raw", true, 0},
		{head + "parentCID=12345678\nRW 2 FLAT \"d-flat.vmdk\" 0\n", "", false, 0}, // a delta naming no parent
		{head + "RW 2 FLAT \"d-flat.vmdk\" 0\nRW 1 FLAT \"d-flat.vmdk\" 2\n", "vmdk", false, 0},
		{head + "RW 2 SPARSE \"d-flat.vmdk\"\n", "", false, 0},     // not a sparse extent
		{head + "RW 2 FLAT \"../d-flat.vmdk\" 0\n", "", false, 0},  // outside the directory
		{head + "RW 4 FLAT \"d-flat.vmdk\" 0\n", "vmdk", false, 0}, // longer than the file
		{head + "NOACCESS 2 FLAT \"d-flat.vmdk\" 0\n", "vmdk", false, 0},
	} {
		desc := filepath.Join(dir, fmt.Sprintf("d%d.vmdk", i))
		os.WriteFile(desc, []byte(c.text), 0o644)
		d, layout, err := inspectDisk(hypervisor.DiskConfig{ID: "d", Path: desc})
		if c.driver == "" {
			if !errors.Is(err, hypervisor.ErrInvalidConfig) {
				t.Errorf("%q: layout %+v, %v; want ErrInvalidConfig", c.text, layout, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		flat := layout.flat != nil
		if layout.driver != c.driver || flat != (c.driver == "raw") || layout.readOnly != c.ro || (flat && layout.flat.offset != c.off) || d.Format != "vmdk" {
			t.Errorf("%q: driver %s flat %v ro %v layout %+v format %q; want %s ro %v offset %d", c.text, layout.driver, flat, layout.readOnly, layout.flat, d.Format, c.driver, c.ro, c.off)
		}
	}
}

// validDomainXML renders cfg as a qemu domain of instance, checks it
// against libvirt's own schema with virt-xml-validate, and returns it with
// the disks' placement.
func validDomainXML(t *testing.T, cfg hypervisor.Config, instance string) (string, []placedDisk) {
	t.Helper()
	placed, err := (&Engine{}).placeDisks(cfg.Disks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := domainXML(cfg, "qemu", newMeta(instance, placed), placed)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "domain.xml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("virt-xml-validate", file, "domain").CombinedOutput(); err != nil {
		t.Fatalf("virt-xml-validate: %v\n%s\n%s", err, out, text)
	}
	return text, placed
}

// TestDomainXMLRoundTrip renders a definition, checks it against libvirt's
// own schema with virt-xml-validate, and reads it back.
func TestDomainXMLRoundTrip(t *testing.T) {
	img := images(t)
	kernel := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(kernel, []byte("kernel"), 0o644)
	cfg := hypervisor.Config{
		Name: "round-trip", UUID: "9d4c8a5e-7a60-4b8e-9f43-2f1c3f4f9a10", VCPUs: 2, MemoryBytes: 384 << 20,
		Boot: hypervisor.BootSource{Kernel: kernel, Initrd: kernel, Cmdline: "console=ttyS0 quiet"},
		Disks: []hypervisor.DiskConfig{
			{ID: "disk0", Path: img["sparse.vmdk"]},
			{ID: "data.flat", Path: img["flat.vmdk"], ReadOnly: true},
			{ID: "scratch_1", Path: img["disk.raw"], Format: "raw"},
		},
		NICs: []hypervisor.NICConfig{
			{ID: "nic0", MAC: "52:54:00:12:34:56", Network: "default"},
			{ID: "nic1", Network: "bridge:br0"},
			{ID: "nic2", Tap: "tap7"},
			{ID: "nic3"},
		},
		Limits: hypervisor.Limits{CPUWeight: 250, CPUCapPercent: 40, MemoryHardLimit: 512 << 20, MemorySoftLimit: 400 << 20},
	}
	text, placed := validDomainXML(t, cfg, "tenant-1")
	for _, want := range []string{`type="qemu"`, `<kernel>` + kernel, `type="vmdk"`, `<slice type="storage" offset="0" size="8388608"`,
		`<alias name="ua-data_dflat">`, `<alias name="ua-scratch__1">`, `<panic model="isa">`, `<target dev="tap7" managed="no">`,
		fmt.Sprintf("<shares>%d</shares>", weightShares(250)), "<period>100000</period>", "<quota>40000</quota>",
		`<hard_limit unit="KiB">524288</hard_limit>`, `<soft_limit unit="KiB">409600</soft_limit>`} {
		if !strings.Contains(text, want) {
			t.Errorf("domain XML lacks %s:\n%s", want, text)
		}
	}
	def, err := parseDomainXML(text)
	if err != nil {
		t.Fatal(err)
	}
	if !def.hypercim || def.meta.Instance != "tenant-1" {
		t.Errorf("hypercim's metadata element is not recognised: %+v", def.meta)
	}
	want := cfg.Clone()
	want.Disks[0].Format, want.Disks[1].Format = "vmdk", "vmdk"
	if !reflect.DeepEqual(def.cfg, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", def.cfg, want)
	}
	if def.targets["disk0"] != "vda" || def.targets["data.flat"] != "vdb" || def.drivers["data.flat"] != "raw" {
		t.Errorf("targets %v drivers %v", def.targets, def.drivers)
	}
	// Domain type kvm adds the host CPU model.
	kvm, _ := domainXML(cfg, "kvm", newMeta("", placed), placed)
	if !strings.Contains(kvm, `<cpu mode="host-passthrough">`) || !strings.Contains(kvm, `type="kvm"`) {
		t.Errorf("kvm domain XML:\n%s", kvm)
	}
}

// TestMetadataAsLibvirtWritesIt reads the metadata as libvirt returns it
// after virDomainSetMetadata: only the root element is namespaced.
func TestMetadataAsLibvirtWritesIt(t *testing.T) {
	inner := `<other:x xmlns:other="urn:other"><disk id="no" descriptor="/no"/></other:x>
<hypercim:machine xmlns:hypercim="` + machineNS + `">
  <disk id="d.0" descriptor="/a &amp; b.vmdk"/>
</hypercim:machine>
<hypercimrt:runtime xmlns:hypercimrt="` + runtimeNS + `" started="2026-01-02T03:04:05.5Z"/>`
	meta, ours, started := readMetadata(inner)
	if !ours || len(meta.Disks) != 1 || meta.Disks[0] != (metaDisk{ID: "d.0", Descriptor: "/a & b.vmdk"}) {
		t.Errorf("readMetadata = %+v, %v", meta, ours)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC); !started.Equal(want) {
		t.Errorf("started = %v, want %v", started, want)
	}
	if _, ours, _ := readMetadata(`<x:machine xmlns:x="urn:not-ours"/>`); ours {
		t.Error("a foreign machine element was taken for hypercim's")
	}
	if got := (machineMeta{Disks: meta.Disks}).xml(""); got != `<machine><disk id="d.0" descriptor="/a &amp; b.vmdk"/></machine>` {
		t.Errorf("snippet = %s", got)
	}
}

func TestDescribeLifecycle(t *testing.T) {
	for _, c := range []struct {
		event  golibvirt.DomainEventType
		detail int32
		kind   hypervisor.EventKind
		state  hypervisor.State
		reason string
	}{
		{golibvirt.DomainEventStarted, int32(golibvirt.DomainEventStartedBooted), hypervisor.EventStateChanged, hypervisor.StateRunning, "started"},
		{golibvirt.DomainEventSuspended, int32(golibvirt.DomainEventSuspendedIoerror), hypervisor.EventStateChanged, hypervisor.StatePaused, "paused after an I/O error"},
		{golibvirt.DomainEventResumed, int32(golibvirt.DomainEventResumedUnpaused), hypervisor.EventStateChanged, hypervisor.StateRunning, "resumed"},
		{golibvirt.DomainEventStopped, int32(golibvirt.DomainEventStoppedShutdown), hypervisor.EventGuestShutdown, hypervisor.StateStopped, "the guest powered off"},
		{golibvirt.DomainEventStopped, int32(golibvirt.DomainEventStoppedDestroyed), hypervisor.EventStateChanged, hypervisor.StateStopped, "stopped by request"},
		{golibvirt.DomainEventStopped, int32(golibvirt.DomainEventStoppedFailed), hypervisor.EventStateChanged, hypervisor.StateCrashed, "the emulator failed"},
		{golibvirt.DomainEventCrashed, int32(golibvirt.DomainEventCrashedPanicked), hypervisor.EventGuestPanic, hypervisor.StateCrashed, "the guest kernel panicked"},
		{golibvirt.DomainEventStarted, 99, hypervisor.EventStateChanged, hypervisor.StateRunning, "libvirt event detail 99"},
	} {
		kind, st, reason, ok := describeLifecycle(int32(c.event), c.detail)
		if !ok || kind != c.kind || st != c.state || reason != c.reason {
			t.Errorf("event %d/%d: %v %v %q %v; want %v %v %q", c.event, c.detail, kind, st, reason, ok, c.kind, c.state, c.reason)
		}
	}
	for _, ev := range []golibvirt.DomainEventType{golibvirt.DomainEventDefined, golibvirt.DomainEventShutdown} {
		if _, _, _, ok := describeLifecycle(int32(ev), 0); ok {
			t.Errorf("event %d was mapped to a state change", ev)
		}
	}
}

func TestMapState(t *testing.T) {
	for _, c := range []struct {
		state  golibvirt.DomainState
		reason int32
		want   hypervisor.State
		active bool
	}{
		{golibvirt.DomainRunning, 1, hypervisor.StateRunning, true},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedUser), hypervisor.StatePaused, true},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedStartingUp), hypervisor.StateStarting, true},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedCrashed), hypervisor.StateCrashed, true},
		{golibvirt.DomainShutdown, 0, hypervisor.StateShuttingDown, true},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffDestroyed), hypervisor.StateStopped, false},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffCrashed), hypervisor.StateCrashed, false},
		{golibvirt.DomainCrashed, 0, hypervisor.StateCrashed, true},
	} {
		if st, active := mapState(int32(c.state), c.reason); st != c.want || active != c.active {
			t.Errorf("state %d/%d: %v %v, want %v %v", c.state, c.reason, st, active, c.want, c.active)
		}
	}
}

func TestFillStats(t *testing.T) {
	p := func(field string, v any) golibvirt.TypedParam {
		return golibvirt.TypedParam{Field: field, Value: golibvirt.TypedParamValue{I: v}}
	}
	params := []golibvirt.TypedParam{
		p("state.state", int32(1)), p("cpu.time", uint64(9e9)), p("balloon.current", uint64(262144)),
		p("vcpu.current", uint32(2)), p("vcpu.maximum", uint32(2)), p("vcpu.0.time", uint64(1e9)), p("vcpu.1.time", uint64(2e9)),
		p("block.count", uint32(2)), p("block.0.name", "vda"), p("block.0.rd.reqs", uint64(10)), p("block.0.rd.bytes", uint64(4096)),
		p("block.0.wr.reqs", uint64(3)), p("block.0.wr.bytes", uint64(1536)), p("block.0.fl.reqs", uint64(1)),
		p("block.1.name", "sdz"), // not one of the machine's disks
		p("net.count", uint32(1)), p("net.0.name", "vnet3"), p("net.0.rx.bytes", uint64(100)), p("net.0.rx.pkts", uint64(2)),
		p("net.0.rx.drop", uint64(1)), p("net.0.tx.bytes", uint64(60)), p("net.0.tx.pkts", uint64(1)), p("net.0.tx.drop", int64(-1)),
	}
	now := time.Now()
	live := definition{targets: map[string]string{"disk0": "vda"}, taps: map[string]string{"vnet3": "nic0"}, started: now.Add(-90 * time.Second)}
	var s hypervisor.Stats
	fillStats(&s, params, live, now)
	want := hypervisor.Stats{
		Uptime: 90 * time.Second, VCPUTime: 3 * time.Second, VCPUs: 2, MemoryBytes: 256 << 20,
		Disks: []hypervisor.DiskStats{{ID: "disk0", ReadOps: 10, ReadBytes: 4096, WriteOps: 3, WriteBytes: 1536, FlushOps: 1}},
		NICs:  []hypervisor.NICStats{{ID: "nic0", RxBytes: 100, RxPackets: 2, RxDropped: 1, TxBytes: 60, TxPackets: 1}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("fillStats:\n got %+v\nwant %+v", s, want)
	}
}

func TestWrapErrors(t *testing.T) {
	for _, c := range []struct {
		code golibvirt.ErrorNumber
		want error
	}{
		{golibvirt.ErrNoDomain, hypervisor.ErrNotFound},
		{golibvirt.ErrOperationInvalid, hypervisor.ErrInvalidState},
		{golibvirt.ErrOperationUnsupported, hypervisor.ErrNotSupported},
		{golibvirt.ErrXMLError, hypervisor.ErrInvalidConfig},
		{golibvirt.ErrOperationTimeout, hypervisor.ErrBusy},
	} {
		err := wrap("op", golibvirt.Error{Code: uint32(c.code), Message: "libvirt says no"})
		var lerr golibvirt.Error
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "libvirt says no") || !errors.As(err, &lerr) || lerr.Code != uint32(c.code) {
			t.Errorf("code %d: %v, want %v", c.code, err, c.want)
		}
	}
	if err := wrap("op", golibvirt.ErrInterrupted); !errors.Is(err, hypervisor.ErrUnavailable) || !errors.Is(err, golibvirt.ErrInterrupted) ||
		!strings.Contains(err.Error(), "libvirtd -d") {
		t.Errorf("a lost connection: %v", err)
	}
	denied := wrap("start", golibvirt.Error{Code: uint32(golibvirt.ErrInternalError), Message: "qemu: could not open kernel file '/root/vmlinuz': Permission denied"})
	if err := withAccessHint(denied); !errors.Is(err, denied) || !strings.Contains(err.Error(), "chmod o+x") {
		t.Errorf("a start refused for permissions: %v", err)
	}
	if other := wrap("start", golibvirt.Error{Message: "no such network"}); withAccessHint(other) != other {
		t.Errorf("withAccessHint changed %v", other)
	}
	var se *hypervisor.StateError
	var lerr golibvirt.Error
	if err := stateError("pause", hypervisor.StateStopped, golibvirt.Error{Message: "domain is not running"}); !errors.As(err, &se) ||
		!errors.Is(err, hypervisor.ErrInvalidState) || !strings.Contains(err.Error(), "domain is not running") || !errors.As(err, &lerr) {
		t.Errorf("stateError: %v", err)
	}
}

// TestErrorCausesKept: errors that carry a sentinel keep their cause
// reachable too, so callers can tell a missing file from a corrupt one.
func TestLimitConversions(t *testing.T) {
	for _, w := range []uint32{1, 33, 50, 200, 250, 1000, 10000} {
		if got := sharesWeight(weightShares(w)); got != w {
			t.Errorf("weight %d: %d shares read back as %d", w, weightShares(w), got)
		}
	}
	if sharesWeight(weightShares(0)) != 0 || sharesWeight(weightShares(hypervisor.DefaultCPUWeight)) != 0 {
		t.Error("the default weight does not read back as 0")
	}
	if !hostCgroupV2() && weightShares(100) != 1024 {
		t.Errorf("weight 100 is %d cgroup v1 shares, want 1024", weightShares(100))
	}
	for pct, quota := range map[uint32]int64{0: -1, 100: -1, 1: 1000, 25: 25000, 99: 99000} {
		if got := quotaMicros(pct); got != quota {
			t.Errorf("cap %d%%: quota %d, want %d", pct, got, quota)
		}
		if pct == 100 {
			pct = 0
		}
		if got := capPercent(capPeriodMicros, quota); got != pct {
			t.Errorf("quota %d reads back as %d%%", quota, got)
		}
	}
}

func TestErrorCausesKept(t *testing.T) {
	_, err := readManifest(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, hypervisor.ErrSnapshot) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing manifest: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, snapshotManifest), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var syntax *json.SyntaxError
	if _, err := readManifest(dir); !errors.Is(err, hypervisor.ErrSnapshot) || !errors.As(err, &syntax) {
		t.Errorf("corrupt manifest: %v", err)
	}
	_, err = dial(Options{URI: DefaultURI, Socket: filepath.Join(t.TempDir(), "no-socket"), DialTimeout: time.Second})
	if !errors.Is(err, hypervisor.ErrUnavailable) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("dial without libvirtd: %v", err)
	}
	e := &Engine{opts: Options{Overcommit: true}}
	_, err = e.prepare(nil, hypervisor.Config{Boot: hypervisor.BootSource{Kernel: filepath.Join(dir, "no-kernel")}}, definition{})
	if !errors.Is(err, hypervisor.ErrInvalidConfig) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing kernel: %v", err)
	}
	_, err = e.Lookup(context.Background(), "not-a-uuid")
	if !errors.Is(err, hypervisor.ErrNotFound) || !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("lookup of a malformed UUID: %v", err)
	}
}

// TestFirmwareDomainXML: firmware boot is SeaBIOS booting the first hard
// disk with its console on the serial port, and no kernel; it survives a
// round trip through the XML.
func TestFirmwareDomainXML(t *testing.T) {
	img := images(t)
	cfg := hypervisor.Config{
		Name: "firmware", UUID: "9d4c8a5e-7a60-4b8e-9f43-2f1c3f4f9a11", VCPUs: 1, MemoryBytes: 32 << 20,
		Boot:  hypervisor.BootSource{Firmware: true},
		Disks: []hypervisor.DiskConfig{{ID: "disk0", Path: img["sparse.vmdk"], Format: "vmdk"}},
	}
	text, _ := validDomainXML(t, cfg, "")
	if !strings.Contains(text, `<boot dev="hd">`) || !strings.Contains(text, `<bios useserial="yes">`) || strings.Contains(text, "<kernel>") {
		t.Errorf("firmware domain XML:\n%s", text)
	}
	def, err := parseDomainXML(text)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(def.cfg.Boot, cfg.Boot) {
		t.Errorf("boot after the round trip %+v, want %+v", def.cfg.Boot, cfg.Boot)
	}
}
