#!/usr/bin/env bash
# Fetches Debian's cloud kernel for the tests that boot a stock Linux guest
# (hypervisor/linuxguest) and prints the directory it was unpacked
# into, which holds boot/vmlinuz-VERSION and lib/modules/VERSION/.
#
# The package is the linux-image-VERSION-cloud-amd64 that the
# linux-image-cloud-amd64 metapackage depends on. It is downloaded with
# `apt-get download` and unpacked with `dpkg -x` once per clone, into
# var/cache/guest-kernel/ (git-ignored); later runs print the cached
# directory without touching the network. Concurrent runs are serialised
# with flock, so parallel test packages fetch it only once.
#
# Usage: scripts/guest-kernel.sh [CACHE_DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-$root/var/cache/guest-kernel}
meta=linux-image-cloud-amd64

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

# A finished fetch leaves the version in "current", written last.
if [[ -s "$cache/current" ]]; then
	version=$(<"$cache/current")
	if [[ -f "$cache/$version/boot/vmlinuz-$version" ]]; then
		echo "$cache/$version"
		exit 0
	fi
fi

for tool in apt-cache apt-get dpkg; do
	command -v "$tool" >/dev/null || { echo "guest-kernel: $tool not found: a Debian or Ubuntu host is needed" >&2; exit 1; }
done

resolve() { apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'; }
pkg=$(resolve)
if [[ -z "$pkg" ]]; then
	# A fresh machine may have no package lists yet.
	sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
	$sudo apt-get update -qq >/dev/null
	pkg=$(resolve)
fi
if [[ -z "$pkg" ]]; then
	echo "guest-kernel: apt does not know $meta; add a Debian main archive to the apt sources" >&2
	exit 1
fi
version=${pkg#linux-image-}

echo "guest-kernel: fetching $pkg into ${cache#"$root"/} (once per clone)" >&2
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt-get download -q "$pkg" >"$tmp/apt.log" 2>&1); then
	cat "$tmp/apt.log" >&2
	echo "guest-kernel: apt-get download $pkg failed" >&2
	exit 1
fi
dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/root"
if [[ ! -f "$tmp/root/boot/vmlinuz-$version" || ! -d "$tmp/root/lib/modules/$version" ]]; then
	echo "guest-kernel: $pkg has no boot/vmlinuz-$version or lib/modules/$version" >&2
	exit 1
fi

rm -rf "${cache:?}/$version"
mv "$tmp/root" "$cache/$version"
echo "$version" >"$tmp/current"
mv "$tmp/current" "$cache/current"
echo "$cache/$version"
