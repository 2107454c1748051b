package repository

import (
	"bytes"

	"github.com/hypercim/hypercim/cim"
)

// ---- Instances
//
// Instances are stored as cim.Class.NormalizeInstance makes them: every
// property of the class, in class order, typed as declared. Paths returned
// carry the namespace (as spelled at its creation) and no host.

// instanceClass returns the resolved class an instance operation names:
// CIM_ERR_INVALID_CLASS if it does not exist.
func (t *Tx) instanceClass(sp *txSpace, name string) (*cim.Class, error) {
	if name == "" {
		return nil, cim.NewError(cim.ErrInvalidParameter, "no class name given")
	}
	return t.mustClass(sp, name, cim.ErrInvalidClass)
}

// prepared is an instance ready to be stored.
type prepared struct {
	inst *cim.Instance   // normalized, Path nil
	path *cim.ObjectPath // namespace-relative
	key  []byte          // store key
	cls  *cim.Class      // resolved class
}

// prepare normalizes a new or replacing instance for storage: checked and
// converted against its class, local references normalized.
func (t *Tx) prepare(sp *txSpace, inst *cim.Instance) (*prepared, error) {
	cls, err := t.instanceClass(sp, inst.ClassName)
	if err != nil {
		return nil, err
	}
	if cls.IsAbstract() {
		return nil, cim.Errorf(cim.ErrNotSupported, "class %s is abstract: it cannot have instances of its own", cls.Name)
	}
	norm, err := cls.NormalizeInstance(inst)
	if err != nil {
		return nil, err
	}
	if err := t.normalizeRefs(sp, cls, norm); err != nil {
		return nil, err
	}
	path, err := cls.InstancePath("", norm)
	if err != nil {
		return nil, err
	}
	key := instKey(sp.name, path)
	if len(key) > maxKeySize {
		return nil, cim.Errorf(cim.ErrInvalidParameter, "the keys of the instance take %d bytes; the repository stores at most %d", len(key), maxKeySize)
	}
	norm.Path = nil
	return &prepared{inst: norm, path: path, key: key, cls: cls}, nil
}

// normalizeRefs checks the reference properties of inst that point into
// its own namespace: the class referred to must exist and be the declared
// reference class or a subclass of it; the path is normalized as that
// class declares its keys, so that the reference index finds it.
func (t *Tx) normalizeRefs(sp *txSpace, cls *cim.Class, inst *cim.Instance) error {
	props := inst.Properties()
	for i := range props {
		p := &props[i]
		if p.Type != cim.TypeReference || p.IsArray || p.Value.IsNull() {
			continue
		}
		ref := p.Value.Ref()
		if ref == nil || !isLocal(sp.name, ref) {
			continue
		}
		if !ref.IsInstancePath() {
			return cim.Errorf(cim.ErrInvalidParameter, "reference %s.%s: %s is not an instance path", cls.Name, p.Name, ref)
		}
		rc, err := t.resolved(sp, ref.ClassName)
		if err != nil {
			return err
		}
		if rc == nil {
			return cim.Errorf(cim.ErrInvalidParameter, "reference %s.%s: class %s does not exist in namespace %s", cls.Name, p.Name, ref.ClassName, sp.name)
		}
		if cp := cls.Property(p.Name); cp != nil && cp.ReferenceClass != "" {
			ok, err := t.isA(sp, rc, cp.ReferenceClass)
			if err != nil {
				return err
			}
			if !ok {
				return cim.Errorf(cim.ErrInvalidParameter, "reference %s.%s must refer to a %s, not to a %s", cls.Name, p.Name, cp.ReferenceClass, rc.Name)
			}
		}
		np, err := rc.NormalizePath(ref)
		if err != nil {
			return cim.Errorf(cim.ErrInvalidParameter, "reference %s.%s: %s", cls.Name, p.Name, errText(err))
		}
		np.ClassName = rc.Name
		p.Value = cim.NewReference(np)
	}
	return nil
}

