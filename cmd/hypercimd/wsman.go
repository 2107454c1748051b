package main

import (
	"flag"
	"runtime/debug"

	"github.com/hypercim/hypercim/wbem/wsman"
)

// wsmanConfig holds the WS-Management listener flags.
type wsmanConfig struct {
	httpAddr  string
	httpsAddr string
}

// declare adds the WS-Management flags to fs.
func (w *wsmanConfig) declare(fs *flag.FlagSet) {
	fs.StringVar(&w.httpAddr, "wsman-http", "127.0.0.1:5985", "WS-Management (DSP0226, path /wsman) over HTTP listen address (`ADDR`); empty disables")
	fs.StringVar(&w.httpsAddr, "wsman-https", ":5986", "WS-Management over HTTPS listen address (`ADDR`); empty disables")
}

// wsmanProtocol is the WS-Management entry of the daemon's protocol table:
// the same core, users and request size limit as CIM-XML.
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
	})
	return protocol{name: "WS-Management", path: wsman.Path, handler: h, httpAddr: w.httpAddr, httpsAddr: w.httpsAddr}
}

// productVersion is the module version the binary was built from, as
// Identify reports it.
func productVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
