// Package auth holds hypercim's users, their per-namespace rights and the
// checks the protocol adapters run on every request: HTTP Basic and Digest
// credentials, TLS client certificates, and rate limiting of failed logins
// by source address.
//
// # The users file
//
// Users live in <data-dir>/users.json (mode 0600), written atomically (a
// temporary file, fsync, rename, fsync of the directory), so a crash never
// leaves it half written, and under an advisory lock (users.json.lock), so
// two `hypercim user` commands never lose each other's change. For each user
// it stores:
//
//   - the bcrypt hash of the password (cost 10);
//   - admin: full rights in every namespace;
//   - rights: "read" or "write" (which includes read) per namespace, or for
//     "*", every namespace;
//   - for users enabled for HTTP Digest (RFC 7616), the digests
//     H(user:realm:password) with MD5 and SHA-256. These are what Digest
//     needs to verify a response without the password; they are password
//     equivalents for the realm "hypercim", which is why they are kept only
//     for the users that need Digest (WS-Man clients such as Intel AMT
//     tooling);
//   - TLS client certificates mapped to the user, by SHA-256 fingerprint
//     ("sha256:<hex>") or by subject ("subject:CN=...,O=...").
//
// A running server notices changes made by `hypercim user` within a second
// (it checks the file's size and modification time at most once a second)
// and uses them without a restart.
//
// # Checking credentials
//
// Store.Authenticate checks a Basic user name and password; a successful
// check is remembered for a few minutes (as an HMAC under a per-process key,
// never the password), so that clients which authenticate every request do
// not pay bcrypt's cost each time; identical checks that arrive while one
// is running (a client opening many connections at once) wait for its
// result instead of each running bcrypt. Store.DigestChallenge and
// Store.AuthenticateDigest implement Digest with nonces that expire after
// five minutes and replay protection by nonce count.
// Store.AuthenticateCertificate maps a client certificate to its user.
//
// Every failure counts against the source address: after five failures
// within a minute the address is refused for 30 seconds, doubling with each
// further block up to 15 minutes, and Authenticate answers ErrRateLimited
// without looking at the credentials. A success clears the count.
//
// Store implements wbem.Authorizer: Allowed says whether a principal may
// read or write a namespace.
package auth
