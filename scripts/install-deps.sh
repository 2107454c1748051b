#!/usr/bin/env bash
# Installs the Debian packages the test suite drives (real clients, qemu-img,
# libvirtd). Idempotent: prints nothing when everything is already present.
set -euo pipefail

need=()
want() { # want PACKAGE COMMAND-OR-PATH
	if [[ "$2" == /* ]]; then [[ -e "$2" ]] || need+=("$1")
	else command -v "$2" >/dev/null 2>&1 || need+=("$1"); fi
}
want sblim-wbemcli wbemcli
want wsl wsl
want qemu-utils qemu-img
want libvirt-daemon-system libvirtd
want qemu-system-x86 qemu-system-x86_64
want busybox-static /bin/busybox
want libxml2-utils xmllint
want uuid-runtime uuidgen
# node and npm run @device-management-toolkit/wsman-messages, which builds
# the AMT-style envelopes of the WS-Management conformance tests.
want nodejs node
want npm npm
want gcc gcc
want make make
want time /usr/bin/time

if ((${#need[@]})); then
	echo "install-deps: installing ${need[*]}"
	sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
