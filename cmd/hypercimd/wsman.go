package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/hypercim/hypercim/wbem/wsman"
)

// wsmanConfig holds the WS-Management flags.
type wsmanConfig struct {
	httpAddr  string
	httpsAddr string
	// eventCAs are the certificates of --wsman-event-ca, read and checked
	// when the flag is parsed.
	eventCAs []*x509.Certificate
}

// declare adds the WS-Management flags to fs.
func (w *wsmanConfig) declare(fs *flag.FlagSet) {
	fs.StringVar(&w.httpAddr, "wsman-http", "127.0.0.1:5985", "WS-Management (DSP0226, path /wsman) over HTTP listen address (`ADDR`); empty disables")
	fs.StringVar(&w.httpsAddr, "wsman-https", ":5986", "WS-Management over HTTPS listen address (`ADDR`); empty disables")
	fs.Func("wsman-event-ca", "PEM `FILE` of CA certificates trusted, besides the system's roots, for WS-Eventing sinks reached over HTTPS (repeatable)", func(file string) error {
		certs, err := readCertificates(file)
		if err != nil {
			return err
		}
		w.eventCAs = append(w.eventCAs, certs...)
		return nil
	})
}

// readCertificates reads every certificate of a PEM file.
func readCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New(file + " holds no PEM certificate")
	}
	return out, nil
}

// eventTLS is the TLS configuration for event sinks: the system's roots
// and the --wsman-event-ca certificates.
func (w wsmanConfig) eventTLS() *tls.Config {
	if len(w.eventCAs) == 0 {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, c := range w.eventCAs {
		pool.AddCert(c)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// wsmanEventStore is the ProviderStore of the WS-Eventing subscriptions.
const wsmanEventStore = "wseventing"

// wsmanProtocol is the WS-Management entry of the daemon's protocol table:
// the same core, users and request size limit as CIM-XML, and WS-Eventing
// on the core's indication service with its subscriptions in the
// database. Event sinks reached over HTTPS are verified against the
// system's certificate roots and those of --wsman-event-ca.
func (d *daemon) wsmanProtocol(w wsmanConfig) protocol {
	var a wsman.Authenticator
	if !d.cfg.noAuth {
		a = d.users
	}
	h := wsman.NewHandler(wsman.Config{
		Ops:            d.core.ops,
		Auth:           a,
		ProductVersion: productVersion(),
		Limits:         wsman.Limits{MaxBytes: int64(d.cfg.maxRequestSize)},
		Log:            d.log.WithField("protocol", "wsman"),
		Events:         d.core.server.Indications(),
		EventStore:     d.core.server.ProviderStore(wsmanEventStore),
		EventTLS:       w.eventTLS(),
	})
	return protocol{name: "WS-Management", path: wsman.Path, handler: h, httpAddr: w.httpAddr, httpsAddr: w.httpsAddr}
}
