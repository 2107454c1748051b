package kvm_test

import (
	"context"
	"fmt"
	"os"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm"
)

// Run a kernel with one VMDK disk until it powers off, its serial console
// on stdout.
func Example() {
	ctx := context.Background()
	eng, err := kvm.New(kvm.Options{})
	if err != nil {
		fmt.Println(err) // wraps hypervisor.ErrUnavailable without /dev/kvm
		return
	}
	defer eng.Close()
	m, err := eng.Define(ctx, hypervisor.Config{
		Name: "demo", UUID: "0c3e8f4a-7d2b-4c1e-9f6a-2b5d8e1c4a7f", VCPUs: 2, MemoryBytes: 256 << 20,
		Boot:    hypervisor.BootSource{Kernel: "bin/hypercim-testguest"},
		Disks:   []hypervisor.DiskConfig{{ID: "disk0", Path: "disk.vmdk"}},
		Console: os.Stdout,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	events := m.Events(ctx)
	if err := m.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	for ev := range events {
		if ev.Kind == hypervisor.EventGuestShutdown || ev.Kind == hypervisor.EventGuestPanic {
			fmt.Println(ev.Kind, ev.Reason)
			break
		}
	}
	m.Undefine(ctx)
}
