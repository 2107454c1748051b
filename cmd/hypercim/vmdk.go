package main

import "errors"

// runVMDK is replaced by the real subcommand; see the issue that owns it.
func runVMDK(env *cliEnv, args []string) error {
	return errors.New("the vmdk command is not built yet")
}
