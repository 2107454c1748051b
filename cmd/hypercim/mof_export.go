package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
)

const mofExportUsage = `usage: hypercim mof export [--data-dir DIR] [--namespace NS]... [-o FILE]

Writes the qualifier declarations, classes and static instances of the
repository of a data directory as MOF. Compiling the output ('hypercim mof
compile') gives the same classes and instances back. Without --namespace
every namespace is written, each after a #pragma namespace; with one
--namespace, that namespace without a pragma.

hypercimd must not be running on the data directory.
`

// runMOFExport is "hypercim mof export": the repository of a data
// directory back to MOF.
func runMOFExport(env *cliEnv, args []string) error {
	flags := flag.NewFlagSet("hypercim mof export", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	dataDir := flags.String("data-dir", mofDefaultDataDir, "data directory holding the repository (`DIR`); hypercimd must not be running on it")
	var namespaces stringList
	flags.Var(&namespaces, "namespace", "export namespace `NS` only (repeatable; default: every namespace)")
	out := flags.String("o", "-", "write the MOF to `FILE` ('-' for stdout)")
	quiet := flags.Bool("quiet", false, "print nothing but errors")
	usageErr := func(format string, args ...any) error {
		return &exitError{code: 2, msg: "hypercim mof export: " + fmt.Sprintf(format, args...) + " (see 'hypercim mof export --help')"}
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var opts strings.Builder
			flags.SetOutput(&opts)
			flags.PrintDefaults()
			fmt.Fprintf(env.stdout, "%s\noptions:\n%s", mofExportUsage, opts.String())
			return errMOFHelp
		}
		return usageErr("%v", err)
	}
	if flags.NArg() > 0 {
		return usageErr("unexpected argument %q", flags.Arg(0))
	}
	fail := func(err error) error {
		return &exitError{code: 1, msg: fmt.Sprintf("hypercim mof export: %s: %s", *dataDir, oneLine(err.Error()))}
	}
	// Open would create an empty repository; an export of nothing is a
	// mistake worth saying.
	if _, err := os.Stat(filepath.Join(*dataDir, repository.FileName)); errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("no repository here (nothing was compiled or served from this data directory)"))
	}
	repo, err := repository.Open(*dataDir, nil)
	if err != nil {
		return fail(err)
	}
	defer repo.Close()

	src := &countingSource{Source: repo}
	if !*quiet && *out != "-" && mofIsTerminal(env.stdout) {
		src.bar = &mofProgress{w: env.stdout, unit: "objects"}
	}
	if *out == "-" {
		if err := mof.WriteRepository(env.stdout, src, namespaces...); err != nil {
			return fail(err)
		}
		return nil
	}
	err = writeFileAtomic(*out, func(w io.Writer) error { return mof.WriteRepository(w, src, namespaces...) })
	src.bar.done()
	if err != nil {
		return fail(err)
	}
	if !*quiet {
		fmt.Fprintf(env.stdout, "%d qualifier types, %d classes, %d instances written to %s\n", src.quals, src.classes, src.instances, *out)
	}
	return nil
}

// writeFileAtomic writes a file through a temporary file beside it that
// replaces it only once complete, so a failed export leaves no truncated
// MOF behind (and an existing file intact).
func writeFileAtomic(name string, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// countingSource counts what an export reads, for its summary line and
// progress bar.
type countingSource struct {
	mof.Source
	bar                       *mofProgress
	quals, classes, instances int
}

func (s *countingSource) tick() {
	if s.bar != nil {
		s.bar.update("export", s.quals+s.classes+s.instances, 0)
	}
}

func (s *countingSource) EnumerateQualifiers(ns string, fn func(*cim.QualifierType) error) error {
	return s.Source.EnumerateQualifiers(ns, func(qt *cim.QualifierType) error {
		s.quals++
		s.tick()
		return fn(qt)
	})
}

func (s *countingSource) EnumerateClasses(ns, className string, deep bool, fn func(*cim.Class) error) error {
	return s.Source.EnumerateClasses(ns, className, deep, func(c *cim.Class) error {
		s.classes++
		s.tick()
		return fn(c)
	})
}

func (s *countingSource) EnumerateInstances(ns, className string, deep bool, fn func(*cim.Instance) error) error {
	return s.Source.EnumerateInstances(ns, className, deep, func(inst *cim.Instance) error {
		s.instances++
		s.tick()
		return fn(inst)
	})
}
