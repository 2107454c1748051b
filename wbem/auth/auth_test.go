package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hypercim/hypercim/wbem"
)

// clock is a settable time source for the tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openTest(t *testing.T, dir string, c *clock) *Store {
	t.Helper()
	s, err := Open(dir, &Options{Now: c.Now, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestCheckNewPassword(t *testing.T) {
	for pw, want := range map[string]string{
		"":                      "empty",
		"1":                     "has 1 characters; use at least 8",
		"seven77":               "has 7 characters",
		"ßüñéçø7":               "has 7 characters",
		"eight888":              "",
		"ßüñéçø78":              "",
		strings.Repeat("x", 72): "",
		strings.Repeat("x", 73): "longer than 72 bytes",
		"line\nbreak":           "line break",
	} {
		err := CheckNewPassword(pw)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckNewPassword(%q) = %v, want %q", pw, err, want)
		}
	}
}

func TestEnsureAdmin(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, newClock())
	pwFile, err := s.EnsureAdmin()
	if err != nil {
		t.Fatal(err)
	}
	if pwFile != filepath.Join(dir, InitialPasswordFile) {
		t.Fatalf("password file %q", pwFile)
	}
	for _, name := range []string{InitialPasswordFile, UsersFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(pwFile)
	password := strings.TrimSpace(string(data))
	if len(password) != 20 || CheckNewPassword(password) != nil {
		t.Fatalf("password %q: %v", password, CheckNewPassword(password))
	}
	if users, _ := os.ReadFile(filepath.Join(dir, UsersFile)); strings.Contains(string(users), password) {
		t.Fatal("the users file holds the password in clear")
	}
	p, err := s.Authenticate("admin", password, "127.0.0.1:4000")
	if err != nil || p.User != "admin" || p.Unrestricted {
		t.Fatalf("Authenticate: %+v, %v", p, err)
	}
	if !s.Allowed(p, "root/virt", true) || !s.Allowed(p, "interop", true) {
		t.Error("admin must have every right")
	}
	again, err := s.EnsureAdmin()
	if err != nil || again != "" {
		t.Fatalf("second EnsureAdmin: %q, %v", again, err)
	}
	if _, err := s.Authenticate("admin", "wrong", "127.0.0.1:4000"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := s.Authenticate("nobody", password, "127.0.0.1:4000"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestUsersAndRights(t *testing.T) {
	s := openTest(t, t.TempDir(), newClock())
	if err := s.AddUser("alice", "s3cret pass", UserOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("ALICE", "x", UserOptions{}); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate user (case-insensitive): %v", err)
	}
	for _, bad := range []string{"", "a:b", "-x", "a b", strings.Repeat("a", 65)} {
		if err := s.AddUser(bad, "pw", UserOptions{}); err == nil {
			t.Errorf("user name %q accepted", bad)
		}
	}
	if err := s.AddUser("bob", "", UserOptions{}); err == nil {
		t.Error("empty password accepted")
	}
	alice := wbem.Principal{User: "alice"}
	if s.Allowed(alice, "root/virt", false) {
		t.Error("a new user must have no rights")
	}
	if err := s.Grant("alice", "/root/virt/", RightRead); err != nil {
		t.Fatal(err)
	}
	if !s.Allowed(alice, "ROOT/Virt", false) || s.Allowed(alice, "root/virt", true) || s.Allowed(alice, "root/interop", false) {
		t.Error("read on root/virt only")
	}
	if err := s.Grant("alice", "interop", RightWrite); err != nil {
		t.Fatal(err)
	}
	if !s.Allowed(alice, "root/interop", true) || !s.Allowed(alice, "root/interop", false) {
		t.Error("write (granted as 'interop') on root/interop includes read")
	}
	if err := s.Grant("alice", "*", RightRead); err != nil {
		t.Fatal(err)
	}
	if !s.Allowed(alice, "root/other", false) || s.Allowed(alice, "root/other", true) {
		t.Error("read on * covers every namespace")
	}
	u, _ := s.User("alice")
	if u.Rights["root/virt"] != RightRead || u.Rights["root/interop"] != RightWrite || u.Rights["*"] != RightRead {
		t.Errorf("rights %v", u.Rights)
	}
	if err := s.Revoke("alice", "root/interop"); err != nil {
		t.Fatal(err)
	}
	if s.Allowed(alice, "root/interop", true) {
		t.Error("revoked write still allowed")
	}
	if err := s.Revoke("alice", "root/interop"); err == nil {
		t.Error("revoking a missing right must fail")
	}
	if err := s.Grant("nobody", "root/virt", RightRead); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("grant to unknown user: %v", err)
	}
	if err := s.Grant("alice", "root/bad name", RightRead); err == nil {
		t.Error("invalid namespace accepted")
	}
	if !s.Allowed(wbem.Principal{Unrestricted: true}, "root/virt", true) {
		t.Error("unrestricted principals may do anything")
	}
	if err := s.SetPassword("alice", "new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("alice", "s3cret pass", "10.0.0.1:1"); !errors.Is(err, ErrUnauthorized) {
		t.Error("old password still accepted")
	}
	if _, err := s.Authenticate("Alice", "new password", "10.0.0.1:1"); err != nil {
		t.Errorf("new password (user name in other case): %v", err)
	}
	if err := s.DeleteUser("alice"); err != nil {
		t.Fatal(err)
	}
	if s.Allowed(alice, "root/virt", false) {
		t.Error("deleted user still allowed")
	}
	if _, err := s.Authenticate("alice", "new password", "10.0.0.1:1"); !errors.Is(err, ErrUnauthorized) {
		t.Error("deleted user still authenticates (stale cache?)")
	}
	if err := s.DeleteUser("alice"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("deleting twice: %v", err)
	}
}

// A server's Store sees changes another process makes to the file.
func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	server := openTest(t, dir, c)
	cli := openTest(t, dir, c)
	if err := cli.AddUser("carol", "pw-carol", UserOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cli.Grant("carol", "root/virt", RightWrite); err != nil {
		t.Fatal(err)
	}
	carol := wbem.Principal{User: "carol"}
	if server.Allowed(carol, "root/virt", true) {
		t.Fatal("the server saw the change before its reload interval")
	}
	c.Advance(2 * time.Second)
	if !server.Allowed(carol, "root/virt", true) {
		t.Fatal("the server did not pick up the new user")
	}
	// A broken file keeps the last good users.
	os.WriteFile(filepath.Join(dir, UsersFile), []byte("{broken"), 0o600)
	c.Advance(2 * time.Second)
	if !server.Allowed(carol, "root/virt", true) {
		t.Fatal("a damaged users file locked everyone out")
	}
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("opening a damaged file: %v", err)
	}
}

// Separate stores (as separate CLI processes) never lose each other's
// changes.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := Open(dir, &Options{BcryptCost: bcrypt.MinCost})
			if err == nil {
				err = s.AddUser(fmt.Sprintf("user%d", i), "pw", UserOptions{})
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := Open(dir, nil)
	if n := len(s.Users()); n != 8 {
		t.Fatalf("%d users, want 8", n)
	}
}

func TestRateLimit(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	if err := s.AddUser("dave", "right", UserOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := s.Authenticate("dave", "wrong", "192.0.2.7:1000"); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Another address is not affected, and a success clears the count.
	if _, err := s.Authenticate("dave", "right", "192.0.2.8:1000"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("dave", "wrong", "192.0.2.7:2000"); !errors.Is(err, ErrUnauthorized) {
		t.Fatal(err)
	}
	_, err := s.Authenticate("dave", "right", "192.0.2.7:3000")
	var rl *RateLimitError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Fatalf("after 5 failures: %v", err)
	}
	c.Advance(31 * time.Second)
	for i := 0; i < 5; i++ {
		s.Authenticate("dave", "wrong", "192.0.2.7:1000")
	}
	if _, err := s.Authenticate("dave", "right", "192.0.2.7:1"); !errors.As(err, &rl) || rl.RetryAfter != 60*time.Second {
		t.Fatalf("second block: %v", err)
	}
	c.Advance(61 * time.Second)
	if _, err := s.Authenticate("dave", "right", "192.0.2.7:1"); err != nil {
		t.Fatalf("after the block: %v", err)
	}
	// IPv6 addresses are tracked by host.
	for i := 0; i < 5; i++ {
		s.Authenticate("dave", "wrong", fmt.Sprintf("[2001:db8::1]:%d", 1000+i))
	}
	if _, err := s.Authenticate("dave", "right", "[2001:db8::1]:9"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("IPv6: %v", err)
	}
}

func digestResponse(newHash func() hash.Hash, user, password, method, uri, nonce, nc, cnonce string) string {
	h := func(s string) string {
		d := newHash()
		d.Write([]byte(s))
		return hex.EncodeToString(d.Sum(nil))
	}
	ha1 := h(user + ":" + DigestRealm + ":" + password)
	ha2 := h(method + ":" + uri)
	return h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
}

func challengeParam(ch, key string) string {
	i := strings.Index(ch, key+`="`)
	rest := ch[i+len(key)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestDigest(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	if err := s.AddUser("erin", "digest-pw", UserOptions{Digest: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("frank", "basic-pw", UserOptions{}); err != nil {
		t.Fatal(err)
	}
	chs := s.DigestChallenges(false)
	if len(chs) != 2 || !strings.Contains(chs[0], "algorithm=SHA-256") || !strings.Contains(chs[1], "algorithm=MD5") {
		t.Fatalf("challenges %q", chs)
	}
	nonce, opaque := challengeParam(chs[0], "nonce"), challengeParam(chs[0], "opaque")
	header := func(alg string, newHash func() hash.Hash, user, password, uri, nc string) string {
		resp := digestResponse(newHash, user, password, "POST", uri, nonce, nc, "abc")
		return fmt.Sprintf(`Digest username="%s", realm="hypercim", nonce="%s", uri="%s", algorithm=%s, qop=auth, nc=%s, cnonce="abc", response="%s", opaque="%s"`,
			user, nonce, uri, alg, nc, resp, opaque)
	}
	p, err := s.AuthenticateDigest(header("SHA-256", sha256.New, "erin", "digest-pw", "/wsman", "00000001"), "POST", "/wsman", "10.1.1.1:5")
	if err != nil || p.User != "erin" {
		t.Fatalf("SHA-256: %+v %v", p, err)
	}
	if _, err := s.AuthenticateDigest(header("MD5", md5.New, "erin", "digest-pw", "/wsman", "00000002"), "POST", "/wsman", "10.1.1.1:5"); err != nil {
		t.Fatalf("MD5: %v", err)
	}
	// Replaying a nonce count is refused.
	if _, err := s.AuthenticateDigest(header("MD5", md5.New, "erin", "digest-pw", "/wsman", "00000002"), "POST", "/wsman", "10.1.1.1:5"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("replay: %v", err)
	}
	if _, err := s.AuthenticateDigest(header("MD5", md5.New, "erin", "wrong", "/wsman", "00000003"), "POST", "/wsman", "10.1.1.1:5"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := s.AuthenticateDigest(header("MD5", md5.New, "erin", "digest-pw", "/other", "00000004"), "POST", "/wsman", "10.1.1.1:5"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("uri mismatch: %v", err)
	}
	if _, err := s.AuthenticateDigest(header("MD5", md5.New, "frank", "basic-pw", "/wsman", "00000001"), "POST", "/wsman", "10.1.1.2:5"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("user without digest: %v", err)
	}
	if _, err := s.AuthenticateDigest("Basic Zm9vOmJhcg==", "POST", "/wsman", "10.1.1.2:5"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("not digest: %v", err)
	}
	forged := strings.Replace(header("MD5", md5.New, "erin", "digest-pw", "/wsman", "00000009"), nonce, strings.Repeat("0", len(nonce)), 1)
	if _, err := s.AuthenticateDigest(forged, "POST", "/wsman", "10.1.1.3:5"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("forged nonce: %v", err)
	}
	c.Advance(6 * time.Minute)
	if _, err := s.AuthenticateDigest(header("MD5", md5.New, "erin", "digest-pw", "/wsman", "00000010"), "POST", "/wsman", "10.1.1.1:5"); !errors.Is(err, ErrStaleNonce) {
		t.Errorf("expired nonce: %v", err)
	}
	if !strings.Contains(s.DigestChallenges(true)[0], "stale=true") {
		t.Error("stale challenge")
	}
	// Changing the password changes the digests.
	if err := s.SetPassword("erin", "new-pw"); err != nil {
		t.Fatal(err)
	}
	nonce = challengeParam(s.DigestChallenges(false)[0], "nonce")
	if _, err := s.AuthenticateDigest(header("SHA-256", sha256.New, "erin", "new-pw", "/wsman", "00000001"), "POST", "/wsman", "10.1.1.1:5"); err != nil {
		t.Errorf("after SetPassword: %v", err)
	}
}

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Example"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCertificates(t *testing.T) {
	s := openTest(t, t.TempDir(), newClock())
	for _, n := range []string{"gina", "hank"} {
		if err := s.AddUser(n, "pw", UserOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	gcert := selfSigned(t, "gina")
	hcert := selfSigned(t, "hank")
	fp := CertificateFingerprint(gcert)
	// As openssl prints it: upper case with colons.
	var colons []string
	for i := len(fingerprintPrefix); i < len(fp); i += 2 {
		colons = append(colons, strings.ToUpper(fp[i:i+2]))
	}
	if err := s.AddCertificate("gina", "SHA256:"+strings.Join(colons, ":")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCertificate("hank", fp); err == nil {
		t.Error("one certificate mapped to two users")
	}
	if err := s.AddCertificate("hank", "subject:/O=Example/CN=hank"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.AuthenticateCertificate(gcert, false, "10.2.2.2:1"); err != nil || p.User != "gina" {
		t.Errorf("fingerprint: %+v %v", p, err)
	}
	if _, err := s.AuthenticateCertificate(hcert, false, "10.2.2.2:1"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("subject match on an unverified certificate: %v", err)
	}
	if p, err := s.AuthenticateCertificate(hcert, true, "10.2.2.2:1"); err != nil || p.User != "hank" {
		t.Errorf("subject match: %+v %v", p, err)
	}
	if err := s.RemoveCertificate("gina", fp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateCertificate(gcert, true, "10.2.2.2:1"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("removed mapping: %v", err)
	}
	for _, bad := range []string{"md5:abcd", "sha256:zz", "subject:", "CN=x"} {
		if _, err := NormalizeCertificateMatch(bad); err == nil {
			t.Errorf("match %q accepted", bad)
		}
	}
	a, _ := NormalizeCertificateMatch("subject:CN=x, O=Acme Inc")
	b, _ := NormalizeCertificateMatch("subject:/O=Acme Inc/CN=x")
	if a != b {
		t.Errorf("%q != %q", a, b)
	}
}

func TestParseDigest(t *testing.T) {
	p, ok := parseDigest(`Digest username="a\"b", realm="r", nc=00000001, qop=auth`)
	if !ok || p["username"] != `a"b` || p["nc"] != "00000001" || p["qop"] != "auth" {
		t.Errorf("%v %v", p, ok)
	}
	for _, bad := range []string{`Digest username="x`, `Digest username="a", username="b"`, `Digest =x`, "Basic x"} {
		if _, ok := parseDigest(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
