package kvm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/hypervisor"
)

// TestMMIOTransport runs the default program with the disk on virtio-mmio
// instead of PCI: the guest finds it through virtio_mmio.device= on its
// command line.
func TestMMIOTransport(t *testing.T) {
	e := newTestEngine(t, Options{Transport: TransportMMIO})
	seed := bytes.Repeat([]byte{0xa5, 0x5a}, 256)
	disk := makeVMDK(t, 4, seed)
	m, con, ev := startGuest(t, e, 600, 1, disk)
	out := con.command(t, m, "cmdline")
	if !strings.Contains(out[0], "virtio_mmio.device=4K@0xd0000000:5") {
		t.Errorf("command line %q lacks the first virtio-mmio window", out[0])
	}
	out = con.command(t, m, "disks")
	if out[0] != "disks=1" || !strings.Contains(out[1], "transport=mmio") {
		t.Fatalf("disks: %q", out)
	}
	out = con.command(t, m, "crc 0 0")
	if got, want := field(t, out[0], "crc"), fmt.Sprintf("%08x", crc32.ChecksumIEEE(seed)); got != want {
		t.Errorf("sector 0 crc %s, want %s", got, want)
	}
	con.command(t, m, "write 0 9 over mmio")
	con.command(t, m, "poweroff")
	ev.wait(t, hypervisor.EventGuestShutdown) // the image is closed by then
	if !bytes.HasPrefix(readVMDK(t, disk)[9*512:], []byte("over mmio")) {
		t.Error("the write through virtio-mmio did not reach the VMDK")
	}
}

// TestHotplug attaches a disk to a running machine on both transports and
// detaches it again; the guest sees each change when it rescans.
func TestHotplug(t *testing.T) {
	for i, tr := range []Transport{TransportPCI, TransportMMIO} {
		t.Run(string(tr), func(t *testing.T) {
			e := newTestEngine(t, Options{Transport: tr})
			first := makeVMDK(t, 4, nil)
			second := makeVMDK(t, 6, []byte("hot-plugged"))
			m, con, _ := startGuest(t, e, 700+i, 1, first)
			ctx := context.Background()
			if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: "extra", Path: second}); err != nil {
				t.Fatal(err)
			}
			if out := con.command(t, m, "rescan"); !strings.HasPrefix(out[0], "disks=2") {
				t.Fatalf("after attach: %q", out)
			}
			out := con.command(t, m, "read 1 0")
			if !strings.Contains(field(t, out[0], "data"), fmt.Sprintf("%x", "hot-plugged")) {
				t.Errorf("hot-plugged disk reads %q", out[0])
			}
			if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: "extra", Path: second}); err == nil {
				t.Error("attaching a second disk with the same ID succeeded")
			}
			if err := m.DetachDisk(ctx, "extra"); err != nil {
				t.Fatal(err)
			}
			if out := con.command(t, m, "rescan"); !strings.HasPrefix(out[0], "disks=1") {
				t.Fatalf("after detach: %q", out)
			}
			if n := len(m.Config().Disks); n != 1 {
				t.Errorf("config has %d disks after detach", n)
			}
		})
	}
}

