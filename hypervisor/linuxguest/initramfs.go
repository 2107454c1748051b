package linuxguest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/template"
)

// DefaultModules returns the modules the initramfs loads when
// Options.Modules is empty: virtio over PCI (the transport of QEMU's pc machine and of
// hypercim's VMM), its block, network and entropy devices, the pvpanic
// devices that report a guest panic to the host, and the ACPI power button
// with the event interface acpid reads. Their dependencies (virtio,
// virtio_ring, failover, ...) are added in load order.
func DefaultModules() []string {
	return []string{
		"virtio_pci", "virtio_blk", "virtio_net", "virtio_rng",
		"pvpanic_mmio", "pvpanic_pci", "button", "evdev",
	}
}

// DefaultBusybox is where Debian's busybox-static installs its binary.
const DefaultBusybox = "/bin/busybox"

// Options tune WriteInitramfs.
type Options struct {
	// Modules to load, by name; empty means DefaultModules.
	Modules []string
	// Busybox is a statically linked busybox; empty means DefaultBusybox.
	Busybox string
}

// WriteInitramfsFile writes the initramfs to path (uncompressed cpio, which
// every kernel accepts and which boots faster under emulation than a
// compressed one).
func (k *Kernel) WriteInitramfsFile(path string, opts Options) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("linuxguest: %w", err)
	}
	if err := k.WriteInitramfs(f, opts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("linuxguest: %w", err)
	}
	return nil
}

// WriteInitramfs writes the initramfs as a newc cpio archive to w.
func (k *Kernel) WriteInitramfs(w io.Writer, opts Options) error {
	names := opts.Modules
	if len(names) == 0 {
		names = DefaultModules()
	}
	mods, err := k.ResolveModules(names...)
	if err != nil {
		return err
	}
	bbPath := opts.Busybox
	if bbPath == "" {
		bbPath = DefaultBusybox
	}
	busybox, err := readStaticBinary(bbPath)
	if err != nil {
		return err
	}
	var script bytes.Buffer
	if err := initTemplate.Execute(&script, mods); err != nil {
		return fmt.Errorf("linuxguest: init script: %w", err)
	}

	c := &cpioWriter{w: w}
	for _, d := range []string{"bin", "dev", "etc", "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules", "proc", "sys", "tmp"} {
		c.dir(d)
	}
	// The kernel opens /dev/console for init before /init can mount
	// devtmpfs; without this node init would run with no stdio.
	c.charDev("dev/console", 0o600, 5, 1)
	c.file("bin/busybox", 0o755, busybox)
	c.symlink("bin/sh", "busybox")
	c.file("init", 0o755, script.Bytes())
	c.file("etc/acpi/PWRF/00000080", 0o755, []byte(powerButtonScript))
	for _, m := range mods {
		data, err := os.ReadFile(m.Path)
		if err != nil {
			return fmt.Errorf("linuxguest: %w", err)
		}
		c.file("lib/modules/"+m.Name+".ko", 0o644, data)
	}
	if err := c.close(); err != nil {
		return fmt.Errorf("linuxguest: writing initramfs: %w", err)
	}
	return nil
}

// readStaticBinary reads an executable that must run without a dynamic
// loader, as nothing else is in the initramfs.
func readStaticBinary(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("linuxguest: %w (install busybox-static)", err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("linuxguest: %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("linuxguest: %s is dynamically linked; install busybox-static", path)
		}
	}
	return data, nil
}

// Mode is what the guest does once it has reported its disks.
type Mode string

// Guest modes, passed as linuxguest.mode= on the kernel command line.
const (
	// ModePowerOff powers the guest off after the ready marker.
	ModePowerOff Mode = "poweroff"
	// ModeServe keeps the guest running, answering Command* lines read
	// from the serial console.
	ModeServe Mode = "serve"
)

// DefaultSumSectors is how many sectors of each disk the guest checksums
// when Boot.SumSectors is zero: the first MiB.
const DefaultSumSectors = 2048

// Boot chooses the guest's behaviour on the kernel command line.
type Boot struct {
	Mode Mode // empty means ModePowerOff
	// SumSectors is how many leading 512-byte sectors of each disk the
	// guest hashes into its disk lines; 0 means DefaultSumSectors, a
	// negative value none.
	SumSectors int
	// Console is the kernel console device; empty means ttyS0.
	Console string
	// Extra parameters appended as they are.
	Extra []string
}

// Cmdline returns the kernel command line for b.
func Cmdline(b Boot) string {
	mode, console, sum := b.Mode, b.Console, b.SumSectors
	if mode == "" {
		mode = ModePowerOff
	}
	if console == "" {
		console = "ttyS0"
	}
	switch {
	case sum == 0:
		sum = DefaultSumSectors
	case sum < 0:
		sum = 0
	}
	args := []string{"console=" + console, "linuxguest.mode=" + string(mode), "linuxguest.sum=" + strconv.Itoa(sum)}
	return strings.Join(append(args, b.Extra...), " ")
}

