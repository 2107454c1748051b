package repository

import (
	"errors"
	"fmt"

	"github.com/hypercim/hypercim/cim"
)

// maxProblems bounds the problems Check reports.
const maxProblems = 100

// Check verifies the repository, like bbolt's tx.Check, which it runs
// first: the pages of the database file, then, in every namespace, that
// every record decodes; every class's superclass exists and every class
// resolves; the subclass and association indexes agree with the classes;
// every instance belongs to an existing, non-abstract class, is valid for
// it (cim.Class.CheckInstance) and is stored under its own path; and the
// reference index holds exactly the references of the stored instances.
// It returns nil, or an error listing the problems found (at most 100).
func (r *Repository) Check() error {
	return r.View(func(tx *Tx) error { return tx.Check() })
}

// Check verifies what the transaction sees; see Repository.Check.
func (t *Tx) Check() error {
	c := &checker{t: t}
	for err := range t.btx.Check() {
		c.problem("database file: %v", err)
	}
	if v := t.btx.Bucket([]byte(bucketMeta)); v == nil || string(v.Get([]byte(keyFormat))) != string([]byte{formatVersion}) {
		c.problem("missing or wrong format marker")
	}
	if t.btx.Bucket([]byte(bucketMarkers)) == nil {
		c.problem("missing markers bucket")
	}
	names, err := t.Namespaces()
	if err != nil {
		c.problem("%v", err)
	}
	for _, ns := range names {
		c.namespace(ns)
	}
	return c.err()
}

type checker struct {
	t        *Tx
	problems []string
	more     int
}

func (c *checker) problem(format string, args ...any) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	} else {
		c.more++
	}
}

func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	errs := make([]error, 0, len(c.problems)+1)
	for _, p := range c.problems {
		errs = append(errs, errors.New(p))
	}
	if c.more > 0 {
		errs = append(errs, fmt.Errorf("and %d more problems", c.more))
	}
	return cim.WrapError(cim.ErrFailed, errors.Join(errs...), "repository check failed")
}

func (c *checker) namespace(ns string) {
	t := c.t
	sp, err := t.space(ns)
	if err != nil {
		c.problem("namespace %s: %v", ns, err)
		return
	}
	// Resolve everything afresh: the check must not trust the caches.
	saved := *sp
	sp.shared, sp.classes, sp.quals = nil, nil, nil
	defer func() { *sp = saved }()
	in := "namespace " + sp.name + ": "

	qc := sp.qual().Cursor()
	for k, v := qc.First(); k != nil; k, v = qc.Next() {
		qt, err := decodeQualifierType(v)
		switch {
		case err != nil:
			c.problem("%squalifier %q: %v", in, k, err)
		case cim.FoldName(qt.Name) != string(k):
			c.problem("%squalifier %s stored under key %q", in, qt.Name, k)
		default:
			if err := qt.Validate(); err != nil {
				c.problem("%squalifier %s: %v", in, qt.Name, err)
			}
		}
	}

	classes := map[string]*cim.Class{}
	cc := sp.class().Cursor()
	for k, v := cc.First(); k != nil; k, v = cc.Next() {
		decl, err := decodeClass(v)
		if err != nil {
			c.problem("%sclass %q: %v", in, k, err)
			continue
		}
		if cim.FoldName(decl.Name) != string(k) {
			c.problem("%sclass %s stored under key %q", in, decl.Name, k)
		}
		if decl.SuperClass != "" && sp.class().Get([]byte(cim.FoldName(decl.SuperClass))) == nil {
			c.problem("%sclass %s: superclass %s does not exist", in, decl.Name, decl.SuperClass)
		}
		if got := sp.sub().Get(subKey(decl.SuperClass, decl.Name)); string(got) != decl.Name {
			c.problem("%sclass %s is missing from the subclass index of %q", in, decl.Name, decl.SuperClass)
		}
		res, err := t.resolved(sp, string(k))
		if err != nil {
			c.problem("%sclass %s: %v", in, decl.Name, err)
			continue
		}
		classes[string(k)] = res
		if res.IsAssociation() != (sp.assoc().Get(k) != nil) {
			c.problem("%sclass %s: association index says %v, the class %v", in, decl.Name, sp.assoc().Get(k) != nil, res.IsAssociation())
		}
	}
	sc := sp.sub().Cursor()
	for k, v := sc.First(); k != nil; k, v = sc.Next() {
		super, class, ok := splitSubKey(k)
		cls := classes[class]
		switch {
		case !ok:
			c.problem("%sbad subclass index key %q", in, k)
		case cls == nil:
			if sp.class().Get([]byte(class)) == nil {
				c.problem("%ssubclass index entry %q names a class that does not exist", in, k)
			}
		case cim.FoldName(cls.SuperClass) != super || string(v) != cls.Name:
			c.problem("%ssubclass index entry %q does not match class %s (superclass %q)", in, k, cls.Name, cls.SuperClass)
		}
	}
	ac := sp.assoc().Cursor()
	for k, _ := ac.First(); k != nil; k, _ = ac.Next() {
		if sp.class().Get(k) == nil {
			c.problem("%sassociation index names class %q, which does not exist", in, k)
		}
	}

	// Instances, collecting the reference index entries they imply.
	refs := map[string]bool{}
	ic := sp.inst().Cursor()
	for k, v := ic.First(); k != nil; k, v = ic.Next() {
		cls := classes[instKeyClass(k)]
		if cls == nil {
			c.problem("%sinstance %q: its class does not exist", in, k)
			continue
		}
		if cls.IsAbstract() {
			c.problem("%sinstance %q: class %s is abstract", in, k, cls.Name)
		}
		inst, err := decodeInstanceRecord(v, cls)
		if err != nil {
			c.problem("%sinstance %q: %v", in, k, err)
			continue
		}
		if err := cls.CheckInstance(inst); err != nil {
			c.problem("%sinstance %q: %v", in, k, err)
			continue
		}
		path, err := cls.InstancePath("", inst)
		if err != nil {
			c.problem("%sinstance %q: %v", in, k, err)
			continue
		}
		if string(instKey(sp.name, path)) != string(k) {
			c.problem("%sinstance %s is stored under key %q", in, path, k)
		}
		for _, p := range inst.Properties() {
			if p.Type == cim.TypeReference && !p.IsArray && !p.Value.IsNull() {
				refs[string(refKey(refTarget(sp.name, p.Value.Ref()), p.Name, k))] = true
			}
		}
	}
	matched := 0
	rc := sp.ref().Cursor()
	for k, _ := rc.First(); k != nil; k, _ = rc.Next() {
		if refs[string(k)] {
			matched++
		} else {
			c.problem("%sreference index entry %q matches no stored reference", in, k)
		}
	}
	if matched < len(refs) {
		c.problem("%s%d stored references are missing from the reference index", in, len(refs)-matched)
	}
}

// splitSubKey splits a subclass index key into the folded superclass and
// class names.
func splitSubKey(k []byte) (super, class string, ok bool) {
	for i, b := range k {
		if b == 0 {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return "", "", false
}
