package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// nonceLifetime is how long a Digest nonce is accepted.
const nonceLifetime = 5 * time.Minute

// ErrStaleNonce is returned by AuthenticateDigest for a correct response
// computed with an expired nonce: answer with a new challenge marked
// stale=true, and the client retries without asking its user again.
var ErrStaleNonce = errors.New("the digest nonce has expired")

// digestState remembers the highest nonce count seen per nonce, to refuse
// replays.
type digestState struct {
	mu   sync.Mutex
	seen map[string]uint64
}

func newDigestState() *digestState { return &digestState{seen: map[string]uint64{}} }

// DigestChallenges returns the values of the WWW-Authenticate headers
// offering HTTP Digest (RFC 7616, qop=auth), SHA-256 first, then MD5 for
// older clients. stale marks a renewal after ErrStaleNonce.
func (s *Store) DigestChallenges(stale bool) []string {
	nonce := s.newNonce()
	opaque := s.opaque()
	var out []string
	for _, alg := range []string{"SHA-256", "MD5"} {
		c := `Digest realm="` + DigestRealm + `", qop="auth", algorithm=` + alg + `, nonce="` + nonce + `", opaque="` + opaque + `"`
		if stale {
			c += ", stale=true"
		}
		out = append(out, c)
	}
	return out
}

func (s *Store) newNonce() string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(s.opts.Now().UnixNano()))
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(s.nonceMAC(ts[:]))
}

func (s *Store) nonceMAC(ts []byte) []byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte("nonce"))
	m.Write(ts)
	return m.Sum(nil)[:16]
}

func (s *Store) opaque() string {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte("opaque"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// checkNonce verifies that the server issued nonce and returns its age.
func (s *Store) checkNonce(nonce string) (time.Duration, bool) {
	b, err := hex.DecodeString(nonce)
	if err != nil || len(b) != 8+16 {
		return 0, false
	}
	if !hmac.Equal(b[8:], s.nonceMAC(b[:8])) {
		return 0, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	return s.opts.Now().Sub(issued), true
}

// AuthenticateDigest checks the value of an "Authorization: Digest ..."
// header for a request with the given method and request URI. Errors are
// ErrUnauthorized, ErrStaleNonce or a *RateLimitError.
func (s *Store) AuthenticateDigest(authorization, method, requestURI, remoteAddr string) (wbem.Principal, error) {
	host := hostOf(remoteAddr)
	if err := s.limiter.check(host); err != nil {
		return wbem.Principal{}, err
	}
	p, err := s.verifyDigest(authorization, method, requestURI)
	switch {
	case errors.Is(err, ErrStaleNonce):
		return wbem.Principal{}, err
	case err != nil:
		s.limiter.fail(host)
		return wbem.Principal{}, ErrUnauthorized
	}
	s.limiter.success(host)
	return p, nil
}

func (s *Store) verifyDigest(authorization, method, requestURI string) (wbem.Principal, error) {
	params, ok := parseDigest(authorization)
	if !ok {
		return wbem.Principal{}, ErrUnauthorized
	}
	user, nonce, uri, response := params["username"], params["nonce"], params["uri"], params["response"]
	if user == "" || nonce == "" || response == "" || params["realm"] != DigestRealm || params["userhash"] == "true" {
		return wbem.Principal{}, ErrUnauthorized
	}
	// The digest covers the URI the client wrote; it must be the one it
	// requested.
	if uri != requestURI {
		return wbem.Principal{}, ErrUnauthorized
	}
	var newHash func() hash.Hash
	u := s.current().users[cim.FoldName(user)]
	if u == nil || u.DigestMD5 == "" {
		return wbem.Principal{}, ErrUnauthorized
	}
	ha1 := u.DigestMD5
	switch strings.ToUpper(params["algorithm"]) {
	case "", "MD5":
		newHash = md5.New
	case "SHA-256":
		newHash, ha1 = sha256.New, u.DigestSHA256
	default:
		return wbem.Principal{}, ErrUnauthorized
	}
	h := func(parts ...string) string {
		d := newHash()
		d.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(d.Sum(nil))
	}
	ha2 := h(method, uri)
	var want string
	var nc uint64
	switch qop := params["qop"]; qop {
	case "auth":
		var err error
		if nc, err = strconv.ParseUint(params["nc"], 16, 32); err != nil || params["cnonce"] == "" {
			return wbem.Principal{}, ErrUnauthorized
		}
		want = h(ha1, nonce, params["nc"], params["cnonce"], qop, ha2)
	case "":
		want = h(ha1, nonce, ha2) // RFC 2069 clients
	default:
		return wbem.Principal{}, ErrUnauthorized
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(response))) != 1 {
		return wbem.Principal{}, ErrUnauthorized
	}
	age, ok := s.checkNonce(nonce)
	if !ok {
		return wbem.Principal{}, ErrUnauthorized
	}
	if age > nonceLifetime || age < -time.Minute {
		return wbem.Principal{}, ErrStaleNonce
	}
	if !s.digest.accept(nonce, nc, params["qop"] != "") {
		return wbem.Principal{}, ErrUnauthorized
	}
	return wbem.Principal{User: u.Name}, nil
}

// accept records nonce count nc for nonce and reports whether it is new.
// Without qop there is no count, and a nonce may be used once.
func (d *digestState) accept(nonce string, nc uint64, counted bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	last, seen := d.seen[nonce]
	if seen && (!counted || nc <= last) {
		return false
	}
	if len(d.seen) >= 100000 {
		// Nonces expire after nonceLifetime; forgetting old ones only lets
		// a replay through within that window, and clients renew often.
		for k := range d.seen {
			delete(d.seen, k)
			if len(d.seen) < 50000 {
				break
			}
		}
	}
	d.seen[nonce] = nc
	return true
}

// parseDigest splits the parameters of a Digest credentials header.
func parseDigest(h string) (map[string]string, bool) {
	h = strings.TrimSpace(h)
	if len(h) < 7 || !strings.EqualFold(h[:7], "Digest ") {
		return nil, false
	}
	h = h[7:]
	params := map[string]string{}
	for len(h) > 0 {
		h = strings.TrimLeft(h, " \t,")
		if h == "" {
			break
		}
		eq := strings.IndexByte(h, '=')
		if eq <= 0 {
			return nil, false
		}
		key := strings.ToLower(strings.TrimSpace(h[:eq]))
		h = strings.TrimLeft(h[eq+1:], " \t")
		var val string
		if strings.HasPrefix(h, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(h) && h[i] != '"'; i++ {
				if h[i] == '\\' && i+1 < len(h) {
					i++
				}
				b.WriteByte(h[i])
			}
			if i >= len(h) {
				return nil, false
			}
			val, h = b.String(), h[i+1:]
		} else {
			end := strings.IndexByte(h, ',')
			if end < 0 {
				end = len(h)
			}
			val, h = strings.TrimSpace(h[:end]), h[end:]
		}
		if _, dup := params[key]; dup {
			return nil, false
		}
		params[key] = val
	}
	return params, true
}
