package vmm_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// TestConsoleSocket: a client of the console socket sees the guest's
// output, from before it connected too, and types commands the guest
// answers.
func TestConsoleSocket(t *testing.T) {
	e := newEnv(t, nil)
	id := e.define(e.interactive("con", 1))
	e.state(id, vmm.TransitionStart)
	e.guest(id).waitFor("testguest: ready")
	conn, err := net.Dial("unix", e.m.ConsolePath(id))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(guestTimeout))
	r := bufio.NewReader(conn)
	expect := func(want string) string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			if strings.Contains(line, want) {
				return strings.TrimSpace(line)
			}
		}
	}
	expect("testguest: ready") // history
	if _, err := conn.Write([]byte("echo over the socket\n")); err != nil {
		t.Fatal(err)
	}
	if got := expect("over the socket"); got != "over the socket" {
		t.Fatalf("guest answered %q", got)
	}
}
