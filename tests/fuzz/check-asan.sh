#!/bin/sh
# make check-asan: the library, the programs and the unit, PAM and host
# tests built with ASan+UBSan in a copy of the tracked tree
# (tests/fuzz/build/asan), so that the normal build is left alone, then
# run there. Any sanitizer report fails the test program that made it.
set -u
cd "$(dirname "$0")/../.."

: "${MAKE:=make}" "${ASAN_CC:=${CC:-cc}}"
dest=tests/fuzz/build/asan
san="-fsanitize=address,undefined -fno-omit-frame-pointer"

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int main(void) { return 0; }' >"$probe/p.c"
if ! "$ASAN_CC" $san -o "$probe/p" "$probe/p.c" >"$probe/log" 2>&1 ||
	! "$probe/p"; then
	echo "SKIP: check-asan: $ASAN_CC cannot build with ASan+UBSan:" \
		"$(head -n 1 "$probe/log")"
	exit 77
fi

echo "== asan build in $dest"
mkdir -p "$dest"
# The source files as they are in the working tree (tracked, and new ones
# not ignored), so that this builds what "make" builds; tar keeps their
# times, so that a second run rebuilds only what changed.
git ls-files --cached --others --exclude-standard |
	while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done |
	tar -T - -cf - | tar -C "$dest" -xf - || exit 1
if ! $MAKE --no-print-directory -C "$dest" CC="$ASAN_CC" SANITIZE="$san" \
	all tests >"$dest/build.log" 2>&1; then
	tail -n 30 "$dest/build.log"
	echo "FAIL: asan build (log: $dest/build.log)"
	exit 1
fi

# abort_on_error: a report ends the program with SIGABRT, never exit 77.
# verify_asan_link_order=0: the PAM test puts pam_wrapper in LD_PRELOAD
# and re-executes itself, which would put libasan second.
asan="detect_leaks=1:abort_on_error=1:verify_asan_link_order=0"
ubsan="halt_on_error=1:print_stacktrace=1:abort_on_error=1"
export ASAN_OPTIONS="$asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="$ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# pam_wrapper dlopen()s libpam with RTLD_DEEPBIND, which ASan refuses;
# 1.1.4 (Debian 12) reads the switch under uid_wrapper's name.
export PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
"$dest/tests/run-suites.sh" unit pam host