// Commands a guest in ModeServe accepts on its console, one per line. Each
// ends with the line "linuxguest: ok COMMAND", or "linuxguest: error ...".
const (
	// CommandDisks reports every virtio disk again, as at boot.
	CommandDisks = "disks"
	// CommandWaitDisk NAME waits (up to a minute) for a hot-plugged disk
	// to appear, then reports it.
	CommandWaitDisk = "wait-disk"
	// CommandGoneDisk NAME waits (up to a minute) until a disk is gone.
	CommandGoneDisk = "gone-disk"
	// CommandWrite NAME SECTOR TEXT writes TEXT, zero-padded to one
	// sector, at SECTOR of disk NAME, flushes it to the device, and
	// reports the disk again (its digest changes when SECTOR is hashed).
	CommandWrite = "write"
	// CommandRead NAME SECTOR answers "linuxguest: read NAME SECTOR HEX":
	// the first 32 bytes of the sector, read from the device (the guest's
	// cache of it is dropped first).
	CommandRead = "read"
	// CommandEcho TEXT answers "linuxguest: echo TEXT".
	CommandEcho = "echo"
	// CommandUptime answers "linuxguest: uptime SECONDS" from /proc/uptime.
	CommandUptime = "uptime"
	// CommandPowerOff, CommandReboot and CommandPanic power the guest off,
	// reboot it, or crash the kernel (sysrq c); pvpanic reports the crash
	// to the host where the machine has a pvpanic device.
	CommandPowerOff = "poweroff"
	CommandReboot   = "reboot"
	CommandPanic    = "panic"
)

// Lines the guest prints, after Prefix.
const (
	Prefix      = "linuxguest: "
	MarkerReady = Prefix + "ready"
	// MarkerPowerButton is printed when acpid sees the power button.
	MarkerPowerButton = Prefix + "power button"
)

const powerButtonScript = `#!/bin/sh
# Run by busybox acpid on an ACPI power button press.
echo "` + MarkerPowerButton + `" >/dev/console
poweroff -f
`

// initTemplate is /init; its data is the module list in load order.
var initTemplate = template.Must(template.New("init").Parse(`#!/bin/busybox sh
# /init of the hypercim linuxguest initramfs (generated by
# hypervisor/linuxguest). Lines for the host start with "` + Prefix + `".
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "` + Prefix + `$*"; }

for m in{{range .}} {{.Name}}{{end}}; do
	insmod "/lib/modules/$m.ko" || say "error: insmod $m failed"
done

mode=poweroff
sum=2048
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	linuxguest.mode=*) mode=${arg#*=} ;;
	linuxguest.sum=*) sum=${arg#*=} ;;
	esac
done

# Device nodes are made here from sysfs rather than awaited from devtmpfs,
# whose nodes appear asynchronously.
mkdev() { # mkdev b|c SYSFS-DIR PATH
	IFS=: read -r maj min <"$2/dev"
	rm -f "$3"
	mknod "$3" "$1" "$maj" "$min"
}

disk() { # disk NAME: one line with the size and a digest of the first sectors
	sectors=$(cat "/sys/block/$1/size")
	n=$sum
	[ "$n" -gt "$sectors" ] && n=$sectors
	mkdev b "/sys/block/$1" "/tmp/$1"
	digest=$(dd if="/tmp/$1" bs=512 count="$n" 2>/dev/null | md5sum)
	say "disk $1 sectors=$sectors md5=${digest%% *}"
}

disks() {
	for d in /sys/block/vd*; do
		[ -e "$d" ] && disk "${d##*/}"
	done
}

await() { # await present|absent NAME
	i=0
	while :; do
		if [ -e "/sys/block/$2" ]; then [ "$1" = present ] && return 0
		else [ "$1" = absent ] && return 0; fi
		i=$((i + 1))
		[ "$i" -gt 600 ] && return 1
		sleep 0.1
	done
}

disks
if [ "$mode" != serve ]; then
	say "ready"
	poweroff -f
fi

# acpid runs the power button handler; it must be up before "ready", so
# that a host may request a shutdown as soon as it sees the marker.
mkdir -p /dev/input
for e in /sys/class/input/event*; do
	[ -e "$e/dev" ] && mkdev c "$e" "/dev/input/${e##*/}"
done
acpid -f -l /dev/null &
if [ -e /sys/class/input/event0 ]; then
	i=0
	until ls -l "/proc/$!/fd" 2>/dev/null | grep -q /dev/input/ || [ "$i" -gt 100 ]; do
		i=$((i + 1))
		sleep 0.05
	done
fi
say "ready"

while read -r cmd arg; do
	case "$cmd" in
	"") continue ;;
	disks) disks ;;
	wait-disk) await present "$arg" || { say "error: no disk $arg"; continue; }; disk "$arg" ;;
	gone-disk) await absent "$arg" || { say "error: disk $arg is still there"; continue; } ;;
	write)
		set -f # TEXT is taken literally, not as a glob
		set -- $arg
		set +f
		[ $# -ge 3 ] && [ -e "/sys/block/$1" ] || { say "error: usage: write DISK SECTOR TEXT"; continue; }
		d=$1 sector=$2
		shift 2
		mkdev b "/sys/block/$d" "/tmp/$d"
		printf '%s' "$*" | dd of="/tmp/$d" bs=512 seek="$sector" conv=notrunc,sync,fsync 2>/dev/null ||
			{ say "error: writing sector $sector of $d failed"; continue; }
		disk "$d" ;;
	read)
		set -f
		set -- $arg
		set +f
		[ $# -eq 2 ] && [ -e "/sys/block/$1" ] || { say "error: usage: read DISK SECTOR"; continue; }
		mkdev b "/sys/block/$1" "/tmp/$1"
		blockdev --flushbufs "/tmp/$1"
		say "read $1 $2 $(dd if="/tmp/$1" bs=512 skip="$2" count=1 2>/dev/null | od -A n -t x1 -N 32 | tr -d ' \n')" ;;
	echo) say "echo $arg" ;;
	uptime) say "uptime $(cut -d' ' -f1 /proc/uptime)" ;;
	poweroff) say "ok $cmd"; poweroff -f ;;
	reboot) say "ok $cmd"; reboot -f ;;
	panic) say "ok $cmd"; echo c >/proc/sysrq-trigger ;;
	*) say "error: unknown command $cmd"; continue ;;
	esac
	say "ok $cmd"
done
say "console closed"
poweroff -f
`))
