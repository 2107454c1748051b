package repository

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ProviderStore is a transactional key-value space that belongs to one
// provider. It lives in the repository's database, so provider state has the
// same durability as classes and instances (one store, one data directory)
// and a provider's buckets never meet CIM data or another provider's.
//
// Layout: a top-level bucket "provider:<name>" holding one nested bucket per
// bucket name the provider uses.
type ProviderStore struct {
	r      *Repository
	bucket []byte
}

const providerPrefix = "provider:"

// ProviderStore returns the store of the provider called name. Names are
// chosen by the server's wiring ("virt"); they are not CIM names.
func (r *Repository) ProviderStore(name string) *ProviderStore {
	return &ProviderStore{r: r, bucket: []byte(providerPrefix + name)}
}

// View runs fn in a read-only transaction.
func (s *ProviderStore) View(fn func(*ProviderTx) error) error {
	return s.r.db.View(func(btx *bolt.Tx) error {
		return fn(&ProviderTx{root: btx.Bucket(s.bucket)})
	})
}

// Update runs fn in a read-write transaction, committed (and synced to
// disk) when fn returns nil; when fn fails nothing it did is kept.
func (s *ProviderStore) Update(fn func(*ProviderTx) error) error {
	err := s.r.db.Update(func(btx *bolt.Tx) error {
		root, err := btx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return storeError("creating the provider bucket", err)
		}
		return fn(&ProviderTx{root: root, writable: true})
	})
	return err
}

// ProviderTx is one transaction of a ProviderStore. Buckets spring into
// existence on the first Put; reading or deleting in a missing bucket is not
// an error.
type ProviderTx struct {
	root     *bolt.Bucket // nil in a View before the first Update
	writable bool
}

var errReadOnly = errors.New("provider store: write in a read-only transaction")

func (tx *ProviderTx) sub(bucket string) *bolt.Bucket {
	if tx.root == nil {
		return nil
	}
	return tx.root.Bucket([]byte(bucket))
}

// Get returns the value of key in bucket, nil when absent. The slice is
// valid only until the transaction ends.
func (tx *ProviderTx) Get(bucket, key string) []byte {
	if b := tx.sub(bucket); b != nil {
		return b.Get([]byte(key))
	}
	return nil
}

// Put stores value under key in bucket.
func (tx *ProviderTx) Put(bucket, key string, value []byte) error {
	if !tx.writable {
		return errReadOnly
	}
	b, err := tx.root.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("provider store: bucket %q: %w", bucket, err)
	}
	if err := b.Put([]byte(key), value); err != nil {
		return fmt.Errorf("provider store: %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes key from bucket; a missing key is not an error.
func (tx *ProviderTx) Delete(bucket, key string) error {
	if !tx.writable {
		return errReadOnly
	}
	if b := tx.sub(bucket); b != nil {
		if err := b.Delete([]byte(key)); err != nil {
			return fmt.Errorf("provider store: %s/%s: %w", bucket, key, err)
		}
	}
	return nil
}

// ForEach calls fn for every key of bucket in byte order; an error from fn
// stops the walk and is returned. fn must not change the bucket.
func (tx *ProviderTx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	b := tx.sub(bucket)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		if v == nil { // a nested bucket, not a key
			return nil
		}
		return fn(string(k), v)
	})
}
