package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hypercim/hypercim/mof"
)

// errMOFHelp ends a mof subcommand successfully after --help.
var errMOFHelp = errors.New("help shown")

// runMOF dispatches "hypercim mof check|compile|export ...". Exit status:
// 0 on success, 1 when the MOF has errors (one file:line:col line each on
// stderr), 2 on a usage error.
func runMOF(env *cliEnv, args []string) error {
	t := &commandTable{
		name:      "hypercim mof",
		synopsis:  "hypercim mof <subcommand> [options] [FILE...]",
		heading:   "subcommands",
		width:     8,
		helpShown: errMOFHelp,
		cmds: map[string]subcommand{
			"check": {"parse and check MOF files (DSP0221) in memory, without a\n" +
				"repository; print the number of qualifier types, classes and\n" +
				"instances, or one file:line:col line per error", runMOFCheck},
			"compile": {"compile MOF files into the repository of a data directory", runMOFCompile},
			"export":  {"write the repository of a data directory back as MOF", runMOFExport},
		},
		footer: `
#pragma include files are found next to the including file, then in the
-I directories, and must lie in the directory tree of a file named on the
command line or of an -I directory (unless --allow-outside-includes). Run 'hypercim mof <subcommand> --help' for its options;
docs/mof.md describes the compiler.
`,
	}
	return t.dispatch(env, args)
}

// mofFlags holds the options both subcommands share.
type mofFlags struct {
	*flag.FlagSet
	name, usage string
	namespace   string
	includes    stringList
	quiet       bool
	outside     bool
	maxErrors   int
}

// stringList is a repeatable string flag (-I DIR -I DIR).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func newMOFFlags(name, usage string) *mofFlags {
	f := &mofFlags{FlagSet: newFlagSet("hypercim mof " + name), name: name, usage: usage}
	f.StringVar(&f.namespace, "namespace", mof.DefaultNamespace, "namespace for declarations before any #pragma namespace")
	f.Var(&f.includes, "I", "also look for #pragma include files in `DIR` (repeatable)")
	f.BoolVar(&f.quiet, "quiet", false, "print only errors (no counts, warnings or progress)")
	f.BoolVar(&f.outside, "allow-outside-includes", false,
		"let #pragma include read files outside the compiled file's directory and the -I directories")
	f.IntVar(&f.maxErrors, "max-errors", mof.MaxShownErrors, "print at most `N` errors (0: all)")
	return f
}

// parse accepts flags before, between and after the file names.
func (f *mofFlags) parse(env *cliEnv, args []string) ([]string, error) {
	files, err := parseCommandArgs(env, f.FlagSet, f, errMOFHelp, args)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, f.usageError("no MOF file given")
	}
	return files, nil
}

func (f *mofFlags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: hypercim mof %s %s\n", f.name, f.usage)
	fmt.Fprintf(w, "\noptions:\n%s", flagDefaults(f.FlagSet))
}

func (f *mofFlags) usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf("hypercim mof %s: %s (see 'hypercim mof %s --help')",
		f.name, fmt.Sprintf(format, args...), f.name)}
}

// compiler returns a Compiler for the flags, drawing a progress bar on
// stdout when it is a terminal.
func (f *mofFlags) compiler(env *cliEnv, target mof.Target) (*mof.Compiler, *mofProgress) {
	c := &mof.Compiler{Target: target, Namespace: f.namespace, Loader: mof.Loader{IncludeDirs: f.includes, AllowOutsideIncludes: f.outside}}
	var bar *mofProgress
	if !f.quiet && mofIsTerminal(env.stdout) {
		bar = &mofProgress{w: env.stdout}
		c.Progress = bar.update
	}
	return c, bar
}

// report prints warnings and errors, one line each, and turns an error into
// the exit status.
func (f *mofFlags) report(env *cliEnv, res *mof.Result, err error) error {
	if res != nil && !f.quiet {
		for _, w := range res.Warnings {
			fmt.Fprintln(env.stderr, oneLine(w.Error()))
		}
	}
	if err == nil {
		return nil
	}
	var list mof.ErrorList
	if !errors.As(err, &list) {
		return &exitError{code: 1, msg: fmt.Sprintf("hypercim mof %s: %s", f.name, oneLine(err.Error()))}
	}
	shown, more := list.Shown(f.maxErrors)
	for _, e := range shown {
		fmt.Fprintln(env.stderr, oneLine(e.Error()))
	}
	if more > 0 {
		fmt.Fprintf(env.stderr, "%s (--max-errors 0 prints them all)\n", mof.MoreErrors(more))
	}
	return &exitError{code: 1}
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", " ") }

func runMOFCheck(env *cliEnv, args []string) error {
	f := newMOFFlags("check", "[-I DIR]... [--namespace NS] [--write OUT.mof] FILE...")
	var out string
	f.StringVar(&out, "write", "", "also write the compiled declarations back as MOF to `FILE` ('-' for stdout)")
	files, err := f.parse(env, args)
	if err != nil {
		return err
	}
	target := mof.NewMemTarget(nil)
	c, bar := f.compiler(env, target)
	start := time.Now()
	res, err := c.CompileFiles(files...)
	bar.done()
	if err := f.report(env, res, err); err != nil {
		return err
	}
	if out != "" {
		if err := writeMOF(env, target, out); err != nil {
			return &exitError{code: 1, msg: "hypercim mof check: " + err.Error()}
		}
	}
	if !f.quiet && out != "-" {
		fmt.Fprintf(env.stdout, "%d qualifier types, %d classes, %d instances (namespace %s; %.2f s)\n",
			res.QualifierTypes, res.Classes, res.Instances, strings.Join(res.Namespaces, ", "), time.Since(start).Seconds())
	}
	return nil
}

// writeMOF writes what a check compiled back as MOF, to a file or to
// stdout ("-").
func writeMOF(env *cliEnv, target *mof.MemTarget, name string) error {
	if name == "-" {
		return mof.WriteTarget(env.stdout, target)
	}
	file, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := mof.WriteTarget(file, target); err != nil {
		file.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return file.Close()
}
