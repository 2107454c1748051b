package vmdk

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test kills a real writer process with SIGKILL at random points
// and checks that check --repair restores an image holding every write
// acknowledged by a Flush before the kill, which qemu-img then finds clean.

const (
	crashImageSize = 16 << 20
	crashSlot      = 12 << 10 // not grain-aligned: partial grains, straddles
)

// crashWrite is write number i of a run: a slot (no two writes share one)
// and deterministic content.
func crashWrite(seed uint64, i int) (off int64, data []byte) {
	slots := crashImageSize / crashSlot
	perm := rand.New(rand.NewPCG(seed, 1)).Perm(slots)
	off = int64(perm[i%slots]) * crashSlot
	r := rand.New(rand.NewPCG(seed, uint64(i)+2))
	data = make([]byte, crashSlot)
	for j := range data {
		data[j] = byte(r.Uint32()) | 1 // never zero: absent and present differ
	}
	return off, data
}

// TestCrashWriterProcess is the child: it writes until killed and prints
// "F n" after each Flush that covers writes 0..n.
func TestCrashWriterProcess(t *testing.T) {
	path := os.Getenv("VMDK_CRASH_IMAGE")
	if path == "" {
		t.Skip("run by TestCrashKill9")
	}
	seed, _ := strconv.ParseUint(os.Getenv("VMDK_CRASH_SEED"), 10, 64)
	d, err := Open(path, OpenOptions{})
	if err != nil {
		fmt.Println("E", err)
		os.Exit(1)
	}
	r := rand.New(rand.NewPCG(seed, 99))
	out := bufio.NewWriter(os.Stdout)
	for i := 0; i < crashImageSize/crashSlot; i++ {
		off, data := crashWrite(seed, i)
		if _, err := d.WriteAt(data, off); err != nil {
			fmt.Println("E", err)
			os.Exit(1)
		}
		if r.IntN(6) == 0 {
			if err := d.Flush(); err != nil {
				fmt.Println("E", err)
				os.Exit(1)
			}
			fmt.Fprintf(out, "F %d\n", i)
			out.Flush()
		}
	}
	fmt.Fprintln(out, "DONE")
	out.Flush()
	select {} // wait for the kill
}

func TestCrashKill9(t *testing.T) {
	needQemu(t)
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	cases := []struct {
		name  string
		kills int
		// create makes the image and returns its content before the run.
		create func(t *testing.T, dir string) (string, []byte)
	}{
		{"monolithicSparse", 50, func(t *testing.T, dir string) (string, []byte) {
			p := filepath.Join(dir, "crash.vmdk")
			if err := Create(p, CreateOptions{Size: crashImageSize}); err != nil {
				t.Fatal(err)
			}
			return p, make([]byte, crashImageSize)
		}},
		{"delta", 10, func(t *testing.T, dir string) (string, []byte) {
			// The parent holds 0x5a everywhere, so a child grain that
			// lost its copy-on-write fill would show zeros and fail.
			base := filepath.Join(dir, "base.vmdk")
			if err := Create(base, CreateOptions{Size: crashImageSize, Subformat: MonolithicFlat}); err != nil {
				t.Fatal(err)
			}
			old := bytes.Repeat([]byte{0x5a}, crashImageSize)
			if err := os.WriteFile(filepath.Join(dir, "base-flat.vmdk"), old, 0o644); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "child.vmdk")
			if err := Snapshot(base, p, CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			return p, old
		}},
		{"streamOptimized", 10, func(t *testing.T, dir string) (string, []byte) {
			p := filepath.Join(dir, "stream.vmdk")
			if err := Create(p, CreateOptions{Size: crashImageSize, Subformat: StreamOptimized}); err != nil {
				t.Fatal(err)
			}
			return p, make([]byte, crashImageSize)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k := 0; k < tc.kills; k++ {
				seed := uint64(1000*k + len(tc.name))
				img, old := tc.create(t, t.TempDir())
				crashOnce(t, img, old, seed)
			}
		})
	}
}

func crashOnce(t *testing.T, img string, old []byte, seed uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VMDK_CRASH_IMAGE="+img, fmt.Sprintf("VMDK_CRASH_SEED=%d", seed))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	wantAcks := 1 + r.IntN(12)
	lines := bufio.NewScanner(stdout)
	acked, acks := -1, 0
	for acks < wantAcks && lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "E ") {
			t.Fatalf("writer failed: %s", line)
		}
		if n, ok := strings.CutPrefix(line, "F "); ok {
			acked, _ = strconv.Atoi(n)
			acks++
		}
		if line == "DONE" {
			break
		}
	}
	// Kill at a random moment after the chosen flush: mid-write,
	// mid-flush or between.
	time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
	cmd.Process.Signal(syscall.SIGKILL)
	for lines.Scan() { // acknowledgements printed before the kill count
		if n, ok := strings.CutPrefix(lines.Text(), "F "); ok {
			acked, _ = strconv.Atoi(n)
		}
	}
	cmd.Wait()
	if acked < 0 {
		t.Fatalf("seed %d: the writer acknowledged no flush before it died", seed)
	}

	res, err := Check(img, CheckOptions{Repair: true})
	if err != nil {
		t.Fatalf("seed %d: check --repair: %v", seed, err)
	}
	if !res.Clean() {
		t.Fatalf("seed %d: repair left problems: %+v", seed, res.Problems)
	}
	if res, err := Check(img, CheckOptions{}); err != nil || len(res.Problems) != 0 {
		t.Fatalf("seed %d: check after repair: %v %+v", seed, err, res)
	}
	qemuCheckClean(t, img)
	got := readAll(t, img)
	written := map[int64]int{}
	for i := 0; i < crashImageSize/crashSlot; i++ {
		off, _ := crashWrite(seed, i)
		written[off] = i
	}
	for off := int64(0); off+crashSlot <= crashImageSize; off += crashSlot {
		i := written[off]
		_, data := crashWrite(seed, i)
		slot := got[off : off+crashSlot]
		for j := range slot {
			switch {
			case i <= acked && slot[j] != data[j]:
				t.Fatalf("seed %d: flushed write %d (acked up to %d) lost at byte %d of offset %d", seed, i, acked, j, off)
			case i > acked && slot[j] != old[off+int64(j)] && slot[j] != data[j]:
				t.Fatalf("seed %d: unflushed write %d left garbage at byte %d of offset %d", seed, i, j, off)
			}
		}
	}
}
