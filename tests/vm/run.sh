#!/bin/bash
# keyturn end-to-end tests: boots Debian's kernel under qemu with a small
# busybox initramfs that holds cryptsetup, PAM, the eCryptfs tools and keyturn
# installed at its real paths, and runs real logins there.
#
#   tests/vm/run.sh check [NN...]   run tests/vm/tests/NN-*.sh (all by default)
#   tests/vm/run.sh demo            narrated login/logout of a LUKS2 volume
#   tests/vm/run.sh shell           interactive root shell in the VM
#   tests/vm/run.sh bench           tests/bench/run-guest.sh instead of the
#                                   demo (make bench; tests/bench/run.sh)
#
# Exit: 0 all passed, 1 something failed, 77 qemu or the kernel missing.
# Knobs (environment): KT_VM_TIMEOUT (s, whole VM, default 1500),
# KT_VM_MAKEFLAGS (extra make arguments, e.g. WERROR=), KT_VM_VERBOSE=1
# (print the whole console).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=$HERE/build
CACHE=$BUILD/cache
MODE=${1:-check}
[ $# -gt 0 ] && shift
ONLY="$*"
TIMEOUT=${KT_VM_TIMEOUT:-1500}
ARCH_LIB=/usr/lib/x86_64-linux-gnu
T0=$(date +%s%N)

# Modules for LUKS2 + ext4 + f2fs + eCryptfs, in load order (dependencies are
# added); cts for fscrypt's file names (AES-256-CTS).
MODULES="ecb xts cts af_alg algif_skcipher algif_hash sha512_generic crc32c_generic
crc16 mbcache jbd2 ext4 f2fs dm-mod dm-crypt ecryptfs loop"

case $MODE in
check|demo|shell|bench) ;;
*) echo "usage: $0 check [NN...]|demo|shell|bench" >&2; exit 2 ;;
esac

