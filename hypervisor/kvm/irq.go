package kvm

import (
	"fmt"
	"sync"
)

// irqLines drives the in-kernel interrupt controllers' input pins. Several
// level-triggered sources may share one pin (PCI INTx#); the pin is high
// while any of them asserts it, as wired-OR lines are on real boards.
type irqLines struct {
	vmFD  int
	mu    sync.Mutex
	count map[uint32]int
}

func newIRQLines(vmFD int) *irqLines { return &irqLines{vmFD: vmFD, count: map[uint32]int{}} }

// line returns a new source driving pin gsi.
func (l *irqLines) line(gsi uint32) *irqLine { return &irqLine{lines: l, gsi: gsi} }

func (l *irqLines) set(gsi uint32, level bool) error {
	v := uint32(0)
	if level {
		v = 1
	}
	if err := ioctlPtr(l.vmFD, kvmIRQLine, &kvmIRQLevel{IRQ: gsi, Level: v}); err != nil {
		return fmt.Errorf("KVM_IRQ_LINE %d=%d: %w", gsi, v, err)
	}
	return nil
}

// irqLine is one device's connection to a pin; it implements
// devices.InterruptLine.
type irqLine struct {
	lines *irqLines
	gsi   uint32
	high  bool
}

// SetLevel asserts or deasserts this source.
func (s *irqLine) SetLevel(high bool) error {
	l := s.lines
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.high == high {
		return nil
	}
	s.high = high
	if high {
		l.count[s.gsi]++
		if l.count[s.gsi] == 1 {
			return l.set(s.gsi, true)
		}
		return nil
	}
	l.count[s.gsi]--
	if l.count[s.gsi] == 0 {
		return l.set(s.gsi, false)
	}
	return nil
}

// Pulse produces an edge; on a pin another source holds high there is no
// edge to give, and edge-triggered sharers must poll (as ISA ones do).
func (s *irqLine) Pulse() error {
	l := s.lines
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[s.gsi] > 0 {
		return nil
	}
	if err := l.set(s.gsi, true); err != nil {
		return err
	}
	return l.set(s.gsi, false)
}
