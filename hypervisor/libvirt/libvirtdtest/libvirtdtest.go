// Package libvirtdtest gives tests a running libvirtd on hosts without
// systemd, such as CI containers: Start launches virtlogd and libvirtd as
// `-d` daemons when they are not running, and stops the ones it launched
// once no test process uses them any more.
//
// Test processes coordinate through flock(2) on two files in /run: each
// holds a shared lock on the users file while it uses the daemons, and
// launching happens under an exclusive lock on the start file, after which
// the launcher records what it launched in a marker file. At cleanup,
// whichever process finds itself the last user (it can take the users lock
// exclusively) stops the daemons named in the marker. Daemons that were
// already running (started by an operator or systemd) are never stopped.
// A third file's POSIX lock lets one test process at a time run guests
// (see holdGuestLock).
//
// NewGuest prepares a stock Linux guest (Debian's cloud kernel and
// hypercim's test initramfs) that QEMU can read, for tests in any package.
package libvirtdtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Where the daemons listen and keep their pid files when run as root.
const (
	Socket         = "/var/run/libvirt/libvirt-sock"
	virtlogdSocket = "/var/run/libvirt/virtlogd-sock"
	usersLock      = "/run/hypercim-libvirtd-test.users.lock"
	startLock      = "/run/hypercim-libvirtd-test.start.lock"
	markerPath     = "/run/hypercim-libvirtd-test.started"
	guestLock      = "/run/hypercim-libvirtd-test.guests.lock"
	startTimeout   = 30 * time.Second
)

// daemon is one of the two daemons Start manages.
type daemon struct {
	name    string // the binary
	socket  string
	pidFile string
}

func daemons() []daemon {
	return []daemon{
		{name: "virtlogd", socket: virtlogdSocket, pidFile: "/run/virtlogd.pid"},
		{name: "libvirtd", socket: Socket, pidFile: "/run/libvirtd.pid"},
	}
}

// Start makes sure virtlogd and libvirtd run and returns libvirtd's socket.
// It fails the test when they cannot be started, and skips it only when
// they are not running and the test is not root (only root may start the
// system daemons).
func Start(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if reachable(Socket) {
			return Socket
		}
		t.Skip("libvirtd is not running, and only root can start it")
	}
	users, err := lockFile(usersLock, syscall.LOCK_SH)
	if err != nil {
		t.Fatalf("libvirtdtest: %v", err)
	}
	t.Cleanup(func() { release(t, users) })
	begin := time.Now()
	if err := holdGuestLock(); err != nil {
		t.Fatalf("libvirtdtest: %v", err)
	}
	if waited := time.Since(begin); waited > time.Second {
		t.Logf("libvirtdtest: waited %v for another test process's guests", waited.Round(time.Millisecond))
	}
	if err := ensureRunning(); err != nil {
		t.Fatalf("libvirtdtest: %v", err)
	}
	return Socket
}

// holdGuestLock makes this process the only test process running guests
// on libvirtd until it exits: libvirtd 9.0 here stops delivering a
// domain's console stream, now and then, when another process's domain
// exits while it streams (its stream fails with "stream had I/O
// failure"), and a test then waits for guest output that never comes.
// Tests within one process may still run guests in parallel: the lock is
// a POSIX record lock, which belongs to the process (taking it again is a
// no-op) and goes with it. Its descriptor stays open for the same reason
// (closing any descriptor of the file would drop the process's lock), and
// is a raw one, which no finalizer closes.
func holdGuestLock() error {
	fd, err := syscall.Open(guestLock, syscall.O_CREAT|syscall.O_RDWR|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", guestLock, err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	for {
		err = syscall.FcntlFlock(uintptr(fd), syscall.F_SETLKW, &lk)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return fmt.Errorf("lock %s: %w", guestLock, err)
	}
	return nil // fd stays open until the process exits
}

// ensureRunning launches whichever daemon does not answer, one process at
// a time.
func ensureRunning() error {
	missing := func() []daemon {
		var out []daemon
		for _, d := range daemons() {
			if !reachable(d.socket) {
				out = append(out, d)
			}
		}
		return out
	}
	if len(missing()) == 0 {
		return nil
	}
	start, err := lockFile(startLock, syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer start.Close()
	var launched []string
	for _, d := range missing() { // again: another process may have launched them
		if err := launch(d); err != nil {
			return err
		}
		launched = append(launched, d.name)
	}
	if len(launched) == 0 {
		return nil
	}
	// Append: a daemon launched earlier by a crashed run stays listed.
	f, err := os.OpenFile(markerPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(launched, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

// launch starts one daemon and waits until its socket accepts connections.
func launch(d daemon) error {
	path, err := exec.LookPath(d.name)
	if err != nil {
		path = "/usr/sbin/" + d.name
		if _, serr := os.Stat(path); serr != nil {
			return fmt.Errorf("%s is not installed (scripts/install-deps.sh installs libvirt-daemon-system): %w", d.name, err)
		}
	}
	// -d forks; the parent exits once the daemon has initialised.
	if out, err := exec.Command(path, "-d").CombinedOutput(); err != nil {
		return fmt.Errorf("%s -d: %v: %s", d.name, err, strings.TrimSpace(string(out)))
	}
	deadline := time.Now().Add(startTimeout)
	for !reachable(d.socket) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s started but %s accepts no connection after %v", d.name, d.socket, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// release ends this process's use of the daemons, stopping those a test
// launched when no other test process uses them.
func release(t testing.TB, users *os.File) {
	defer users.Close()
	if flock(users, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // another test process still uses them; the last one stops them
	}
	data, err := os.ReadFile(markerPath)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Errorf("libvirtdtest: %v", err)
		return
	}
	// Stop libvirtd before the virtlogd it logs through.
	ds := daemons()
	for i := len(ds) - 1; i >= 0; i-- {
		if strings.Contains(string(data), ds[i].name+"\n") {
			if err := stop(ds[i]); err != nil {
				t.Errorf("libvirtdtest: %v", err)
			}
		}
	}
	os.Remove(markerPath)
}

// stop sends SIGTERM to a daemon and waits for it to exit.
func stop(d daemon) error {
	data, err := os.ReadFile(d.pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil // already gone
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("%s: %q: %w", d.pidFile, data, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("stopping %s (pid %d): %w", d.name, pid, err)
	}
	deadline := time.Now().Add(startTimeout)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) is still running %v after SIGTERM", d.name, pid, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func reachable(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