// indexRefs adds (or removes) the reference index entries of a stored
// instance.
func (t *Tx) indexRefs(sp *txSpace, inst *cim.Instance, key []byte, add bool) error {
	props := inst.Properties()
	for i := range props {
		p := &props[i]
		if p.Type != cim.TypeReference || p.IsArray || p.Value.IsNull() {
			continue
		}
		k := refKey(refTarget(sp.name, p.Value.Ref()), p.Name, key)
		if len(k) > maxKeySize {
			if add {
				return cim.Errorf(cim.ErrInvalidParameter, "reference %s of %d bytes is too long to index", p.Name, len(k))
			}
			continue
		}
		var err error
		if add {
			err = t.put(sp.ref(), k, []byte{1})
		} else {
			err = t.del(sp.ref(), k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateInstance creates an instance and returns its path. The instance
// is checked and normalized against its class (cim.Class.NormalizeInstance:
// properties the class lacks are CIM_ERR_NO_SUCH_PROPERTY, values that do
// not convert CIM_ERR_TYPE_MISMATCH, missing keys CIM_ERR_INVALID_PARAMETER;
// missing properties take the class defaults); references into the same
// namespace must name an existing class that fits the reference
// (CIM_ERR_INVALID_PARAMETER). Errors: CIM_ERR_INVALID_CLASS (no such
// class), CIM_ERR_NOT_SUPPORTED (abstract class), CIM_ERR_ALREADY_EXISTS,
// CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) CreateInstance(ns string, inst *cim.Instance) (*cim.ObjectPath, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	sp, err := t.space(ns)
	if err != nil {
		return nil, err
	}
	p, err := t.prepare(sp, inst)
	if err != nil {
		return nil, err
	}
	if sp.inst().Get(p.key) != nil {
		return nil, cim.Errorf(cim.ErrAlreadyExists, "instance %s already exists", p.path)
	}
	if err := t.put(sp.inst(), p.key, encodeInstanceRecord(p.inst)); err != nil {
		return nil, err
	}
	if err := t.indexRefs(sp, p.inst, p.key, true); err != nil {
		return nil, err
	}
	p.path.Namespace = sp.name
	return p.path, nil
}

// PutInstance creates the instance, or replaces the one with the same
// path entirely; replacing it with an identical instance changes nothing.
// It is what the MOF compiler writes through; errors are those of
// CreateInstance.
func (t *Tx) PutInstance(ns string, inst *cim.Instance) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	p, err := t.prepare(sp, inst)
	if err != nil {
		return err
	}
	rec := encodeInstanceRecord(p.inst)
	if old := sp.inst().Get(p.key); old != nil {
		if bytes.Equal(old, rec) {
			return nil
		}
		prev, err := decodeInstanceRecord(old, p.cls)
		if err != nil {
			return err
		}
		if err := t.indexRefs(sp, prev, p.key, false); err != nil {
			return err
		}
	}
	if err := t.put(sp.inst(), p.key, rec); err != nil {
		return err
	}
	return t.indexRefs(sp, p.inst, p.key, true)
}

// locate finds the stored instance a path names: its class, normalized
// path (namespace set) and key. Errors: CIM_ERR_INVALID_CLASS,
// CIM_ERR_INVALID_PARAMETER (keys that do not fit the class).
func (t *Tx) locate(sp *txSpace, path *cim.ObjectPath) (*cim.Class, *cim.ObjectPath, []byte, error) {
	if path == nil {
		return nil, nil, nil, cim.NewError(cim.ErrInvalidParameter, "no instance path given")
	}
	cls, err := t.instanceClass(sp, path.ClassName)
	if err != nil {
		return nil, nil, nil, err
	}
	np, err := cls.NormalizePath(path)
	if err != nil {
		return nil, nil, nil, err
	}
	np.ClassName, np.Host, np.Namespace = cls.Name, "", sp.name
	return cls, np, instKey(sp.name, np), nil
}

// GetInstance returns the instance path names, with its path set.
// Errors: CIM_ERR_INVALID_CLASS, CIM_ERR_INVALID_PARAMETER (the path's
// keys do not fit the class), CIM_ERR_NOT_FOUND, CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) GetInstance(ns string, path *cim.ObjectPath) (*cim.Instance, error) {
	sp, err := t.space(ns)
	if err != nil {
		return nil, err
	}
	cls, np, key, err := t.locate(sp, path)
	if err != nil {
		return nil, err
	}
	data := sp.inst().Get(key)
	if data == nil {
		return nil, cim.Errorf(cim.ErrNotFound, "instance %s does not exist", np)
	}
	inst, err := decodeInstanceRecord(data, cls)
	if err != nil {
		return nil, err
	}
	inst.Path = np
	return inst, nil
}

// ModifyInstance applies a DSP0200 ModifyInstance: modified.Path names
// the instance (when nil, its keys do), propertyList the properties to
// change (nil: all those modified carries), as cim.Class.ModifyInstance
// describes. Keys cannot change. Errors: those of GetInstance, and of
// cim.Class.ModifyInstance (CIM_ERR_NO_SUCH_PROPERTY,
// CIM_ERR_TYPE_MISMATCH, CIM_ERR_INVALID_PARAMETER).
func (t *Tx) ModifyInstance(ns string, modified *cim.Instance, propertyList []string) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	path := modified.Path
	if path == nil {
		cls, err := t.instanceClass(sp, modified.ClassName)
		if err != nil {
			return err
		}
		if path, err = cls.InstancePath("", modified); err != nil {
			return err
		}
	}
	cls, np, key, err := t.locate(sp, path)
	if err != nil {
		return err
	}
	data := sp.inst().Get(key)
	if data == nil {
		return cim.Errorf(cim.ErrNotFound, "instance %s does not exist", np)
	}
	cur, err := decodeInstanceRecord(data, cls)
	if err != nil {
		return err
	}
	if modified.ClassName == "" {
		modified = modified.Clone()
		modified.ClassName = cls.Name
	}
	next, err := cls.ModifyInstance(cur, modified, propertyList)
	if err != nil {
		return err
	}
	if err := t.normalizeRefs(sp, cls, next); err != nil {
		return err
	}
	next.Path = nil
	rec := encodeInstanceRecord(next)
	if bytes.Equal(rec, data) {
		return nil
	}
	if err := t.indexRefs(sp, cur, key, false); err != nil {
		return err
	}
	if err := t.put(sp.inst(), key, rec); err != nil {
		return err
	}
	return t.indexRefs(sp, next, key, true)
}

