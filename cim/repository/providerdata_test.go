package repository

import (
	"errors"
	"testing"
)

func TestProviderStore(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := r.ProviderStore("virt")

	// A View before any Update sees empty buckets, not errors.
	if err := s.View(func(tx *ProviderTx) error {
		if v := tx.Get("systems", "a"); v != nil {
			t.Errorf("Get on an empty store = %q, want nil", v)
		}
		return tx.ForEach("systems", func(string, []byte) error {
			t.Error("ForEach on an empty store called fn")
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.View(func(tx *ProviderTx) error { return tx.Put("b", "k", nil) }); !errors.Is(err, errReadOnly) {
		t.Fatalf("Put in View: err = %v, want errReadOnly", err)
	}

	if err := s.Update(func(tx *ProviderTx) error {
		for _, k := range []string{"b", "a", "c"} {
			if err := tx.Put("systems", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return tx.Delete("systems", "c")
	}); err != nil {
		t.Fatal(err)
	}

	// A failing Update keeps nothing.
	boom := errors.New("boom")
	if err := s.Update(func(tx *ProviderTx) error {
		if err := tx.Put("systems", "z", []byte("vz")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update err = %v, want boom", err)
	}

	// Another provider's space is separate; state survives reopening.
	if err := r.ProviderStore("other").Update(func(tx *ProviderTx) error { return tx.Put("systems", "a", []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var keys []string
	if err := r.ProviderStore("virt").View(func(tx *ProviderTx) error {
		return tx.ForEach("systems", func(k string, v []byte) error {
			if string(v) != "v"+k {
				t.Errorf("value of %s = %q", k, v)
			}
			keys = append(keys, k)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != "a" || keys[1] != "b" {
		t.Fatalf("keys = %v, want [a b]", keys)
	}
	if err := r.Check(); err != nil {
		t.Fatalf("Check with provider data: %v", err)
	}
}
