package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// File names in the data directory.
const (
	UsersFile           = "users.json"
	InitialPasswordFile = "initial-admin-password"
	lockFile            = UsersFile + ".lock"
)

// DigestRealm is the realm of HTTP Digest authentication; the stored
// digests are bound to it.
const DigestRealm = "hypercim"

// DefaultBcryptCost is the cost of new password hashes.
const DefaultBcryptCost = 10

// Right is a user's right on a namespace.
type Right uint8

const (
	RightNone Right = iota
	RightRead
	RightWrite // includes read
)

// ParseRight reads "read" or "write".
func ParseRight(s string) (Right, error) {
	switch strings.ToLower(s) {
	case "read":
		return RightRead, nil
	case "write":
		return RightWrite, nil
	}
	return RightNone, fmt.Errorf("unknown right %q: use read or write", s)
}

func (r Right) String() string {
	switch r {
	case RightRead:
		return "read"
	case RightWrite:
		return "write"
	}
	return "none"
}

// AllNamespaces is the namespace pattern a right can be granted on to cover
// every namespace.
const AllNamespaces = "*"

// User is a user as listed by Users.
type User struct {
	Name  string
	Admin bool
	// Rights maps canonical namespace names (or "*") to rights.
	Rights map[string]Right
	// Digest tells whether the user may authenticate with HTTP Digest.
	Digest bool
	// Certificates are the client certificate matches mapped to the user
	// ("sha256:<hex>" or "subject:<DN>").
	Certificates []string
}

// userRecord is a user as stored in the users file.
type userRecord struct {
	Name         string            `json:"name"`
	Hash         string            `json:"bcrypt"`
	Admin        bool              `json:"admin,omitempty"`
	Rights       map[string]string `json:"rights,omitempty"`
	DigestMD5    string            `json:"digestMD5,omitempty"`
	DigestSHA256 string            `json:"digestSHA256,omitempty"`
	Certificates []string          `json:"certificates,omitempty"`
}

// usersFile is the users file.
type usersFile struct {
	Version int           `json:"version"`
	Users   []*userRecord `json:"users"`
}

const fileVersion = 1

// snapshot is the users file as loaded: immutable once published.
type snapshot struct {
	users map[string]*userRecord // by folded name
	certs map[string]string      // folded match -> user name
	stamp fileStamp
	// verified remembers recent successful Basic checks of this snapshot
	// (one entry a user at most).
	verified sync.Map // user name -> verifiedEntry
}

type fileStamp struct {
	size    int64
	modTime time.Time
	exists  bool
}

// Options tune a Store; the zero value gives the documented defaults.
type Options struct {
	// MaxFailures is how many failed logins from one address within
	// FailureWindow block it (5).
	MaxFailures int
	// FailureWindow is the window failures are counted in (1 minute).
	FailureWindow time.Duration
	// BlockTime is how long a first block lasts (30 seconds); each
	// further block doubles it, up to MaxBlockTime (15 minutes).
	BlockTime    time.Duration
	MaxBlockTime time.Duration
	// ReloadInterval is how often the users file is checked for changes
	// (1 second).
	ReloadInterval time.Duration
	// CacheTTL is how long a successful password check is remembered
	// (5 minutes); negative disables the cache.
	CacheTTL time.Duration
	// BcryptCost is the cost of new password hashes (DefaultBcryptCost);
	// tests lower it to bcrypt.MinCost to run fast.
	BcryptCost int
	// Now returns the current time (time.Now); tests replace it.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = time.Minute
	}
	if o.BlockTime <= 0 {
		o.BlockTime = 30 * time.Second
	}
	if o.MaxBlockTime <= 0 {
		o.MaxBlockTime = 15 * time.Minute
	}
	if o.ReloadInterval <= 0 {
		o.ReloadInterval = time.Second
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = DefaultBcryptCost
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Store is the users of one data directory. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options

	snap      atomic.Pointer[snapshot]
	lastCheck atomic.Int64 // unix nanoseconds of the last stamp check
	reloadMu  sync.Mutex

	// key is a per-process secret for the verification cache and Digest
	// nonces.
	key     [32]byte
	limiter *limiter
	digest  *digestState
	// dummyHash is compared against for unknown users, so that a wrong
	// user name costs as much time as a wrong password; made on first use.
	dummyOnce sync.Once
	dummyHash []byte
	// flights coalesces identical password checks in progress; compare
	// is the check (bcrypt; tests count its calls).
	flights flights
	compare func(hash, password []byte) error
	// macs recycles the HMAC state of credentialMAC.
	macs sync.Pool
}

