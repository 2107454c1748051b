package cimxml

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// pipelineInstances returns n instances whose encoded sizes vary from
// under a hundred bytes to tens of kilobytes, so that batches resize.
func pipelineInstances(n int) []*cim.Instance {
	insts := make([]*cim.Instance, n)
	for i := range insts {
		if i%97 == 0 {
			inst := cim.NewInstance("Big")
			inst.Set("Blob", cim.NewString(strings.Repeat("<&>", 5000+i)))
			inst.Path = cim.NewInstancePath("root/test", "Big", cim.KeyBinding{Name: "N", Value: cim.NewUint32(uint32(i))})
			insts[i] = inst
			continue
		}
		insts[i] = kiloInstance(i)
	}
	return insts
}

// streamInstances sends insts through a resultStream to w and returns the
// error that ended it.
func streamInstances(h *Handler, w http.ResponseWriter, insts []*cim.Instance, opErr error) error {
	rw := &responseWriter{w: w, h: h, enc: xmlcodec.Encoder{Host: "h:1"}}
	out := newResultStream(rw, (*xmlcodec.Encoder).NamedInstance)
	err := func() error {
		for _, inst := range insts {
			if err := out.add(inst); err != nil {
				return err
			}
		}
		return opErr
	}()
	err = out.close(err)
	if err == nil {
		_ = rw.write()
	}
	return err
}

// oneByOne encodes insts on one goroutine, one after another.
func oneByOne(insts []*cim.Instance) []byte {
	e := xmlcodec.Encoder{Host: "h:1"}
	for _, inst := range insts {
		e.NamedInstance(inst)
	}
	return e.B
}

func TestResultStreamKeepsOrderAndBytes(t *testing.T) {
	h := newTestServer(t, serverOptions{}).handler
	insts := pipelineInstances(5000)
	want := oneByOne(insts)
	rec := httptest.NewRecorder()
	if err := streamInstances(h, rec, insts, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Fatalf("streamed %d bytes differ from the %d encoded one by one", rec.Body.Len(), len(want))
	}
	// A small result set is encoded on the spot and sent in one piece.
	rec = httptest.NewRecorder()
	if err := streamInstances(h, rec, insts[1:4], nil); err != nil || rec.Body.Len() == 0 {
		t.Fatalf("small set: %v, %d bytes", err, rec.Body.Len())
	}
}

func TestResultStreamOperationError(t *testing.T) {
	h := newTestServer(t, serverOptions{}).handler
	insts := pipelineInstances(3000)
	want := oneByOne(insts)
	rec := httptest.NewRecorder()
	boom := cim.NewError(cim.ErrFailed, "the backend went away")
	if err := streamInstances(h, rec, insts, boom); !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	// Every result yielded before the error went out, in order.
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("before the error: %d bytes sent, want %d", rec.Body.Len(), len(want))
	}
}

// failingWriter fails every write after the first (a client that went
// away mid-stream) and counts the writes tried.
type failingWriter struct {
	httptest.ResponseRecorder
	writes int
}

func (w *failingWriter) Write(b []byte) (int, error) {
	w.writes++
	if w.writes > 1 {
		return 0, errors.New("connection reset by peer")
	}
	return len(b), nil
}

func TestResultStreamClientGone(t *testing.T) {
	h := newTestServer(t, serverOptions{}).handler
	before := runtime.NumGoroutine()
	w := &failingWriter{ResponseRecorder: *httptest.NewRecorder()}
	err := streamInstances(h, w, pipelineInstances(20000), nil)
	var gone *errClientGone
	if !errors.As(err, &gone) {
		t.Fatalf("error %v, want the client gone", err)
	}
	if w.writes != 2 {
		t.Errorf("%d writes tried, want nothing after the failed one", w.writes)
	}
	// The workers have ended (other goroutines of the test server may
	// come and go meanwhile, hence the grace period).
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		t.Errorf("%d goroutines after the stream ended, %d before", after, before)
	}
}

func TestResultStreamEncoderPanic(t *testing.T) {
	h := newTestServer(t, serverOptions{}).handler
	rec := httptest.NewRecorder()
	rw := &responseWriter{w: rec, h: h}
	out := newResultStream(rw, func(e *xmlcodec.Encoder, n int) {
		if n == 4000 {
			panic("bug")
		}
		e.Str(strings.Repeat("x", 1000))
	})
	var err error
	for n := 0; n < 10000 && err == nil; n++ {
		err = out.add(n)
	}
	err = out.close(err)
	if err == nil || cim.AsError(err).Status != cim.ErrFailed || !strings.Contains(err.Error(), "bug") {
		t.Fatalf("error %v, want CIM_ERR_FAILED naming the panic", err)
	}
	if rec.Body.Len() >= 4000*1000 {
		t.Errorf("%d bytes written: output went on past the batch that failed", rec.Body.Len())
	}
}
