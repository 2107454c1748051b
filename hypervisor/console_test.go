package hypervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

type failingWriter struct{ calls int }

func (f *failingWriter) Write(p []byte) (int, error) { f.calls++; return 0, errors.New("broken pipe") }

func TestConsoleBufferHistory(t *testing.T) {
	var sink bytes.Buffer
	b := NewConsoleBuffer(8, &sink)
	b.Write([]byte("abc"))
	if got := string(b.History()); got != "abc" {
		t.Errorf("History %q", got)
	}
	b.Write([]byte("defghij"))
	if got := string(b.History()); got != "cdefghij" {
		t.Errorf("History after wrap %q, want the last 8 bytes", got)
	}
	b.Write([]byte("0123456789ABCDEFGHIJ")) // longer than the ring
	if got := string(b.History()); got != "CDEFGHIJ" {
		t.Errorf("History after a long write %q", got)
	}
	if sink.String() != "abcdefghij0123456789ABCDEFGHIJ" {
		t.Errorf("sink got %q", sink.String())
	}
	if d := NewConsoleBuffer(0, nil); len(d.ring) != DefaultConsoleRing {
		t.Errorf("default ring %d", len(d.ring))
	}
}

func TestConsoleBufferDropsFailingSink(t *testing.T) {
	f := &failingWriter{}
	b := NewConsoleBuffer(16, f)
	for i := 0; i < 3; i++ {
		if n, err := b.Write([]byte("x")); n != 1 || err != nil {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	if f.calls != 1 {
		t.Errorf("failing sink called %d times, want once", f.calls)
	}
}

func TestConsoleBufferSubscribe(t *testing.T) {
	b := NewConsoleBuffer(64, nil)
	b.Write([]byte("before "))
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Subscribe(ctx)
	b.Write([]byte("after"))
	select {
	case got := <-ch:
		if string(got) != "after" {
			t.Errorf("got %q, want only output written after Subscribe", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no output delivered")
	}
	// A subscriber that does not read never blocks the writer.
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10000; i++ {
			b.Write([]byte("flood"))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writer blocked on a slow subscriber")
	}
	cancel()
	for range ch { // drains, then closes
	}
}

// TestConsoleBufferByteBursts: a serial line delivers output a byte at a
// time; a burst of thousands of one-byte writes while the subscriber is
// not reading reaches it whole and in order (it is within the ring's
// size), and a backlog beyond the ring keeps only the newest bytes.
func TestConsoleBufferByteBursts(t *testing.T) {
	b := NewConsoleBuffer(8192, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.Subscribe(ctx)
	var want bytes.Buffer
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&want, "[%6d.000000] a line of boot output\n", i)
	}
	for _, c := range want.Bytes() {
		b.Write([]byte{c})
	}
	var got []byte
	for len(got) < want.Len() {
		select {
		case chunk := <-ch:
			got = append(got, chunk...)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d bytes delivered", len(got), want.Len())
		}
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("delivered output differs:\n%s", got)
	}

	small := NewConsoleBuffer(16, nil)
	sub := small.Subscribe(ctx)
	small.Write([]byte("0123456789"))
	small.Write([]byte("abcdefghij"))
	time.Sleep(10 * time.Millisecond) // let the delivery goroutine take the backlog, or not
	small.Write([]byte("KLMNOP"))
	var tail []byte
	for !bytes.HasSuffix(tail, []byte("KLMNOP")) {
		select {
		case chunk := <-sub:
			tail = append(tail, chunk...)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %q, never the newest bytes", tail)
		}
	}
	if len(tail) > 26 || !bytes.HasSuffix([]byte("0123456789abcdefghijKLMNOP"), tail[len(tail)-16:]) {
		t.Errorf("backlog beyond the ring: got %q", tail)
	}
}

func TestEventHubOrderAndUnboundedQueue(t *testing.T) {
	h := NewEventHub()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := h.Subscribe(ctx)
	const n = 5000
	for i := 0; i < n; i++ { // nobody reads yet: Publish must not block
		h.Publish(Event{Kind: EventStateChanged, Reason: string(rune('a' + i%26))})
	}
	for i := 0; i < n; i++ {
		select {
		case ev := <-ch:
			if ev.Reason != string(rune('a'+i%26)) {
				t.Fatalf("event %d out of order: %q", i, ev.Reason)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d not delivered", i)
		}
	}
}

func TestEventHubCloseAndCancel(t *testing.T) {
	h := NewEventHub()
	a := h.Subscribe(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	b := h.Subscribe(ctx)
	h.Publish(Event{Kind: EventGuestShutdown})
	cancel()
	for range b { // closes after the cancel, delivered or not
	}
	h.Close()
	var got []Event
	for ev := range a {
		got = append(got, ev)
	}
	if len(got) != 1 || got[0].Kind != EventGuestShutdown {
		t.Errorf("queued events before close: %v", got)
	}
	if _, ok := <-h.Subscribe(context.Background()); ok {
		t.Error("subscribing to a closed hub delivered an event")
	}
	h.Publish(Event{}) // publishing after close is harmless
}

func TestStateAndKindNames(t *testing.T) {
	if StatePaused.String() != "paused" || State(42).String() != "state(42)" {
		t.Error("State.String")
	}
	if EventDeviceError.String() != "device-error" || EventKind(0).String() != "event(0)" {
		t.Error("EventKind.String")
	}
	err := &StateError{Op: "pause", State: StateStopped}
	if !errors.Is(err, ErrInvalidState) || err.Error() != "cannot pause a machine that is stopped" {
		t.Errorf("StateError %v", err)
	}
}
