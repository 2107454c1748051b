package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem/auth"
	"github.com/hypercim/hypercim/wbem/cimxml"
)

// daemon holds what the server opened, in the order it opens them; close
// releases them in reverse.
type daemon struct {
	cfg   *config
	log   *logrus.Logger
	repo  *repository.Repository
	users *auth.Store
	core  *core
}

func newDaemon(cfg *config, logOut io.Writer) *daemon {
	l := logrus.New()
	l.SetOutput(logOut)
	l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339})
	level, _ := logrus.ParseLevel(cfg.logLevel) // validated by parseConfig
	l.SetLevel(level)
	return &daemon{cfg: cfg, log: l}
}

// run starts the server, serves until ctx is done (SIGTERM, SIGINT), then
// shuts down gracefully:
//
//  1. open the data directory: repository (exclusively), schemas, users,
//     the first administrator, the CIMOM core;
//  2. open the listeners of the protocol table, so that an address in
//     use stops the start before anything is served;
//  3. register the providers (the interop provider advertises the
//     listeners just opened);
//  4. serve; on a signal stop accepting, let requests in progress finish
//     (up to --shutdown-timeout), then close providers, core and
//     repository.
func (d *daemon) run(ctx context.Context) error {
	defer d.close()
	if err := d.open(); err != nil {
		return err
	}
	eps, err := buildEndpoints(d.protocols())
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if needsTLS(eps) {
		s, err := loadTLS(d.cfg)
		if err != nil {
			return err
		}
		fields := logrus.Fields{"certificate": s.certFile, "sha256": s.fingerprint}
		if s.generated {
			d.log.WithFields(fields).Info("generated a self-signed TLS certificate; clients must trust it (or use --tls-cert/--tls-key for one of your own)")
		} else {
			d.log.WithFields(fields).Info("TLS certificate loaded")
		}
		tlsConfig = s.config
	}
	to := timeouts{readHeader: d.cfg.readHeaderTimeout, read: d.cfg.readTimeout, idle: 2 * time.Minute}
	if err := listen(eps, tlsConfig, to, d.log); err != nil {
		return err
	}
	if err := d.core.registerProviders(d, eps); err != nil {
		for _, e := range eps {
			e.ln.Close()
		}
		return err
	}
	for _, s := range describe(eps) {
		d.log.Info("listening on ", s)
	}
	d.log.WithField("data-dir", d.cfg.dataDir).Info("hypercimd ready")
	return serveAll(ctx, eps, d.cfg.shutdownTimeout, d.log)
}

// open opens the data directory: repository, schemas, users, core.
func (d *daemon) open() error {
	if err := os.MkdirAll(d.cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	repo, err := repository.Open(d.cfg.dataDir, nil)
	if errors.Is(err, repository.ErrInUse) {
		abs, _ := filepath.Abs(d.cfg.dataDir)
		return fmt.Errorf("the data directory %s is in use by another process (another hypercimd, or a running 'hypercim mof compile'); stop it or choose another --data-dir", abs)
	}
	if err != nil {
		return fmt.Errorf("opening the repository: %w", err)
	}
	d.repo = repo
	if err := d.installSchemas(); err != nil {
		return err
	}
	users, err := auth.Open(d.cfg.dataDir, nil)
	if err != nil {
		return fmt.Errorf("opening the users file: %w", err)
	}
	d.users = users
	if d.cfg.noAuth {
		d.log.Warn("--no-auth: authentication is OFF; every local user and process that can connect has full rights (the listeners are on loopback addresses only). Use this for development only.")
	} else {
		file, err := users.EnsureAdmin()
		if err != nil {
			return fmt.Errorf("creating the first administrator: %w", err)
		}
		if file != "" {
			d.log.WithField("file", file).Info("created user \"admin\"; its password is in the file (read it, then change it with 'hypercim user passwd admin')")
		}
	}
	d.core, err = newCore(d)
	return err
}

// installSchemas compiles hypercim's MOF into the repository when it is not
// there yet (or changed since the last start).
func (d *daemon) installSchemas() error {
	start := time.Now()
	w := d.repo.NewBulkWriter()
	res, err := schemas.Install(w, schemas.InstallOptions{DMTFSchema: d.cfg.dmtfSchema})
	if err != nil {
		w.Rollback()
		return fmt.Errorf("installing the schemas: %w", err)
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("installing the schemas: %w", err)
	}
	for _, ns := range res.Namespaces {
		f := d.log.WithFields(logrus.Fields{"namespace": ns.Name, "classes": ns.Classes, "instances": ns.Instances})
		if ns.Skipped {
			f.Debug("schemas up to date")
		} else {
			f.WithField("duration", time.Since(start).Round(time.Millisecond)).Info("schemas installed")
		}
	}
	return nil
}

// protocols is the table of what the daemon serves: one entry per
// protocol, each with its path, handler and addresses. All share the
// core, the users, the TLS configuration and the request size limit.
func (d *daemon) protocols() []protocol {
	var a cimxml.Authenticator
	if !d.cfg.noAuth {
		a = d.users
	}
	h, err := cimxml.NewHandler(cimxml.Config{
		Operations:     d.core.ops,
		Auth:           a,
		NoAuth:         d.cfg.noAuth,
		MaxRequestSize: int64(d.cfg.maxRequestSize),
		Log:            d.log.WithField("protocol", "cimxml"),
	})
	if err != nil {
		panic(err) // the configuration above is always complete
	}
	return []protocol{
		{name: protocolCIMXML, path: cimxml.Path, handler: h, httpAddr: d.cfg.cimxmlHTTP, httpsAddr: d.cfg.cimxmlHTTPS},
		d.wsmanProtocol(d.cfg.wsman),
	}
}

// close releases what open opened.
func (d *daemon) close() {
	if d.core != nil {
		d.core.close()
	}
	if d.repo != nil {
		if err := d.repo.Close(); err != nil {
			d.log.WithError(err).Warn("closing the repository")
		} else {
			d.log.Info("repository closed; hypercimd stopped")
		}
	}
}
