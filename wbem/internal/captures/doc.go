// Package captures reads the client captures the wbem tests replay and
// fuzz with: real requests of sblim wbemcli and of WS-Man clients, kept in
// the shared fixtures beside the repository (../shared/fixtures/clients
// from the module root, where CI puts them too). It is test support:
// production code does not import it.
package captures
