package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/cmd/internal/vmrun"
	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/libvirt"
)

// vmmBinaryName is the VMM-only binary `vm run` hands kvm machines to.
const vmmBinaryName = "hypercim-vmm"

// runVM is `hypercim vm`; the work is package vmrun's.
func runVM(env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.stdout, vmrun.Usage)
		if len(args) == 0 {
			return &exitError{code: vmrun.ExitUsage}
		}
		return nil
	}
	if args[0] != "run" {
		return &exitError{code: vmrun.ExitUsage, msg: fmt.Sprintf("hypercim vm: unknown subcommand %q\n\n%s", args[0], vmrun.Usage)}
	}
	opts, err := vmrun.Parse(args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.stdout, vmrun.Usage)
		return nil
	}
	if err != nil {
		return &exitError{code: vmrun.ExitUsage, msg: fmt.Sprintf("hypercim vm run: %v\nRun 'hypercim vm --help' for usage.", err)}
	}
	if opts.Backend == vmrun.BackendKVM && ownStreams(env) {
		if path, ok := vmmBinary(); ok {
			// Only returns when the exec failed.
			err := unix.Exec(path, append([]string{path, "run"}, args[1:]...), os.Environ())
			return &exitError{code: vmrun.ExitVMMError, msg: fmt.Sprintf("hypercim vm run: executing %s: %v", path, err)}
		}
	}
	err = vmrun.Run(vmrun.Env{Stdin: env.stdin, Stdout: env.stdout, Stderr: env.stderr}, opts, openEngine)
	var ee *vmrun.ExitError
	if errors.As(err, &ee) {
		return &exitError{code: ee.Code, msg: ee.Msg}
	}
	return err
}

// ownStreams reports whether env is this process's own stdin, stdout and
// stderr, which a program executed in its place inherits.
func ownStreams(env *cliEnv) bool {
	return env.stdin == os.Stdin && env.stdout == os.Stdout && env.stderr == os.Stderr
}

// vmmBinary finds hypercim-vmm beside this executable (make build puts
// both in bin/).
func vmmBinary() (string, bool) {
	self, err := os.Executable()
	if err != nil {
		return "", false
	}
	path := filepath.Join(filepath.Dir(self), vmmBinaryName)
	if unix.Access(path, unix.X_OK) != nil {
		return "", false
	}
	return path, true
}

// openEngine opens either backend for a run inside this process.
func openEngine(ctx context.Context, o *vmrun.Options) (hypervisor.Engine, error) {
	if o.Backend == vmrun.BackendLibvirt {
		return libvirt.Open(ctx, libvirt.Options{Overcommit: o.Overcommit})
	}
	return vmrun.OpenKVM(ctx, o)
}
