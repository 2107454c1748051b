package main

import "errors"

// runMOF is replaced by the real subcommand; see the issue that owns it.
func runMOF(env *cliEnv, args []string) error {
	return errors.New("the mof command is not built yet")
}
