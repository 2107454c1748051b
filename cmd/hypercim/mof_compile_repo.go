package main

import (
	"fmt"

	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
)

// openRepositoryTarget opens the repository of dataDir for `mof compile`.
// The compiler writes through a BulkWriter, so that a whole schema costs
// one commit. The returned function commits what the compile wrote, or
// drops it if the repository refused one of its writes (a change DSP0004
// does not allow; only writes past the BulkWriter's automatic commit every
// repository.DefaultBulkOps writes can be dropped), and closes the
// repository. Open fails at once, saying
// so, when a running hypercimd holds the data directory.
func openRepositoryTarget(dataDir string) (mof.Target, func() error, error) {
	repo, err := repository.Open(dataDir, nil)
	if err != nil {
		return nil, nil, err
	}
	w := repo.NewBulkWriter()
	closeRepo := func() error {
		var err error
		if w.Err() != nil {
			err = w.Rollback()
		} else {
			err = w.Commit()
		}
		if cerr := repo.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return w, closeRepo, nil
}

// checkRepository verifies the repository of dataDir (compile --check):
// the database file, every record, index and instance.
func checkRepository(env *cliEnv, dataDir string, quiet bool) error {
	repo, err := repository.Open(dataDir, nil)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("hypercim mof compile: %s: %s", dataDir, oneLine(err.Error()))}
	}
	defer repo.Close()
	if err := repo.Check(); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("hypercim mof compile: %s: %s", dataDir, err)}
	}
	if !quiet {
		fmt.Fprintf(env.stdout, "repository check: no problem found in %s\n", dataDir)
	}
	return nil
}
