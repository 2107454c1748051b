package wsman

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/internal/batchenc"
)

// A Pull of many instances spends its time producing them (the provider
// and the core, on the pulling goroutine) and encoding them. itemEncoder
// encodes them in batches on worker goroutines while the core produces
// the next ones; the items are then placed in the order they came, so the
// batch is byte for byte what encoding one after another gives. The
// encoding depends only on the enumeration's mode and render options,
// which a Pull does not change.
const (
	// parallelMin is the smallest Pull that is worth the workers.
	parallelMin = 64
	// itemsPerBatch is how many instances a worker encodes at a time.
	itemsPerBatch = 32
	// maxItemWorkers bounds the goroutines of one Pull.
	maxItemWorkers = 4
)

type itemEncoder struct {
	pool    *sync.Pool // of *batchenc.Batch[*cim.Instance], kept by the Handler
	workers *batchenc.Workers[*cim.Instance]
	batches []*batchenc.Batch[*cim.Instance] // in the order of their instances
	cur     *batchenc.Batch[*cim.Instance]
}

// newItemEncoder starts the workers of one Pull of up to count items of
// e; it returns nil when the Pull is too small to share out.
func newItemEncoder(e *enumeration, count int, pool *sync.Pool) *itemEncoder {
	n := min(runtime.GOMAXPROCS(0), maxItemWorkers)
	if count < parallelMin || n < 2 {
		return nil
	}
	encode := func(dst []byte, inst *cim.Instance) []byte {
		// The pulling goroutine checked what could make encode fail.
		dst, _ = e.encode(dst, inst)
		return dst
	}
	return &itemEncoder{pool: pool, workers: batchenc.Start(n, count/itemsPerBatch+1, func() batchenc.Encode[*cim.Instance] { return encode })}
}

// add queues inst, handing a full batch to the workers.
func (w *itemEncoder) add(inst *cim.Instance) {
	if w.cur == nil {
		b, ok := w.pool.Get().(*batchenc.Batch[*cim.Instance])
		if !ok {
			b = batchenc.NewBatch[*cim.Instance](itemsPerBatch)
		}
		w.cur = b
	}
	w.cur.Items = append(w.cur.Items, inst)
	if len(w.cur.Items) == itemsPerBatch {
		w.submit()
	}
}

func (w *itemEncoder) submit() {
	if w.cur != nil {
		w.workers.Submit(w.cur)
		w.batches = append(w.batches, w.cur)
		w.cur = nil
	}
}

// place appends every item, in order, to *dst and calls placed with where
// each starts, as pullCore does for an item it encodes itself; it stops
// the workers. A failed batch ends the placing with an error.
func (w *itemEncoder) place(dst *[]byte, placed func(mark int)) error {
	w.submit()
	defer w.workers.Close()
	var failed error
	for _, b := range w.batches {
		err := b.Wait()
		if err != nil && failed == nil {
			failed = fmt.Errorf("wsman: %w", err)
		}
		if failed == nil {
			start := 0
			for _, end := range b.Ends {
				mark := len(*dst)
				*dst = append(*dst, b.Out[start:end]...)
				start = end
				placed(mark)
			}
		}
		b.Reset()
		w.pool.Put(b)
	}
	return failed
}
