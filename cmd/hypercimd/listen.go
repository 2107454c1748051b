package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"
)

// protocol is one protocol the daemon serves: the HTTP path its handler
// owns and the addresses it listens on without and with TLS (empty
// disables). Adding a protocol (WS-Management) is adding an entry to the
// table serve builds; protocols given the same address share one
// listener.
type protocol struct {
	name      string
	path      string
	handler   http.Handler
	httpAddr  string
	httpsAddr string
}

// endpoint is one listening socket and the protocols it serves.
type endpoint struct {
	addr string
	tls  bool
	// protocols and paths name what the endpoint serves, in step.
	protocols []string
	paths     []string
	router    *mux.Router
	ln        net.Listener
	srv       *http.Server
}

func (e *endpoint) scheme() string {
	if e.tls {
		return "https"
	}
	return "http"
}

// timeouts bound what a client may take to send a request; responses are
// not bounded, since an enumeration may stream for minutes.
type timeouts struct {
	readHeader time.Duration
	read       time.Duration
	idle       time.Duration
}

// buildEndpoints groups the protocols by address. An address cannot serve
// both with and without TLS.
func buildEndpoints(protocols []protocol) ([]*endpoint, error) {
	byAddr := map[string]*endpoint{}
	var order []*endpoint
	add := func(p protocol, addr string, useTLS bool) error {
		if addr == "" {
			return nil
		}
		e := byAddr[addr]
		if e == nil {
			e = &endpoint{addr: addr, tls: useTLS, router: mux.NewRouter()}
			e.router.NotFoundHandler = notServed(e)
			byAddr[addr] = e
			order = append(order, e)
		}
		if e.tls != useTLS {
			return fmt.Errorf("address %s is configured both with and without TLS", addr)
		}
		e.router.Handle(p.path, p.handler)
		e.protocols = append(e.protocols, p.name)
		e.paths = append(e.paths, p.path)
		return nil
	}
	for _, p := range protocols {
		if err := add(p, p.httpAddr, false); err != nil {
			return nil, err
		}
		if err := add(p, p.httpsAddr, true); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// notServed answers a request for a path the endpoint does not serve
// with 404 and the paths it does, so a client configured with the wrong
// path (SFCB and OpenPegasus also answer on "/", WinRM on "/wsman/") is
// told what to use instead.
func notServed(e *endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var served []string
		for i, p := range e.paths {
			served = append(served, fmt.Sprintf("%s at %s", e.protocols[i], p))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "hypercimd: nothing is served at %q; this address serves %s\n", r.URL.Path, strings.Join(served, " and "))
	})
}

// needsTLS reports whether any endpoint serves HTTPS.
func needsTLS(eps []*endpoint) bool {
	for _, e := range eps {
		if e.tls {
			return true
		}
	}
	return false
}

// listen opens every endpoint's socket, so that an address in use is
// reported before anything is served; on error the sockets opened so far
// are closed.
func listen(eps []*endpoint, tlsConfig *tls.Config, to timeouts, logger *logrus.Logger) error {
	for i, e := range eps {
		ln, err := net.Listen("tcp", e.addr)
		if err != nil {
			for _, prev := range eps[:i] {
				prev.ln.Close()
			}
			return fmt.Errorf("listening on %s for %s: %w", e.addr, strings.Join(e.protocols, ", "), err)
		}
		if e.tls {
			ln = tls.NewListener(ln, tlsConfig)
		}
		e.ln = ln
		e.srv = &http.Server{
			Handler:           e.router,
			ReadHeaderTimeout: to.readHeader,
			ReadTimeout:       to.read,
			IdleTimeout:       to.idle,
			MaxHeaderBytes:    64 << 10,
			// net/http's own messages (TLS handshake failures, bad
			// requests it answers itself) are routine: debug level.
			ErrorLog: log.New(logger.WriterLevel(logrus.DebugLevel), "", 0),
		}
	}
	return nil
}

// serveAll serves every endpoint until ctx is done or one fails, then
// shuts all down, giving in-flight requests up to grace to finish.
func serveAll(ctx context.Context, eps []*endpoint, grace time.Duration, logger *logrus.Logger) error {
	errc := make(chan error, len(eps))
	for _, e := range eps {
		go func(e *endpoint) {
			err := e.srv.Serve(e.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}(e)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	logger.WithField("grace", grace).Info("shutting down: no new connections; waiting for requests in progress")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, e := range eps {
		wg.Add(1)
		go func(e *endpoint) {
			defer wg.Done()
			if err := e.srv.Shutdown(sctx); err != nil {
				logger.WithField("addr", e.addr).Warn("requests still running after the shutdown timeout were cut off")
				e.srv.Close()
			}
		}(e)
	}
	wg.Wait()
	return serveErr
}

// describe lists the endpoints for the startup log, sorted by address.
func describe(eps []*endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, fmt.Sprintf("%s://%s (%s)", e.scheme(), e.ln.Addr(), strings.Join(e.protocols, ", ")))
	}
	sort.Strings(out)
	return out
}
