package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hypercim/hypercim/wbem/auth"
)

// The self-signed certificate generated on first start, under the data
// directory.
const (
	tlsDir      = "tls"
	tlsCertFile = "server.crt"
	tlsKeyFile  = "server.key"
)

// tlsSetup is the TLS configuration shared by every HTTPS listener, and
// what the log says about it.
type tlsSetup struct {
	config      *tls.Config
	certFile    string
	generated   bool
	fingerprint string
}

// loadTLS builds the server TLS configuration: the given certificate, or
// the data directory's self-signed one (created on first use), and client
// certificate requests. With a client CA, certificates it signs are
// verified (and may map to users by subject); without one, a client may
// still present a certificate, which maps to a user only by its
// fingerprint.
func loadTLS(c *config) (*tlsSetup, error) {
	s := &tlsSetup{certFile: c.tlsCert}
	keyFile := c.tlsKey
	if s.certFile == "" {
		dir := filepath.Join(c.dataDir, tlsDir)
		s.certFile, keyFile = filepath.Join(dir, tlsCertFile), filepath.Join(dir, tlsKeyFile)
		created, err := ensureSelfSigned(dir, s.certFile, keyFile)
		if err != nil {
			return nil, err
		}
		s.generated = created
	}
	cert, err := tls.LoadX509KeyPair(s.certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s and key %s: %w", s.certFile, keyFile, err)
	}
	if len(cert.Certificate) > 0 {
		sum := sha256.Sum256(cert.Certificate[0])
		s.fingerprint = hex.EncodeToString(sum[:])
	}
	s.config = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}
	if c.tlsClientCA != "" {
		pem, err := os.ReadFile(c.tlsClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca: %s holds no PEM certificate", c.tlsClientCA)
		}
		s.config.ClientCAs = pool
		s.config.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return s, nil
}

// ensureSelfSigned writes a self-signed ECDSA P-256 certificate for
// localhost, the loopback addresses and the host's name, unless one is
// there already. It reports whether it created one.
func ensureSelfSigned(dir, certFile, keyFile string) (bool, error) {
	_, errCert := os.Stat(certFile)
	_, errKey := os.Stat(keyFile)
	if errCert == nil && errKey == nil {
		return false, nil
	}
	if errCert == nil || errKey == nil {
		return false, fmt.Errorf("found only one of %s and %s: remove it to have both generated again", certFile, keyFile)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return false, err
	}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[len(names)-1], Organization: []string{"hypercim (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return false, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return false, err
	}
	// The key first, so that a crash in between leaves no certificate
	// without its key.
	if err := auth.WriteFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return false, err
	}
	if err := auth.WriteFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return false, err
	}
	return true, nil
}
