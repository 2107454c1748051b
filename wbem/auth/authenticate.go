package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// ErrUnauthorized is the error of every failed credential check; it does
// not say whether the user name or the password was wrong.
var ErrUnauthorized = errors.New("invalid credentials")

// ErrRateLimited is the error (tested with errors.Is) returned while a
// source address is blocked after too many failures; the error is a
// *RateLimitError giving the time to wait.
var ErrRateLimited = errors.New("too many failed logins from this address")

// RateLimitError says how long a blocked address must wait.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v; retry in %v", ErrRateLimited, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Authenticate checks a user name and password (HTTP Basic) from the
// client at remoteAddr ("host:port" or "host") and returns the principal.
// Errors are ErrUnauthorized or a *RateLimitError.
//
// Identical checks in flight at the same time (a client opening several
// connections at once, each with the same credentials) share one bcrypt
// comparison; each still counts as a success or a failure of its source
// address.
func (s *Store) Authenticate(user, password, remoteAddr string) (wbem.Principal, error) {
	host := hostOf(remoteAddr)
	if err := s.limiter.check(host); err != nil {
		return wbem.Principal{}, err
	}
	snap := s.current()
	u := snap.users[cim.FoldName(user)]
	var mac [sha256.Size]byte
	var hash []byte
	if u != nil {
		mac = s.credentialMAC(u.Name, u.Hash, password)
		if s.cached(snap, u, mac) {
			s.limiter.success(host)
			return wbem.Principal{User: u.Name}, nil
		}
		hash = []byte(u.Hash)
	} else {
		s.dummyOnce.Do(func() {
			s.dummyHash, _ = bcrypt.GenerateFromPassword(s.key[:16], s.opts.BcryptCost)
		})
		hash = s.dummyHash
		// Unknown names are coalesced too, under a key no user has.
		mac = s.credentialMAC("\x00"+cim.FoldName(user), string(hash), password)
	}
	if !s.flights.check(mac, func() bool { return s.compare(hash, []byte(password)) == nil }) || u == nil {
		s.limiter.fail(host)
		return wbem.Principal{}, ErrUnauthorized
	}
	s.remember(snap, u, mac)
	s.limiter.success(host)
	return wbem.Principal{User: u.Name}, nil
}

// flights coalesces identical password checks that are in progress at
// the same time: the first runs the comparison, the others wait for its
// result. Keys are credential MACs, never passwords.
type flights struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*flight
}

type flight struct {
	done chan struct{}
	ok   bool
	// waiters counts the checks that joined this one (for tests).
	waiters int
}

// check runs verify for key, or waits for the run already in progress
// for the same key and returns its result.
func (f *flights) check(key [sha256.Size]byte, verify func() bool) bool {
	f.mu.Lock()
	if fl, ok := f.m[key]; ok {
		fl.waiters++
		f.mu.Unlock()
		<-fl.done
		return fl.ok
	}
	if f.m == nil {
		f.m = make(map[[sha256.Size]byte]*flight)
	}
	fl := &flight{done: make(chan struct{})}
	f.m[key] = fl
	f.mu.Unlock()
	defer func() {
		// Delete before waking the waiters, so a check arriving after
		// this one finished starts afresh (and finds the cache).
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(fl.done)
	}()
	fl.ok = verify()
	return fl.ok
}

// verifiedEntry is a remembered successful check: an HMAC of the
// credentials under the store's key, never the password itself.
type verifiedEntry struct {
	mac     [sha256.Size]byte
	expires time.Time
}

// credentialMAC is the HMAC, under the store's key, of a user name, the
// user's hash and a password: what the cache and the coalescing of checks
// compare instead of the password.
func (s *Store) credentialMAC(name, hash, password string) [sha256.Size]byte {
	m := s.macs.Get().(*macState)
	m.buf = append(append(append(append(append(m.buf[:0], name...), 0), hash...), 0), password...)
	m.h.Reset()
	m.h.Write(m.buf)
	// Summing into the pooled state, not into out, keeps out off the
	// heap (Sum is called through an interface).
	out := [sha256.Size]byte(m.h.Sum(m.sum[:0]))
	clear(m.buf) // no password left in the pool
	s.macs.Put(m)
	return out
}

// macState is a keyed HMAC, its input buffer and its output, recycled:
// every authenticated request computes one MAC.
type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func (s *Store) cached(snap *snapshot, u *userRecord, mac [sha256.Size]byte) bool {
	if s.opts.CacheTTL < 0 {
		return false
	}
	e, ok := snap.verified.Load(u.Name)
	if !ok {
		return false
	}
	entry := e.(verifiedEntry)
	return s.opts.Now().Before(entry.expires) && hmac.Equal(entry.mac[:], mac[:])
}

func (s *Store) remember(snap *snapshot, u *userRecord, mac [sha256.Size]byte) {
	if s.opts.CacheTTL < 0 {
		return
	}
	snap.verified.Store(u.Name, verifiedEntry{mac: mac, expires: s.opts.Now().Add(s.opts.CacheTTL)})
}

// hostOf returns the host part of a remote address.
func hostOf(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// limiter counts failed logins per source host.
type limiter struct {
	mu    sync.Mutex
	opts  *Options
	hosts map[string]*hostState
}

type hostState struct {
	failures     int
	windowStart  time.Time
	blocks       int // blocks so far, for the doubling
	blockedUntil time.Time
	lastSeen     time.Time
}

// maxTrackedHosts bounds the limiter's memory; past it, idle entries are
// dropped.
const maxTrackedHosts = 100000

func newLimiter(o *Options) *limiter {
	return &limiter{opts: o, hosts: map[string]*hostState{}}
}

func (l *limiter) check(host string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[host]
	if h == nil {
		return nil
	}
	if now := l.opts.Now(); now.Before(h.blockedUntil) {
		return &RateLimitError{RetryAfter: h.blockedUntil.Sub(now)}
	}
	return nil
}

func (l *limiter) fail(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	h := l.hosts[host]
	if h == nil {
		if len(l.hosts) >= maxTrackedHosts {
			l.purge(now)
		}
		h = &hostState{windowStart: now}
		l.hosts[host] = h
	}
	// A host that behaved for a long time after its last block starts over.
	if h.blocks > 0 && now.Sub(h.blockedUntil) > l.opts.MaxBlockTime {
		h.blocks = 0
	}
	if now.Sub(h.windowStart) > l.opts.FailureWindow {
		h.failures, h.windowStart = 0, now
	}
	h.failures++
	h.lastSeen = now
	if h.failures >= l.opts.MaxFailures {
		d := l.opts.BlockTime << min(h.blocks, 20)
		if d > l.opts.MaxBlockTime || d <= 0 {
			d = l.opts.MaxBlockTime
		}
		h.blocks++
		h.failures = 0
		h.blockedUntil = now.Add(d)
	}
}

func (l *limiter) success(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.hosts[host]; h != nil && !l.opts.Now().Before(h.blockedUntil) {
		delete(l.hosts, host)
	}
}

// purge drops hosts that are not blocked and were last seen long ago, and
// if that is not enough, any host that is not blocked.
func (l *limiter) purge(now time.Time) {
	for host, h := range l.hosts {
		if now.After(h.blockedUntil) && now.Sub(h.lastSeen) > l.opts.FailureWindow {
			delete(l.hosts, host)
		}
	}
	for host, h := range l.hosts {
		if len(l.hosts) < maxTrackedHosts/2 {
			break
		}
		if now.After(h.blockedUntil) {
			delete(l.hosts, host)
		}
	}
}
