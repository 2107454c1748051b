package main

import "errors"

// runVM is replaced by the real subcommand; see the issue that owns it.
func runVM(env *cliEnv, args []string) error {
	return errors.New("the vm command is not built yet")
}
