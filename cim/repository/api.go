package repository

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// The Repository's methods are the Tx methods of the same name, each in
// a transaction of its own. Enumerations read in chunks of chunkSize
// objects, one short read transaction per chunk, and call their callback
// between transactions: a slow consumer (a client reading a million
// instances over the network) then neither holds a snapshot open nor keeps
// the database from growing, and memory stays constant. Each chunk is
// consistent; an object created or deleted during a long enumeration may
// or may not be reported, as with any CIMOM that streams.
const chunkSize = 512

// chunked runs step in successive read transactions until it reports
// completion, passing what each emits to fn outside the transaction.
func chunked[T any](r *Repository, step func(tx *Tx, emit func(T)) (bool, error), fn func(T) error) error {
	buf := make([]T, 0, chunkSize)
	for {
		buf = buf[:0]
		var done bool
		err := r.View(func(tx *Tx) error {
			var err error
			done, err = step(tx, func(x T) { buf = append(buf, x) })
			return err
		})
		if err != nil {
			return err
		}
		for _, x := range buf {
			if err := fn(x); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// CreateNamespace creates an empty namespace (see Tx.CreateNamespace).
func (r *Repository) CreateNamespace(ns string) error {
	return r.Update(func(tx *Tx) error { return tx.CreateNamespace(ns) })
}

// DeleteNamespace deletes a namespace (see Tx.DeleteNamespace).
func (r *Repository) DeleteNamespace(ns string, force bool) error {
	return r.Update(func(tx *Tx) error { return tx.DeleteNamespace(ns, force) })
}

// Namespaces lists the namespaces.
func (r *Repository) Namespaces() (names []string, err error) {
	err = r.View(func(tx *Tx) error {
		names, err = tx.Namespaces()
		return err
	})
	return names, err
}

// NamespaceExists reports whether ns exists.
func (r *Repository) NamespaceExists(ns string) (ok bool) {
	r.View(func(tx *Tx) error { ok = tx.NamespaceExists(ns); return nil })
	return ok
}

// GetQualifier returns a qualifier declaration (see Tx.GetQualifier).
func (r *Repository) GetQualifier(ns, name string) (qt *cim.QualifierType, err error) {
	err = r.View(func(tx *Tx) error {
		qt, err = tx.GetQualifier(ns, name)
		return err
	})
	return qt, err
}

// SetQualifier creates or replaces a qualifier declaration (see
// Tx.SetQualifier).
func (r *Repository) SetQualifier(ns string, qt *cim.QualifierType) error {
	return r.Update(func(tx *Tx) error { return tx.SetQualifier(ns, qt) })
}

// DeleteQualifier deletes a qualifier declaration (see Tx.DeleteQualifier).
func (r *Repository) DeleteQualifier(ns, name string) error {
	return r.Update(func(tx *Tx) error { return tx.DeleteQualifier(ns, name) })
}

// EnumerateQualifiers calls fn with each qualifier declaration of ns.
func (r *Repository) EnumerateQualifiers(ns string, fn func(*cim.QualifierType) error) error {
	var all []*cim.QualifierType
	err := r.View(func(tx *Tx) error {
		return tx.EnumerateQualifiers(ns, func(qt *cim.QualifierType) error { all = append(all, qt); return nil })
	})
	if err != nil {
		return err
	}
	for _, qt := range all {
		if err := fn(qt); err != nil {
			return err
		}
	}
	return nil
}

// GetClass returns a resolved class, shared and not to be modified (see
// Tx.GetClass). A class read before comes from memory without a
// transaction.
func (r *Repository) GetClass(ns, name string) (*cim.Class, error) {
	if c := r.cache.lookupClass(cim.FoldName(strings.Trim(ns, "/")), name); c != nil {
		return c, nil
	}
	var c *cim.Class
	err := r.View(func(tx *Tx) error {
		var err error
		c, err = tx.GetClass(ns, name)
		return err
	})
	return c, err
}

// CreateClass creates a class (see Tx.CreateClass).
func (r *Repository) CreateClass(ns string, c *cim.Class) error {
	return r.Update(func(tx *Tx) error { return tx.CreateClass(ns, c) })
}

// ModifyClass changes a class (see Tx.ModifyClass).
func (r *Repository) ModifyClass(ns string, c *cim.Class) error {
	return r.Update(func(tx *Tx) error { return tx.ModifyClass(ns, c) })
}

// PutClass creates or modifies a class (see Tx.PutClass).
func (r *Repository) PutClass(ns string, c *cim.Class) error {
	return r.Update(func(tx *Tx) error { return tx.PutClass(ns, c) })
}

// DeleteClass deletes a class (see Tx.DeleteClass).
func (r *Repository) DeleteClass(ns, name string, cascade bool) error {
	return r.Update(func(tx *Tx) error { return tx.DeleteClass(ns, name, cascade) })
}

// EnumerateClassNames calls fn with class names (see
// Tx.EnumerateClassNames), after reading them all in one transaction.
func (r *Repository) EnumerateClassNames(ns, className string, deep bool, fn func(name string) error) error {
	var names []string
	err := r.View(func(tx *Tx) error {
		return tx.EnumerateClassNames(ns, className, deep, func(n string) error { names = append(names, n); return nil })
	})
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// EnumerateClasses calls fn with resolved classes, shared and not to be
// modified (see Tx.EnumerateClasses). A class deleted while the
// enumeration runs is left out.
func (r *Repository) EnumerateClasses(ns, className string, deep bool, fn func(*cim.Class) error) error {
	return r.EnumerateClassNames(ns, className, deep, func(name string) error {
		c, err := r.GetClass(ns, name)
		if cim.StatusOf(err) == cim.ErrNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(c)
	})
}

// CreateInstance creates an instance and returns its path (see
// Tx.CreateInstance).
func (r *Repository) CreateInstance(ns string, inst *cim.Instance) (path *cim.ObjectPath, err error) {
	err = r.Update(func(tx *Tx) error {
		path, err = tx.CreateInstance(ns, inst)
		return err
	})
	return path, err
}

// PutInstance creates or replaces an instance (see Tx.PutInstance).
func (r *Repository) PutInstance(ns string, inst *cim.Instance) error {
	return r.Update(func(tx *Tx) error { return tx.PutInstance(ns, inst) })
}

// GetInstance returns an instance (see Tx.GetInstance).
func (r *Repository) GetInstance(ns string, path *cim.ObjectPath) (inst *cim.Instance, err error) {
	err = r.View(func(tx *Tx) error {
		inst, err = tx.GetInstance(ns, path)
		return err
	})
	return inst, err
}

// ModifyInstance modifies an instance (see Tx.ModifyInstance).
func (r *Repository) ModifyInstance(ns string, modified *cim.Instance, propertyList []string) error {
	return r.Update(func(tx *Tx) error { return tx.ModifyInstance(ns, modified, propertyList) })
}

// DeleteInstance deletes an instance (see Tx.DeleteInstance).
func (r *Repository) DeleteInstance(ns string, path *cim.ObjectPath) error {
	return r.Update(func(tx *Tx) error { return tx.DeleteInstance(ns, path) })
}

// EnumerateInstances calls fn with the instances of className, and of its
// subclasses when deep, in the order of Tx.EnumerateInstances, reading
// them in chunks: memory use does not grow with their number. An error
// from fn stops the enumeration and is returned.
func (r *Repository) EnumerateInstances(ns, className string, deep bool, fn func(*cim.Instance) error) error {
	var s *instanceScan
	return chunked(r, func(tx *Tx, emit func(*cim.Instance)) (bool, error) {
		sp, err := tx.space(ns)
		if err != nil {
			return false, err
		}
		if s == nil {
			_, classes, err := tx.instanceClasses(sp, className, deep)
			if err != nil {
				return false, err
			}
			s = &instanceScan{classes: classes}
		}
		return s.next(tx, sp, chunkSize, func(inst *cim.Instance) error { emit(inst); return nil })
	}, fn)
}

// EnumerateInstanceNames is EnumerateInstances with the paths only.
func (r *Repository) EnumerateInstanceNames(ns, className string, deep bool, fn func(*cim.ObjectPath) error) error {
	return r.EnumerateInstances(ns, className, deep, func(inst *cim.Instance) error { return fn(inst.Path) })
}

// refSteps runs a reference index traversal in chunks.
func refSteps[T any](r *Repository, ns string, obj *cim.ObjectPath,
	step func(tx *Tx, sp *txSpace, s *refScan, emit func(T)) (bool, error), fn func(T) error) error {
	var s *refScan
	return chunked(r, func(tx *Tx, emit func(T)) (bool, error) {
		sp, err := tx.space(ns)
		if err != nil {
			return false, err
		}
		if s == nil {
			if s, err = tx.newRefScan(sp, obj); err != nil {
				return false, err
			}
		}
		return step(tx, sp, s, emit)
	}, fn)
}

// References calls fn with the association instances that refer to obj
// (see Tx.References), reading them in chunks.
func (r *Repository) References(ns string, obj *cim.ObjectPath, f ReferenceFilter, fn func(*cim.Instance) error) error {
	return refSteps(r, ns, obj, func(tx *Tx, sp *txSpace, s *refScan, emit func(*cim.Instance)) (bool, error) {
		return tx.referencesStep(sp, s, f, chunkSize, func(inst *cim.Instance) error { emit(inst); return nil })
	}, fn)
}

// ReferenceNames is References with the paths only.
func (r *Repository) ReferenceNames(ns string, obj *cim.ObjectPath, f ReferenceFilter, fn func(*cim.ObjectPath) error) error {
	return r.References(ns, obj, f, func(inst *cim.Instance) error { return fn(inst.Path) })
}

// associated is an object Associators reports: its path, and the
// instance when the repository holds it.
type associated struct {
	path *cim.ObjectPath
	inst *cim.Instance
}

// Associators calls fn with the objects associated with obj (see
// Tx.Associators), reading them in chunks.
func (r *Repository) Associators(ns string, obj *cim.ObjectPath, f AssociatorFilter, fn func(path *cim.ObjectPath, inst *cim.Instance) error) error {
	return r.associators(ns, obj, f, true, fn)
}

// AssociatorNames is Associators with the paths only.
func (r *Repository) AssociatorNames(ns string, obj *cim.ObjectPath, f AssociatorFilter, fn func(*cim.ObjectPath) error) error {
	return r.associators(ns, obj, f, false, func(p *cim.ObjectPath, _ *cim.Instance) error { return fn(p) })
}

func (r *Repository) associators(ns string, obj *cim.ObjectPath, f AssociatorFilter, withInstances bool, fn func(*cim.ObjectPath, *cim.Instance) error) error {
	return refSteps(r, ns, obj, func(tx *Tx, sp *txSpace, s *refScan, emit func(associated)) (bool, error) {
		return tx.associatorsStep(sp, s, f, chunkSize, withInstances, func(p *cim.ObjectPath, inst *cim.Instance) error {
			emit(associated{p, inst})
			return nil
		})
	}, func(a associated) error { return fn(a.path, a.inst) })
}

// collectClasses runs a class-level traversal in one transaction and
// calls fn with the classes after it.
func (r *Repository) collectClasses(run func(tx *Tx, add func(*cim.Class) error) error, fn func(*cim.Class) error) error {
	var out []*cim.Class
	err := r.View(func(tx *Tx) error {
		return run(tx, func(c *cim.Class) error { out = append(out, c); return nil })
	})
	if err != nil {
		return err
	}
	for _, c := range out {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// ReferenceClasses calls fn with the association classes that refer to
// className (see Tx.ReferenceClasses).
func (r *Repository) ReferenceClasses(ns, className string, f ReferenceFilter, fn func(*cim.Class) error) error {
	return r.collectClasses(func(tx *Tx, add func(*cim.Class) error) error {
		return tx.ReferenceClasses(ns, className, f, add)
	}, fn)
}

// AssociatorClasses calls fn with the classes associated with className
// (see Tx.AssociatorClasses).
func (r *Repository) AssociatorClasses(ns, className string, f AssociatorFilter, fn func(*cim.Class) error) error {
	return r.collectClasses(func(tx *Tx, add func(*cim.Class) error) error {
		return tx.AssociatorClasses(ns, className, f, add)
	}, fn)
}

// Meta returns a marker (see Tx.Meta).
func (r *Repository) Meta(key string) (value string, err error) {
	err = r.View(func(tx *Tx) error {
		value, err = tx.Meta(key)
		return err
	})
	return value, err
}

// SetMeta sets a marker (see Tx.SetMeta).
func (r *Repository) SetMeta(key, value string) error {
	return r.Update(func(tx *Tx) error { return tx.SetMeta(key, value) })
}
