#!/bin/sh
# The fscrypt library (lib/fscrypt*.c) on Debian's kernel: the host test
# tests/host/test_fscrypt, built on the host and run here as it is, on
# loop-mounted ext4 images with -O encrypt (ioctl wrappers, busy files,
# other users, refusals, and the import of the directory the real fscrypt
# tool encrypted). The agent and keyturnctl on top of it: 61-fscrypt.sh.
. /kt/tests/lib.sh

T=/kt/host/test_fscrypt
if [ ! -x "$T" ]; then
	skip "fscrypt library" "tests/host/test_fscrypt was not built"
	finish
	exit 0
fi
check "ext4 says it can encrypt" test -e /sys/fs/ext4/features/encryption
KT_FSCRYPT_VECTORS=/kt/vectors/fscrypt/ "$T" >"$KT_TMP/fscrypt.log" 2>&1
rc=$?
# cmocka's own lines, as TAP-like lines of this file
sed -n 's/^\[       OK \] \(.*\)/ok - fscrypt: \1/p' "$KT_TMP/fscrypt.log"
sed -n 's/^\[  FAILED  \] \(test_.*\)/not ok - fscrypt: \1/p' \
	"$KT_TMP/fscrypt.log" | sort -u
case $rc in
0) ok "test_fscrypt on kernel $(uname -r)" ;;
77) skip "test_fscrypt" "$(grep -m 1 SKIP "$KT_TMP/fscrypt.log")" ;;
*) not_ok "test_fscrypt exited $rc"; diag_file "$KT_TMP/fscrypt.log" 30 ;;
esac
finish
