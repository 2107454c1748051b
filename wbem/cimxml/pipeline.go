package cimxml

import (
	"errors"
	"runtime"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
	"github.com/hypercim/hypercim/wbem/internal/batchenc"
)

// A large enumeration spends most of its CPU encoding. Once its response
// has outgrown the first buffer (so it streams anyway), results are
// gathered into batches that worker goroutines encode while the core
// produces the next ones; the handler's goroutine writes the encoded
// batches in the order the results came. The output is byte for byte what
// encoding one result after another gives.
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
	workers  *batchenc.Workers[T]
	pending  []*batchenc.Batch[T] // submitted, in result order
	free     []*batchenc.Batch[T]
	all      []*batchenc.Batch[T] // whose buffers stop gives back
	cur      *batchenc.Batch[T]
	perBatch int
	depth    int
	// failed is the write or encoding failure that ended the response:
	// nothing more is written after it.
	failed error
}

func newResultStream[T any](rw *responseWriter, encode func(*xmlcodec.Encoder, T)) *resultStream[T] {
	return &resultStream[T]{rw: rw, encode: encode}
}

// add sends one result: encoded at once while the response may still fit
// one buffer, batched for the workers after that.
func (s *resultStream[T]) add(item T) error {
	if s.workers == nil {
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
	s.cur.Items = append(s.cur.Items, item)
	if len(s.cur.Items) < s.perBatch {
		return nil
	}
	return s.submit()
}

// start launches the workers, each with an encoder set up as the
// response's.
func (s *resultStream[T]) start() {
	n := min(runtime.GOMAXPROCS(0), maxEncodeWorkers)
	s.depth = 2 * n
	s.perBatch = maxBatch
	s.cur = s.newBatch()
	s.workers = batchenc.Start(n, s.depth, func() batchenc.Encode[T] {
		enc := xmlcodec.Encoder{Host: s.rw.enc.Host, NullInArrays: s.rw.enc.NullInArrays, EscapeWhitespace: s.rw.enc.EscapeWhitespace}
		return func(dst []byte, item T) []byte {
			enc.B = dst
			s.encode(&enc, item)
			return enc.B
		}
	})
}

func (s *resultStream[T]) newBatch() *batchenc.Batch[T] {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	// Output buffers come from the handler's pool of streaming buffers:
	// memory that earlier responses used, rather than fresh pages that
	// the kernel must fault in and zero for every large enumeration.
	b := batchenc.NewBatch[T](maxBatch)
	b.Out = (*s.rw.h.streams.Get().(*[]byte))[:0]
	s.all = append(s.all, b)
	return b
}

// submit hands the current batch to the workers and, with enough in
// flight, writes the oldest.
func (s *resultStream[T]) submit() error {
	s.workers.Submit(s.cur)
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
	if err := b.Wait(); err != nil {
		s.failed = cim.NewError(cim.ErrFailed, err.Error())
		return s.failed
	}
	// Aim the next batches at batchBytes of output.
	if n := len(b.Items); n > 0 {
		s.perBatch = max(1, min(maxBatch, batchBytes*n/max(1, len(b.Out))))
	}
	_, err := s.rw.w.Write(b.Out)
	b.Reset()
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
	if s.workers == nil {
		return opErr
	}
	defer s.stop()
	var gone *errClientGone
	if !errors.As(opErr, &gone) {
		if s.failed == nil && len(s.cur.Items) > 0 {
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

// stop waits for the batches still being encoded, ends the workers and
// gives the batches' buffers back.
func (s *resultStream[T]) stop() {
	for _, b := range s.pending {
		_ = b.Wait()
	}
	s.pending = nil
	s.workers.Close()
	for _, b := range s.all {
		out := b.Out
		s.rw.h.putBuffer(&out)
	}
	s.all, s.free, s.cur = nil, nil, nil
}
