// Command hypercimd is the hypercim WBEM server: CIM-XML (DSP0200) and
// WS-Management (DSP0226) over HTTP and HTTPS in front of the CIMOM core,
// its repository and its providers.
//
// It opens its data directory (repository, users, TLS certificate), makes
// what a first start needs (schemas, the user admin with a random
// password, a self-signed certificate), opens the listeners of its
// protocol table, registers the providers and logs "hypercimd ready";
// SIGTERM or SIGINT stop it gracefully, letting requests in progress
// finish. Secure by default: authentication on, plain HTTP on loopback
// only, and --no-auth (for development) refused on any other address.
//
// The files: config.go (flags and the configuration file), daemon.go
// (start and stop), listen.go (the protocol table and listeners), tls.go,
// core.go (the CIMOM core and its providers), and one file per protocol
// or provider family (wsman.go, virt.go, indications.go).
//
// Run hypercimd --help for its flags; docs/hypercimd.md describes the
// configuration file, the data directory, TLS, the first start and
// shutdown.
package main
