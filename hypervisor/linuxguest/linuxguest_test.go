package linuxguest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// extract unpacks a cpio archive with busybox, an independent reader.
func extract(t *testing.T, archive []byte) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(DefaultBusybox, "cpio", "-i", "-d")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox cpio -i: %v\n%s", err, out)
	}
	return dir
}

func listing(t *testing.T, archive []byte) string {
	t.Helper()
	cmd := exec.Command(DefaultBusybox, "cpio", "-t", "-v")
	cmd.Stdin = bytes.NewReader(archive)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("busybox cpio -t: %v\n%s", err, out)
	}
	return string(out)
}

func TestCpioReadByBusybox(t *testing.T) {
	var buf bytes.Buffer
	c := &cpioWriter{w: &buf}
	c.dir("a")
	c.dir("a/b")
	c.file("a/b/odd", 0o640, []byte("12345")) // lengths not multiples of 4
	c.file("a/empty", 0o600, nil)
	c.symlink("a/link", "b/odd")
	c.charDev("a/console", 0o600, 5, 1)
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive is %d bytes, not 4-aligned", buf.Len())
	}
	list := listing(t, buf.Bytes())
	for _, want := range []string{"drwxr-xr-x", "-rw-r-----", "lrwxrwxrwx", "crw-------", "a/b/odd", "a/link -> b/odd", "a/console"} {
		if !strings.Contains(list, want) {
			t.Errorf("cpio -tv listing lacks %q:\n%s", want, list)
		}
	}
	// Device nodes need root to extract; the listing above covers them.
	var noDev bytes.Buffer
	c = &cpioWriter{w: &noDev}
	c.dir("a")
	c.file("a/odd", 0o640, []byte("12345"))
	c.symlink("a/link", "odd")
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	dir := extract(t, noDev.Bytes())
	if got, err := os.ReadFile(filepath.Join(dir, "a/link")); err != nil || string(got) != "12345" {
		t.Errorf("a/link reads %q, %v; want 12345", got, err)
	}
}

