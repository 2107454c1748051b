// Package wsmanconformance holds the WS-Management acceptance tests: a real
// bin/hypercimd, built by the tests, driven by the real wsl client, by
// replayed captures of openwsman's wsman CLI and of wsl, by envelopes the
// npm package @device-management-toolkit/wsman-messages builds, by a
// malformed-input suite, and compared with CIM-XML answers.
package wsmanconformance
