package wsman

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/hypercim/hypercim/cim"
)

// A Pull of many instances spends its time producing them (the provider
// and the core, on the pulling goroutine) and encoding them. itemEncoder
// encodes them in batches on worker goroutines while the core produces
// the next ones; the items are then placed in the order they came, so the
// batch is byte for byte what encoding one after another gives. The
// provider contract allows it (wbem's InstanceProvider: a yielded instance
// is not modified afterwards), and the encoding depends only on the
// enumeration's mode and render options, which a Pull does not change.
const (
	// parallelMin is the smallest Pull that is worth the workers.
	parallelMin = 64
	// itemsPerBatch is how many instances a worker encodes at a time.
	itemsPerBatch = 32
	// maxItemWorkers bounds the goroutines of one Pull.
	maxItemWorkers = 4
)

type itemEncoder struct {
	e       *enumeration
	pool    *sync.Pool // of *itemBatch, kept by the Handler
	jobs    chan *itemBatch
	workers sync.WaitGroup
	batches []*itemBatch // in the order of their instances
	cur     *itemBatch
}

// itemBatch is a run of instances and, once ready is signalled, their
// encoding: item i ends at out[ends[i]].
type itemBatch struct {
	insts    []*cim.Instance
	out      []byte
	ends     []int
	panicked any
	ready    chan struct{}
}

// newItemEncoder starts the workers of one Pull of up to count items; it
// returns nil when the Pull is too small to share out.
func newItemEncoder(e *enumeration, count int, pool *sync.Pool) *itemEncoder {
	n := min(runtime.GOMAXPROCS(0), maxItemWorkers)
	if count < parallelMin || n < 2 {
		return nil
	}
	w := &itemEncoder{e: e, pool: pool, jobs: make(chan *itemBatch, count/itemsPerBatch+1)}
	for range n {
		w.workers.Add(1)
		go w.work()
	}
	return w
}

func (w *itemEncoder) work() {
	defer w.workers.Done()
	for b := range w.jobs {
		w.encodeBatch(b)
		b.ready <- struct{}{}
	}
}

// encodeBatch encodes b; a panic (a bug) is handed to the pulling
// goroutine, which reports it as a fault instead of losing the process.
func (w *itemEncoder) encodeBatch(b *itemBatch) {
	defer func() {
		if r := recover(); r != nil {
			b.panicked = r
		}
	}()
	for _, inst := range b.insts {
		// The pulling goroutine checked what could make encode fail.
		b.out, _ = w.e.encode(b.out, inst)
		b.ends = append(b.ends, len(b.out))
	}
}

// add queues inst, handing a full batch to the workers.
func (w *itemEncoder) add(inst *cim.Instance) {
	if w.cur == nil {
		w.cur = w.newBatch()
	}
	w.cur.insts = append(w.cur.insts, inst)
	if len(w.cur.insts) == itemsPerBatch {
		w.submit()
	}
}

func (w *itemEncoder) newBatch() *itemBatch {
	if b, ok := w.pool.Get().(*itemBatch); ok {
		return b
	}
	return &itemBatch{insts: make([]*cim.Instance, 0, itemsPerBatch), ready: make(chan struct{}, 1)}
}

// recycle gives b back to the pool, empty.
func (w *itemEncoder) recycle(b *itemBatch) {
	clear(b.insts)
	b.insts, b.out, b.ends, b.panicked = b.insts[:0], b.out[:0], b.ends[:0], nil
	w.pool.Put(b)
}

func (w *itemEncoder) submit() {
	if w.cur != nil {
		w.jobs <- w.cur
		w.batches = append(w.batches, w.cur)
		w.cur = nil
	}
}

// place appends every item, in order, to *dst and calls placed with where
// each starts, as pullCore does for an item it encodes itself; it stops
// the workers.
func (w *itemEncoder) place(dst *[]byte, placed func(mark int)) error {
	w.submit()
	close(w.jobs)
	defer w.workers.Wait()
	var err error
	for _, b := range w.batches {
		<-b.ready
		switch {
		case err != nil:
		case b.panicked != nil:
			err = fmt.Errorf("wsman: internal error encoding an item: %v", b.panicked)
		default:
			start := 0
			for _, end := range b.ends {
				mark := len(*dst)
				*dst = append(*dst, b.out[start:end]...)
				start = end
				placed(mark)
			}
		}
		w.recycle(b)
	}
	return err
}
