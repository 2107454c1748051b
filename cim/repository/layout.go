package repository

import (
	"encoding/binary"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/hypercim/hypercim/cim"
)

// The layout of the bbolt database. Names are stored under their folded
// form (cim.FoldName), so that lookups ignore case; records keep the
// spelling they were created with.
//
//	meta                      format -> formatVersion
//	markers                   Meta/SetMeta keys -> values
//	ns:<namespace>            one bucket per namespace:
//	    name                  the namespace as spelled at creation
//	    qual/<qualifier>      qualifier declaration records
//	    class/<class>         class records, as declared (own elements only)
//	    sub/<super>\0<class>  subclass index -> the class's spelling; root
//	                          classes have an empty <super>
//	    assoc/<class>         association classes -> ""
//	    inst/<class>\0<keys>  instance records; <keys> is the canonical
//	                          keybinding part of the instance path
//	    ref/<target><role><class>\0<keys>
//	                          reference index: the instance <class>\0<keys>
//	                          refers to <target> through property <role>
//	                          (target and role length-prefixed) -> ""
const (
	bucketMeta    = "meta"
	bucketMarkers = "markers"
	keyFormat     = "format"

	keyName     = "name"
	bucketQual  = "qual"
	bucketClass = "class"
	bucketSub   = "sub"
	bucketAssoc = "assoc"
	bucketInst  = "inst"
	bucketRef   = "ref"
)

const nsPrefix = "ns:"

// maxKeySize is the longest key bbolt stores.
const maxKeySize = bolt.MaxKeySize

// nsBucketName returns the top-level bucket name of a namespace.
func nsBucketName(key string) []byte { return []byte(nsPrefix + key) }

// normalizeNamespace trims the slashes around ns and checks its syntax:
// CIM identifiers separated by single slashes ("root/cimv2").
func normalizeNamespace(ns string) (string, bool) {
	ns = strings.Trim(ns, "/")
	if ns == "" {
		return "", false
	}
	for rest := ns; ; {
		part, after, more := strings.Cut(rest, "/")
		if !cim.ValidName(part) {
			return ns, false
		}
		if !more {
			return ns, true
		}
		rest = after
	}
}

// subKey is the subclass index key of class under super ("" for a root
// class).
func subKey(super, class string) []byte {
	k := make([]byte, 0, len(super)+len(class)+1)
	k = append(k, cim.FoldName(super)...)
	k = append(k, 0)
	return append(k, cim.FoldName(class)...)
}

// subPrefix is the prefix of the subclass index keys of super's children.
func subPrefix(super string) []byte {
	return append([]byte(cim.FoldName(super)), 0)
}

// instPrefix is the prefix of the instance keys of one class.
func instPrefix(class string) []byte {
	return append([]byte(cim.FoldName(class)), 0)
}

// instKey returns the store key of the instance of namespace ns whose
// normalized path is p: its folded class name, NUL, and the keybinding
// part of its canonical form, references in keys localized.
func instKey(ns string, p *cim.ObjectPath) []byte {
	p = localize(ns, p)
	fc := cim.FoldName(p.ClassName)
	cm := p.CanonicalModel() // folded class name, then ".k=v,..." or "=@"
	k := make([]byte, 0, len(cm)+1)
	k = append(k, fc...)
	k = append(k, 0)
	return append(k, cm[len(fc):]...)
}

// splitInstKey returns the folded class name of an instance key.
func instKeyClass(key []byte) string {
	for i, b := range key {
		if b == 0 {
			return string(key[:i])
		}
	}
	return string(key)
}

func appendLenPrefixed(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// refTarget returns the reference index form of a path that an instance in
// namespace ns refers to: "L" and the canonical model path for a local
// object (no host, no namespace or ns itself), "R" and the full canonical
// path otherwise; references in keys localized.
func refTarget(ns string, p *cim.ObjectPath) string {
	if isLocal(ns, p) {
		return "L" + localize(ns, p).CanonicalModel()
	}
	return "R" + localize(pathNamespace(ns, p), p).Canonical()
}

// pathNamespace is the namespace p names, ns if it names none.
func pathNamespace(ns string, p *cim.ObjectPath) string {
	if p.Namespace != "" {
		return strings.Trim(p.Namespace, "/")
	}
	return ns
}

// localize returns p (relative to namespace ns) with its reference-valued
// keys in one form, recursively: a reference to an object of its own
// namespace (the one the path it is a key of is relative to) loses the
// namespace. Paths then have the same canonical form whether a client
// writes those namespaces or not. p itself is returned when nothing
// changes.
func localize(ns string, p *cim.ObjectPath) *cim.ObjectPath {
	var out *cim.ObjectPath
	for i, k := range p.Keys {
		ref := k.Value.Ref()
		if ref == nil {
			continue
		}
		lr := localize(pathNamespace(ns, ref), ref)
		if lr.Namespace != "" && isLocal(ns, lr) {
			if lr == ref {
				lr = ref.Clone()
			}
			lr.Namespace = ""
		}
		if lr != ref {
			if out == nil {
				out = p.Clone()
			}
			out.Keys[i].Value = cim.NewReference(lr)
		}
	}
	if out == nil {
		return p
	}
	return out
}

// isLocal reports whether p names an object of namespace ns.
func isLocal(ns string, p *cim.ObjectPath) bool {
	return p.Host == "" && (p.Namespace == "" || cim.EqualNames(strings.Trim(p.Namespace, "/"), ns))
}

// refPrefix is the prefix of the reference index entries of one target.
func refPrefix(target string) []byte {
	return appendLenPrefixed(make([]byte, 0, len(target)+4), target)
}

// refKey is a reference index entry: target, role, referring instance.
func refKey(target, role string, inst []byte) []byte {
	k := refPrefix(target)
	k = appendLenPrefixed(k, cim.FoldName(role))
	return append(k, inst...)
}

// splitRefKey returns the folded role and the instance key of a reference
// index entry whose target prefix has length n.
func splitRefKey(key []byte, n int) (role string, inst []byte, ok bool) {
	if n > len(key) {
		return "", nil, false
	}
	rest := key[n:]
	l, w := binary.Uvarint(rest)
	if w <= 0 || uint64(len(rest)-w) < l {
		return "", nil, false
	}
	return string(rest[w : w+int(l)]), rest[w+int(l):], true
}

// hasPrefix reports whether key starts with prefix.
func hasPrefix(key, prefix []byte) bool {
	return len(key) >= len(prefix) && string(key[:len(prefix)]) == string(prefix)
}
