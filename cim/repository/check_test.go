package repository

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/hypercim/hypercim/cim"
)

// TestCheckFindsDamage damages a repository behind its back, one way at a
// time, and expects Check to name each problem.
func TestCheckFindsDamage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(ns *bolt.Bucket) error
		want   string
	}{
		{"subclass index entry lost", func(ns *bolt.Bucket) error {
			return ns.Bucket([]byte(bucketSub)).Delete(subKey("T_System", "T_VM"))
		}, "T_VM is missing from the subclass index"},
		{"stray subclass index entry", func(ns *bolt.Bucket) error {
			return ns.Bucket([]byte(bucketSub)).Put(subKey("T_System", "T_Ghost"), []byte("T_Ghost"))
		}, "names a class that does not exist"},
		{"association index entry lost", func(ns *bolt.Bucket) error {
			return ns.Bucket([]byte(bucketAssoc)).Delete([]byte("t_hasdisk"))
		}, "association index says false"},
		{"class of instances deleted", func(ns *bolt.Bucket) error {
			if err := ns.Bucket([]byte(bucketSub)).Delete(subKey("T_Element", "T_Disk")); err != nil {
				return err
			}
			return ns.Bucket([]byte(bucketClass)).Delete([]byte("t_disk"))
		}, "its class does not exist"},
		{"superclass deleted", func(ns *bolt.Bucket) error {
			return ns.Bucket([]byte(bucketClass)).Delete([]byte("t_system"))
		}, "superclass T_System does not exist"},
		{"damaged instance record", func(ns *bolt.Bucket) error {
			c := ns.Bucket([]byte(bucketInst)).Cursor()
			k, v := c.First()
			return ns.Bucket([]byte(bucketInst)).Put(bytesClone(k), v[:len(v)/2])
		}, "repository data is damaged"},
		{"instance under a wrong key", func(ns *bolt.Bucket) error {
			b := ns.Bucket([]byte(bucketInst))
			v := b.Get(instKey(testNS, parsePath(t, `T_System.Name="s1"`)))
			return b.Put(instKey(testNS, parsePath(t, `T_System.Name="s9"`)), bytesClone(v))
		}, `is stored under key`},
		{"reference index entry lost", func(ns *bolt.Bucket) error {
			c := ns.Bucket([]byte(bucketRef)).Cursor()
			k, _ := c.First()
			return ns.Bucket([]byte(bucketRef)).Delete(bytesClone(k))
		}, "missing from the reference index"},
		{"stray reference index entry", func(ns *bolt.Bucket) error {
			return ns.Bucket([]byte(bucketRef)).Put(refKey("Lt_system.name=\"zz\"", "Parent", []byte("t_contains\x00x")), []byte{1})
		}, "matches no stored reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(t.TempDir(), nil)
			must(t, err)
			defer r.Close()
			compileInto(t, r, testNS, testSchema)
			s1, err := r.CreateInstance(testNS, system("s1"))
			must(t, err)
			d1, err := r.CreateInstance(testNS, disk("d", 1))
			must(t, err)
			_, err = r.CreateInstance(testNS, assoc("T_HasDisk", s1, d1))
			must(t, err)
			must(t, r.Check())
			must(t, r.db.Update(func(tx *bolt.Tx) error {
				return tc.damage(tx.Bucket(nsBucketName(testNS)))
			}))
			err = r.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v\nwant a problem containing %q", err, tc.want)
			}
			wantStatus(t, err, cim.ErrFailed)
		})
	}
}

func bytesClone(b []byte) []byte { return append([]byte(nil), b...) }
