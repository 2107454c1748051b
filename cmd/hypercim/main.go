package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// cliEnv carries the process's standard streams, so subcommands never touch
// os.Stdout directly and tests can drive them in-process.
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// exitError asks main to exit with a specific status after printing msg.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// commands is the table of hypercim's top-level commands.
func commands() *commandTable {
	return &commandTable{
		name:     "hypercim",
		synopsis: "hypercim <command> [arguments]",
		heading:  "commands",
		width:    6,
		footer:   "\nRun 'hypercim <command> --help' for the arguments of a command.\n",
		cmds: map[string]subcommand{
			"mof":    {summary: "compile and check MOF files; export a repository as MOF", run: runMOF},
			"vmdk":   {summary: "create, inspect, check, convert and snapshot VMDK images", run: runVMDK},
			"vm":     {summary: "run a virtual machine in the foreground", run: runVM},
			"user":   {summary: "manage the users and rights of a data directory", run: runUser},
			"listen": {summary: "receive CIM-XML indications and print them as MOF", run: runListen},
		},
	}
}

func main() {
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(env, os.Args[1:]))
}

func run(env *cliEnv, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		cmds.usage(env.stderr)
		return 2
	}
	if isHelp(args[0]) {
		cmds.usage(env.stdout)
		return 0
	}
	cmd, ok := cmds.cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "hypercim: unknown command %q\n\n", args[0])
		cmds.usage(env.stderr)
		return 2
	}
	err := cmd.run(env, args[1:])
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(env.stderr, strings.TrimRight(ee.msg, "\n"))
		}
		return ee.code
	}
	fmt.Fprintf(env.stderr, "hypercim %s: %v\n", args[0], err)
	return 1
}
