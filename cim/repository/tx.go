package repository

import (
	"bytes"

	bolt "go.etcd.io/bbolt"

	"github.com/hypercim/hypercim/cim"
)

// Tx is a transaction on the repository, as given to the functions of
// View and Update. Its methods are those of the Repository, seen from the
// transaction: reads see one snapshot plus the transaction's own writes,
// and the writes of an Update commit together or not at all. A Tx must
// not be used after its function returns, nor from several goroutines.
//
// Enumerations on a Tx call their callback while the transaction is open;
// the Repository's enumeration methods instead read in chunks and call
// back between transactions, which is what long enumerations should use.
type Tx struct {
	r        *Repository
	btx      *bolt.Tx
	snapshot uint64 // the committed transaction this one reads
	spaces   map[string]*txSpace
	broken   error // set when a store write failed half-way
}

// txSpace is what a transaction knows of one namespace.
type txSpace struct {
	key  string // folded name
	name string // as spelled at creation
	b    *bolt.Bucket
	// parts are the namespace's buckets, opened on first use.
	parts [numParts]*bolt.Bucket

	// shared is the namespace cache when this transaction may use it.
	shared *nsCache
	// classes and quals hold what this transaction resolved without the
	// shared cache; once the transaction changed the namespace (dirty)
	// they are the only cache it uses, and they seed the shared cache
	// after commit.
	classes map[string]*cim.Class
	quals   map[string]*cim.QualifierType
	dirty   bool
}

func newTx(r *Repository, btx *bolt.Tx) *Tx {
	s := uint64(btx.ID())
	if btx.Writable() {
		s-- // a write transaction is numbered one past what it reads
	}
	return &Tx{r: r, btx: btx, snapshot: s, spaces: map[string]*txSpace{}}
}

// commit commits a write transaction and refreshes the caches of the
// namespaces it changed.
func (t *Tx) commit() error {
	if t.broken != nil {
		t.btx.Rollback()
		return t.broken
	}
	id := uint64(t.btx.ID())
	var dirty []*txSpace
	for _, sp := range t.spaces {
		if sp.dirty {
			dirty = append(dirty, sp)
			t.r.cache.setPending(sp.key, id)
		}
	}
	if err := t.btx.Commit(); err != nil {
		for _, sp := range dirty {
			t.r.cache.failed(sp.key, id)
		}
		return storeError("committing", err)
	}
	for _, sp := range dirty {
		t.r.cache.committed(sp.key, id, sp.classes, sp.quals)
	}
	return nil
}

// discard forgets a rolled back transaction's state.
func (t *Tx) discard() { t.spaces = nil }

// writable reports an error if t is read-only.
func (t *Tx) writable() error {
	if !t.btx.Writable() {
		return cim.NewError(cim.ErrFailed, "repository: write in a read-only transaction")
	}
	return t.broken
}

// fail records a store error in a write transaction: what was written so
// far may be incomplete, so the transaction can only be rolled back.
func (t *Tx) fail(what string, err error) error {
	e := storeError(what, err)
	if t.broken == nil && t.btx.Writable() {
		t.broken = e
	}
	return e
}

// space returns the namespace ns, or CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) space(ns string) (*txSpace, error) {
	norm, ok := normalizeNamespace(ns)
	if !ok {
		return nil, cim.Errorf(cim.ErrInvalidNamespace, "invalid namespace name %q", ns)
	}
	key := cim.FoldName(norm)
	if sp := t.spaces[key]; sp != nil {
		if sp.b == nil {
			return nil, cim.Errorf(cim.ErrInvalidNamespace, "namespace %s does not exist", norm)
		}
		return sp, nil
	}
	b := t.btx.Bucket(nsBucketName(key))
	if b == nil {
		return nil, cim.Errorf(cim.ErrInvalidNamespace, "namespace %s does not exist", norm)
	}
	sp, err := t.openSpace(key, b)
	if err != nil {
		return nil, err
	}
	t.spaces[key] = sp
	return sp, nil
}

