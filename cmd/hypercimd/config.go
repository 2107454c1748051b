package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/wbem/cimxml"
)

// config is the daemon's configuration: flags, optionally read from a
// config file with the same keys (command-line flags win).
type config struct {
	dataDir         string
	cimxmlHTTP      string
	cimxmlHTTPS     string
	tlsCert         string
	tlsKey          string
	tlsClientCA     string
	logLevel        string
	noAuth          bool
	maxRequestSize  byteSize
	dmtfSchema      string
	shutdownTimeout time.Duration
	// readHeaderTimeout and readTimeout bound how long a client may take
	// to send a request's headers and the whole request (slowloris).
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	configFile        string
	// testProvider names the namespace to serve wbem/testprovider in
	// (empty: not served); testGenCount and testGenPayload size its
	// generated T_Gen instances.
	testProvider   string
	testGenCount   int
	testGenPayload int
	// testGenPrepared serves the T_Gen instances from memory, built once
	// at start (benchmarks of the server's path, not of generation).
	testGenPrepared bool
	// wsman and virt are the flags of the WS-Management listeners
	// (wsman.go) and of the virtualization provider (virt.go).
	wsman wsmanConfig
	virt  virtConfig
	// explicit names the flags given on the command line or in the
	// config file, as opposed to defaults.
	explicit map[string]bool
}

// byteSize is a flag holding a size in bytes, written as a number with an
// optional K, M or G suffix (powers of 1024).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	num := strings.ToUpper(strings.TrimSpace(s))
	num = strings.TrimSuffix(strings.TrimSuffix(num, "B"), "I") // 16MiB, 16MB, 16M
	mult := int64(1)
	if i := strings.IndexAny(num, "KMG"); i >= 0 && i == len(num)-1 {
		mult = map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}[num[i]]
		num = num[:i]
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return fmt.Errorf("%q is not a size (a positive number of bytes, optionally with K, M or G)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

const defaultDataDir = "./var/hypercim"

// newFlagSet declares every flag of hypercimd on c.
func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("hypercimd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir, "data directory: repository, users, TLS certificate (`DIR`, created mode 0700)")
	fs.StringVar(&c.cimxmlHTTP, "cimxml-http", "127.0.0.1:5988", "CIM-XML over HTTP listen address (`ADDR`); empty disables")
	fs.StringVar(&c.cimxmlHTTPS, "cimxml-https", ":5989", "CIM-XML over HTTPS listen address (`ADDR`); empty disables")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate chain (PEM `FILE`); default: a self-signed certificate generated into DIR/tls")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key of --tls-cert (PEM `FILE`)")
	fs.StringVar(&c.tlsClientCA, "tls-client-ca", "", "CA certificates (PEM `FILE`) that sign client certificates; clients presenting one mapped to a user (hypercim user cert) need no password")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level (`LEVEL`): error, warn, info or debug")
	fs.BoolVar(&c.noAuth, "no-auth", false, "serve every request without authentication (development only: anyone who can connect has full rights); listens on loopback addresses only")
	c.maxRequestSize = cimxml.DefaultMaxRequestSize
	fs.Var(&c.maxRequestSize, "max-request-size", "largest request body accepted (`SIZE` in bytes, or with a K, M or G suffix); larger ones get 413")
	fs.StringVar(&c.dmtfSchema, "dmtf-schema", "", "compile a complete DMTF CIM Schema release from `DIR` (holding cim_schema_<version>.mof) instead of hypercim's embedded subset")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long in-flight requests may take to finish")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	fs.DurationVar(&c.readTimeout, "read-timeout", 2*time.Minute, "how long a client may take to send a whole request, body included")
	fs.StringVar(&c.configFile, "config", "", "read settings from `FILE`: one \"key = value\" per line, keys as these flags without dashes, # comments")
	c.wsman.declare(fs)
	c.virt.declare(fs)
	fs.StringVar(&c.testProvider, "test-provider", "", "for hypercim's own tests: also serve the test provider's T_ classes in namespace `NS`")
	fs.IntVar(&c.testGenCount, "test-provider-gen", 0, "for hypercim's own tests: the number of T_Gen instances the test provider generates")
	fs.IntVar(&c.testGenPayload, "test-provider-payload", 0, "for hypercim's own tests: the length of the Payload string of each T_Gen instance")
	fs.BoolVar(&c.testGenPrepared, "test-provider-prepared", false, "for hypercim's benchmarks: build the T_Gen instances once at start and serve them from memory")
	return fs
}

