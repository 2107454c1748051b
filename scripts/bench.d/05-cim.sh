#!/usr/bin/env bash
# cim data model hot paths (property lookup, path canonical form, value parsing).
set -euo pipefail
go test -run '^$' -bench . -benchmem ./cim/