// The parts of a namespace bucket.
const (
	partQual = iota
	partClass
	partSub
	partAssoc
	partInst
	partRef
	numParts
)

// partName returns the bucket name of part i.
func partName(i int) string {
	return [numParts]string{bucketQual, bucketClass, bucketSub, bucketAssoc, bucketInst, bucketRef}[i]
}

func (t *Tx) openSpace(key string, b *bolt.Bucket) (*txSpace, error) {
	sp := &txSpace{key: key, b: b}
	// One pass over the (small) namespace bucket checks that every part
	// is there; the parts are opened when first used.
	found := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			if string(k) == keyName {
				sp.name = string(v)
			}
			continue
		}
		for i := 0; i < numParts; i++ {
			if string(k) == partName(i) {
				found |= 1 << i
			}
		}
	}
	if sp.name == "" || found != 1<<numParts-1 {
		return nil, corrupt("namespace bucket %q lacks part of its content", key)
	}
	sp.shared = t.r.cache.forSnapshot(key, t.snapshot)
	return sp, nil
}

func (sp *txSpace) part(i int) *bolt.Bucket {
	if sp.parts[i] == nil {
		sp.parts[i] = sp.b.Bucket([]byte(partName(i)))
	}
	return sp.parts[i]
}

func (sp *txSpace) qual() *bolt.Bucket  { return sp.part(partQual) }
func (sp *txSpace) class() *bolt.Bucket { return sp.part(partClass) }
func (sp *txSpace) sub() *bolt.Bucket   { return sp.part(partSub) }
func (sp *txSpace) assoc() *bolt.Bucket { return sp.part(partAssoc) }
func (sp *txSpace) inst() *bolt.Bucket  { return sp.part(partInst) }
func (sp *txSpace) ref() *bolt.Bucket   { return sp.part(partRef) }

// cacheClass keeps a resolved class in the transaction's own cache.
func (sp *txSpace) cacheClass(key string, c *cim.Class) {
	if sp.classes == nil {
		sp.classes = map[string]*cim.Class{}
	}
	sp.classes[key] = c
}

// cacheQualifier keeps a declaration in the transaction's own cache.
func (sp *txSpace) cacheQualifier(name string, qt *cim.QualifierType) {
	if sp.quals == nil {
		sp.quals = map[string]*cim.QualifierType{}
	}
	sp.quals[name] = qt
}

// changed marks ns as changed in its classes or qualifier declarations.
func (sp *txSpace) changed() {
	sp.dirty = true
	sp.shared = nil
}

// put writes key=value into bucket b, recording failures.
func (t *Tx) put(b *bolt.Bucket, key, value []byte) error {
	if err := b.Put(key, value); err != nil {
		return t.fail("writing", err)
	}
	return nil
}

func (t *Tx) del(b *bolt.Bucket, key []byte) error {
	if err := b.Delete(key); err != nil {
		return t.fail("deleting", err)
	}
	return nil
}

// ---- Namespaces

// CreateNamespace creates an empty namespace. Names are CIM identifiers
// separated by '/' ("root/virt"; surrounding slashes are ignored) and are
// case-insensitive. Errors: CIM_ERR_INVALID_PARAMETER for a malformed
// name, CIM_ERR_ALREADY_EXISTS.
func (t *Tx) CreateNamespace(ns string) error {
	if err := t.writable(); err != nil {
		return err
	}
	norm, ok := normalizeNamespace(ns)
	if !ok {
		return cim.Errorf(cim.ErrInvalidParameter, "invalid namespace name %q: use CIM names separated by '/', e.g. \"root/virt\"", ns)
	}
	key := cim.FoldName(norm)
	if t.btx.Bucket(nsBucketName(key)) != nil {
		return cim.Errorf(cim.ErrAlreadyExists, "namespace %s already exists", norm)
	}
	b, err := t.btx.CreateBucket(nsBucketName(key))
	if err != nil {
		return t.fail("creating namespace "+norm, err)
	}
	if err := t.put(b, []byte(keyName), []byte(norm)); err != nil {
		return err
	}
	for i := 0; i < numParts; i++ {
		if _, err := b.CreateBucket([]byte(partName(i))); err != nil {
			return t.fail("creating namespace "+norm, err)
		}
	}
	sp, err := t.openSpace(key, b)
	if err != nil {
		return err
	}
	sp.changed()
	t.spaces[key] = sp
	return nil
}

