package repository

import (
	"bytes"
	"fmt"

	"github.com/hypercim/hypercim/cim"
)

// maxClassDepth bounds superclass chains, so that a damaged store with a
// cycle reports an error instead of recursing forever.
const maxClassDepth = 256

// readOptions resolve stored classes: qualifier declarations only. The
// classes references name were checked when the class was stored; they
// may have been deleted since, which does not make the class unreadable.
func (t *Tx) readOptions(sp *txSpace) cim.ResolveOptions {
	return cim.ResolveOptions{QualifierType: func(name string) *cim.QualifierType {
		qt, _ := t.qualifier(sp, name)
		return qt
	}}
}

// writeOptions resolve a class being created or modified: qualifier
// declarations and the classes its references name.
func (t *Tx) writeOptions(sp *txSpace) cim.ResolveOptions {
	o := t.readOptions(sp)
	// New definitions meet every DSP0004 rule, including an association's
	// two references; stored classes are read with readOptions.
	o.CheckAssociationReferences = true
	o.Class = func(name string) *cim.Class {
		c, _ := t.classHeader(sp, name)
		return c
	}
	return o
}

// classHeader returns a class with just its name and superclass, which
// is all reference checks need, without resolving it.
func (t *Tx) classHeader(sp *txSpace, name string) (*cim.Class, error) {
	_, c, data := sp.lookupClass(name)
	if c != nil || data == nil {
		return c, nil
	}
	n, super, err := decodeClassHeader(data)
	if err != nil {
		return nil, err
	}
	return cim.NewClass(n, super), nil
}

// lookupClass finds class name of sp: resolved from this transaction's or
// the shared cache when it is there, else the stored record (nil data when
// there is no such class). key is the folded name both are indexed by.
func (sp *txSpace) lookupClass(name string) (key string, cached *cim.Class, data []byte) {
	key = cim.FoldName(name)
	if c := sp.classes[key]; c != nil {
		return key, c, nil
	}
	if sp.shared != nil {
		if c := sp.shared.class(key); c != nil {
			return key, c, nil
		}
	}
	return key, nil, sp.class().Get([]byte(key))
}

// resolved returns the resolved class name of sp, or nil if there is no
// such class. The class is shared through the caches: it must not be
// modified.
func (t *Tx) resolved(sp *txSpace, name string) (*cim.Class, error) {
	return t.resolvedAt(sp, name, 0)
}

func (t *Tx) resolvedAt(sp *txSpace, name string, depth int) (*cim.Class, error) {
	key, c, data := sp.lookupClass(name)
	if c != nil || data == nil {
		return c, nil
	}
	decl, err := decodeClass(data)
	if err != nil {
		return nil, fmt.Errorf("class %s: %w", name, err)
	}
	var super *cim.Class
	if decl.SuperClass != "" {
		if depth >= maxClassDepth {
			return nil, corrupt("class %s: superclass chain longer than %d (a cycle?)", decl.Name, maxClassDepth)
		}
		if super, err = t.resolvedAt(sp, decl.SuperClass, depth+1); err != nil {
			return nil, err
		}
		if super == nil {
			return nil, corrupt("class %s: its superclass %s is missing", decl.Name, decl.SuperClass)
		}
	}
	res, err := cim.ResolveClass(decl, super, t.readOptions(sp))
	if err != nil {
		return nil, corrupt("class %s no longer resolves: %s", decl.Name, errText(err))
	}
	if sp.shared != nil {
		sp.shared.putClass(key, res)
	} else {
		sp.cacheClass(key, res)
	}
	return res, nil
}

// errText is an error's description without the CIM status prefix.
func errText(err error) string {
	if ce := cim.AsError(err); ce != nil && ce.Description != "" {
		return ce.Description
	}
	return err.Error()
}

// class returns the resolved class or CIM_ERR_NOT_FOUND-style errors with
// the given status.
func (t *Tx) mustClass(sp *txSpace, name string, status cim.Status) (*cim.Class, error) {
	c, err := t.resolved(sp, name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		if !cim.ValidName(name) {
			return nil, cim.Errorf(cim.ErrInvalidParameter, "invalid class name %q", name)
		}
		return nil, cim.Errorf(status, "class %s does not exist in namespace %s", name, sp.name)
	}
	return c, nil
}