say() { echo "# vm: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "not ok - vm harness: $*"; echo "0 passed, 1 failed"; exit 1; }
elapsed() { # since T0 (or $1), in seconds with one decimal
	local now
	now=$(date +%s%N)
	awk -v a="${1:-$T0}" -v b="$now" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

command -v qemu-system-x86_64 >/dev/null ||
	skip "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
for t in busybox cpio gzip depmod modprobe dpkg apt-get cryptsetup keyctl \
	pamtester; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] ||
		skip "$t not installed (run 'make deps')"
done
busybox --list | grep -qx cryptpw || command -v openssl >/dev/null ||
	skip "no way to make password hashes (openssl or busybox cryptpw)"

# Several runs may go at once (engineers share the tree): each has its own
# work directory; the kernel cache and make are serialised with flock.
mkdir -p "$BUILD" "$CACHE"
WORK=$(mktemp -d "$BUILD/run.XXXXXX")
ROOT=$WORK/root
LOG=$WORK/console.log
STATE=$WORK/state
INITRD=$WORK/initrd.gz
QPID=""
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		sleep 1
		kill -9 "$QPID" 2>/dev/null || true
	fi
	local f
	for f in console.log make.log; do
		[ -s "$WORK/$f" ] && cp "$WORK/$f" "$BUILD/$f.$$" &&
			mv -f "$BUILD/$f.$$" "$BUILD/$f"
	done
	[ -n "${KT_VM_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- kernel ------------------------------------------------------------
# The package linux-image-amd64 depends on, fetched once, cached by version.
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
kernel_ver() { # candidate version of $1
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'
}
newest_cached() {
	local d
	d=$(ls -d "$CACHE"/kernel-*/ 2>/dev/null | sort -V | tail -1) || true
	[ -n "$d" ] && [ -e "$d/ok" ] && echo "${d%/}"
}
fetch_kernel() {
	local pkg ver dir tmp deb
	mkdir -p "$CACHE"
	pkg=$(kernel_pkg)
	if [ -z "$pkg" ]; then
		dir=$(newest_cached) && { echo "$dir"; return 0; }
		apt-get update -qq >&2 || true
		pkg=$(kernel_pkg)
	fi
	[ -n "$pkg" ] || return 1
	ver=$(kernel_ver "$pkg")
	dir=$CACHE/kernel-$pkg-$ver
	if [ -e "$dir/ok" ]; then echo "$dir"; return 0; fi
	tmp=$CACHE/dl.$$
	rm -rf "$tmp"; mkdir -p "$tmp"
	say "fetching $pkg $ver" >&2
	if ! (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1); then
		apt-get update -qq >&2 || true
		ver=$(kernel_ver "$pkg")
		dir=$CACHE/kernel-$pkg-$ver
		(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) ||
			{ rm -rf "$tmp"; dir=$(newest_cached) && echo "$dir"; return; }
	fi
	deb=$(ls "$tmp"/*.deb)
	# a new version replaces the old ones
	rm -rf "$CACHE"/kernel-*
	dpkg -x "$deb" "$dir"
	rm -rf "$tmp"
	local kver
	kver=$(ls "$dir/lib/modules")
	depmod -b "$dir" "$kver"
	ln -sf "boot/vmlinuz-$kver" "$dir/vmlinuz"
	echo "$kver" > "$dir/kver"
	touch "$dir/ok"
	echo "$dir"
}

exec 9>"$CACHE/.lock"
flock 9
KDIR=$(fetch_kernel) || true
flock -u 9
exec 9>&-
[ -n "${KDIR:-}" ] && [ -e "$KDIR/ok" ] ||
	skip "cannot fetch Debian's kernel (apt-get download linux-image-amd64's dependency failed)"
KVER=$(cat "$KDIR/kver")

# ---- keyturn and the test PAM application -------------------------------
KT_BUILT=1
KT_BUILD_MSG=""
# shellcheck disable=SC2086
if ! flock "$BUILD/.make.lock" make -s -C "$REPO" ${KT_VM_MAKEFLAGS:-} all \
	>"$WORK/make.log" 2>&1; then
	KT_BUILT=0
	KT_BUILD_MSG="make failed (see tests/vm/build/make.log)"
fi
# Every tests/vm/kt-*.c is a small real PAM application of the tests.
TEST_APPS=""
for src in "$HERE"/kt-*.c; do
	app=$(basename "$src" .c)
	cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 \
		-o "$WORK/$app" "$src" -lpam ||
		die "cannot build tests/vm/$app.c"
	TEST_APPS="$TEST_APPS $app"
done
cp "$WORK/kt-login" "$BUILD/kt-login.$$" && mv -f "$BUILD/kt-login.$$" "$BUILD/kt-login"

# ---- initramfs -----------------------------------------------------------
mkdir -p "$ROOT"/usr/{bin,sbin,lib64} "$ROOT$ARCH_LIB" \
	"$ROOT"/{dev,proc,sys,run,tmp,etc,root,home,var/log,mnt}
chmod 0755 "$ROOT"
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"
for l in bin sbin lib lib64; do ln -s "usr/$l" "$ROOT/$l"; done

declare -A COPIED=()
put() { # SRC [DEST]: copy a file (dereferenced) to the same path in ROOT
	local src=$1 dest=${2:-$1}
	[ -n "${COPIED[$dest]:-}" ] && return 0
	COPIED[$dest]=1
	mkdir -p "$ROOT$(dirname "$dest")"
	rm -f "$ROOT$dest"
	cp -L --preserve=mode "$src" "$ROOT$dest"
}
put_libs() { # FILE: every shared library it needs
	local lib
	for lib in $(ldd "$1" 2>/dev/null |
		awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
		put "$lib"
	done
}
put_elf() { # FILE...: the file and its libraries
	local f
	for f in "$@"; do
		put "$f"
		put_libs "$f"
	done
}
put_opt() { # like put_elf, for files that may be missing
	local f
	for f in "$@"; do [ -e "$f" ] && put_elf "$f"; done
	return 0
}

# busybox first, real programs overwrite its links
put /bin/busybox /usr/bin/busybox
for a in $(busybox --list-full); do
	case $a in
	*/*) ;;
	*) a=usr/bin/$a ;;
	esac
	a=/${a#/}
	[ -e "$ROOT$a" ] || [ -L "$ROOT$a" ] || ln -s /usr/bin/busybox "$ROOT$a"
done
put_elf /usr/sbin/cryptsetup /usr/sbin/dmsetup /usr/bin/keyctl \
	/usr/sbin/mke2fs /usr/bin/pamtester /usr/sbin/unix_chkpwd \
	/usr/bin/lsblk /usr/bin/findmnt /usr/bin/getent
put_opt /usr/sbin/e2fsck /usr/sbin/blkid /usr/sbin/wipefs /usr/bin/gettext \
	/usr/sbin/mkfs.f2fs /usr/sbin/fsck.f2fs
# eCryptfs: every tool of ecryptfs-utils, key modules, NSS softoken
for f in $(dpkg -L ecryptfs-utils libecryptfs1 2>/dev/null); do
	[ -f "$f" ] || continue
	case $f in
	*/bin/*|*/sbin/*|*.so|*.so.*) put_elf "$f" ;;
	esac
done
put_opt /usr/bin/gettext.sh
for f in libsoftokn3.so libfreebl3.so libfreeblpriv3.so libsqlite3.so.0 \
	libnss_files.so.2 libnsspem.so libgcc_s.so.1; do
	put_opt "$ARCH_LIB/$f"
done
for f in libsoftokn3.chk libfreebl3.chk libfreeblpriv3.chk; do
	[ -e "$ARCH_LIB/$f" ] && put "$ARCH_LIB/$f"
done
# PAM
for m in unix keyinit permit deny env succeed_if exec warn ecryptfs; do
	put_opt "$ARCH_LIB/security/pam_$m.so"
done
for app in $TEST_APPS; do
	put "$WORK/$app" "/usr/bin/$app"
	put_libs "$WORK/$app"
done
# tests/62-fscrypt-rekey.sh: a preload that kills keyturn-agent right after
# its Nth file mutation (tests/vm/killpoint.c), enabled by the test alone
cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -fPIC -shared \
	-o "$WORK/kt-killpoint.so" "$HERE/killpoint.c" ||
	die "cannot build tests/vm/killpoint.c"
put "$WORK/kt-killpoint.so" /usr/lib/kt-killpoint.so
# The fscrypt library's host test, run again on Debian's kernel by
# tests/65-fscrypt-lib.sh, with its vectors.
if flock "$BUILD/.make.lock" make -s -C "$REPO" tests/host/test_fscrypt \
	>>"$WORK/make.log" 2>&1; then
	put "$REPO/tests/host/test_fscrypt" /kt/host/test_fscrypt
	put_libs "$REPO/tests/host/test_fscrypt"
	mkdir -p "$ROOT/kt/vectors"
	cp -r "$REPO/tests/unit/vectors/fscrypt" "$ROOT/kt/vectors/"
fi

# tests/vm/tools: test programs linked with libkeyturn (built by make all
# above), for tests/50-secrets.sh.
if [ "$KT_BUILT" = 1 ]; then
	for src in "$HERE"/tools/kt-*.c; do
		app=$(basename "$src" .c)
		# shellcheck disable=SC2046 # pkg-config: several words
		cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 \
			-I"$REPO/lib" -o "$WORK/$app" "$src" "$REPO/lib/libkeyturn.a" \
			$(pkg-config --libs libsodium libargon2) ||
			die "cannot build tests/vm/tools/$app.c"
		put "$WORK/$app" "/usr/bin/$app"
		put_libs "$WORK/$app"
	done
fi

# The fscrypt tool (Debian's package fscrypt: Go, linked with libpam), for
# the import and the bench of tests/61-fscrypt.sh; fetched once, cached.
fscrypt_deb() {
	ls "$CACHE"/fscrypt_*_amd64.deb 2>/dev/null | tail -n 1
}
if [ -z "$(fscrypt_deb)" ]; then
	mkdir -p "$CACHE"
	(cd "$CACHE" && apt-get download fscrypt >/dev/null 2>&1) || true
fi
if [ -n "$(fscrypt_deb)" ] && rm -rf "$WORK/fscrypt" &&
	dpkg -x "$(fscrypt_deb)" "$WORK/fscrypt"; then
	put "$WORK/fscrypt/usr/bin/fscrypt" /usr/bin/fscrypt
	put_libs "$WORK/fscrypt/usr/bin/fscrypt"
fi

# keyturn at its real paths
KT_INSTALLED=0
if [ "$KT_BUILT" = 1 ]; then
	# shellcheck disable=SC2086
	if flock "$BUILD/.make.lock" make -s -C "$REPO" ${KT_VM_MAKEFLAGS:-} \
		install DESTDIR="$ROOT" >>"$WORK/make.log" 2>&1; then
		KT_INSTALLED=1
	else
		KT_BUILD_MSG="make install DESTDIR=... failed (see tests/vm/build/make.log)"
	fi
	for f in "$ROOT"/lib/x86_64-linux-gnu/security/pam_keyturn.so \
		"$ROOT"/usr/libexec/keyturn/keyturn-agent \
		"$ROOT"/usr/libexec/keyturn/keyturn-hold "$ROOT"/usr/bin/keyturnctl; do
		[ -e "$f" ] && put_libs "$f"
	done
	rm -rf "$ROOT/usr/share/man"
fi

# kernel modules, dependencies first
: > "$ROOT/etc/kt-modules"
declare -A MODSEEN=()
for m in $MODULES; do
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		[ -n "${MODSEEN[$path]:-}" ] && continue
		MODSEEN[$path]=1
		dest=/lib/modules/$KVER/${path#"$KDIR"/lib/modules/"$KVER"/}
		put "$path" "$dest"
		echo "$dest" >> "$ROOT/etc/kt-modules"
	done < <(modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" 2>/dev/null ||
		echo "missing $m")
	grep -q "/${m//-/[-_]}.ko" "$ROOT/etc/kt-modules" ||
		modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" 2>/dev/null |
		grep -q "^builtin" || die "kernel module $m not found in $KDIR"
done

# users, groups, passwords (SHA-512), NSS, PAM services
hash_pw() { # password on stdin
	if command -v openssl >/dev/null; then
		openssl passwd -6 -stdin
	else
		busybox cryptpw -m sha512
	fi
}
{
	echo "root:x:0:0:root:/root:/bin/sh"
	echo "nobody:x:65534:65534:nobody:/nonexistent:/bin/false"
} > "$ROOT/etc/passwd"
{
	echo "root:x:0:"
	echo "shadow:x:42:"
	echo "nogroup:x:65534:"
} > "$ROOT/etc/group"
{
	echo "root:*:19000:0:99999:7:::"
	echo "nobody:*:19000:0:99999:7:::"
} > "$ROOT/etc/shadow"
USERS=""
while read -r u uid pw; do
	case $u in ''|'#'*) continue ;; esac
	echo "$u:x:$uid:$uid::/home/$u:/bin/sh" >> "$ROOT/etc/passwd"
	echo "$u:x:$uid:" >> "$ROOT/etc/group"
	h=$(printf '%s\n' "$pw" | hash_pw)
	case $h in '$6$'*) ;; *) die "cannot hash the password of $u" ;; esac
	echo "$u:$h:19000:0:99999:7:::" >> "$ROOT/etc/shadow"
	mkdir -p "$ROOT/home/$u"
	USERS="$USERS $u"
done < "$HERE/tests/users"
echo "$USERS" > "$ROOT/etc/kt-users"
chmod 0640 "$ROOT/etc/shadow"
cat > "$ROOT/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
shadow: files
hosts: files
EOF
echo "127.0.0.1 localhost kt-vm" > "$ROOT/etc/hosts"
# libecryptfs finds sysfs through /etc/mtab.
ln -sf /proc/self/mounts "$ROOT/etc/mtab"
mkdir -p "$ROOT/etc/pam.d" "$ROOT/etc/security"
cat > "$ROOT/etc/pam.d/other" <<'EOF'
auth required pam_deny.so
account required pam_deny.so
password required pam_deny.so
session required pam_deny.so
EOF
cat > "$ROOT/etc/pam.d/kt-infra" <<'EOF'
# pam_unix alone: proves the PAM login works without keyturn
auth required pam_unix.so
account required pam_unix.so
session required pam_keyinit.so force revoke
session required pam_unix.so
password required pam_unix.so
EOF
cat > "$ROOT/etc/pam.d/kt-test" <<'EOF'
auth required pam_unix.so
auth optional pam_keyturn.so
account required pam_unix.so
session required pam_keyinit.so force revoke
session optional pam_keyturn.so
password required pam_unix.so
EOF
{
	echo "KT_BUILT=$KT_BUILT"
	echo "KT_INSTALLED=$KT_INSTALLED"
	echo "KT_BUILD_MSG='$KT_BUILD_MSG'"
	echo "KT_KVER=$KVER"
} > "$ROOT/etc/kt-build"

# the tests and /init
mkdir -p "$ROOT/kt"
cp -r "$HERE/tests" "$ROOT/kt/tests"
cp "$HERE/demo.sh" "$ROOT/kt/demo.sh"
# bench: tests/bench (with what its run.sh built) in /bench, its guest
# script run by init's demo mode in place of the demo
GUEST_MODE=$MODE
if [ "$MODE" = bench ]; then
	cp -r "$REPO/tests/bench" "$ROOT/bench"
	cp "$REPO/tests/bench/run-guest.sh" "$ROOT/kt/demo.sh"
	chmod -R a+rX "$ROOT/bench"
	GUEST_MODE=demo
fi
cp "$HERE/init" "$ROOT/init"
chmod 0755 "$ROOT/init" "$ROOT/kt" "$ROOT/kt/tests"
chmod -R a+rX "$ROOT/kt"

(cd "$ROOT" && find . -print0 | sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 > "$INITRD"
say "initramfs $(du -h "$INITRD" | cut -f1), kernel $KVER, built in $(elapsed) s"

# ---- boot --------------------------------------------------------------
APPEND="console=ttyS0 quiet panic=-1 kt.mode=$GUEST_MODE"
[ -n "$ONLY" ] && APPEND="$APPEND kt.only=${ONLY// /,}"
ACCEL=(-accel "tcg,thread=multi" -cpu max)
if [ -w /dev/kvm ] && [ -z "${KT_VM_NO_KVM:-}" ] &&
	grep -qE '^flags.*\b(vmx|svm)\b' /proc/cpuinfo; then
	ACCEL=(-accel kvm -cpu host)
fi
QEMU=(qemu-system-x86_64 "${ACCEL[@]}" -m 1024 -smp 2 -nographic -no-reboot
	-nic none
	-kernel "$KDIR/vmlinuz" -initrd "$INITRD" -append "$APPEND")

if [ "$MODE" = shell ]; then
	say "shell: 'poweroff -f' or Ctrl-a x leaves"
	exec "${QEMU[@]}"
fi

rm -f "$LOG" "$STATE"
: > "$LOG"

TBOOT=$(date +%s%N)
timeout -k 5 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$LOG" 2>&1 &
QPID=$!

# Lines from the guest start with "KT| "; everything else is kernel noise.
parse() {
	local passed=0 failed=0 skipped=0 booted="" line
	while IFS= read -r line; do
		line=${line%$'\r'}
		[ -n "${KT_VM_VERBOSE:-}" ] && [ "${line#*KT| }" = "$line" ] &&
			echo "## $line"
		case $line in
		*"KT| "*) line=${line#*KT| } ;;
		*) continue ;;
		esac
		case $line in
		"@booted"*)
			booted=$(elapsed "$TBOOT")
			echo "BOOT=$booted" >> "$STATE"
			continue ;;
		"@done"*)
			echo "DONE=1" >> "$STATE"
			continue ;;
		"ok - "*|"ok "*) passed=$((passed + 1)) ;;
		"not ok"*) failed=$((failed + 1)) ;;
		"SKIP"*) skipped=$((skipped + 1)) ;;
		esac
		echo "$line"
	done
	echo "PASSED=$passed" >> "$STATE"
	echo "FAILED=$failed" >> "$STATE"
	echo "SKIPPED=$skipped" >> "$STATE"
}
# in the background, so that a signal to us runs the trap at once
tail -n +1 -f --pid="$QPID" "$LOG" 2>/dev/null | parse &
wait $! || true
wait "$QPID" && QRC=0 || QRC=$?
QPID=""

PASSED=0 FAILED=0 SKIPPED=0 BOOT="?" DONE=""
while IFS='=' read -r k v; do
	case $k in
	PASSED) PASSED=$v ;; FAILED) FAILED=$v ;; SKIPPED) SKIPPED=$v ;;
	BOOT) BOOT=$v ;; DONE) DONE=$v ;;
	esac
done < "$STATE"

if [ -z "$DONE" ]; then
	if [ "$BOOT" = "?" ] && grep -qiE 'could not|failed to|error' "$LOG" &&
		! grep -q 'Linux version' "$LOG"; then
		tail -5 "$LOG" | sed 's/^/# qemu: /'
		skip "qemu could not boot the kernel (exit $QRC)"
	fi
	echo "not ok - vm run completed (qemu exit $QRC, timeout ${TIMEOUT}s?)"
	echo "# last console lines (whole log: tests/vm/build/console.log):"
	tail -15 "$LOG" | tr -d '\r' | sed 's/^/#   /'
	FAILED=$((FAILED + 1))
fi
say "boot $BOOT s, total $(elapsed) s"
if [ "$MODE" = check ]; then
	[ "$SKIPPED" -gt 0 ] && say "$SKIPPED skipped"
	echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]