// EnsureNamespace creates ns unless it exists.
func (t *Tx) EnsureNamespace(ns string) error {
	if _, err := t.space(ns); err == nil {
		return nil
	}
	return t.CreateNamespace(ns)
}

// NamespaceExists reports whether ns exists.
func (t *Tx) NamespaceExists(ns string) bool {
	_, err := t.space(ns)
	return err == nil
}

// Namespaces returns the names of all namespaces, as spelled at creation,
// ordered by their folded form.
func (t *Tx) Namespaces() ([]string, error) {
	var out []string
	c := t.btx.Cursor()
	prefix := []byte(nsPrefix)
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		if v != nil {
			continue
		}
		b := t.btx.Bucket(k)
		name := b.Get([]byte(keyName))
		if name == nil {
			return nil, corrupt("namespace bucket %q has no name", k)
		}
		out = append(out, string(name))
	}
	return out, nil
}

// DeleteNamespace deletes ns. A namespace that holds classes or instances
// is refused with CIM_ERR_NAMESPACE_NOT_EMPTY unless force is set, which
// deletes everything in it. Qualifier declarations alone do not count.
// Errors: CIM_ERR_INVALID_NAMESPACE when ns does not exist.
func (t *Tx) DeleteNamespace(ns string, force bool) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	if !force {
		if k, _ := sp.class().Cursor().First(); k != nil {
			return cim.Errorf(cim.ErrNamespaceNotEmpty, "namespace %s holds classes; delete them first", sp.name)
		}
		if k, _ := sp.inst().Cursor().First(); k != nil {
			return cim.Errorf(cim.ErrNamespaceNotEmpty, "namespace %s holds instances; delete them first", sp.name)
		}
	}
	if err := t.btx.DeleteBucket(nsBucketName(sp.key)); err != nil {
		return t.fail("deleting namespace "+sp.name, err)
	}
	// The deleted namespace keeps a dirty, empty entry, so that the
	// shared cache is emptied on commit.
	t.spaces[sp.key] = &txSpace{key: sp.key, dirty: true}
	return nil
}

// ---- Markers

// Meta returns the value of a marker set with SetMeta ("" if unset).
// Markers are small strings that components keep in the repository, such
// as the version of the schemas installed.
func (t *Tx) Meta(key string) (string, error) {
	b := t.btx.Bucket([]byte(bucketMarkers))
	if b == nil {
		return "", corrupt("no markers bucket")
	}
	return string(b.Get([]byte(key))), nil
}

// SetMeta sets a marker; an empty value deletes it.
func (t *Tx) SetMeta(key, value string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if key == "" {
		return cim.NewError(cim.ErrInvalidParameter, "empty marker name")
	}
	b := t.btx.Bucket([]byte(bucketMarkers))
	if value == "" {
		return t.del(b, []byte(key))
	}
	return t.put(b, []byte(key), []byte(value))
}

// ---- Qualifier declarations

// GetQualifier returns the declaration of the named qualifier. Errors:
// CIM_ERR_INVALID_NAMESPACE, CIM_ERR_NOT_FOUND.
func (t *Tx) GetQualifier(ns, name string) (*cim.QualifierType, error) {
	sp, err := t.space(ns)
	if err != nil {
		return nil, err
	}
	qt, err := t.qualifier(sp, name)
	if err != nil {
		return nil, err
	}
	if qt == nil {
		return nil, cim.Errorf(cim.ErrNotFound, "qualifier %s is not declared in namespace %s", name, sp.name)
	}
	return qt.Clone(), nil
}