// usage prints the help text: what the daemon does, then every flag.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: hypercimd [flags]

hypercimd is the hypercim WBEM server: CIM-XML (DSP0200) and WS-Management
(DSP0226) over HTTP and HTTPS in front of the CIMOM core, its repository
and its providers.

On the first start it creates the data directory, installs the schemas,
generates a self-signed TLS certificate and creates the user "admin" with a
random password written to DIR/initial-admin-password. SIGTERM or SIGINT
stop it gracefully. Every flag may also be set in a --config file.
See docs/hypercimd.md.

flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			text += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "        %s\n", text)
	})
}

// errHelp ends the program successfully after --help.
var errHelp = errors.New("help requested")

// parseConfig reads the command line and, when --config names one, the
// config file; flags given on the command line override the file.
func parseConfig(args []string, stdout io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return nil, errHelp
		}
		return nil, fmt.Errorf("%w (see hypercimd --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see hypercimd --help)", fs.Arg(0))
	}
	if c.configFile != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if err := applyConfigFile(fs, c.configFile, set); err != nil {
			return nil, err
		}
	}
	c.explicit = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.explicit[f.Name] = true })
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyConfigFile sets the flags named in a config file, except those in
// skip (given on the command line).
func applyConfigFile(fs *flag.FlagSet, path string, skip map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return fmt.Errorf("%s:%d: want \"key = value\", got %q", path, line, text)
		}
		key = strings.TrimLeft(strings.TrimSpace(key), "-")
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		fl := fs.Lookup(key)
		if fl == nil || key == "config" {
			return fmt.Errorf("%s:%d: unknown setting %q (the keys are the flags of hypercimd --help)", path, line, key)
		}
		if skip[key] {
			continue
		}
		if err := fs.Set(key, value); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, line, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

func (c *config) validate() error {
	if c.dataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if _, err := logrus.ParseLevel(c.logLevel); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if c.cimxmlHTTP == "" && c.cimxmlHTTPS == "" && c.wsman.httpAddr == "" && c.wsman.httpsAddr == "" {
		return errors.New("every listen address (--cimxml-http, --cimxml-https, --wsman-http, --wsman-https) is empty: nothing to serve")
	}
	for name, d := range map[string]time.Duration{"shutdown-timeout": c.shutdownTimeout, "read-header-timeout": c.readHeaderTimeout, "read-timeout": c.readTimeout} {
		if d <= 0 {
			return fmt.Errorf("--%s must be positive", name)
		}
	}
	if c.noAuth {
		return c.loopbackOnly()
	}
	return nil
}

// loopbackOnly keeps a server without authentication off the network:
// with --no-auth every listener must be on a loopback address. A default
// address on every interface (the HTTPS ones) moves to 127.0.0.1; an
// address given on every interface, or on another one, is refused.
func (c *config) loopbackOnly() error {
	for _, l := range []struct {
		flag string
		addr *string
	}{
		{"cimxml-http", &c.cimxmlHTTP}, {"cimxml-https", &c.cimxmlHTTPS},
		{"wsman-http", &c.wsman.httpAddr}, {"wsman-https", &c.wsman.httpsAddr},
	} {
		if *l.addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(*l.addr)
		if err != nil {
			return fmt.Errorf("--%s %q: %w (want HOST:PORT)", l.flag, *l.addr, err)
		}
		if isLoopbackHost(host) {
			continue
		}
		ip := net.ParseIP(host)
		everywhere := host == "" || ip != nil && ip.IsUnspecified()
		if everywhere && !c.explicit[l.flag] {
			*l.addr = net.JoinHostPort("127.0.0.1", port)
			continue
		}
		where := "the address " + host
		if everywhere {
			where = "every interface"
		}
		return fmt.Errorf("--no-auth serves without authentication, so it listens on loopback addresses only, and --%s %s is %s: "+
			"use --%s %s, or --%s= to disable it; to serve other hosts, keep authentication on and create users with 'hypercim user add'",
			l.flag, *l.addr, where, l.flag, net.JoinHostPort("127.0.0.1", port), l.flag)
	}
	return nil
}

// isLoopbackHost reports whether host (of HOST:PORT) names a loopback
// address: localhost or a literal loopback IP. Other names are refused
// rather than resolved: what a name resolves to can change.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
