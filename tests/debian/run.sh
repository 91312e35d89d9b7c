#!/bin/bash
# keyturn on a real Debian system: for each release, an image made by
# mmdebstrap from Debian's packages (systemd as PID 1, logind, OpenSSH, login,
# su), Debian's own kernel and initramfs, keyturn's package built for that
# release in a build chroot of it, and the tests of tests/debian/tests run at
# boot by a systemd unit. See tests/debian/README.md.
#
#   tests/debian/run.sh [RELEASE...] [-- NN...]   (default: bookworm trixie)
#   tests/debian/run.sh --prepare [RELEASE...]   only the images and packages
#                                                (make check starts it early)
#
# Exit: 0 all passed, 1 something failed, 77 cannot run here (says why).
# Knobs: KT_DEB_TIMEOUT (s per boot, default 1800), KT_DEB_VERBOSE=1 (the
# whole console), KT_DEB_KEEP=1 (keep the run directory), KT_DEB_CHROOT=1
# (build in a chroot even on a host of the release).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=$HERE/build
CACHE=$BUILD/cache
TIMEOUT=${KT_DEB_TIMEOUT:-1800}
T0=$(date +%s%N)

RELEASES=""
ONLY=""
PREPARE_ONLY=""
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; ONLY="$*"; break ;;
	--prepare) PREPARE_ONLY=1; shift ;;
	*) RELEASES="$RELEASES $1"; shift ;;
	esac
done
RELEASES=${RELEASES:-bookworm trixie}

# The image: what a small Debian server has, plus what the tests drive.
# keyturn's run-time libraries are there so that "dpkg -i" needs no network.
IMG_PKGS="systemd systemd-sysv dbus libpam-systemd openssh-server
openssh-client login passwd sshpass keyutils cryptsetup-bin e2fsprogs udev
kmod procps util-linux psmisc expect iproute2 linux-image-amd64
initramfs-tools zstd libargon2-1 libcryptsetup12 libkeyutils1 libsodium23"

