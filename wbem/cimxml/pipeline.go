package cimxml

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// A large enumeration spends most of its CPU encoding. Once its response
// has outgrown the first buffer (so it streams anyway), results are
// gathered into batches that worker goroutines encode while the core
// produces the next ones; the handler's goroutine writes the encoded
// batches in the order the results came. The output is byte for byte what
// encoding one result after another gives. Workers read a result after
// yield has returned, which the provider contract allows (wbem's
// InstanceProvider: a yielded instance is not modified afterwards).
const (
	// batchBytes is the encoded size a batch aims at: large enough that
	// handing it over costs little per result and its write is one
	// chunk, small enough to keep a few in flight within the streaming
	// memory budget.
	batchBytes = flushThreshold / 2
	// maxBatch bounds a batch's results before their size is known.
	maxBatch = 256
	// maxEncodeWorkers bounds the goroutines one response uses.
	maxEncodeWorkers = 4
)

// resultStream sends a streamed operation's results of type T, encoded by
// encode. Use add for each result, then close.
type resultStream[T any] struct {
	rw     *responseWriter
	encode func(*xmlcodec.Encoder, T)

	// Set once the pipeline runs.
	jobs     chan *encodeBatch[T]
	workers  sync.WaitGroup
	pending  []*encodeBatch[T] // submitted, in result order
	free     []*encodeBatch[T]
	cur      *encodeBatch[T]
	perBatch int
	depth    int
	// failed is the write or encoding failure that ended the response:
	// nothing more is written after it.
	failed error
}

// encodeBatch is a run of results and, once ready is signalled, their
// encoding (or the panic that stopped it).
type encodeBatch[T any] struct {
	items    []T
	out      []byte
	ready    chan struct{}
	panicked any
}

func newResultStream[T any](rw *responseWriter, encode func(*xmlcodec.Encoder, T)) *resultStream[T] {
	return &resultStream[T]{rw: rw, encode: encode}
}

// add sends one result: encoded at once while the response may still fit
// one buffer, batched for the workers after that.
func (s *resultStream[T]) add(item T) error {
	if s.jobs == nil {
		s.encode(&s.rw.enc, item)
		if err := s.rw.maybeFlush(); err != nil {
			return err
		}
		if s.rw.committed && len(s.rw.enc.B) == 0 {
			s.start()
		}
		return nil
	}
	if s.failed != nil {
		return s.failed
	}
	s.cur.items = append(s.cur.items, item)
	if len(s.cur.items) < s.perBatch {
		return nil
	}
	return s.submit()
}

// start launches the workers, each with an encoder set up as the
// response's.
func (s *resultStream[T]) start() {
	n := min(runtime.GOMAXPROCS(0), maxEncodeWorkers)
	s.depth = 2 * n
	s.jobs = make(chan *encodeBatch[T], s.depth)
	s.perBatch = maxBatch
	s.cur = s.newBatch()
	for range n {
		enc := xmlcodec.Encoder{Host: s.rw.enc.Host, NullInArrays: s.rw.enc.NullInArrays, EscapeWhitespace: s.rw.enc.EscapeWhitespace}
		s.workers.Add(1)
		go s.work(enc)
	}
}

func (s *resultStream[T]) work(enc xmlcodec.Encoder) {
	defer s.workers.Done()
	for b := range s.jobs {
		s.encodeBatch(&enc, b)
		b.ready <- struct{}{}
	}
}

// encodeBatch encodes b; a panic (a bug) is handed to the handler's
// goroutine, which turns it into an error instead of losing the process.
func (s *resultStream[T]) encodeBatch(enc *xmlcodec.Encoder, b *encodeBatch[T]) {
	defer func() {
		if r := recover(); r != nil {
			b.panicked = r
		}
	}()
	enc.B = b.out[:0]
	for _, item := range b.items {
		s.encode(enc, item)
	}
	b.out = enc.B
}

func (s *resultStream[T]) newBatch() *encodeBatch[T] {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	return &encodeBatch[T]{ready: make(chan struct{}, 1)}
}

// submit hands the current batch to the workers and, with enough in
// flight, writes the oldest.
func (s *resultStream[T]) submit() error {
	s.jobs <- s.cur
	s.pending = append(s.pending, s.cur)
	s.cur = s.newBatch()
	if len(s.pending) < s.depth {
		return nil
	}
	return s.writeOldest()
}

// writeOldest waits for the oldest batch in flight and writes it.
func (s *resultStream[T]) writeOldest() error {
	b := s.pending[0]
	s.pending = append(s.pending[:0], s.pending[1:]...)
	<-b.ready
	if b.panicked != nil {
		s.failed = cim.NewError(cim.ErrFailed, fmt.Sprintf("internal error encoding the response: %v", b.panicked))
		return s.failed
	}
	// Aim the next batches at batchBytes of output.
	if n := len(b.items); n > 0 {
		s.perBatch = max(1, min(maxBatch, batchBytes*n/max(1, len(b.out))))
	}
	_, err := s.rw.w.Write(b.out)
	clear(b.items)
	b.items = b.items[:0]
	s.free = append(s.free, b)
	if err != nil {
		s.failed = &errClientGone{err}
		return s.failed
	}
	return nil
}

// close sends the results still in flight, unless a failed write or
// encoding ended the response, stops the workers and returns what ends
// the response: that failure, else opErr (the operation's outcome).
// Results yielded before an operation's error are sent, as they are
// without the pipeline.
func (s *resultStream[T]) close(opErr error) error {
	if s.jobs == nil {
		return opErr
	}
	defer s.stop()
	var gone *errClientGone
	if !errors.As(opErr, &gone) {
		if s.failed == nil && len(s.cur.items) > 0 {
			_ = s.submit()
		}
		for s.failed == nil && len(s.pending) > 0 {
			_ = s.writeOldest()
		}
	}
	if s.failed != nil {
		return s.failed
	}
	return opErr
}

// stop waits for the batches still being encoded and ends the workers.
func (s *resultStream[T]) stop() {
	for _, b := range s.pending {
		<-b.ready
	}
	s.pending = nil
	close(s.jobs)
	s.workers.Wait()
}
