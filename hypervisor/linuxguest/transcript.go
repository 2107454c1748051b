package linuxguest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/hypercim/hypercim/hypervisor"
)

// Transcript collects a guest console's output as lines and lets a test
// wait for the ones it expects, in order, bounded by a context.
type Transcript struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	next    int           // first line not yet consumed by Wait
	changed chan struct{} // closed and replaced whenever lines change
	ended   bool          // the subscription is over
}

// Follow subscribes to c and records everything it outputs from now on,
// until ctx ends. Call it before starting the machine to see the whole
// boot.
func Follow(ctx context.Context, c hypervisor.Console) *Transcript {
	t := &Transcript{changed: make(chan struct{})}
	ch := c.Subscribe(ctx)
	go func() {
		for chunk := range ch {
			t.add(chunk)
		}
		t.mu.Lock()
		t.ended = true
		t.notifyLocked()
		t.mu.Unlock()
	}()
	return t
}

func (t *Transcript) add(chunk []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, chunk...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, strings.TrimRight(string(t.partial[:i]), "\r"))
		t.partial = t.partial[i+1:]
	}
	t.notifyLocked()
}

func (t *Transcript) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Wait consumes lines until one starts with prefix and returns the lines
// it consumed, the matching one last.
func (t *Transcript) Wait(ctx context.Context, prefix string) ([]string, error) {
	return t.waitFor(ctx, strconv.Quote(prefix), func(l string) bool { return strings.HasPrefix(l, prefix) })
}

func (t *Transcript) waitFor(ctx context.Context, what string, match func(string) bool) ([]string, error) {
	for {
		t.mu.Lock()
		for i := t.next; i < len(t.lines); i++ {
			if match(t.lines[i]) {
				got := append([]string(nil), t.lines[t.next:i+1]...)
				t.next = i + 1
				t.mu.Unlock()
				return got, nil
			}
		}
		changed, ended := t.changed, t.ended
		t.mu.Unlock()
		if ended {
			return nil, fmt.Errorf("console ended before %s appeared%s", what, t.tail())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s on the console: %w%s", what, ctx.Err(), t.tail())
		case <-changed:
		}
	}
}

// Command sends one ModeServe command line to the guest through console
// and waits for its "ok" line, returning the guest's lines (those starting
// with Prefix) printed in between, the "ok" line last.
func (t *Transcript) Command(ctx context.Context, console io.Writer, command string) ([]string, error) {
	name, _, _ := strings.Cut(command, " ")
	if _, err := io.WriteString(console, command+"\n"); err != nil {
		return nil, fmt.Errorf("sending %q to the guest: %w", command, err)
	}
	ok, failed := Prefix+"ok "+name, Prefix+"error"
	got, err := t.waitFor(ctx, strconv.Quote(ok), func(l string) bool {
		return l == ok || strings.HasPrefix(l, failed)
	})
	if err != nil {
		return nil, err
	}
	var guest []string
	for _, l := range got {
		if strings.HasPrefix(l, Prefix) {
			guest = append(guest, l)
		}
	}
	if last := guest[len(guest)-1]; last != ok {
		return guest, fmt.Errorf("guest answered %q to %q", last, command)
	}
	return guest, nil
}

// Count returns how many lines seen so far start with prefix, consumed or
// not: counting MarkerReady tells how many times the guest booted.
func (t *Transcript) Count(prefix string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, l := range t.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// String returns the whole transcript.
func (t *Transcript) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n") + "\n" + string(t.partial)
}

// tail formats the last lines for an error message.
func (t *Transcript) tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	const keep = 25
	lines := t.lines
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	if len(lines) == 0 && len(t.partial) == 0 {
		return "; the console printed nothing"
	}
	return "; last console output:\n\t" + strings.Join(append(lines, string(t.partial)), "\n\t")
}

// Disk is one "linuxguest: disk" line.
type Disk struct {
	Name    string // vda, vdb, ...
	Sectors int64  // size in 512-byte sectors
	MD5     string // hex MD5 of the first sectors (see Boot.SumSectors)
}

// ParseDisks returns the disk lines among lines (which may end in "\r",
// as raw terminal output does).
func ParseDisks(lines []string) []Disk {
	var disks []Disk
	for _, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), Prefix+"disk ")
		if !ok {
			continue
		}
		var d Disk
		if _, err := fmt.Sscanf(rest, "%s sectors=%d md5=%s", &d.Name, &d.Sectors, &d.MD5); err == nil {
			disks = append(disks, d)
		}
	}
	return disks
}
