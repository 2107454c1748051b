package kvm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// vcpu is one virtual CPU. Its goroutine is locked to an OS thread for its
// whole life: KVM binds vCPU state to the thread that runs it, and the
// thread ID is what a kick signals. The thread is never unlocked, so the Go
// runtime retires it when the vCPU stops instead of reusing a thread whose
// signal state a guest run touched.
type vcpu struct {
	id     int
	vm     *vm
	fd     int
	run    *kvmRunData
	runMap []byte
	tid    atomic.Int32
	// work carries functions to run on the vCPU thread while it is parked
	// (state save and restore).
	work chan func()
	// cpuNanos is the thread CPU time consumed, sampled when it exits.
	cpuNanos atomic.Int64
	// The CPU cap's accounting (limits.go), used by the vCPU thread only:
	// the current period's start, the thread's CPU time then, and the
	// timer that kicks the vCPU when its quota is spent.
	periodStart time.Time
	cpuAtStart  time.Duration
	capTimer    *time.Timer
}

// errVCPUGone is returned for work sent to a vCPU that has stopped.
var errVCPUGone = errors.New("vCPU thread has exited")

// kickSignal interrupts KVM_RUN. SIGURG is the Go runtime's own preemption
// signal: it is always handled, never delivered to the program, and
// arriving at an unexpected time is documented as harmless.
const kickSignal = unix.SIGURG

// loop is the vCPU thread. setup runs first on the locked thread (creating
// the vCPU there); ready receives its result.
func (c *vcpu) loop(setup func() error, ready chan<- error) {
	runtime.LockOSThread()
	ctl := c.vm.ctl
	c.tid.Store(int32(unix.Gettid()))
	if err := setup(); err != nil {
		ready <- err
		return
	}
	ctl.enter()
	ready <- nil
	defer func() {
		c.cpuNanos.Store(threadCPUTime(int(c.tid.Load())))
		c.tid.Store(0)
		if c.capTimer != nil {
			c.capTimer.Stop()
		}
		ctl.exit()
	}()
	for {
		// Clear the kick flag, then look at the state: a kick that sets
		// the flag after this store changed the state before it, and the
		// lock inside get orders the two.
		c.run.setImmediateExit(0)
		if !c.gate(ctl) {
			return
		}
		if pct := c.vm.capPercent.Load(); pct != 0 && pct < 100 {
			if wait := c.budget(pct); wait > 0 {
				c.throttle(ctl, wait)
				continue
			}
		}
		errno := runIoctl(c.fd)
		if c.capTimer != nil {
			c.capTimer.Stop()
		}
		switch errno {
		case 0:
			c.handleExit()
		case unix.EINTR, unix.EAGAIN:
			// A kick or a Go runtime preemption signal: re-check state.
		default:
			c.vm.guestExit(exitCrash, fmt.Sprintf("vCPU %d: KVM_RUN failed: %v", c.id, errno))
			return
		}
	}
}

// gate returns true when the vCPU should enter the guest and false when it
// must stop; while the VM is paused it parks and runs queued work.
func (c *vcpu) gate(ctl *control) bool {
	parked := false
	defer func() {
		if parked {
			ctl.park(-1)
		}
	}()
	for {
		st, changed := ctl.get()
		switch st {
		case stateRun:
			return true
		case stateStop:
			return false
		}
		if !parked {
			parked = true
			ctl.park(1)
		}
		select {
		case f := <-c.work:
			f()
		case <-changed:
		}
	}
}

// kick forces the vCPU out of KVM_RUN soon: immediate_exit covers a vCPU
// about to enter, the signal one already inside (or blocked in an
// in-kernel HLT).
func (c *vcpu) kick() {
	c.run.setImmediateExit(1)
	if tid := c.tid.Load(); tid != 0 {
		unix.Tgkill(os.Getpid(), int(tid), kickSignal) //nolint:errcheck // ESRCH: the thread already left
	}
}

