package vmdk

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFlatRange(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.WriteFile(filepath.Join(dir, "d-flat.vmdk"), make([]byte, 3*sectorSize), 0o644); err != nil {
		t.Fatal(err)
	}
	flat := filepath.Join(dir, "d-flat.vmdk")
	const head = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"
	for _, c := range []struct {
		name, text string
		want       FlatRange
		ok         bool
	}{
		{"offset.vmdk", head + "RW 2 FLAT \"d-flat.vmdk\" 1\n", FlatRange{File: flat, Offset: 512, Size: 1024}, true},
		{"rdonly.vmdk", head + "RDONLY 3 VMFS \"d-flat.vmdk\"\n", FlatRange{File: flat, Size: 1536, ReadOnly: true}, true},
		{"two.vmdk", head + "RW 2 FLAT \"d-flat.vmdk\" 0\nRW 1 FLAT \"d-flat.vmdk\" 2\n", FlatRange{}, false},
		{"short.vmdk", head + "RW 4 FLAT \"d-flat.vmdk\" 0\n", FlatRange{}, false},
		{"noaccess.vmdk", head + "NOACCESS 2 FLAT \"d-flat.vmdk\" 0\n", FlatRange{}, false},
		{"zero.vmdk", head + "RW 2 ZERO\n", FlatRange{}, false},
	} {
		d, err := Open(write(c.name, c.text), OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, ok := d.FlatRange()
		d.Close()
		if ok != c.ok || got != c.want {
			t.Errorf("%s: FlatRange = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}

	// Images this package creates: the flat ones are ranges, the others not.
	for _, c := range []struct {
		sub  Subformat
		file string // the file holding the data, for flat ones
	}{
		{MonolithicFlat, "mf-flat.vmdk"},
		{TwoGbMaxExtentFlat, "tf-f001.vmdk"},
		{MonolithicSparse, ""},
		{StreamOptimized, ""},
		{TwoGbMaxExtentSparse, ""},
	} {
		name := map[Subformat]string{MonolithicFlat: "mf.vmdk", TwoGbMaxExtentFlat: "tf.vmdk"}[c.sub]
		if name == "" {
			name = string(c.sub) + ".vmdk"
		}
		p := filepath.Join(dir, name)
		if err := Create(p, CreateOptions{Subformat: c.sub, Size: 4 << 20}); err != nil {
			t.Fatal(err)
		}
		d, err := Open(p, OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := d.FlatRange()
		if c.file == "" {
			if ok {
				t.Errorf("%s: FlatRange = %+v, want none", c.sub, got)
			}
		} else if want := (FlatRange{File: filepath.Join(dir, c.file), Size: 4 << 20}); !ok || got != want {
			t.Errorf("%s: FlatRange = %+v, %v; want %+v", c.sub, got, ok, want)
		}
		d.Close()
		if _, ok := d.FlatRange(); ok {
			t.Errorf("%s: a closed disk reports a range", c.sub)
		}
	}

	// A raw image is its own range; a delta of a flat disk is not a range.
	raw := write("disk.raw", string(make([]byte, 8192)))
	d, err := Open(raw, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := d.FlatRange(); !ok || got != (FlatRange{File: raw, Size: 8192}) {
		t.Errorf("raw: FlatRange = %+v, %v", got, ok)
	}
	d.Close()
	// A flat delta reads through to its parent, so it is no range either.
	parent, err := Inspect(filepath.Join(dir, "mf.vmdk"), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	write("delta-flat.vmdk", string(make([]byte, 4<<20)))
	child := write("delta.vmdk", "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID="+parent.CID+
		"\ncreateType=\"monolithicFlat\"\nparentFileNameHint=\"mf.vmdk\"\nRW 8192 FLAT \"delta-flat.vmdk\" 0\n")
	if d, err = Open(child, OpenOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Parent() == nil {
		t.Fatal("the flat delta opened without its parent")
	}
	if got, ok := d.FlatRange(); ok {
		t.Errorf("delta: FlatRange = %+v, want none", got)
	}
}
