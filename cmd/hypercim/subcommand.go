package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// subcommand is one entry of a command table.
type subcommand struct {
	summary string
	// run executes the subcommand; args excludes its name.
	run func(env *cliEnv, args []string) error
}

// commandTable is a set of subcommands under one name ("hypercim",
// "hypercim vmdk") and the usage text that lists them.
type commandTable struct {
	name     string // "hypercim vmdk", for messages
	synopsis string // the usage line after "usage: "
	heading  string // above the list: "commands" or "subcommands"
	width    int    // of the name column
	footer   string // printed after the list
	// helpShown is the error the subcommands return after printing their
	// --help; dispatch turns it into success.
	helpShown error
	cmds      map[string]subcommand
}

// isHelp reports whether arg asks for a command's usage.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "help"
}

// usage prints the synopsis, the subcommands in name order with their
// summaries (lines after a summary's first are indented under it), and the
// footer.
func (t *commandTable) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s:\n", t.synopsis, t.heading)
	names := make([]string, 0, len(t.cmds))
	for name := range t.cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	indent := "\n" + strings.Repeat(" ", t.width+3)
	for _, name := range names {
		fmt.Fprintf(w, "  %-*s %s\n", t.width, name, strings.ReplaceAll(t.cmds[name].summary, "\n", indent))
	}
	fmt.Fprint(w, t.footer)
}

// dispatch runs the subcommand args[0] names. With no arguments it prints
// the usage on stderr (exit status 2); asked for help, on stdout.
func (t *commandTable) dispatch(env *cliEnv, args []string) error {
	if len(args) == 0 {
		t.usage(env.stderr)
		return &exitError{code: 2}
	}
	if isHelp(args[0]) {
		t.usage(env.stdout)
		return nil
	}
	cmd, ok := t.cmds[args[0]]
	if !ok {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: unknown subcommand %q (see '%s --help')", t.name, args[0], t.name)}
	}
	err := cmd.run(env, args[1:])
	if t.helpShown != nil && errors.Is(err, t.helpShown) {
		return nil
	}
	return err
}

// newFlagSet returns a flag set that returns its errors (--help is
// flag.ErrHelp) and prints nothing: the subcommand words its own messages.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// usageWriter words a subcommand's usage and its usage errors.
type usageWriter interface {
	printUsage(w io.Writer)
	usageError(format string, args ...any) error
}

// parseCommandArgs parses a subcommand's arguments with parseInterspersed:
// after --help it prints the usage on stdout and returns helpShown (which
// the command table turns into success); a bad flag is a usage error.
func parseCommandArgs(env *cliEnv, fs *flag.FlagSet, u usageWriter, helpShown error, args []string) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		u.printUsage(env.stdout)
		return nil, helpShown
	}
	if err != nil {
		return nil, u.usageError("%v", err)
	}
	return pos, nil
}

// parseInterspersed parses the flags of fs wherever they stand among the
// positional arguments, which it returns in order. Everything after "--"
// is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil // Parse stopped at "--"
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagDefaults returns what fs.PrintDefaults prints, for a usage text;
// fs prints nothing on its own (its output stays io.Discard).
func flagDefaults(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}
