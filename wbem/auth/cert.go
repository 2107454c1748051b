package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/hypercim/hypercim/wbem"
)

// Certificate matches name the client certificates mapped to a user.
const (
	fingerprintPrefix = "sha256:"
	subjectPrefix     = "subject:"
)

// CertificateFingerprint returns the match of cert by its SHA-256
// fingerprint: "sha256:" and the lower-case hex digest of its DER form.
func CertificateFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return fingerprintPrefix + hex.EncodeToString(sum[:])
}

// NormalizeCertificateMatch checks and normalizes a certificate match as an
// administrator writes it: "sha256:AB:CD:..." (colons and case as openssl
// prints them are accepted) or "subject:CN=alice,O=Example" (also the
// "/O=Example/CN=alice" form of older openssl; the order of the parts does
// not matter).
func NormalizeCertificateMatch(match string) (string, error) {
	lower := strings.ToLower(match)
	switch {
	case strings.HasPrefix(lower, fingerprintPrefix):
		h := strings.ReplaceAll(strings.TrimSpace(lower[len(fingerprintPrefix):]), ":", "")
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return "", fmt.Errorf("invalid SHA-256 fingerprint %q: expected 32 bytes in hex", match)
		}
		return fingerprintPrefix + h, nil
	case strings.HasPrefix(lower, subjectPrefix):
		dn := normalizeDN(match[len(subjectPrefix):])
		if dn == "" {
			return "", fmt.Errorf("invalid subject %q", match)
		}
		return subjectPrefix + dn, nil
	}
	return "", fmt.Errorf("invalid certificate match %q: use sha256:<fingerprint> or subject:<distinguished name>", match)
}

// foldMatch is the map key of a normalized match.
func foldMatch(m string) string {
	if n, err := NormalizeCertificateMatch(m); err == nil {
		return n
	}
	return m
}

// normalizeDN turns a distinguished name into a canonical, order-free
// form: TYPE=value parts, types upper-cased, sorted, joined by commas.
func normalizeDN(dn string) string {
	dn = strings.TrimSpace(dn)
	sep := byte(',')
	if strings.HasPrefix(dn, "/") {
		sep = '/'
		dn = dn[1:]
	}
	var parts []string
	var cur strings.Builder
	flush := func() bool {
		p := strings.TrimSpace(cur.String())
		cur.Reset()
		if p == "" {
			return true
		}
		eq := strings.IndexByte(p, '=')
		if eq <= 0 {
			return false
		}
		parts = append(parts, strings.ToUpper(strings.TrimSpace(p[:eq]))+"="+strings.TrimSpace(p[eq+1:]))
		return true
	}
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c == '\\' && i+1 < len(dn):
			cur.WriteByte(c)
			cur.WriteByte(dn[i+1])
			i++
		case c == sep || sep == ',' && c == '+':
			if !flush() {
				return ""
			}
		default:
			cur.WriteByte(c)
		}
	}
	if !flush() || len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// AuthenticateCertificate returns the user a TLS client certificate is
// mapped to. A fingerprint match identifies the certificate itself and
// always applies; a subject match applies only when verified is set, that
// is when the TLS layer checked the certificate's chain against the
// trusted client CAs (anyone can make a self-signed certificate with any
// subject). An unmapped certificate is ErrUnauthorized.
func (s *Store) AuthenticateCertificate(cert *x509.Certificate, verified bool, remoteAddr string) (wbem.Principal, error) {
	host := hostOf(remoteAddr)
	if err := s.limiter.check(host); err != nil {
		return wbem.Principal{}, err
	}
	snap := s.current()
	name, ok := snap.certs[CertificateFingerprint(cert)]
	if !ok && verified {
		name, ok = snap.certs[subjectPrefix+normalizeDN(cert.Subject.String())]
	}
	if !ok {
		return wbem.Principal{}, ErrUnauthorized
	}
	return wbem.Principal{User: name}, nil
}

// AddCertificate maps a client certificate match (see
// NormalizeCertificateMatch) to a user. A match belongs to one user only.
func (s *Store) AddCertificate(name, match string) error {
	m, err := NormalizeCertificateMatch(match)
	if err != nil {
		return err
	}
	return s.modify(func(f *usersFile) error {
		u := findUser(f, name)
		if u == nil {
			return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
		}
		for _, o := range f.Users {
			for _, c := range o.Certificates {
				if foldMatch(c) == m {
					return fmt.Errorf("the certificate %s is already mapped to user %s", m, o.Name)
				}
			}
		}
		u.Certificates = append(u.Certificates, m)
		return nil
	})
}

// RemoveCertificate removes a certificate match from a user.
func (s *Store) RemoveCertificate(name, match string) error {
	m, err := NormalizeCertificateMatch(match)
	if err != nil {
		return err
	}
	return s.modifyUser(name, func(u *userRecord) error {
		for i, c := range u.Certificates {
			if foldMatch(c) == m {
				u.Certificates = append(u.Certificates[:i], u.Certificates[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("user %s has no certificate %s", u.Name, m)
	})
}
