package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hypercim/hypercim/mof"
)

// mofDefaultDataDir is the data directory `make run` uses.
const mofDefaultDataDir = "./var/hypercim"

// errRepositoryNotBuilt is what openMOFRepository returns until
// cim/repository exists.
var errRepositoryNotBuilt = errors.New("the repository is not built yet: use 'hypercim mof check' to check MOF files without one")

// openMOFRepository opens the repository of dataDir for writing and
// returns it as a mof.Target, with the function that closes it. It must
// fail clearly when a running hypercimd holds the data directory.
//
// The repository (cim/repository) is written separately; its author wires
// it in here.
func openMOFRepository(dataDir string) (mof.Target, func() error, error) {
	return nil, nil, errRepositoryNotBuilt
}

func runMOFCompile(env *cliEnv, args []string) error {
	f := newMOFFlags("compile", "[--namespace NS] [--data-dir DIR] [-I DIR]... FILE...")
	var dataDir string
	f.StringVar(&dataDir, "data-dir", mofDefaultDataDir, "data directory holding the repository (`DIR`); hypercimd must not be running on it")
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
	return nil
}
