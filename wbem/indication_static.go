package wbem

import (
	"context"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
)

// Writes of static instances, with their lifecycle indications. When no
// subscription may select the indication they are the plain repository
// calls; otherwise the instance before and after the change is read in
// the write's own transaction, so the indication reports exactly what the
// write did, and published once it has committed.

func (s *Server) createStatic(ctx context.Context, ns string, inst *cim.Instance) (*cim.ObjectPath, error) {
	if !s.ind.lifecycleWanted(ns, InstanceCreated) {
		return s.repo.CreateInstance(ns, inst)
	}
	var path *cim.ObjectPath
	var created *cim.Instance
	err := s.repo.Update(func(tx *repository.Tx) error {
		var err error
		if path, err = tx.CreateInstance(ns, inst); err != nil {
			return err
		}
		created, err = tx.GetInstance(ns, path)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publishLifecycle(ctx, ns, InstanceCreated, created, nil)
	return path, nil
}

func (s *Server) modifyStatic(ctx context.Context, ns string, mod *cim.Instance, propertyList []string) error {
	if !s.ind.lifecycleWanted(ns, InstanceModified) {
		return s.repo.ModifyInstance(ns, mod, propertyList)
	}
	var before, after *cim.Instance
	err := s.repo.Update(func(tx *repository.Tx) error {
		var err error
		if before, err = tx.GetInstance(ns, mod.Path); err != nil {
			return err
		}
		if err = tx.ModifyInstance(ns, mod, propertyList); err != nil {
			return err
		}
		after, err = tx.GetInstance(ns, mod.Path)
		return err
	})
	if err != nil {
		return err
	}
	s.publishLifecycle(ctx, ns, InstanceModified, after, before)
	return nil
}

func (s *Server) deleteStatic(ctx context.Context, ns string, path *cim.ObjectPath) error {
	if !s.ind.lifecycleWanted(ns, InstanceDeleted) {
		return s.repo.DeleteInstance(ns, path)
	}
	var before *cim.Instance
	err := s.repo.Update(func(tx *repository.Tx) error {
		var err error
		if before, err = tx.GetInstance(ns, path); err != nil {
			return err
		}
		return tx.DeleteInstance(ns, path)
	})
	if err != nil {
		return err
	}
	s.publishLifecycle(ctx, ns, InstanceDeleted, before, nil)
	return nil
}

// publishLifecycle publishes after a committed write: a failure to build
// the indication is logged, never the write's error.
func (s *Server) publishLifecycle(ctx context.Context, ns string, event LifecycleEvent, source, previous *cim.Instance) {
	if err := s.ind.PublishLifecycle(ctx, ns, event, source, previous); err != nil {
		s.log.WithError(err).WithField("namespace", ns).Warn("publishing a lifecycle indication")
	}
}
