package batchenc

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func appendItem(dst []byte, n int) []byte {
	dst = append(dst, "<i>"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, "</i>"...)
}

func TestBatchesInSubmissionOrder(t *testing.T) {
	w := Start(3, 8, func() Encode[int] { return appendItem })
	var want, got []byte
	var batches []*Batch[int]
	for n := 0; n < 1000; n++ {
		want = appendItem(want, n)
		if len(batches) == 0 || len(batches[len(batches)-1].Items) == 7 {
			if len(batches) > 0 {
				w.Submit(batches[len(batches)-1])
			}
			batches = append(batches, NewBatch[int](7))
		}
		b := batches[len(batches)-1]
		b.Items = append(b.Items, n)
	}
	w.Submit(batches[len(batches)-1])
	items := 0
	for _, b := range batches {
		if err := b.Wait(); err != nil {
			t.Fatal(err)
		}
		start := 0
		for _, end := range b.Ends {
			if !bytes.HasPrefix(b.Out[start:end], []byte("<i>")) {
				t.Fatalf("item %d spans %q", items, b.Out[start:end])
			}
			start = end
			items++
		}
		got = append(got, b.Out...)
	}
	w.Close()
	if !bytes.Equal(got, want) || items != 1000 {
		t.Errorf("%d items, %d octets; one by one: 1000 items, %d octets", items, len(got), len(want))
	}
}

func TestPanicFailsTheBatch(t *testing.T) {
	before := runtime.NumGoroutine()
	w := Start(2, 2, func() Encode[int] {
		return func(dst []byte, n int) []byte {
			if n == 3 {
				panic("bug")
			}
			return appendItem(dst, n)
		}
	})
	b := NewBatch[int](5)
	b.Items = append(b.Items, 1, 2, 3, 4)
	w.Submit(b)
	err := b.Wait()
	if err == nil || !strings.Contains(err.Error(), "bug") || string(b.Out) != "<i>1</i><i>2</i>" {
		t.Errorf("error %v, output %q", err, b.Out)
	}
	// The worker goes on with the next batch.
	b.Reset()
	b.Items = append(b.Items, 5)
	w.Submit(b)
	if err := b.Wait(); err != nil || string(b.Out) != "<i>5</i>" || len(b.Ends) != 1 {
		t.Errorf("after a panic: %v, %q", err, b.Out)
	}
	w.Close()
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after Close, %d before", after, before)
	}
}
