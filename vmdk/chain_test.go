package vmdk

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const chainSize = 12 << 20

// buildChain makes base <- s1 <- s2 <- s3, each level with its own
// writes (s1 is split-extent, the others monolithic), and returns the
// paths and the expected content at each level.
func buildChain(t *testing.T, dir string) ([]string, [][]byte) {
	t.Helper()
	paths := []string{filepath.Join(dir, "base.vmdk"), filepath.Join(dir, "s1.vmdk"), filepath.Join(dir, "s2.vmdk"), filepath.Join(dir, "s3.vmdk")}
	if err := Create(paths[0], CreateOptions{Size: chainSize}); err != nil {
		t.Fatal(err)
	}
	subs := []Subformat{"", TwoGbMaxExtentSparse, MonolithicSparse, MonolithicSparse}
	content := make([]byte, chainSize)
	var levels [][]byte
	for i, p := range paths {
		if i > 0 {
			if err := Snapshot(paths[i-1], p, CreateOptions{Subformat: subs[i], ZeroedGrain: i == 3}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := Open(p, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pat := newPattern(uint64(200+i), chainSize, 25)
		pat.apply(t, d)
		for _, w := range pat.writes {
			copy(content[w.off:], w.data)
		}
		// Zeroing in a delta must hide the parent: a whole-grain range
		// and a partial one.
		if i > 0 {
			for _, z := range [][2]int64{{int64(i) << 20, 128 << 10}, {int64(i)<<20 + 300<<10, 5000}} {
				if err := d.WriteZeroes(z[0], z[1]); err != nil {
					t.Fatal(err)
				}
				clear(content[z[0] : z[0]+z[1]])
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		levels = append(levels, append([]byte(nil), content...))
	}
	return paths, levels
}

func TestDeltaChainDepth3(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	paths, levels := buildChain(t, dir)
	for i, p := range paths {
		raw := filepath.Join(dir, "level.raw")
		os.WriteFile(raw, levels[i], 0o644)
		qemuCheckClean(t, p)
		qemuCompare(t, raw, p)
		assertSame(t, filepath.Base(p), readAll(t, p), levels[i])
	}
	info, err := Inspect(paths[3], OpenOptions{})
	if err != nil || len(info.Chain) != 3 || info.ParentHint != "s2.vmdk" {
		t.Fatalf("info: %v %+v", err, info)
	}
	// The allocation map attributes ranges to the right depth.
	d, _ := Open(paths[3], OpenOptions{ReadOnly: true})
	depths := map[int]bool{}
	d.Map(0, d.Size(), func(m MapEntry) error { depths[m.Depth] = true; return nil })
	d.Close()
	for _, want := range []int{0, 1, 2, 3} {
		if !depths[want] {
			t.Errorf("map has no run from depth %d: %v", want, depths)
		}
	}
}

func TestCIDMismatch(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	paths, levels := buildChain(t, dir)
	// Writing to a parent invalidates its children, for qemu and for us.
	d, err := Open(paths[2], OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.WriteAt([]byte("changed"), 0)
	d.Close()
	if _, err := Open(paths[3], OpenOptions{ReadOnly: true}); !errors.Is(err, ErrCIDMismatch) {
		t.Fatalf("open child of modified parent: %v, want ErrCIDMismatch", err)
	}
	if out, err := exec.Command("qemu-io", "-c", "read 0 12M", paths[3]).CombinedOutput(); err == nil && !strings.Contains(string(out), "failed") {
		t.Fatalf("qemu-io read through a mismatched chain succeeded: %s", out)
	}
	if in, err := Inspect(paths[3], OpenOptions{}); err != nil || !in.CIDMismatch {
		t.Fatalf("inspect of a mismatched delta: %v %+v", err, in)
	}
	res, err := Check(paths[3], CheckOptions{})
	if err != nil || res.Clean() || res.Problems[0].Kind != ProblemCIDMismatch {
		t.Fatalf("check: %v %+v", err, res)
	}
	if res, err = Check(paths[3], CheckOptions{Repair: true}); err != nil || !res.Clean() {
		t.Fatalf("repair: %v %+v", err, res)
	}
	// Relinked, the child reads as before: it holds sector 0 itself, so
	// the parent's change does not show through.
	assertSame(t, "relinked child", readAll(t, paths[3]), levels[3])
	qemuCheckClean(t, paths[3])
	qemu(t, "qemu-io", "-c", "read 0 12M", paths[3])
}

func TestCommitAndRebase(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	paths, levels := buildChain(t, dir)
	raw := filepath.Join(dir, "want.raw")

	// Commit s3 into s2: s2 then holds level 3, and s3 (relinked) too.
	if err := Commit(paths[3], CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(raw, levels[3], 0o644)
	qemuCompare(t, raw, paths[2])
	qemuCompare(t, raw, paths[3])
	qemuCheckClean(t, paths[2])

	// Safe rebase of s2 straight onto base: content must not change.
	if err := Rebase(paths[2], paths[0], RebaseOptions{}); err != nil {
		t.Fatal(err)
	}
	qemuCompare(t, raw, paths[2])
	in, _ := Inspect(paths[2], OpenOptions{})
	if in.ParentHint != "base.vmdk" || len(in.Chain) != 1 {
		t.Fatalf("after rebase: %+v", in)
	}
	// Rebase to no parent: a standalone image with the same content.
	if err := Rebase(paths[2], "", RebaseOptions{}); err != nil {
		t.Fatal(err)
	}
	qemuCompare(t, raw, paths[2])
	if in, _ := Inspect(paths[2], OpenOptions{}); in.ParentHint != "" || in.ParentCID != "" {
		t.Fatalf("standalone: %+v", in)
	}
	// Commit with removal of the child.
	if err := Commit(paths[1], CommitOptions{RemoveChild: true}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(raw, levels[1], 0o644)
	qemuCompare(t, raw, paths[0])
	if _, err := os.Stat(paths[1]); !os.IsNotExist(err) {
		t.Fatalf("child not removed: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "s1*")); len(m) != 0 {
		t.Fatalf("child extents left: %v", m)
	}
}

// A delta grown after the snapshot commits into its (smaller) parent.
func TestCommitGrownChild(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	base, child := filepath.Join(dir, "b.vmdk"), filepath.Join(dir, "c.vmdk")
	Create(base, CreateOptions{Size: 2 << 20})
	if err := Snapshot(base, child, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Resize(child, 5<<20, ResizeOptions{}); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(child, OpenOptions{})
	d.WriteAt([]byte("tail"), 5<<20-4)
	d.Close()
	if err := Commit(child, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 5<<20)
	copy(want[5<<20-4:], "tail")
	qemuCompareBytes(t, base, want)
}