// isA reports whether cls is the class named ancestor or one of its
// subclasses.
func (t *Tx) isA(sp *txSpace, cls *cim.Class, ancestor string) (bool, error) {
	for depth := 0; cls != nil && depth < maxClassDepth; depth++ {
		if cim.EqualNames(cls.Name, ancestor) {
			return true, nil
		}
		if cls.SuperClass == "" {
			return false, nil
		}
		var err error
		if cls, err = t.resolved(sp, cls.SuperClass); err != nil {
			return false, err
		}
	}
	return false, nil
}

// GetClass returns the resolved class (cim.ResolveClass: with inherited
// properties and methods, ClassOrigin and propagated qualifiers set), as
// GetClass with LocalOnly=false, IncludeQualifiers=true and
// IncludeClassOrigin=true returns it; cim.FilterClass shapes it for other
// parameters. The class is shared with the repository's cache and must
// not be modified (Clone it first). Errors: CIM_ERR_INVALID_NAMESPACE,
// CIM_ERR_NOT_FOUND.
func (t *Tx) GetClass(ns, name string) (*cim.Class, error) {
	sp, err := t.space(ns)
	if err != nil {
		return nil, err
	}
	return t.mustClass(sp, name, cim.ErrNotFound)
}

// CreateClass creates a class from its declaration (its own elements; an
// element marked Propagated that the superclass defines is taken as
// inherited, as in a class sent back from GetClass). The checks are those
// of cim.ResolveClass, plus: the name is free (CIM_ERR_ALREADY_EXISTS),
// the superclass exists (CIM_ERR_INVALID_SUPERCLASS), every qualifier is
// declared and the classes references name exist
// (CIM_ERR_INVALID_PARAMETER).
func (t *Tx) CreateClass(ns string, c *cim.Class) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	key := []byte(cim.FoldName(c.Name))
	if sp.class().Get(key) != nil {
		return cim.Errorf(cim.ErrAlreadyExists, "class %s already exists in namespace %s", c.Name, sp.name)
	}
	return t.createClass(sp, c)
}

func (t *Tx) createClass(sp *txSpace, c *cim.Class) error {
	super, err := t.superclassOf(sp, c)
	if err != nil {
		return err
	}
	res, err := t.resolveNew(sp, c, super)
	if err != nil {
		return err
	}
	key := []byte(cim.FoldName(res.Name))
	if len(key) > maxKeySize {
		return cim.Errorf(cim.ErrInvalidParameter, "class name of %d bytes is too long", len(key))
	}
	sp.changed()
	if err := t.put(sp.class(), key, encodeDeclaredClass(c, super)); err != nil {
		return err
	}
	if err := t.put(sp.sub(), subKey(res.SuperClass, res.Name), []byte(res.Name)); err != nil {
		return err
	}
	if res.IsAssociation() {
		if err := t.put(sp.assoc(), key, []byte(res.Name)); err != nil {
			return err
		}
	}
	sp.cacheClass(string(key), res)
	return nil
}

// resolveNew resolves a class being created or modified, with every
// DSP0004 rule a new definition must meet.
func (t *Tx) resolveNew(sp *txSpace, c, super *cim.Class) (*cim.Class, error) {
	res, err := cim.ResolveClass(c, super, t.writeOptions(sp))
	if err != nil {
		return nil, err
	}
	if err := checkValueMaps(res); err != nil {
		return nil, err
	}
	return res, nil
}

// checkValueMaps applies DSP0004's ValueMap rules, which cim.ResolveClass
// leaves out, to the elements a resolved class declares or overrides:
// the ValueMap entries of an integer element are integers or ranges, and
// ValueMap and Values, whether set here or inherited, have as many
// entries. Inherited elements were checked with their class.
func checkValueMaps(res *cim.Class) error {
	check := func(what string, t cim.Type, qs cim.Qualifiers) error {
		vm, values := qs.Get(cim.QualifierValueMap), qs.Get(cim.QualifierValues)
		var keys, texts []string
		if vm != nil {
			keys = vm.Value.StrArray()
		}
		if values != nil {
			texts = values.Value.StrArray()
		}
		if keys == nil && texts == nil {
			return nil
		}
		if _, err := cim.NewValueMap(t, keys, texts); err != nil {
			return cim.Errorf(cim.ErrInvalidParameter, "class %s: %s: %s", res.Name, what, errText(err))
		}
		return nil
	}
	for _, p := range res.Properties() {
		if p.Propagated {
			continue
		}
		if err := check("property "+p.Name, p.Type, p.Qualifiers); err != nil {
			return err
		}
	}
	for _, m := range res.Methods() {
		if m.Propagated {
			continue
		}
		if err := check("method "+m.Name, m.ReturnType, m.Qualifiers); err != nil {
			return err
		}
		for _, par := range m.Parameters {
			if err := check("method "+m.Name+": parameter "+par.Name, par.Type, par.Qualifiers); err != nil {
				return err
			}
		}
	}
	return nil
}