// qualifier returns a declaration through the caches, nil if absent. The
// result is shared: callers must not modify it.
func (t *Tx) qualifier(sp *txSpace, name string) (*cim.QualifierType, error) {
	if qt := sp.quals[name]; qt != nil {
		return qt, nil
	}
	if sp.shared != nil {
		if qt := sp.shared.qualifier(name); qt != nil {
			return qt, nil
		}
	}
	key := cim.FoldName(name)
	if key != name {
		if qt := sp.quals[key]; qt != nil {
			sp.cacheQualifier(name, qt)
			return qt, nil
		}
	}
	data := sp.qual().Get([]byte(key))
	if data == nil {
		return nil, nil
	}
	qt, err := decodeQualifierType(data)
	if err != nil {
		return nil, err
	}
	names := []string{key}
	if key != name {
		names = append(names, name)
	}
	if sp.shared != nil {
		sp.shared.putQualifier(names, qt)
	} else {
		for _, n := range names {
			sp.cacheQualifier(n, qt)
		}
	}
	return qt, nil
}

// EnumerateQualifiers calls fn with every qualifier declaration of ns, in
// order of their folded names.
func (t *Tx) EnumerateQualifiers(ns string, fn func(*cim.QualifierType) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	c := sp.qual().Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		qt, err := decodeQualifierType(v)
		if err != nil {
			return err
		}
		if err := fn(qt); err != nil {
			return err
		}
	}
	return nil
}

// SetQualifier creates or replaces a qualifier declaration. Setting a
// declaration equal to the stored one changes nothing. Replacing one is
// allowed when every class of the namespace stays valid with the new
// declaration; otherwise the error (CIM_ERR_FAILED) names the class it
// would break. Errors: CIM_ERR_INVALID_PARAMETER for an invalid
// declaration, CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) SetQualifier(ns string, qt *cim.QualifierType) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	if err := qt.Validate(); err != nil {
		return err
	}
	key := []byte(cim.FoldName(qt.Name))
	rec := encodeQualifierType(qt)
	old := bytes.Clone(sp.qual().Get(key))
	if old != nil && bytes.Equal(old, rec) {
		return nil
	}
	var before map[string]*cim.Class
	if old != nil {
		if before, err = t.classesWithInstances(sp); err != nil {
			return err
		}
	}
	t.qualifiersChanged(sp)
	if err := t.put(sp.qual(), key, rec); err != nil {
		return err
	}
	if old != nil {
		if err := t.revalidateAll(sp, "qualifier "+qt.Name+" cannot be changed", before); err != nil {
			return t.undoQualifier(sp, key, old, err)
		}
	}
	return nil
}

// DeleteQualifier deletes a qualifier declaration that no class uses.
// Errors: CIM_ERR_NOT_FOUND, CIM_ERR_FAILED naming a class that uses it,
// CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) DeleteQualifier(ns, name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	key := []byte(cim.FoldName(name))
	old := sp.qual().Get(key)
	if old == nil {
		return cim.Errorf(cim.ErrNotFound, "qualifier %s is not declared in namespace %s", name, sp.name)
	}
	old = bytes.Clone(old)
	before, err := t.classesWithInstances(sp)
	if err != nil {
		return err
	}
	t.qualifiersChanged(sp)
	if err := t.del(sp.qual(), key); err != nil {
		return err
	}
	if err := t.revalidateAll(sp, "qualifier "+name+" cannot be deleted", before); err != nil {
		return t.undoQualifier(sp, key, old, err)
	}
	return nil
}

// qualifiersChanged drops everything resolved in sp: resolution depends on
// the declarations.
func (t *Tx) qualifiersChanged(sp *txSpace) {
	sp.changed()
	clear(sp.classes)
	clear(sp.quals)
}

// undoQualifier puts a qualifier declaration back after a refused change,
// so that the transaction can go on.
func (t *Tx) undoQualifier(sp *txSpace, key, old []byte, cause error) error {
	var err error
	if old == nil {
		err = t.del(sp.qual(), key)
	} else {
		err = t.put(sp.qual(), key, old)
	}
	t.qualifiersChanged(sp)
	if err != nil {
		return err
	}
	return cause
}
