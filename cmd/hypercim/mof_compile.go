package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hypercim/hypercim/mof"
)

// mofDefaultDataDir is the data directory `make run` uses.
const mofDefaultDataDir = "./var/hypercim"

// openMOFRepository opens the repository of dataDir for writing and
// returns it as a mof.Target, with the function that closes it. It must
// fail clearly when a running hypercimd holds the data directory.
func openMOFRepository(dataDir string) (mof.Target, func() error, error) {
	return openRepositoryTarget(dataDir)
}

func runMOFCompile(env *cliEnv, args []string) error {
	f := newMOFFlags("compile", "[--namespace NS] [--data-dir DIR] [-I DIR]... [--check] FILE...")
	var dataDir string
	var check bool
	f.StringVar(&dataDir, "data-dir", mofDefaultDataDir, "data directory holding the repository (`DIR`); hypercimd must not be running on it")
	f.BoolVar(&check, "check", false, "then verify the whole repository (every record, index and instance)")
	files, err := f.parse(env, args)
	if err != nil {
		return err
	}
	target, closeRepo, err := openMOFRepository(dataDir)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("hypercim mof compile: %s: %s", dataDir, oneLine(err.Error()))}
	}
	c, bar := f.compiler(env, target)
	start := time.Now()
	res, err := c.CompileFiles(files...)
	bar.done()
	if cerr := closeRepo(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the repository: %w", cerr)
	}
	if err := f.report(env, res, err); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(env.stdout, "%d qualifier types, %d classes, %d instances compiled into %s (namespace %s; %.2f s)\n",
			res.QualifierTypes, res.Classes, res.Instances, dataDir, strings.Join(res.Namespaces, ", "), time.Since(start).Seconds())
	}
	if check {
		return checkRepository(env, dataDir, f.quiet)
	}
	return nil
}