// superclassOf returns the resolved superclass c names, nil for a root
// class, or CIM_ERR_INVALID_SUPERCLASS.
func (t *Tx) superclassOf(sp *txSpace, c *cim.Class) (*cim.Class, error) {
	if c.SuperClass == "" {
		return nil, nil
	}
	super, err := t.resolved(sp, c.SuperClass)
	if err != nil {
		return nil, err
	}
	if super == nil {
		return nil, cim.Errorf(cim.ErrInvalidSuperclass, "class %s: superclass %s does not exist in namespace %s", c.Name, c.SuperClass, sp.name)
	}
	return super, nil
}

// PutClass creates the class, or modifies it if it exists (ModifyClass);
// putting a class identical to the stored one changes nothing. It is what
// the MOF compiler writes through.
func (t *Tx) PutClass(ns string, c *cim.Class) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	if sp.class().Get([]byte(cim.FoldName(c.Name))) == nil {
		return t.createClass(sp, c)
	}
	return t.modifyClass(sp, c)
}

// ModifyClass replaces the declaration of an existing class. Subclasses
// are resolved again against the new definition and instances of the
// class and its subclasses checked against it; the change is refused when
// it would leave any of them invalid:
//
//   - CIM_ERR_NOT_FOUND: no such class
//   - CIM_ERR_INVALID_SUPERCLASS: the new superclass does not exist, or is
//     the class itself or one of its subclasses
//   - CIM_ERR_CLASS_HAS_CHILDREN: a subclass would no longer resolve (say,
//     it overrides a property the change removes)
//   - CIM_ERR_CLASS_HAS_INSTANCES: instances exist and the change removes
//     a property, changes a property's type, array-ness, embedded-object
//     kind or reference class, changes the keys, or makes the class
//     abstract
//   - the errors of cim.ResolveClass for the new declaration itself
//
// Adding properties and changing qualifiers, defaults and methods are
// allowed with instances: they take the new defaults.
func (t *Tx) ModifyClass(ns string, c *cim.Class) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	if sp.class().Get([]byte(cim.FoldName(c.Name))) == nil {
		return cim.Errorf(cim.ErrNotFound, "class %s does not exist in namespace %s", c.Name, sp.name)
	}
	return t.modifyClass(sp, c)
}

// family is a class and its subclasses, parents before children.
type family struct {
	keys  []string     // folded names
	decls []*cim.Class // declarations, as stored
}

// descendants returns the subclasses of the class with folded name key,
// breadth first, with their declarations.
func (t *Tx) descendants(sp *txSpace, key string) (family, error) {
	var f family
	queue := []string{key}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		prefix := append([]byte(parent), 0)
		c := sp.sub().Cursor()
		for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
			child := string(k[len(prefix):])
			if len(f.keys) > 1<<20 {
				return f, corrupt("subclass index of %s does not end (a cycle?)", key)
			}
			data := sp.class().Get([]byte(child))
			if data == nil {
				return f, corrupt("subclass index names class %s, which does not exist", child)
			}
			decl, err := decodeClass(data)
			if err != nil {
				return f, err
			}
			f.keys = append(f.keys, child)
			f.decls = append(f.decls, decl)
			queue = append(queue, child)
		}
	}
	return f, nil
}

// resolveFamily resolves the declarations of fam again, top down, each
// against the resolution of its superclass in resolved, which it extends.
// A declaration that no longer resolves is returned with the reason.
func (t *Tx) resolveFamily(sp *txSpace, fam family, resolved map[string]*cim.Class) (*cim.Class, error) {
	for i, decl := range fam.decls {
		var parent *cim.Class
		if decl.SuperClass != "" {
			if parent = resolved[cim.FoldName(decl.SuperClass)]; parent == nil {
				return nil, corrupt("class %s: superclass %s is missing from the subclass index", decl.Name, decl.SuperClass)
			}
		}
		nr, err := cim.ResolveClass(decl, parent, t.readOptions(sp))
		if err == nil {
			err = checkValueMaps(nr)
		}
		if err != nil {
			return decl, err
		}
		resolved[fam.keys[i]] = nr
	}
	return nil, nil
}

// classesWithInstances returns the resolved classes of sp that have
// instances of their own, by folded name.
func (t *Tx) classesWithInstances(sp *txSpace) (map[string]*cim.Class, error) {
	out := map[string]*cim.Class{}
	c := sp.class().Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if !sp.hasInstances(string(k)) {
			continue
		}
		cls, err := t.resolved(sp, string(k))
		if err != nil {
			return nil, err
		}
		out[string(k)] = cls
	}
	return out, nil
}

