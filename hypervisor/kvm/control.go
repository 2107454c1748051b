package kvm

import (
	"context"
	"sync"
)

// runState is what the vCPUs of a VM are asked to do.
type runState int

const (
	stateRun runState = iota
	statePause
	stateStop
)

// control coordinates a VM's vCPU threads: every transition closes the
// current changed channel so parked vCPUs wake, and the caller kicks
// vCPUs that are inside KVM_RUN. Pause waits until every live vCPU has
// parked, so no vCPU touches guest state or devices afterwards.
type control struct {
	mu      sync.Mutex
	cond    *sync.Cond
	state   runState
	changed chan struct{}
	live    int // vCPU threads that have not exited
	parked  int // of those, how many are parked
}

func newControl() *control {
	c := &control{state: statePause, changed: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// set moves to s and wakes parked vCPUs.
func (c *control) set(s runState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateStop {
		return // stopping is final
	}
	c.state = s
	close(c.changed)
	c.changed = make(chan struct{})
}

// get returns the current state and the channel closed on the next change.
func (c *control) get() (runState, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.changed
}

func (c *control) enter() {
	c.mu.Lock()
	c.live++
	c.mu.Unlock()
}

func (c *control) exit() {
	c.mu.Lock()
	c.live--
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *control) park(delta int) {
	c.mu.Lock()
	c.parked += delta
	c.cond.Broadcast()
	c.mu.Unlock()
}

// waitParked blocks until every live vCPU is parked (or gone), or ctx ends.
func (c *control) waitParked(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.parked < c.live {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.cond.Wait()
	}
	return nil
}

// waitExited blocks until every vCPU thread has exited.
func (c *control) waitExited() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.live > 0 {
		c.cond.Wait()
	}
}
