package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one top-level subcommand of hypercim.
type command struct {
	summary string
	// run executes the subcommand; args excludes the subcommand name.
	run func(env *cliEnv, args []string) error
}

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

func commands() map[string]command {
	return map[string]command{
		"mof":    {summary: "compile and check MOF files; export a repository as MOF", run: runMOF},
		"vmdk":   {summary: "create, inspect, check, convert and snapshot VMDK images", run: runVMDK},
		"vm":     {summary: "run a virtual machine in the foreground", run: runVM},
		"user":   {summary: "manage the users and rights of a data directory", run: runUser},
		"listen": {summary: "receive CIM-XML indications and print them as MOF", run: runListen},
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: hypercim <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-6s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'hypercim <command> --help' for the arguments of a command.")
}

func main() {
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(env, os.Args[1:]))
}

func run(env *cliEnv, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		usage(env.stderr, cmds)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(env.stdout, cmds)
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "hypercim: unknown command %q\n\n", args[0])
		usage(env.stderr, cmds)
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