// revalidateAll resolves every class of sp again after a change of its
// qualifier declarations, and checks that the instances of before (the
// classes with instances, as resolved before the change) still fit.
// Refusals are CIM_ERR_FAILED errors starting with what.
func (t *Tx) revalidateAll(sp *txSpace, what string, before map[string]*cim.Class) error {
	fam, err := t.descendants(sp, "")
	if err != nil {
		return err
	}
	resolved := map[string]*cim.Class{}
	if bad, err := t.resolveFamily(sp, fam, resolved); err != nil {
		if bad == nil {
			return err
		}
		return cim.Errorf(cim.ErrFailed, "%s: class %s would no longer be valid: %s", what, bad.Name, errText(err))
	}
	for k, old := range before {
		if msg := instancesFit(old, resolved[k]); msg != "" {
			return cim.Errorf(cim.ErrFailed, "%s: class %s has instances, and %s", what, old.Name, msg)
		}
	}
	for k, c := range resolved {
		sp.cacheClass(k, c)
	}
	return nil
}

// hasInstances reports whether the class with this folded name has
// instances of its own (not counting subclasses).
func (sp *txSpace) hasInstances(key string) bool {
	prefix := instPrefix(key)
	k, _ := sp.inst().Cursor().Seek(prefix)
	return k != nil && hasPrefix(k, prefix)
}

func (t *Tx) modifyClass(sp *txSpace, c *cim.Class) error {
	key := cim.FoldName(c.Name)
	oldRec := bytes.Clone(sp.class().Get([]byte(key)))
	old, err := t.resolved(sp, c.Name)
	if err != nil {
		return err
	}
	super, err := t.superclassOf(sp, c)
	if err != nil {
		return err
	}
	for s := super; s != nil; {
		if cim.EqualNames(s.Name, c.Name) {
			return cim.Errorf(cim.ErrInvalidSuperclass, "class %s cannot have %s as its superclass: %s is derived from %s", c.Name, c.SuperClass, c.SuperClass, c.Name)
		}
		if s.SuperClass == "" {
			break
		}
		if s, err = t.resolved(sp, s.SuperClass); err != nil {
			return err
		}
	}
	res, err := t.resolveNew(sp, c, super)
	if err != nil {
		return err
	}
	rec := encodeDeclaredClass(c, super)
	if bytes.Equal(rec, oldRec) {
		return nil
	}
	fam, err := t.descendants(sp, key)
	if err != nil {
		return err
	}
	// Resolve the subclasses again, top down, against the new class.
	newResolved := map[string]*cim.Class{key: res}
	if bad, err := t.resolveFamily(sp, fam, newResolved); err != nil {
		if bad == nil {
			return err
		}
		return cim.Errorf(cim.ErrClassHasChildren, "class %s cannot be changed this way: its subclass %s would no longer be valid: %s",
			c.Name, bad.Name, errText(err))
	}
	// Instances must fit the new classes.
	for _, k := range append([]string{key}, fam.keys...) {
		if !sp.hasInstances(k) {
			continue
		}
		before := old
		if k != key {
			if before, err = t.resolved(sp, k); err != nil {
				return err
			}
		}
		if msg := instancesFit(before, newResolved[k]); msg != "" {
			return cim.Errorf(cim.ErrClassHasInstances, "class %s cannot be changed this way: class %s has instances, and %s",
				c.Name, before.Name, msg)
		}
	}
	// Write the declaration and the indexes.
	sp.changed()
	if err := t.put(sp.class(), []byte(key), rec); err != nil {
		return err
	}
	if !cim.EqualNames(old.SuperClass, res.SuperClass) || old.Name != res.Name {
		if err := t.del(sp.sub(), subKey(old.SuperClass, old.Name)); err != nil {
			return err
		}
	}
	if err := t.put(sp.sub(), subKey(res.SuperClass, res.Name), []byte(res.Name)); err != nil {
		return err
	}
	for k, nr := range newResolved {
		if nr.IsAssociation() {
			err = t.put(sp.assoc(), []byte(k), []byte(nr.Name))
		} else {
			err = t.del(sp.assoc(), []byte(k))
		}
		if err != nil {
			return err
		}
		sp.cacheClass(k, nr)
	}
	return nil
}

