package wbem

import "github.com/hypercim/hypercim/cim/repository"

// ProviderStore is a transactional key-value space for one provider's own
// state (definitions, journals, jobs), kept in the server's repository
// database: provider state is as durable as CIM data, and the data directory
// holds one store. Update is atomic and durable when it returns nil.
type ProviderStore interface {
	View(fn func(ProviderTx) error) error
	Update(fn func(ProviderTx) error) error
}

// ProviderTx is one ProviderStore transaction over named buckets of string
// keys. Buckets appear on the first Put; reading or deleting in a missing
// bucket is not an error. Slices returned by Get are valid only until the
// transaction ends.
type ProviderTx interface {
	Get(bucket, key string) []byte
	Put(bucket, key string, value []byte) error
	Delete(bucket, key string) error
	ForEach(bucket string, fn func(key string, value []byte) error) error
}

// ProviderStore returns the store reserved for the provider called name.
func (s *Server) ProviderStore(name string) ProviderStore {
	return providerStore{s.repo.ProviderStore(name)}
}

type providerStore struct{ ps *repository.ProviderStore }

func (p providerStore) View(fn func(ProviderTx) error) error {
	return p.ps.View(func(tx *repository.ProviderTx) error { return fn(tx) })
}

func (p providerStore) Update(fn func(ProviderTx) error) error {
	return p.ps.Update(func(tx *repository.ProviderTx) error { return fn(tx) })
}
