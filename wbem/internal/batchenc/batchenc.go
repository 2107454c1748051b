package batchenc

import (
	"fmt"
	"sync"
)

// Batch is a run of results and, once Wait returns, their encoding.
type Batch[T any] struct {
	Items []T
	// Out holds the encoded results; result i ends at Ends[i].
	Out  []byte
	Ends []int

	err   error
	ready chan struct{}
}

// NewBatch returns an empty batch with room for n results.
func NewBatch[T any](n int) *Batch[T] {
	return &Batch[T]{Items: make([]T, 0, n), ready: make(chan struct{}, 1)}
}

// Wait waits until the batch is encoded; the error reports a panic of the
// encoder, after which Out holds what was encoded before it.
func (b *Batch[T]) Wait() error {
	<-b.ready
	return b.err
}

// Reset empties an encoded batch for reuse, dropping its references to
// the results.
func (b *Batch[T]) Reset() {
	clear(b.Items)
	b.Items, b.Out, b.Ends, b.err = b.Items[:0], b.Out[:0], b.Ends[:0], nil
}

// Workers encodes the batches submitted to it.
type Workers[T any] struct {
	jobs chan *Batch[T]
	wg   sync.WaitGroup
}

// Encode appends the encoding of one result to dst.
type Encode[T any] func(dst []byte, item T) []byte

// Start starts n workers, each with the encode function newEncode returns
// for it (so that each can keep state of its own, such as a scratch
// buffer). Up to queue batches may wait for a worker before Submit blocks.
func Start[T any](n, queue int, newEncode func() Encode[T]) *Workers[T] {
	w := &Workers[T]{jobs: make(chan *Batch[T], queue)}
	for range n {
		encode := newEncode()
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for b := range w.jobs {
				b.err = encodeBatch(b, encode)
				b.ready <- struct{}{}
			}
		}()
	}
	return w
}

func encodeBatch[T any](b *Batch[T], encode Encode[T]) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error encoding a result: %v", r)
		}
	}()
	for _, item := range b.Items {
		b.Out = encode(b.Out, item)
		b.Ends = append(b.Ends, len(b.Out))
	}
	return nil
}

// Submit hands b to the workers; the caller leaves it alone until Wait
// returns.
func (w *Workers[T]) Submit(b *Batch[T]) { w.jobs <- b }

// Close ends the workers once the batches submitted are encoded; nothing
// is submitted after it.
func (w *Workers[T]) Close() {
	close(w.jobs)
	w.wg.Wait()
}