// DeleteInstance deletes the instance path names. Associations that
// refer to it are left as they are (DSP0200 does not delete them).
// Errors: those of GetInstance.
func (t *Tx) DeleteInstance(ns string, path *cim.ObjectPath) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	cls, np, key, err := t.locate(sp, path)
	if err != nil {
		return err
	}
	data := sp.inst().Get(key)
	if data == nil {
		return cim.Errorf(cim.ErrNotFound, "instance %s does not exist", np)
	}
	inst, err := decodeInstanceRecord(data, cls)
	if err != nil {
		return err
	}
	if err := t.indexRefs(sp, inst, key, false); err != nil {
		return err
	}
	return t.del(sp.inst(), key)
}

// deleteInstancesOf deletes every instance of one class (not of its
// subclasses), with their reference index entries.
func (t *Tx) deleteInstancesOf(sp *txSpace, cls *cim.Class) error {
	prefix := instPrefix(cls.Name)
	c := sp.inst().Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Seek(prefix) {
		inst, err := decodeInstanceRecord(v, cls)
		if err != nil {
			return err
		}
		key := bytes.Clone(k)
		if err := t.indexRefs(sp, inst, key, false); err != nil {
			return err
		}
		if err := t.del(sp.inst(), key); err != nil {
			return err
		}
	}
	return nil
}

// instanceScan walks the instances of a list of classes in store order,
// in chunks: each call of next resumes where the previous one stopped, in
// a new transaction if need be.
type instanceScan struct {
	classes []string // folded class names, in visiting order
	class   int      // the class being visited
	from    []byte   // the key to resume at (nil: the start of the class)
}

// instanceClasses lists the classes an enumeration of className visits:
// the class, then its subclasses breadth first when deep.
func (t *Tx) instanceClasses(sp *txSpace, className string, deep bool) (*cim.Class, []string, error) {
	cls, err := t.instanceClass(sp, className)
	if err != nil {
		return nil, nil, err
	}
	key := cim.FoldName(cls.Name)
	classes := []string{key}
	if deep {
		fam, err := t.descendants(sp, key)
		if err != nil {
			return nil, nil, err
		}
		classes = append(classes, fam.keys...)
	}
	return cls, classes, nil
}

// next visits up to limit instances (limit < 0: all) and reports whether
// the scan is complete. fn receives each instance with its path set.
func (s *instanceScan) next(t *Tx, sp *txSpace, limit int, fn func(*cim.Instance) error) (bool, error) {
	n := 0
	for ; s.class < len(s.classes); s.class, s.from = s.class+1, nil {
		cls, err := t.resolved(sp, s.classes[s.class])
		if err != nil {
			return false, err
		}
		if cls == nil {
			continue // deleted since the scan started
		}
		prefix := instPrefix(s.classes[s.class])
		start := s.from
		if start == nil {
			start = prefix
		}
		c := sp.inst().Cursor()
		for k, v := c.Seek(start); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
			if limit >= 0 && n >= limit {
				s.from = bytes.Clone(k)
				return false, nil
			}
			inst, err := decodeInstanceRecord(v, cls)
			if err != nil {
				return false, err
			}
			if inst.Path, err = cls.InstancePath(sp.name, inst); err != nil {
				return false, corrupt("instance %q of class %s: %s", k, cls.Name, errText(err))
			}
			if err := fn(inst); err != nil {
				return false, err
			}
			n++
		}
	}
	return true, nil
}

// EnumerateInstances calls fn with the instances of className, and of its
// subclasses when deep, each with its path set: the class's own first,
// then each subclass's, parents before children. DSP0200's
// EnumerateInstances always includes subclasses (deep=true); its
// DeepInheritance, LocalOnly and PropertyList parameters shape each
// instance (cim.FilterInstance). Errors: CIM_ERR_INVALID_CLASS,
// CIM_ERR_INVALID_NAMESPACE, and whatever fn returns, which stops the
// enumeration.
func (t *Tx) EnumerateInstances(ns, className string, deep bool, fn func(*cim.Instance) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	_, classes, err := t.instanceClasses(sp, className, deep)
	if err != nil {
		return err
	}
	s := &instanceScan{classes: classes}
	_, err = s.next(t, sp, -1, fn)
	return err
}

// EnumerateInstanceNames is EnumerateInstances with the paths only.
func (t *Tx) EnumerateInstanceNames(ns, className string, deep bool, fn func(*cim.ObjectPath) error) error {
	return t.EnumerateInstances(ns, className, deep, func(inst *cim.Instance) error { return fn(inst.Path) })
}
