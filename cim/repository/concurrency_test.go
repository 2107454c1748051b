package repository

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
)

// TestConcurrentReadersAndWriter runs readers against a writer that adds
// instances and changes a superclass, and checks what readers see: never
// an error, never an older state after a newer one, and never a class
// resolved against a superclass of another state (the caches must not mix
// generations).
func TestConcurrentReadersAndWriter(t *testing.T) {
	r := openSchema(t)
	first, err := r.CreateInstance(testNS, vm("first", 1))
	must(t, err)
	const instances, changes = 200, 20
	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for reader := 0; reader < 3; reader++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lastProps, lastCount := 0, 0
			for !done.Load() {
				c, err := r.GetClass(testNS, "T_VM")
				if err != nil {
					report(err)
					return
				}
				if n := len(c.Properties()); n < lastProps {
					report(fmt.Errorf("T_VM went back from %d to %d properties", lastProps, n))
					return
				} else {
					lastProps = n
				}
				err = r.View(func(tx *Tx) error {
					sys, err := tx.GetClass(testNS, "T_System")
					if err != nil {
						return err
					}
					vmc, err := tx.GetClass(testNS, "T_VM")
					if err != nil {
						return err
					}
					if len(vmc.Properties()) != len(sys.Properties())+1 {
						return fmt.Errorf("in one snapshot T_System has %d properties and T_VM %d", len(sys.Properties()), len(vmc.Properties()))
					}
					inst, err := tx.GetInstance(testNS, first)
					if err != nil {
						return err
					}
					if len(inst.Properties()) != len(vmc.Properties()) {
						return fmt.Errorf("instance decoded with %d properties, class has %d", len(inst.Properties()), len(vmc.Properties()))
					}
					return nil
				})
				if err != nil {
					report(err)
					return
				}
				count := 0
				if err := r.EnumerateInstances(testNS, "T_System", true, func(*cim.Instance) error { count++; return nil }); err != nil {
					report(err)
					return
				}
				if count < lastCount {
					report(fmt.Errorf("enumeration went back from %d to %d instances", lastCount, count))
					return
				}
				lastCount = count
				reads.Add(1)
			}
		}()
	}
	for i := 0; i < instances; i++ {
		if _, err := r.CreateInstance(testNS, vm(fmt.Sprintf("vm%03d", i), uint64(i))); err != nil {
			t.Fatal(err)
		}
		if i%(instances/changes) == 0 {
			sys := declared(t, r, "T_System")
			sys.AddProperty(cim.Property{Name: fmt.Sprintf("Added%03d", i), Type: cim.TypeUint32, Value: cim.NewUint32(uint32(i))})
			must(t, r.ModifyClass(testNS, sys))
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c, err := r.GetClass(testNS, "T_VM")
	must(t, err)
	if n := len(c.Properties()); n != 6+changes {
		t.Errorf("T_VM has %d properties at the end", n)
	}
	if reads.Load() < 3 {
		t.Errorf("the readers completed only %d rounds while the writer ran", reads.Load())
	}
	t.Logf("%d reader rounds during %d writes", reads.Load(), instances+changes)
}

// TestReadersDoNotWaitForWriter: while a BulkWriter holds a write
// transaction open, reads go on and see the last commit.
func TestReadersDoNotWaitForWriter(t *testing.T) {
	r := openSchema(t)
	w := r.NewBulkWriter()
	must(t, w.PutInstance(testNS, system("pending")))
	if w.Pending() != 1 {
		t.Fatalf("pending %d", w.Pending())
	}
	// The writer sees its own write.
	var inWriter bool
	must(t, w.read(func(tx *Tx) error {
		_, err := tx.GetInstance(testNS, parsePath(t, `T_System.Name="pending"`))
		inWriter = err == nil
		return nil
	}))
	if !inWriter {
		t.Error("the BulkWriter does not see its own write")
	}
	got := make(chan error, 1)
	go func() {
		_, err := r.GetInstance(testNS, parsePath(t, `T_System.Name="pending"`))
		got <- err
	}()
	select {
	case err := <-got:
		wantStatus(t, err, cim.ErrNotFound)
	case <-time.After(10 * time.Second):
		t.Fatal("a reader waited for the writer")
	}
	must(t, w.Commit())
	_, err := r.GetInstance(testNS, parsePath(t, `T_System.Name="pending"`))
	must(t, err)
	// Rollback drops what is pending.
	must(t, w.PutInstance(testNS, system("dropped")))
	must(t, w.Rollback())
	_, err = r.GetInstance(testNS, parsePath(t, `T_System.Name="dropped"`))
	wantStatus(t, err, cim.ErrNotFound)
}

// TestCacheAfterRollback: a write transaction that changed a class and was
// rolled back leaves the caches as they were.
func TestCacheAfterRollback(t *testing.T) {
	r := openSchema(t)
	before, err := r.GetClass(testNS, "T_VM")
	must(t, err)
	err = r.Update(func(tx *Tx) error {
		sys := declared(t, r, "T_System")
		sys.AddProperty(cim.Property{Name: "Gone", Type: cim.TypeString})
		if err := tx.ModifyClass(testNS, sys); err != nil {
			return err
		}
		if c, _ := tx.GetClass(testNS, "T_VM"); c.Property("Gone") == nil {
			return fmt.Errorf("the transaction does not see its own change")
		}
		return fmt.Errorf("roll back")
	})
	if err == nil || err.Error() != "roll back" {
		t.Fatal(err)
	}
	after, err := r.GetClass(testNS, "T_VM")
	must(t, err)
	if after.Property("Gone") != nil || len(after.Properties()) != len(before.Properties()) {
		t.Error("a rolled back change is visible")
	}
}