// do runs f on the vCPU's thread; the VM must be paused.
func (c *vcpu) do(f func() error) error {
	done := make(chan error, 1)
	ctl := c.vm.ctl
	for {
		st, changed := ctl.get()
		if st == stateStop {
			return errVCPUGone
		}
		select {
		case c.work <- func() { done <- f() }:
			return <-done
		case <-changed:
		}
	}
}

func (c *vcpu) handleExit() {
	switch c.run.ExitReason {
	case exitIO:
		dir, size, port, data := c.run.ioData(c.runMap)
		if size == 0 || len(data) == 0 {
			c.vm.guestExit(exitCrash, fmt.Sprintf("vCPU %d: malformed I/O exit at port %#x", c.id, port))
			return
		}
		// String I/O (rep ins/outs) arrives as count consecutive accesses.
		for off := 0; off+int(size) <= len(data); off += int(size) {
			c.vm.portIO(port, data[off:off+int(size)], dir == exitIOOut)
		}
	case exitMMIO:
		addr, data, write := c.run.mmioData()
		c.vm.mmioAccess(addr, data, write)
	case exitShutdown:
		c.vm.guestExit(exitCrash, fmt.Sprintf("triple fault on vCPU %d%s", c.id, c.where()))
	case exitSystemEvent:
		typ := uint32(c.run.Exit[0]) | uint32(c.run.Exit[1])<<8 | uint32(c.run.Exit[2])<<16 | uint32(c.run.Exit[3])<<24
		switch typ {
		case systemEventShutdown:
			c.vm.guestExit(exitPowerOff, "guest requested power-off")
		case systemEventReset:
			c.vm.guestExit(exitReset, "guest requested a reset")
		default:
			c.vm.guestExit(exitCrash, fmt.Sprintf("guest crashed (system event %d) on vCPU %d", typ, c.id))
		}
	case exitFailEntry:
		reason := uint64(0)
		for i := 7; i >= 0; i-- {
			reason = reason<<8 | uint64(c.run.Exit[i])
		}
		c.vm.guestExit(exitCrash, fmt.Sprintf("vCPU %d failed to enter the guest (hardware reason %#x)%s", c.id, reason, c.where()))
	case exitInternalError:
		sub := uint32(c.run.Exit[0]) | uint32(c.run.Exit[1])<<8
		c.vm.guestExit(exitCrash, fmt.Sprintf("KVM internal error on vCPU %d (suberror %d: %s)%s", c.id, sub, internalErrorName(sub), c.where()))
	case exitHLT, exitIntr, exitIRQWindowOpen:
		// HLT is handled in the kernel with the in-kernel LAPIC; the
		// others only ask us to re-enter.
	default:
		c.vm.guestExit(exitCrash, fmt.Sprintf("unexpected KVM exit %d on vCPU %d%s", c.run.ExitReason, c.id, c.where()))
	}
}

func internalErrorName(sub uint32) string {
	switch sub {
	case 1:
		return "instruction emulation failed"
	case 2:
		return "exception while delivering an event"
	case 3:
		return "invalid state"
	case 4:
		return "unexpected exit during event delivery"
	}
	return "unknown"
}

// where describes the vCPU's instruction pointer for crash reasons.
func (c *vcpu) where() string {
	var regs kvmRegs
	if err := ioctlPtr(c.fd, kvmGetRegs, &regs); err != nil {
		return ""
	}
	return fmt.Sprintf(" (rip=%#x)", regs.RIP)
}

// threadCPUTime reads a thread's consumed CPU time from schedstat.
func threadCPUTime(tid int) int64 {
	if tid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

// cpuTime is the vCPU's CPU time so far.
func (c *vcpu) cpuTime() time.Duration {
	if tid := c.tid.Load(); tid != 0 {
		return time.Duration(threadCPUTime(int(tid)))
	}
	return time.Duration(c.cpuNanos.Load())
}
