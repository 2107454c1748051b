package main

import "errors"

// runUser is replaced by the real subcommand; see the issue that owns it.
func runUser(env *cliEnv, args []string) error {
	return errors.New("the user command is not built yet")
}