say() { echo "# debian: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
elapsed() { # since $1 (default T0), seconds with one decimal
	awk -v a="${1:-$T0}" -v b="$(date +%s%N)" \
		'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

[ "$(id -u)" = 0 ] || skip "needs root (mmdebstrap, chroot, mke2fs -d)"
for t in qemu-system-x86_64 mmdebstrap mke2fs dpkg-parsechangelog \
	unshare sha256sum cc; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
		skip "$t not installed (run 'make deps')"
done
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] ||
	skip "no static libc for kt-memscan (libc6-dev)"

mkdir -p "$BUILD" "$CACHE"
WORK=$(mktemp -d "$BUILD/run.XXXXXX")
QPID=""
PREP_PID=""
cleanup() {
	# (an "&&" list as the last command would end the script with its
	# status under set -e: a finished preparation is not a failure)
	if [ -n "$PREP_PID" ]; then kill "$PREP_PID" 2>/dev/null || true; fi
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		sleep 1
		kill -9 "$QPID" 2>/dev/null || true
	fi
	cp "$WORK"/*.log "$BUILD"/ 2>/dev/null || true
	[ -n "${KT_DEB_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

key_of() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }
# mmdebstrap's downloads, kept per release across runs
apt_cache_opts() { # RELEASE
	local dir=$CACHE/debs-$1
	mkdir -p "$dir"
	echo "--skip=essential/unlink"
	echo "--setup-hook=mkdir -p \"\$1\"/var/cache/apt/archives"
	echo "--setup-hook=sync-in $dir /var/cache/apt/archives/"
	echo "--customize-hook=sync-out /var/cache/apt/archives $dir"
}

# ---- the image of a release (cached) ---------------------------------------
# A sparse ext4 image of the root file system, Debian's kernel and initramfs
# beside it; the key changes with the package list or image-setup.sh.
build_image() { # RELEASE: prints the cache directory
	local rel=$1 key dir tmp opts=()
	key=$(key_of "$rel" $IMG_PKGS "$(cat "$HERE/image-setup.sh" \
		"$HERE/initramfs-hook" "$REPO/tests/vm/tests/users")")
	dir=$CACHE/image-$rel-$key
	[ -e "$dir/ok" ] && { echo "$dir"; return 0; }
	rm -rf "$CACHE"/image-"$rel"-*
	tmp=$dir.tmp
	rm -rf "$tmp"; mkdir -p "$tmp"
	mapfile -t opts < <(apt_cache_opts "$rel")
	cp "$REPO/tests/vm/tests/users" "$tmp/users"
	local t
	t=$(date +%s%N)
	mmdebstrap --variant=apt --include="$(echo $IMG_PKGS | tr ' ' ,)" \
		"${opts[@]}" \
		--essential-hook="mkdir -p \"\$1\"/etc/initramfs-tools/conf.d \"\$1\"/etc/initramfs-tools/hooks" \
		--essential-hook="echo MODULES=list > \"\$1\"/etc/initramfs-tools/conf.d/kt" \
		--essential-hook="upload $HERE/initramfs-hook /etc/initramfs-tools/hooks/kt" \
		--essential-hook="chmod 0755 \"\$1\"/etc/initramfs-tools/hooks/kt" \
		--customize-hook="copy-in $tmp/users /tmp" \
		--customize-hook="mv \"\$1\"/tmp/users \"\$1\"/tmp/kt-users" \
		--customize-hook="copy-in $HERE/image-setup.sh /tmp" \
		--customize-hook="chroot \"\$1\" sh /tmp/image-setup.sh" \
		--customize-hook="rm -f \"\$1\"/tmp/image-setup.sh \"\$1\"/tmp/kt-users" \
		"$rel" "$tmp/root" >"$tmp/mmdebstrap.log" 2>&1 ||
		{ tail -20 "$tmp/mmdebstrap.log" >&2; return 1; }
	cp -L "$tmp"/root/boot/vmlinuz-* "$tmp/vmlinuz"
	cp -L "$tmp"/root/boot/initrd.img-* "$tmp/initrd.img"
	ls "$tmp"/root/lib/modules > "$tmp/kver"
	mke2fs -q -t ext4 -L kt-root -d "$tmp/root" "$tmp/root.img" 3G >&2
	rm -rf "$tmp/root"
	echo "$(elapsed "$t")" > "$tmp/seconds"
	touch "$tmp/ok"
	mv "$tmp" "$dir"
	echo "$dir"
}

# ---- keyturn's package, built in a chroot of the release (cached) ----------
build_deps() { # Build-Depends of debian/control, first alternatives, no versions
	sed -n '/^Build-Depends:/,/^[A-Z][a-zA-Z-]*:/p' "$REPO/debian/control" |
		sed -e 's/^Build-Depends://' -e '/^[A-Z][a-zA-Z-]*:/d' |
		tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' |
		sed -e 's/^debhelper-compat$/debhelper/' | grep . | sort -u
}
build_chroot() { # RELEASE: prints the directory of the build chroot
	local rel=$1 deps key dir opts=()
	deps=$(build_deps | tr '\n' ,)
	key=$(key_of "$rel" "$deps")
	dir=$CACHE/buildroot-$rel-$key
	[ -e "$dir/.kt-ok" ] && { echo "$dir"; return 0; }
	rm -rf "$CACHE"/buildroot-"$rel"-*
	mapfile -t opts < <(apt_cache_opts "$rel")
	mmdebstrap --variant=buildd --include="${deps%,}" "${opts[@]}" \
		--customize-hook="rm -f \"\$1\"/var/cache/apt/archives/*.deb" \
		"$rel" "$dir" >"$WORK/buildroot-$rel.log" 2>&1 ||
		{ tail -20 "$WORK/buildroot-$rel.log" >&2; return 1; }
	touch "$dir/.kt-ok"
	echo "$dir"
}
TREE_KEY=$(cd "$REPO" && git ls-files -co --exclude-standard |
	grep -v '^tests/' | while read -r f; do [ -f "$f" ] && echo "$f"; done |
	xargs sha256sum | sha256sum | cut -c1-12)
VERSION=$(dpkg-parsechangelog -l "$REPO/debian/changelog" -SVersion)
HOST_RELEASE=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
# On a host of that release with the Build-Depends installed (make deps does
# it on Debian 12) the package is built right there: a build chroot would
# only repeat the host, at a minute and a half a run.
build_deb_host() { # RELEASE: prints the .deb
	local rel=$1 key out src=$WORK/hostbuild/keyturn-$VERSION
	key=$(key_of host "$rel" "$(dpkg-query -W dpkg-dev debhelper gcc \
		libc6-dev 2>/dev/null)" "$TREE_KEY")
	out=$CACHE/deb-$rel-host-$key/keyturn_${VERSION}_amd64.deb
	[ -e "$out" ] && { echo "$out"; return 0; }
	rm -rf "$CACHE"/deb-"$rel"-host-*
	make -s -C "$REPO" srctree SRCTREE="$src"
	(cd "$src" && dpkg-buildpackage -us -uc -b) \
		>"$WORK/deb-$rel.log" 2>&1 ||
		{ tail -30 "$WORK/deb-$rel.log" >&2; return 1; }
	mkdir -p "$(dirname "$out")"
	cp "$WORK/hostbuild/keyturn_${VERSION}_amd64.deb" "$out"
	rm -rf "$WORK/hostbuild"
	echo "$out"
}
build_deb() { # RELEASE: prints the .deb
	local rel=$1 root key out
	if [ "$rel" = "$HOST_RELEASE" ] && [ -z "${KT_DEB_CHROOT:-}" ] &&
		(cd "$REPO" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
		build_deb_host "$rel"
		return
	fi
	root=$(build_chroot "$rel") || return 1
	key=$(key_of "$root" "$TREE_KEY")
	out=$CACHE/deb-$rel-$key/keyturn_${VERSION}_amd64.deb
	[ -e "$out" ] && { echo "$out"; return 0; }
	rm -rf "$CACHE"/deb-"$rel"-* "$root/build"
	make -s -C "$REPO" srctree SRCTREE="$root/build/keyturn-$VERSION"
	# in a mount namespace of its own: /proc goes away with it
	unshare -m --propagation private sh -c "
		mount -t proc proc '$root/proc' &&
		chroot '$root' sh -c 'cd /build/keyturn-$VERSION &&
			dpkg-buildpackage -us -uc -b'" \
		>"$WORK/deb-$rel.log" 2>&1 ||
		{ tail -30 "$WORK/deb-$rel.log" >&2; return 1; }
	mkdir -p "$(dirname "$out")"
	cp "$root/build/keyturn_${VERSION}_amd64.deb" "$out"
	rm -rf "$root/build"
	echo "$out"
}

# ---- one boot ----------------------------------------------------------------
# Lines of the guest start with "KT| "; the rest of the console is noise.
PASSED=0 FAILED=0 SKIPPED=0
boot() { # RELEASE IMAGE-DIR DISK LUKS KTDISK PHASE
	local rel=$1 img=$2 disk=$3 luks=$4 kt=$5 phase=$6 log st
	log=$WORK/console-$rel-$phase.log
	st=$WORK/state-$rel-$phase
	# a machine busy with other work makes udev slow to announce the
	# disks: systemd's 90 s for a device is not enough there (systemd
	# >= 254 reads this; bookworm's 252 did not need it)
	local append="root=/dev/vda rw console=ttyS0 quiet panic=-1 kt.phase=$phase"
	append="$append systemd.default_device_timeout_sec=900"
	[ -n "$ONLY" ] && append="$append kt.only=${ONLY// /,}"
	local tb
	tb=$(date +%s%N)
	: > "$log"
	timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi \
		-cpu max -m 2048 -smp 2 -nographic -no-reboot -nic none \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-drive "file=$disk,format=raw,if=virtio" \
		-drive "file=$luks,format=raw,if=virtio" \
		-drive "file=$kt,format=raw,if=virtio" \
		-append "$append" </dev/null >"$log" 2>&1 &
	QPID=$!
	local line done="" booted="" diags=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		[ -n "${KT_DEB_VERBOSE:-}" ] && [ "${line#*KT| }" = "$line" ] &&
			echo "## $line"
		case $line in
		*"KT| "*) line=${line#*KT| } ;;
		*) continue ;;
		esac
		case $line in
		"@booted"*) booted=$(elapsed "$tb"); say "$rel: multi-user reached, ${booted} s after qemu started (phase $phase)"; continue ;;
		"@done"*) done=1; continue ;;
		"ok "*) PASSED=$((PASSED + 1)); diags=0 ;;
		"not ok"*) FAILED=$((FAILED + 1)); echo "$rel: $line" >> "$WORK/failed"; diags=6 ;;
		"# "*)
			if [ "$diags" -gt 0 ]; then
				echo "$rel:   $line" >> "$WORK/failed"
				diags=$((diags - 1))
			fi ;;
		"SKIP"*) SKIPPED=$((SKIPPED + 1)) ;;
		esac
		echo "$rel: $line"
	done < <(tail -n +1 -f --pid="$QPID" "$log" 2>/dev/null)
	wait "$QPID" || true
	QPID=""
	say "$rel: phase $phase took $(elapsed "$tb") s (boot to poweroff)"
	debugfs -R "dump /journal-$phase.log $WORK/journal-$rel-$phase.log" "$kt" \
		>/dev/null 2>&1 || true
	if [ -z "$done" ]; then
		echo "not ok - $rel phase $phase: the guest finished its tests (timeout ${TIMEOUT}s?)" |
			tee -a "$WORK/failed"
		tail -25 "$log" | tr -d '\r' | sed 's/^/#   /'
		FAILED=$((FAILED + 1))
	fi
}

# ---- per release ---------------------------------------------------------------
cc -static -O2 -std=gnu11 -Wall -Wextra -Werror -o "$WORK/kt-memscan" \
	"$REPO/tests/vm/kt-memscan.c"
# The image and the package of a release, into $WORK/prep-RELEASE (two
# lines: the image directory, the .deb) or $WORK/prep-RELEASE.fail. The next
# release is prepared while this one boots: most of it is waiting for the
# mirror and for dpkg, which the emulated CPUs leave room for.
prepare() { # RELEASE
	local rel=$1 t img deb
	exec 9>"$CACHE/.lock-$rel"
	flock 9
	t=$(date +%s%N)
	img=$(build_image "$rel") || {
		echo "not ok - $rel: mmdebstrap of the image" > "$WORK/prep-$rel.fail"
		return 1
	}
	say "$rel: image ready in $(elapsed "$t") s (built once in $(cat "$img/seconds") s; kernel $(cat "$img/kver"))"
	t=$(date +%s%N)
	deb=$(build_deb "$rel") || {
		echo "not ok - $rel: keyturn's package built for $rel" > "$WORK/prep-$rel.fail"
		return 1
	}
	say "$rel: package $(basename "$deb") ready in $(elapsed "$t") s"
	printf '%s\n%s\n' "$img" "$deb" > "$WORK/prep-$rel"
}
if [ -n "$PREPARE_ONLY" ]; then
	for rel in $RELEASES; do
		prepare "$rel" || { cat "$WORK/prep-$rel.fail"; exit 1; }
	done
	say "prepared in $(elapsed) s"
	exit 0
fi
set -- $RELEASES
( prepare "$1" ) &
PREP_PID=$!
while [ $# -gt 0 ]; do
	rel=$1
	shift
	wait "$PREP_PID" || true
	if [ $# -gt 0 ]; then
		( prepare "$1" ) &
		PREP_PID=$!
	fi
	if [ ! -s "$WORK/prep-$rel" ]; then
		cat "$WORK/prep-$rel.fail" 2>/dev/null ||
			echo "not ok - $rel: image and package"
		FAILED=$((FAILED + 1))
		continue
	fi
	{ read -r img; read -r deb; } < "$WORK/prep-$rel"

	t=$(date +%s%N)
	disk=$WORK/root-$rel.img
	cp --sparse=always "$img/root.img" "$disk"
	luks=$WORK/luks-$rel.img
	truncate -s 96M "$luks"
	ktdir=$WORK/kt-$rel
	mkdir -p "$ktdir"
	cp -r "$HERE/tests" "$ktdir/tests"
	cp "$HERE/guest.sh" "$ktdir/guest.sh"
	cp "$REPO/tests/vm/tests/users" "$ktdir/users"
	cp "$deb" "$ktdir/"
	cp "$WORK/kt-memscan" "$ktdir/kt-memscan"
	echo "$rel" > "$ktdir/release"
	chmod -R a+rX "$ktdir"
	kt=$WORK/kt-$rel.img
	mke2fs -q -t ext4 -L kt -d "$ktdir" "$kt" 64M >/dev/null
	say "$rel: disks ready in $(elapsed "$t") s"

	boot "$rel" "$img" "$disk" "$luks" "$kt" 1
	boot "$rel" "$img" "$disk" "$luks" "$kt" 2
done

say "total $(elapsed) s"
# the failures again, last: a log read from its end (CI's) shows them
if [ -s "$WORK/failed" ]; then
	say "what failed, with its first diagnostics (all of them above):"
	sed 's/^/#   /' "$WORK/failed"
fi
[ "$SKIPPED" -gt 0 ] && say "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
