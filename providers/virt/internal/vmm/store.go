package vmm

import (
	"encoding/json"
	"fmt"
)

// Store is the small transactional key-value store the manager keeps its
// state in: system definitions, snapshots, jobs, the intent journal. The
// server passes one backed by its repository database (ARCHITECTURE.md: one
// store, one data directory), scoped to this provider, so buckets named
// here do not meet anybody else's.
//
// Update must be atomic and durable: when it returns nil every change of
// the transaction survives a crash (kill -9, power loss); when fn returns an
// error, or the process dies before Update returns, none does.
type Store interface {
	// View runs fn in a read-only transaction.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil.
	Update(fn func(Tx) error) error
}

// Tx is one transaction over named buckets of string keys. Buckets spring
// into existence on the first Put; reading or deleting in a bucket that
// does not exist is not an error.
type Tx interface {
	// Get returns the value of key, nil when absent. The slice is valid
	// only until the transaction ends.
	Get(bucket, key string) []byte
	// Put stores value under key (only in Update).
	Put(bucket, key string, value []byte) error
	// Delete removes key (only in Update); a missing key is not an error.
	Delete(bucket, key string) error
	// ForEach calls fn for every key of bucket in byte order; an error from
	// fn stops the walk and is returned. fn must not change the bucket.
	ForEach(bucket string, fn func(key string, value []byte) error) error
}

// Buckets of the manager's store.
const (
	bucketMeta      = "meta"      // host identity, format version
	bucketSystems   = "systems"   // system UUID -> systemRecord
	bucketSnapshots = "snapshots" // snapshot UUID -> snapshotRecord
	bucketJobs      = "jobs"      // job UUID -> jobRecord
	bucketIntents   = "intents"   // operation UUID -> intent (write-ahead)
	bucketTrash     = "trash"     // path -> "" : files to delete after a commit
)

// storeFormat is the layout version in meta/format; a newer one is refused.
const storeFormat = 1

func putJSON(tx Tx, bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%s: %w", bucket, key, err)
	}
	return tx.Put(bucket, key, data)
}

func getJSON(tx Tx, bucket, key string, v any) (bool, error) {
	data := tx.Get(bucket, key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decoding %s/%s: %w", bucket, key, err)
	}
	return true, nil
}