func fetch(t *testing.T) *Kernel {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k, err := FetchKernel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestResolveModulesOrdersDependencies(t *testing.T) {
	k := fetch(t)
	mods, err := k.ResolveModules(DefaultModules()...)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	pos := func(name string) int {
		i := slices.Index(names, name)
		if i < 0 {
			t.Fatalf("%s missing from %v", name, names)
		}
		return i
	}
	for _, before := range [][2]string{
		{"virtio_ring", "virtio"}, // virtio itself needs virtio_ring
		{"virtio", "virtio_pci"},
		{"virtio_pci_legacy_dev", "virtio_pci"},
		{"virtio_pci_modern_dev", "virtio_pci"},
		{"virtio", "virtio_blk"},
		{"failover", "net_failover"},
		{"net_failover", "virtio_net"},
		{"pvpanic", "pvpanic_mmio"},
	} {
		if pos(before[0]) > pos(before[1]) {
			t.Errorf("%s loads after %s: %v", before[0], before[1], names)
		}
	}
	if len(names) != len(slices.Compact(slices.Clone(names))) {
		t.Errorf("duplicates in %v", names)
	}
	if _, err := k.ResolveModules("virtio-rng"); err != nil {
		t.Errorf("hyphenated name: %v", err)
	}
	if _, err := k.ResolveModules("no_such_module"); err == nil || !strings.Contains(err.Error(), "no_such_module") {
		t.Errorf("unknown module: got %v", err)
	}
}

func TestInitramfsContents(t *testing.T) {
	k := fetch(t)
	var buf bytes.Buffer
	if err := k.WriteInitramfs(&buf, Options{}); err != nil {
		t.Fatal(err)
	}
	if list := listing(t, buf.Bytes()); !strings.Contains(list, "dev/console") {
		t.Errorf("no dev/console in:\n%s", list)
	}
	dir := extract(t, buf.Bytes())
	script, err := os.ReadFile(filepath.Join(dir, "init"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(DefaultBusybox, "sh", "-n", filepath.Join(dir, "init")).CombinedOutput(); err != nil {
		t.Fatalf("/init does not parse: %v\n%s", err, out)
	}
	mods, _ := k.ResolveModules(DefaultModules()...)
	var want []string
	for _, m := range mods {
		want = append(want, m.Name)
		if _, err := os.Stat(filepath.Join(dir, "lib/modules", m.Name+".ko")); err != nil {
			t.Errorf("module %s not in the archive: %v", m.Name, err)
		}
	}
	if line := "for m in " + strings.Join(want, " ") + "; do"; !strings.Contains(string(script), line) {
		t.Errorf("/init lacks %q", line)
	}
	if out, err := exec.Command(filepath.Join(dir, "bin/busybox"), "true").CombinedOutput(); err != nil {
		t.Errorf("archived busybox does not run: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/acpi/PWRF/00000080")); err != nil {
		t.Errorf("no power button handler: %v", err)
	}
	if err := k.WriteInitramfs(&bytes.Buffer{}, Options{Busybox: "/bin/true"}); err == nil || !strings.Contains(err.Error(), "busybox-static") {
		t.Errorf("a dynamically linked busybox was accepted: %v", err)
	}
}

func TestCmdline(t *testing.T) {
	for _, c := range []struct {
		boot Boot
		want string
	}{
		{Boot{}, "console=ttyS0 linuxguest.mode=poweroff linuxguest.sum=2048"},
		{Boot{Mode: ModeServe, SumSectors: -1, Console: "hvc0", Extra: []string{"quiet"}}, "console=hvc0 linuxguest.mode=serve linuxguest.sum=0 quiet"},
		{Boot{SumSectors: 8}, "console=ttyS0 linuxguest.mode=poweroff linuxguest.sum=8"},
	} {
		if got := Cmdline(c.boot); got != c.want {
			t.Errorf("Cmdline(%+v) = %q, want %q", c.boot, got, c.want)
		}
	}
}

// answering is a console whose writes a scripted guest answers.
type answering struct {
	*hypervisor.ConsoleBuffer
	answer func(line string) string
}

func (a answering) Write(p []byte) (int, error) {
	a.ConsoleBuffer.Write([]byte(a.answer(strings.TrimSpace(string(p)))))
	return len(p), nil
}

func TestTranscript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := hypervisor.NewConsoleBuffer(0, nil)
	tr := Follow(ctx, buf)
	// Chunks split lines anywhere, as a serial port does.
	for _, chunk := range []string{"[ 0.1] boot\r\nlinuxguest: disk vda sec", "tors=2048 md5=0123456789abcdef0123456789abcdef\r", "\nlinuxguest: ready\r\n"} {
		buf.Write([]byte(chunk))
	}
	got, err := tr.Wait(ctx, MarkerReady)
	if err != nil {
		t.Fatal(err)
	}
	want := []Disk{{Name: "vda", Sectors: 2048, MD5: "0123456789abcdef0123456789abcdef"}}
	if d := ParseDisks(got); !slices.Equal(d, want) {
		t.Errorf("ParseDisks = %+v, want %+v", d, want)
	}
	guest := answering{buf, func(l string) string {
		if l == "bogus" {
			return "bogus\r\nlinuxguest: error: unknown command bogus\r\n"
		}
		return l + "\r\nlinuxguest: echo hi\r\nlinuxguest: ok echo\r\n"
	}}
	lines, err := tr.Command(ctx, guest, "echo hi")
	if err != nil || !slices.Equal(lines, []string{"linuxguest: echo hi", "linuxguest: ok echo"}) {
		t.Errorf("Command = %q, %v", lines, err)
	}
	if _, err := tr.Command(ctx, guest, "bogus"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("a guest error was not reported: %v", err)
	}
	if n := tr.Count(MarkerReady); n != 1 {
		t.Errorf("Count(ready) = %d", n)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := tr.Wait(short, "never"); err == nil || !strings.Contains(err.Error(), "linuxguest: ok echo") {
		t.Errorf("a timeout should fail with the console tail: %v", err)
	}
}

// TestBootUnderQEMU boots the kernel and initramfs with plain QEMU (TCG),
// independently of any hypercim engine, and checks the guest reports its
// disk and powers off.
func TestBootUnderQEMU(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal("qemu-system-x86_64 is missing: run scripts/install-deps.sh")
	}
	k := fetch(t)
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := k.WriteInitramfsFile(initrd, Options{}); err != nil {
		t.Fatal(err)
	}
	disk := make([]byte, 4<<20)
	rand.Read(disk[:1<<20])
	diskPath := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(diskPath, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-machine", "pc", "-accel", "tcg", "-m", "256", "-nodefaults", "-no-reboot",
		"-display", "none", "-serial", "stdio", "-kernel", k.Image, "-initrd", initrd,
		"-append", Cmdline(Boot{}), "-drive", "file="+diskPath+",format=raw,if=virtio")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("qemu: %v\n%s", err, out)
	}
	sum := md5.Sum(disk[:DefaultSumSectors*512])
	want := "linuxguest: disk vda sectors=8192 md5=" + hex.EncodeToString(sum[:])
	for _, w := range []string{want, MarkerReady} {
		if !bytes.Contains(out, []byte(w)) {
			t.Errorf("guest output lacks %q:\n%s", w, out)
		}
	}
	if bytes.Contains(out, []byte("linuxguest: error")) {
		t.Errorf("guest reported an error:\n%s", out)
	}
}
