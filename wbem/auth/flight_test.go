package auth

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// gatedCompare replaces a store's password comparison with one that counts
// its calls and holds them until release is closed.
func gatedCompare(s *Store) (calls *atomic.Int32, release chan struct{}) {
	calls = &atomic.Int32{}
	release = make(chan struct{})
	real := s.compare
	s.compare = func(hash, password []byte) error {
		calls.Add(1)
		<-release
		return real(hash, password)
	}
	return calls, release
}

// waitWaiters waits until n checks have joined the one in flight.
func waitWaiters(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.flights.mu.Lock()
		joined := 0
		for _, f := range s.flights.m {
			joined += f.waiters
		}
		s.flights.mu.Unlock()
		if joined == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d checks joined the one in flight, want %d", joined, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Sixteen clients logging in at once with the same credentials cost one
// bcrypt comparison; each gets the answer, and each failure still counts
// against its address.
func TestConcurrentFirstLoginsShareOneCheck(t *testing.T) {
	const clients = 16
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	if err := s.AddUser("frank", "pw-frank", UserOptions{}); err != nil {
		t.Fatal(err)
	}
	// login starts the clients; wait waits for their answers.
	login := func(password, addr string) (errs []error, wait func()) {
		errs = make([]error, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Authenticate("frank", password, addr)
			}()
		}
		return errs, wg.Wait
	}

	calls, release := gatedCompare(s)
	errs, wait := login("pw-frank", "192.0.2.1:1")
	waitWaiters(t, s, clients-1)
	close(release)
	wait()
	waitIdle(t, s)
	if n := calls.Load(); n != 1 {
		t.Errorf("%d password comparisons for %d identical logins, want 1", n, clients)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}

	// A wrong password is coalesced too, and every client's failure
	// counts: five from one address block it.
	s.compare = bcrypt.CompareHashAndPassword
	calls, release = gatedCompare(s)
	errs, wait = login("wrong", "192.0.2.2:1")
	waitWaiters(t, s, clients-1)
	close(release)
	wait()
	waitIdle(t, s)
	if n := calls.Load(); n != 1 {
		t.Errorf("%d password comparisons for %d identical failed logins, want 1", n, clients)
	}
	for i, err := range errs {
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("client %d with a wrong password: %v", i, err)
		}
	}
	s.compare = func(hash, password []byte) error { t.Error("a blocked address reached the password check"); return nil }
	if _, err := s.Authenticate("frank", "pw-frank", "192.0.2.2:9"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("after %d coalesced failures: %v, want rate limited", clients, err)
	}
}

// Different passwords, and the same password of different users, are not
// coalesced.
func TestDifferentCredentialsAreCheckedApart(t *testing.T) {
	s := openTest(t, t.TempDir(), newClock())
	for _, u := range []string{"gina", "hank"} {
		if err := s.AddUser(u, "same-pw", UserOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	calls, release := gatedCompare(s)
	type try struct{ user, password string }
	tries := []try{{"gina", "same-pw"}, {"hank", "same-pw"}, {"gina", "other"}, {"nobody", "same-pw"}}
	results := make([]error, len(tries))
	var wg sync.WaitGroup
	for i, tr := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = s.Authenticate(tr.user, tr.password, "192.0.2.3:1")
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() != int32(len(tries)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d comparisons started, want %d", calls.Load(), len(tries))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if results[0] != nil || results[1] != nil || !errors.Is(results[2], ErrUnauthorized) || !errors.Is(results[3], ErrUnauthorized) {
		t.Errorf("results %v", results)
	}
}

// waitIdle waits until no check is in flight.
func waitIdle(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.flights.mu.Lock()
		n := len(s.flights.m)
		s.flights.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a check stays in flight")
		}
		time.Sleep(time.Millisecond)
	}
}
