// Package daemon builds and runs a real hypercimd for hypercim's
// conformance tests, so that each suite does not write its own:
//
//   - Build compiles bin/hypercimd and bin/hypercim from the module into a
//     directory, once per test binary (from TestMain, or a sync.OnceValues
//     the suite keeps);
//   - FreeAddr picks a free loopback port for each listener;
//   - Start runs hypercimd with a data directory, the listeners given (the
//     others disabled) and more flags, capturing its log, and waits for
//     its "hypercimd ready" line, or reports its exit with the log;
//   - Daemon.Stop ends it with SIGTERM, as an init system does, and
//     reports an unclean exit or a stop that takes too long (it is killed
//     then).
//
// It is a test helper: it starts processes and writes files only where
// the caller says.
package daemon
