package vmdk_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/hypercim/hypercim/vmdk"
)

// Create an image, write to it, and make the write durable.
func ExampleCreate() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "disk.vmdk")
	if err := vmdk.Create(path, vmdk.CreateOptions{Subformat: vmdk.MonolithicSparse, Size: 64 << 20, Adapter: vmdk.AdapterLSILogic}); err != nil {
		log.Fatal(err)
	}
	d, err := vmdk.Open(path, vmdk.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := d.WriteAt([]byte("hello"), 1<<20); err != nil {
		log.Fatal(err)
	}
	if err := d.Flush(); err != nil { // durable from here on
		log.Fatal(err)
	}
	fmt.Println(d.Size())
	d.Close()
	// Output: 67108864
}

// Take a snapshot, write to the child, and read through the chain.
func ExampleSnapshot() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	base := filepath.Join(dir, "base.vmdk")
	child := filepath.Join(dir, "base-000001.vmdk")
	vmdk.Create(base, vmdk.CreateOptions{Size: 1 << 20})
	d, _ := vmdk.Open(base, vmdk.OpenOptions{})
	d.WriteAt([]byte("base"), 0)
	d.Close()
	if err := vmdk.Snapshot(base, child, vmdk.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	d, _ = vmdk.Open(child, vmdk.OpenOptions{})
	d.WriteAt([]byte("BA"), 0)
	buf := make([]byte, 4)
	d.ReadAt(buf, 0)
	d.Close()
	fmt.Println(string(buf))
	// Output: BAse
}

// List what an image holds, as convert's sparse copy does.
func ExampleDisk_Map() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "disk.vmdk")
	vmdk.Create(path, vmdk.CreateOptions{Size: 1 << 20})
	d, _ := vmdk.Open(path, vmdk.OpenOptions{})
	defer d.Close()
	d.WriteAt(make([]byte, 4096), 128<<10) // allocates one 64 KiB grain
	d.Map(0, d.Size(), func(m vmdk.MapEntry) error {
		fmt.Printf("%d+%d data=%v\n", m.Offset, m.Length, m.Data)
		return nil
	})
	// Output:
	// 0+131072 data=false
	// 131072+65536 data=true
	// 196608+851968 data=false
}

// Check an image and repair what a crash left behind.
func ExampleCheck() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "disk.vmdk")
	vmdk.Create(path, vmdk.CreateOptions{Size: 1 << 20})
	res, err := vmdk.Check(path, vmdk.CheckOptions{Repair: true})
	if err != nil {
		log.Fatal(err) // could not check at all
	}
	fmt.Println(res.Clean(), len(res.Problems))
	// Output: true 0
}
