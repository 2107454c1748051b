package vmm

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// ConsoleSocket is the name of a system's console socket in its state
// directory.
const ConsoleSocket = "console.sock"

// maxSocketPath is the longest path a UNIX socket address holds.
const maxSocketPath = 107

// ConsolePath returns the path of a system's console socket: a UNIX
// socket (mode 0600, in the data directory) that gives whoever connects
// the recent output of the system's first serial port, then follows it,
// and types what they send on it, as `virsh console` does. Any number of
// clients may be connected; they all see the output and may all type.
func (m *Manager) ConsolePath(uuid string) string {
	return filepath.Join(m.stateDirOf(uuid), ConsoleSocket)
}

// serveConsole runs the console socket of a system until ctx ends.
func (m *Manager) serveConsole(ctx context.Context, s *system) {
	path := m.ConsolePath(s.uuid)
	log := m.log.WithField("system", s.uuid)
	if len(path) > maxSocketPath {
		log.Warnf("no console socket: %s is longer than the %d bytes a UNIX socket path may have; use a shorter --data-dir", path, maxSocketPath)
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		log.WithError(err).Warn("no console socket")
		return
	}
	os.Remove(path) // left by a crash
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		log.WithError(err).Warn("no console socket")
		return
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		log.WithError(err).Warn("no console socket")
		return
	}
	var wg sync.WaitGroup
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		<-ctx.Done()
		ln.Close()
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer wg.Wait()
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.consoleClient(ctx, s, conn)
			}()
		}
	}()
}

// consoleClient serves one connection to a console socket.
func (m *Manager) consoleClient(ctx context.Context, s *system, conn *net.UnixConn) {
	defer conn.Close()
	mach := s.mach()
	if mach == nil {
		return
	}
	con := mach.Console()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := con.Subscribe(cctx)
	if _, err := conn.Write(con.History()); err != nil {
		return
	}
	go func() {
		defer cancel()
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				// Typing on a stopped system goes nowhere; the client
				// sees no echo, as on a real serial line.
				con.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case b, ok := <-out:
			if !ok {
				return
			}
			if _, err := conn.Write(b); err != nil {
				return
			}
		case <-cctx.Done():
			return
		}
	}
}
