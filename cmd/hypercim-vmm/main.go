// Command hypercim-vmm runs one virtual machine on hypercim's own VMM in
// the foreground: `hypercim-vmm run ARGS` takes the arguments of
// `hypercim vm run` with the kvm backend, which executes it in its place.
//
// It links only the VMM and the command-line runner (package
// cmd/internal/vmrun): no CIM server, libvirt client or other CLI commands, so
// the memory a machine costs beyond its guest RAM is that of the VMM
// (docs/hypervisor.md, "VMM memory").
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/hypercim/hypercim/cmd/internal/vmrun"
)

func main() {
	os.Exit(run(os.Args[1:], vmrun.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

func run(args []string, env vmrun.Env) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprint(env.Stderr, "usage: hypercim-vmm run ARGS (the arguments of `hypercim vm run`)\n\n", vmrun.Usage)
		return vmrun.ExitUsage
	}
	opts, err := vmrun.Parse(args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, vmrun.Usage)
		return 0
	}
	if err == nil && opts.Backend != vmrun.BackendKVM {
		err = fmt.Errorf("--backend %s: hypercim-vmm runs the kvm backend; use hypercim vm run", opts.Backend)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "hypercim-vmm run: %v\n", err)
		return vmrun.ExitUsage
	}
	err = vmrun.Run(env, opts, vmrun.OpenKVM)
	var ee *vmrun.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.Msg != "" {
			fmt.Fprintln(env.Stderr, ee.Msg)
		}
		return ee.Code
	default:
		fmt.Fprintf(env.Stderr, "hypercim-vmm run: %v\n", err)
		return vmrun.ExitVMMError
	}
}
