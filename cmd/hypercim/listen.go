package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hypercim/hypercim/wbem/cimxml/export"
)

const listenUsage = `usage: hypercim listen [options]

Runs a CIM-XML indication listener (DSP0200 export) in the foreground and
prints every indication it receives as MOF on standard output, each after a
comment line with the time, the sender and the message ID. Messages about the
listener itself go to standard error.

  --addr ADDR           address to listen on (default 127.0.0.1:5990; use
                        :5990 to accept indications from other hosts)
  --tls-cert FILE       serve HTTPS with this certificate (PEM) ...
  --tls-key FILE        ... and its private key
  --user NAME           require HTTP Basic authentication as NAME ...
  --password-file FILE  ... with the password on the first line of FILE
  --count N             exit after N indications (default 0: run until
                        interrupted)
  --max-size SIZE       largest request accepted, in bytes (default 4194304)

Subscribe a server to it with a CIM_ListenerDestinationCIMXML whose
Destination is this listener's URL (any path), e.g.
http://listener-host:5990/cimlistener; docs/indications.md shows the whole
subscription with wbemcli.

Exit status: 0 after --count indications or an interrupt (Ctrl-C, SIGTERM),
1 when the listener cannot run, 2 for bad arguments.
`

type listenOptions struct {
	addr, certFile, keyFile, user, passwordFile string
	count                                       int
	maxSize                                     int64
}

func runListen(env *cliEnv, args []string) error {
	fs := newFlagSet("listen")
	var o listenOptions
	fs.StringVar(&o.addr, "addr", "127.0.0.1:5990", "")
	fs.StringVar(&o.certFile, "tls-cert", "", "")
	fs.StringVar(&o.keyFile, "tls-key", "", "")
	fs.StringVar(&o.user, "user", "", "")
	fs.StringVar(&o.passwordFile, "password-file", "", "")
	fs.IntVar(&o.count, "count", 0, "")
	fs.Int64Var(&o.maxSize, "max-size", export.DefaultMaxRequestSize, "")
	usageErr := func(format string, a ...any) error {
		return &exitError{code: 2, msg: fmt.Sprintf("hypercim listen: "+format+"\nRun 'hypercim listen --help' for usage.", a...)}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.stdout, listenUsage)
			return nil
		}
		return usageErr("%v", err)
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case (o.certFile == "") != (o.keyFile == ""):
		return usageErr("--tls-cert and --tls-key go together")
	case (o.user == "") != (o.passwordFile == ""):
		return usageErr("--user and --password-file go together")
	case o.count < 0 || o.maxSize <= 0:
		return usageErr("--count and --max-size must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return listen(ctx, env, o)
}

// listen serves until ctx ends or o.count indications have been printed.
func listen(ctx context.Context, env *cliEnv, o listenOptions) error {
	cfg := export.ListenerConfig{MaxRequestSize: o.maxSize, Username: o.user}
	if o.passwordFile != "" {
		data, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return fmt.Errorf("reading the password: %w", err)
		}
		cfg.Password = strings.TrimRight(strings.SplitN(string(data), "\n", 2)[0], "\r")
		if cfg.Password == "" {
			return fmt.Errorf("the password file %s is empty", o.passwordFile)
		}
	}
	var tlsConfig *tls.Config
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // orders the output of concurrent senders
	printed := 0
	cfg.Handle = func(_ context.Context, ind export.Indication) error {
		mu.Lock()
		defer mu.Unlock()
		if o.count > 0 && printed >= o.count {
			return nil // arrived while shutting down
		}
		fmt.Fprintf(env.stdout, "// %s from %s, message %s\n%s\n", time.Now().Format(time.RFC3339Nano), ind.RemoteAddr, ind.MessageID, ind.Instance)
		if printed++; o.count > 0 && printed == o.count {
			cancel()
		}
		return nil
	}
	h, err := export.NewListener(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(env.stderr, "hypercim listen: listening on %s://%s/ (Ctrl-C to stop)\n", scheme, ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	srv.Shutdown(shutdown)
	<-served
	return nil
}
