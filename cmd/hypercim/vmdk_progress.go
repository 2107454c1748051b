package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// vmdkProgress draws a progress bar on a terminal, at most ten times a
// second, and erases it when done.
type vmdkProgress struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	start time.Time
	last  time.Time
	drawn bool
}

// newVMDKProgress returns nil (no bar) unless enabled.
func newVMDKProgress(w io.Writer, label string, enabled bool) *vmdkProgress {
	if !enabled {
		return nil
	}
	return &vmdkProgress{w: w, label: label, start: time.Now()}
}

// update is a vmdk.ProgressFunc.
func (p *vmdkProgress) update(done, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = now
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	filled := int(frac * width)
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s/%s %s/s ", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, formatVMDKSize(done), formatVMDKSize(total), formatVMDKSize(int64(rate)))
	p.drawn = true
}

// done erases the bar so the next output starts on a clean line.
func (p *vmdkProgress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *vmdkProgress) fn() func(int64, int64) {
	if p == nil {
		return nil
	}
	return p.update
}
