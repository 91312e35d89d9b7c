#!/bin/sh
# Installs what keyturn needs to build and to run all its tests, on Debian 12.
# Only what is missing; does nothing when everything is there.
set -eu

PKGS="build-essential pkg-config libpam0g-dev libkeyutils-dev libcryptsetup-dev
libsodium-dev libargon2-dev libssl-dev libcmocka-dev libpam-wrapper libpamtest0-dev
cryptsetup-bin keyutils e2fsprogs f2fs-tools mandoc clang valgrind
qemu-system-x86 busybox-static kmod cpio pamtester ecryptfs-utils libecryptfs-dev
debhelper dpkg-dev lintian mmdebstrap xz-utils"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "keyturn needs these Debian packages:$missing" >&2
	echo "run 'sudo make deps' (or install them) first" >&2
	exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