// TestStatsRNGAndConsole checks counters, the entropy device and console
// history on one machine.
func TestStatsRNGAndConsole(t *testing.T) {
	e := newTestEngine(t, Options{})
	disk := makeVMDK(t, 4, nil)
	m, con, _ := startGuest(t, e, 800, 2, disk)
	ctx := context.Background()
	con.command(t, m, "write 0 7 counted")
	con.command(t, m, "read 0 7")
	st, err := m.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != hypervisor.StateRunning || st.VCPUs != 2 || st.MemoryBytes != 64<<20 || st.Uptime <= 0 || st.VCPUTime <= 0 {
		t.Errorf("stats %+v", st)
	}
	if len(st.Disks) != 1 || st.Disks[0].ID != "disk0" || st.Disks[0].WriteOps < 1 || st.Disks[0].ReadOps < 1 ||
		st.Disks[0].WriteBytes < 512 || st.Disks[0].FlushOps < 1 {
		t.Errorf("disk stats %+v", st.Disks)
	}
	out := con.command(t, m, "rng 32")
	r := field(t, out[0], "rng")
	if len(r) != 64 || r == strings.Repeat("0", 64) {
		t.Errorf("entropy %q", r)
	}
	if out := con.command(t, m, "id 0"); out[0] != "id=disk0" {
		t.Errorf("GET_ID answered %q", out[0])
	}
	if h := string(m.Console().History()); !strings.Contains(h, "testguest: ready") {
		t.Errorf("console history lacks the banner: %q", h)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Console().Write([]byte("x")); err == nil {
		t.Error("typing on a stopped machine's console succeeded")
	}
	st, _ = m.Stats(ctx)
	if st.State != hypervisor.StateStopped || st.Uptime != 0 {
		t.Errorf("stats of a stopped machine %+v", st)
	}
}

// TestNetTap exchanges frames between the guest and the host over a tap
// interface the VMM creates.
func TestNetTap(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and /dev/net/tun")
	}
	e := newTestEngine(t, Options{})
	tap := fmt.Sprintf("hctap%d", os.Getpid()%100000)
	cfg := guestConfig(t, 900, 1, "testguest.interactive")
	cfg.NICs = []hypervisor.NICConfig{{ID: "nic0", MAC: "52:54:00:aa:bb:cc", Tap: tap}}
	con := newConsole()
	cfg.Console = con
	ctx := context.Background()
	m, err := e.Define(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(ctx)
	con.waitLine(t, "testguest: ready")
	sock := packetSocket(t, tap)
	if out := con.command(t, m, "net mac"); out[0] != "mac=52:54:00:aa:bb:cc" {
		t.Errorf("guest MAC %q", out[0])
	}

	con.command(t, m, "net send hello host")
	frame := recvFrame(t, sock, 0x88b5)
	if !bytes.HasPrefix(frame[14:], []byte("hello host")) || !bytes.Equal(frame[6:12], []byte{0x52, 0x54, 0, 0xaa, 0xbb, 0xcc}) {
		t.Errorf("host received %x", frame)
	}

	out := make([]byte, 64)
	copy(out, []byte{0x52, 0x54, 0, 0xaa, 0xbb, 0xcc, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	copy(out[14:], "hello guest")
	if _, err := unix.Write(sock, out); err != nil {
		t.Fatal(err)
	}
	got := con.command(t, m, "net recv")
	if want := fmt.Sprintf("recv=%d crc=%08x", len(out), crc32.ChecksumIEEE(out)); got[0] != want {
		t.Errorf("guest received %q, want %q", got[0], want)
	}
	st, _ := m.Stats(ctx)
	if len(st.NICs) != 1 || st.NICs[0].TxPackets < 1 || st.NICs[0].RxPackets < 1 {
		t.Errorf("NIC stats %+v", st.NICs)
	}
}

// packetSocket brings the tap up and returns a raw socket bound to it.
func packetSocket(t *testing.T, ifname string) int {
	t.Helper()
	ctl, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ctl)
	req, err := unix.NewIfreq(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(ctl, unix.SIOCGIFFLAGS, req); err != nil {
		t.Fatalf("%s flags: %v", ifname, err)
	}
	req.SetUint16(req.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(ctl, unix.SIOCSIFFLAGS, req); err != nil {
		t.Fatalf("bringing %s up: %v", ifname, err)
	}
	proto := htons(unix.ETH_P_ALL)
	s, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s) })
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(s, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(guestTimeout))
	unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) //nolint:errcheck
	return s
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// recvFrame waits for a frame with the given EtherType.
func recvFrame(t *testing.T, s int, etherType uint16) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	deadline := time.Now().Add(guestTimeout)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(s, buf, 0)
		if err != nil {
			t.Fatalf("receiving on the tap: %v", err)
		}
		if n >= 14 && binary.BigEndian.Uint16(buf[12:]) == etherType {
			return append([]byte(nil), buf[:n]...)
		}
	}
	t.Fatal("no frame from the guest")
	return nil
}