// Open opens the users of data directory dir (created with mode 0700 if
// missing). A missing users file means no users yet (see EnsureAdmin).
func Open(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.defaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	s := &Store{dir: dir, opts: o, compare: bcrypt.CompareHashAndPassword}
	s.macs.New = func() any { return &macState{h: hmac.New(sha256.New, s.key[:])} }
	if _, err := rand.Read(s.key[:]); err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	s.limiter = newLimiter(&s.opts)
	s.digest = newDigestState()
	snap, err := s.load()
	if err != nil {
		return nil, err
	}
	s.snap.Store(snap)
	s.lastCheck.Store(o.Now().UnixNano())
	return s, nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

func (s *Store) stamp() (fileStamp, error) {
	fi, err := os.Stat(s.path(UsersFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: fi.Size(), modTime: fi.ModTime(), exists: true}, nil
}

// load reads the users file into a new snapshot.
func (s *Store) load() (*snapshot, error) {
	st, err := s.stamp()
	if err != nil {
		return nil, fmt.Errorf("reading the users file: %w", err)
	}
	f := &usersFile{Version: fileVersion}
	if st.exists {
		data, err := os.ReadFile(s.path(UsersFile))
		if err != nil {
			return nil, fmt.Errorf("reading the users file: %w", err)
		}
		if err := json.Unmarshal(data, f); err != nil {
			return nil, fmt.Errorf("the users file %s is damaged (%w); restore it from a backup or remove it to start over", s.path(UsersFile), err)
		}
		if f.Version != fileVersion {
			return nil, fmt.Errorf("the users file %s has version %d, which this hypercim does not read", s.path(UsersFile), f.Version)
		}
	}
	return newSnapshot(f, st)
}

func newSnapshot(f *usersFile, st fileStamp) (*snapshot, error) {
	snap := &snapshot{users: map[string]*userRecord{}, certs: map[string]string{}, stamp: st}
	for _, u := range f.Users {
		if u == nil || u.Name == "" {
			continue
		}
		snap.users[cim.FoldName(u.Name)] = u
		for _, c := range u.Certificates {
			snap.certs[foldMatch(c)] = u.Name
		}
	}
	return snap, nil
}

// current returns the snapshot in use, reloading the file first when it
// changed (checked at most once per ReloadInterval).
func (s *Store) current() *snapshot {
	now := s.opts.Now().UnixNano()
	last := s.lastCheck.Load()
	if now-last < int64(s.opts.ReloadInterval) || !s.lastCheck.CompareAndSwap(last, now) {
		return s.snap.Load()
	}
	s.reload()
	return s.snap.Load()
}

// reload replaces the snapshot when the file changed. A file that cannot
// be read keeps the old snapshot: a broken edit must not lock everyone out.
func (s *Store) reload() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	st, err := s.stamp()
	if err != nil || st == s.snap.Load().stamp {
		return
	}
	if snap, err := s.load(); err == nil {
		s.snap.Store(snap)
	}
}

// Reload rereads the users file now.
func (s *Store) Reload() error {
	snap, err := s.load()
	if err != nil {
		return err
	}
	s.snap.Store(snap)
	return nil
}

// Users returns the users, sorted by name.
func (s *Store) Users() []User {
	snap := s.current()
	out := make([]User, 0, len(snap.users))
	for _, u := range snap.users {
		out = append(out, publicUser(u))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// User returns the named user.
func (s *Store) User(name string) (User, bool) {
	u := s.current().users[cim.FoldName(name)]
	if u == nil {
		return User{}, false
	}
	return publicUser(u), true
}

func publicUser(u *userRecord) User {
	pu := User{Name: u.Name, Admin: u.Admin, Rights: map[string]Right{}, Digest: u.DigestMD5 != "",
		Certificates: append([]string(nil), u.Certificates...)}
	for ns, r := range u.Rights {
		right, _ := ParseRight(r)
		pu.Rights[ns] = right
	}
	return pu
}

// Allowed reports whether p may read (or write, when write is set) in the
// canonical namespace ns. Unrestricted principals may do anything;
// admins everything; other users what they were granted on ns or on "*".
func (s *Store) Allowed(p wbem.Principal, ns string, write bool) bool {
	if p.Unrestricted {
		return true
	}
	u := s.current().users[cim.FoldName(p.User)]
	if u == nil {
		return false
	}
	if u.Admin {
		return true
	}
	need := RightRead
	if write {
		need = RightWrite
	}
	ns = cim.FoldName(wbem.CanonicalNamespace(ns))
	for pattern, r := range u.Rights {
		right, _ := ParseRight(r)
		if right >= need && (pattern == AllNamespaces || cim.FoldName(pattern) == ns) {
			return true
		}
	}
	return false
}

var _ wbem.Authorizer = (*Store)(nil)

// ValidUserName reports whether name can name a user: 1 to 64 letters,
// digits, '.', '_', '-' or '@', not starting with '-' or '.'. Colons are
// excluded because HTTP Basic separates the name from the password with one.
func ValidUserName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '-' || name[0] == '.' {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '@':
		default:
			return false
		}
	}
	return true
}

// UserOptions are the attributes of a new user.
type UserOptions struct {
	Admin bool
	// Digest stores the Digest authentication digests for the user (see
	// the package documentation for what that implies).
	Digest bool
}

// ErrNoSuchUser is returned for operations on an unknown user.
var ErrNoSuchUser = errors.New("no such user")

// ErrUserExists is returned by AddUser for a name already taken.
var ErrUserExists = errors.New("user already exists")

// AddUser creates a user.
func (s *Store) AddUser(name, password string, o UserOptions) error {
	if !ValidUserName(name) {
		return fmt.Errorf("invalid user name %q: use 1 to 64 letters, digits, '.', '_', '-' or '@'", name)
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	if err != nil {
		return fmt.Errorf("hashing the password: %w", err)
	}
	return s.modify(func(f *usersFile) error {
		if findUser(f, name) != nil {
			return fmt.Errorf("%w: %s", ErrUserExists, name)
		}
		u := &userRecord{Name: name, Hash: string(hash), Admin: o.Admin}
		if o.Digest {
			u.DigestMD5, u.DigestSHA256 = digestsOf(name, password)
		}
		f.Users = append(f.Users, u)
		return nil
	})
}

// MinPasswordLength is the fewest characters CheckNewPassword accepts.
const MinPasswordLength = 8

// CheckNewPassword applies the policy for a password a person chooses
// ('hypercim user add' and 'user passwd'): at least MinPasswordLength
// characters and at most 72 bytes, bcrypt's limit. AddUser and SetPassword
// check only what the store can hold (1 to 72 bytes, no line break or
// NUL): programs and tests may need shorter ones, such as the credentials
// recorded in captured client requests.
func CheckNewPassword(password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLength {
		return fmt.Errorf("the password has %d characters; use at least %d (a few words make a password that is long and easy to remember)", n, MinPasswordLength)
	}
	return nil
}

func checkPassword(password string) error {
	switch {
	case password == "":
		return errors.New("the password is empty")
	case len(password) > 72:
		// bcrypt looks at 72 bytes only; refuse rather than truncate.
		return errors.New("the password is longer than 72 bytes")
	case strings.ContainsAny(password, "\r\n\x00"):
		return errors.New("the password contains a line break or NUL")
	}
	return nil
}

// digestsOf returns H(user:realm:password) with MD5 and SHA-256, in hex.
func digestsOf(name, password string) (string, string) {
	a1 := name + ":" + DigestRealm + ":" + password
	m := md5.Sum([]byte(a1))
	h := sha256.Sum256([]byte(a1))
	return hex.EncodeToString(m[:]), hex.EncodeToString(h[:])
}

// SetPassword changes a user's password (and Digest digests, if the user
// has them).
func (s *Store) SetPassword(name, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	if err != nil {
		return fmt.Errorf("hashing the password: %w", err)
	}
	return s.modifyUser(name, func(u *userRecord) error {
		u.Hash = string(hash)
		if u.DigestMD5 != "" {
			u.DigestMD5, u.DigestSHA256 = digestsOf(u.Name, password)
		}
		return nil
	})
}

// DeleteUser removes a user.
func (s *Store) DeleteUser(name string) error {
	return s.modify(func(f *usersFile) error {
		for i, u := range f.Users {
			if cim.EqualNames(u.Name, name) {
				f.Users = append(f.Users[:i], f.Users[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
	})
}

// SetAdmin gives or takes away a user's admin rights.
func (s *Store) SetAdmin(name string, admin bool) error {
	return s.modifyUser(name, func(u *userRecord) error {
		u.Admin = admin
		return nil
	})
}

// Grant gives a user a right on a namespace ("*" for all); granting
// replaces the right the user had there.
func (s *Store) Grant(name, namespace string, r Right) error {
	if r == RightNone {
		return s.Revoke(name, namespace)
	}
	ns, err := grantNamespace(namespace)
	if err != nil {
		return err
	}
	return s.modifyUser(name, func(u *userRecord) error {
		for k := range u.Rights {
			if cim.EqualNames(k, ns) {
				delete(u.Rights, k)
			}
		}
		if u.Rights == nil {
			u.Rights = map[string]string{}
		}
		u.Rights[ns] = r.String()
		return nil
	})
}

// Revoke removes a user's right on a namespace.
func (s *Store) Revoke(name, namespace string) error {
	ns, err := grantNamespace(namespace)
	if err != nil {
		return err
	}
	return s.modifyUser(name, func(u *userRecord) error {
		found := false
		for k := range u.Rights {
			if cim.EqualNames(k, ns) {
				delete(u.Rights, k)
				found = true
			}
		}
		if !found {
			return fmt.Errorf("user %s has no right on %s", u.Name, ns)
		}
		return nil
	})
}

func grantNamespace(namespace string) (string, error) {
	if namespace == AllNamespaces {
		return namespace, nil
	}
	ns := wbem.CanonicalNamespace(namespace)
	if ns == "" {
		return "", errors.New("the namespace is empty (use * for every namespace)")
	}
	for _, part := range strings.Split(ns, "/") {
		if !cim.ValidName(part) {
			return "", fmt.Errorf("invalid namespace %q", namespace)
		}
	}
	return ns, nil
}

func findUser(f *usersFile, name string) *userRecord {
	for _, u := range f.Users {
		if cim.EqualNames(u.Name, name) {
			return u
		}
	}
	return nil
}

func (s *Store) modifyUser(name string, fn func(u *userRecord) error) error {
	return s.modify(func(f *usersFile) error {
		u := findUser(f, name)
		if u == nil {
			return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
		}
		return fn(u)
	})
}

// modify applies fn to the users file under the file lock, writes the
// result atomically, and uses it at once.
func (s *Store) modify(fn func(f *usersFile) error) error {
	unlock, err := lockDir(s.path(lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	snap, err := s.load()
	if err != nil {
		return err
	}
	f := &usersFile{Version: fileVersion}
	for _, u := range snap.users {
		cp := *u
		cp.Rights = map[string]string{}
		for k, v := range u.Rights {
			cp.Rights[k] = v
		}
		cp.Certificates = append([]string(nil), u.Certificates...)
		f.Users = append(f.Users, &cp)
	}
	sort.Slice(f.Users, func(i, j int) bool { return f.Users[i].Name < f.Users[j].Name })
	if err := fn(f); err != nil {
		return err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(s.path(UsersFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the users file: %w", err)
	}
	return s.Reload()
}

// WriteFileAtomic replaces path with data: a temporary file in the same
// directory is written and synced, renamed over path, and the directory
// synced, so that a crash leaves either the old or the new content. The
// store writes its users file with it, and hypercimd its generated TLS key
// and certificate.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a directory (EINVAL); the rename is
	// then as durable as they make it.
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// EnsureAdmin creates the user "admin" with a random password when there
// are no users at all, and writes the password to
// <data-dir>/initial-admin-password (mode 0600). It returns the path of
// that file when it created the user, "" otherwise. The caller should log
// the path, never the password.
func (s *Store) EnsureAdmin() (passwordFile string, err error) {
	password, err := randomPassword()
	if err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	if err != nil {
		return "", err
	}
	created := false
	pwPath := s.path(InitialPasswordFile)
	err = s.modify(func(f *usersFile) error {
		if len(f.Users) > 0 {
			return errNothingToDo
		}
		// The password file is written first: a crash between the two
		// writes leaves no admin and a stale file, and the next start
		// writes both again.
		if err := WriteFileAtomic(pwPath, []byte(password+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", pwPath, err)
		}
		f.Users = append(f.Users, &userRecord{Name: "admin", Hash: string(hash), Admin: true})
		created = true
		return nil
	})
	if errors.Is(err, errNothingToDo) {
		return "", nil
	}
	if err != nil || !created {
		return "", err
	}
	return pwPath, nil
}

var errNothingToDo = errors.New("nothing to do")

// randomPassword returns 20 random characters from an unambiguous
// alphabet (about 115 bits).
func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, 0, 20)
	buf := make([]byte, 32)
	for len(out) < cap(out) {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			// Rejection sampling keeps every character equally likely.
			if int(c) < 256-256%len(alphabet) && len(out) < cap(out) {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}