// instancesFit says why instances stored under class before would not be
// valid instances of class after ("" if they would).
func instancesFit(before, after *cim.Class) string {
	if after.IsAbstract() && !before.IsAbstract() {
		return "it would become abstract"
	}
	for _, p := range before.Properties() {
		np := after.Property(p.Name)
		switch {
		case np == nil:
			return fmt.Sprintf("property %s would be removed", p.Name)
		case np.Type != p.Type || np.IsArray != p.IsArray:
			return fmt.Sprintf("property %s would change its type", p.Name)
		case np.EmbeddedKind() != p.EmbeddedKind():
			return fmt.Sprintf("property %s would change its embedded-object kind", p.Name)
		case !cim.EqualNames(np.ReferenceClass, p.ReferenceClass):
			return fmt.Sprintf("reference %s would change its class", p.Name)
		case np.IsKey() != p.IsKey():
			return fmt.Sprintf("property %s would change whether it is a key", p.Name)
		}
	}
	for _, p := range after.Properties() {
		if p.IsKey() && before.Property(p.Name) == nil {
			return fmt.Sprintf("key property %s would be added", p.Name)
		}
	}
	return ""
}

// DeleteClass deletes a class. Without cascade a class with subclasses
// is refused with CIM_ERR_CLASS_HAS_CHILDREN and one with instances with
// CIM_ERR_CLASS_HAS_INSTANCES; with cascade its subclasses and the
// instances of all of them are deleted with it, as DSP0200's DeleteClass
// describes. Errors: CIM_ERR_NOT_FOUND, CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) DeleteClass(ns, name string, cascade bool) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	cls, err := t.mustClass(sp, name, cim.ErrNotFound)
	if err != nil {
		return err
	}
	key := cim.FoldName(cls.Name)
	fam, err := t.descendants(sp, key)
	if err != nil {
		return err
	}
	if !cascade {
		if len(fam.keys) > 0 {
			return cim.Errorf(cim.ErrClassHasChildren, "class %s has %d subclasses (such as %s); delete them first", cls.Name, len(fam.keys), fam.decls[0].Name)
		}
		if sp.hasInstances(key) {
			return cim.Errorf(cim.ErrClassHasInstances, "class %s has instances; delete them first", cls.Name)
		}
	}
	// Children first, so that every class deleted is a leaf. Resolve them
	// all before the first write.
	keys := append([]string{key}, fam.keys...)
	classes := make([]*cim.Class, len(keys))
	for i, k := range keys {
		if classes[i], err = t.resolved(sp, k); err != nil {
			return err
		}
	}
	sp.changed()
	for i := len(keys) - 1; i >= 0; i-- {
		c := classes[i]
		if err := t.deleteInstancesOf(sp, c); err != nil {
			return err
		}
		if err := t.del(sp.class(), []byte(keys[i])); err != nil {
			return err
		}
		if err := t.del(sp.sub(), subKey(c.SuperClass, c.Name)); err != nil {
			return err
		}
		if err := t.del(sp.assoc(), []byte(keys[i])); err != nil {
			return err
		}
	}
	for _, k := range keys {
		delete(sp.classes, k)
	}
	return nil
}

// classNames lists the classes under super ("" for the root classes):
// the direct subclasses, or all of them depth first when deep, each
// before its own subclasses, siblings in order of their folded names.
func (t *Tx) classNames(sp *txSpace, super string, deep bool, fn func(name string) error) error {
	prefix := subPrefix(super)
	var names []string
	c := sp.sub().Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		names = append(names, string(v))
	}
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
		if deep {
			if err := t.classNames(sp, n, true, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// EnumerateClassNames calls fn with the names of the subclasses of
// className: its direct subclasses, or all of them when deep. An empty
// className stands for the root: the classes without superclass, or every
// class when deep. Classes come depth first, each before its subclasses.
// Errors: CIM_ERR_INVALID_CLASS when className does not exist,
// CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) EnumerateClassNames(ns, className string, deep bool, fn func(name string) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	if className != "" {
		cls, err := t.mustClass(sp, className, cim.ErrInvalidClass)
		if err != nil {
			return err
		}
		className = cls.Name
	}
	return t.classNames(sp, className, deep, fn)
}

// EnumerateClasses is EnumerateClassNames with the resolved classes, which
// are shared and must not be modified.
func (t *Tx) EnumerateClasses(ns, className string, deep bool, fn func(*cim.Class) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	return t.EnumerateClassNames(ns, className, deep, func(name string) error {
		cls, err := t.mustClass(sp, name, cim.ErrFailed)
		if err != nil {
			return err
		}
		return fn(cls)
	})
}
