#!/bin/sh
# A password change of an fscrypt directory is crash-safe: keyturnctl
# rekey (keyturn-agent --rekey, the code a PAM password change runs) is
# killed right after each file mutation in turn, by kt-killpoint.so
# (tests/vm/killpoint.c, through /etc/ld.so.preload: the agent has an
# empty environment), until it completes. After each kill, exactly one
# of the old and the new password opens the directory in a real login
# on the real kernel, and a second re-key brings it to the new one.
. /kt/tests/lib.sh
. /kt/tests/fscrypt-lib.sh

SVC=kt-test
U=carol
OLD="carol-Old-pw6"
NEW="carol-New-pw7"
FS=/srv/rk
D=$FS/$U/Vault
W=/home/$U/.keyturn/fscrypt-Vault
PRELOAD=/usr/lib/kt-killpoint.so
CONTROL=/run/kt-killpoint
HIT=/run/kt-killpoint.hit

fscrypt_installed "$PRELOAD"
if [ ! -e /sys/fs/ext4/features/encryption ]; then
	skip "fscrypt re-key killed" "this kernel's ext4 has no encryption"
	finish
	exit 0
fi
if ! command -v kt-passwd > /dev/null 2>&1; then
	skip "fscrypt re-key killed" "kt-passwd is not in the image"
	finish
	exit 0
fi

# state USER: what keyturnctl status says of the key (open, locked, ...)
state() {
	keyturnctl status --user "$1" 2>/dev/null |
		awk '$1 == "state:" { print $2; exit }'
}
is_locked() { [ "$(state "$1")" = locked ]; }
# set_pw PASSWORD: carol's system password, set by root (pam_unix alone:
# nothing of keyturn's re-keyed)
set_pw() {
	printf '%s\n%s\n' "$1" "$1" | kt-passwd -s kt-setpw "$U" \
		> "$KT_TMP/setpw" 2>&1
}
# opens PASSWORD: with it as carol's system password, a real login reads
# the file in the directory; its logout locks it again
opens() {
	set_pw "$1" || { diag "kt-passwd failed"; return 2; }
	login_as "$SVC" "$U" "$1" /bin/sh -c "grep -q kept-across-rekeys $D/note.txt"
	_rc=$?
	wait_until 5 is_locked "$U" || diag "not locked after the logout"
	return $_rc
}
# which_opens: "old", "new", "both" or "none"
# temporaries: how many files the wrapped file's writes left beside it
temporaries() {
	_n=0
	for _f in "/home/$U/.keyturn"/.fscrypt-Vault.*~; do
		[ -e "$_f" ] && _n=$((_n + 1))
	done
	echo "$_n"
}
which_opens() {
	_o=0 _n=0
	opens "$OLD" && _o=1
	opens "$NEW" && _n=1
	case $_o$_n in
	10) echo old ;; 01) echo new ;; 11) echo both ;; *) echo none ;;
	esac
}
# rekey [N]: keyturnctl rekey from OLD to NEW, killed after mutation N of
# the agent when given; its output (through a pipe: the agent's stdout
# and stderr are not files it could count) in $KT_TMP/rekey, its status
# in REKEY_RC
rekey() {
	rm -f "$HIT"
	if [ -n "${1:-}" ]; then
		echo "$1" > "$CONTROL" && chmod 0644 "$CONTROL"
	fi
	_out=$(printf '%s\n%s\n' "$OLD" "$NEW" |
		keyturnctl rekey --user "$U" --stdin 2>&1)
	REKEY_RC=$?
	rm -f "$CONTROL"
	printf '%s\n' "$_out" > "$KT_TMP/rekey"
}
rekeyed() { grep -q "^vault: re-keyed" "$KT_TMP/rekey"; }
in_step() { grep -qE "^vault: (re-keyed|already in step)" "$KT_TMP/rekey"; }

cat > /etc/pam.d/kt-setpw <<'EOF'
password required pam_unix.so sha512
EOF

# ---- an ext4 with encryption, carol's directory enrolled with OLD ----------------
dd if=/dev/zero of=/tmp/rk.img bs=1M count=0 seek=32 2>/dev/null
# by its path: busybox's shell would run its own mke2fs
/sbin/mke2fs -q -t ext4 -O encrypt -F /tmp/rk.img > "$KT_TMP/mkfs" 2>&1
loop=$(losetup -f) && losetup "$loop" /tmp/rk.img
mkdir -p "$FS"
mount -t ext4 "$loop" "$FS"
check "ext4 -O encrypt mounted on $FS ($loop)" is_mounted "$FS"
mkdir -p "$D" && chown "$U:$U" "$FS/$U" "$D" && chmod 0700 "$FS/$U" "$D"
# shellcheck disable=SC2086 # $FAST: several words
printf '%s\n' "$OLD" | keyturnctl enroll fscrypt "$D" --user "$U" --stdin \
	$FAST > "$KT_TMP/enroll" 2>&1
check_eq "keyturnctl enroll fscrypt: $U's directory, password OLD" 0 "$?"
diag_file "$KT_TMP/enroll" 4
cat > "$CONF" <<EOF
[volume vault]
user = $U
type = fscrypt
directory = $FS/%u/Vault
wrapped = %h/.keyturn/fscrypt-Vault
EOF
chmod 0644 "$CONF"
check "keyturnctl check accepts the config" keyturnctl check --user "$U"
set_pw "$OLD"
check "a login with OLD writes a file in the directory" \
	login_as "$SVC" "$U" "$OLD" /bin/sh -c \
	"echo kept-across-rekeys > $D/note.txt && sync"
check "and its logout locks it" wait_until 5 is_locked "$U"
check_eq "before any re-key: OLD opens it" old "$(which_opens)"
cp -p "$W" "$KT_TMP/wrapped.old"

# ---- the re-key killed after mutation 1, 2, ... until it completes -------------
echo "$PRELOAD" > /etc/ld.so.preload
n=0
kills=0
completed=""
while [ "$n" -lt 50 ]; do
	n=$((n + 1))
	cp -p "$KT_TMP/wrapped.old" "$W"
	rekey "$n"
	if [ ! -e "$HIT" ]; then
		check_eq "kill point $n not reached: the re-key completed (exit 0)" \
			0 "$REKEY_RC"
		check "...saying re-keyed" rekeyed
		diag_file "$KT_TMP/rekey" 3
		check_eq "...and NEW alone opens it" new "$(which_opens)"
		completed=1
		break
	fi
	kills=$((kills + 1))
	hit=$(cat "$HIT")
	case $hit in
	"$n "*) ;;
	*) not_ok "kill point $n: the preload killed at '$hit'" ;;
	esac
	check_eq "killed after mutation $n ($hit): keyturnctl rekey fails (exit 1)" \
		1 "$REKEY_RC"
	check_fails "...and reports no re-key" in_step
	diag_file "$KT_TMP/rekey" 3
	opened=$(which_opens)
	case $opened in
	old|new) ok "killed after mutation $n ($hit): $opened alone opens it" ;;
	*) not_ok "killed after mutation $n ($hit): $opened opens it (one must)" ;;
	esac
	rekey
	check_eq "...a second re-key after the kill: exit 0" 0 "$REKEY_RC"
	check "...brings it in step (re-keyed or already in step)" in_step
	diag_file "$KT_TMP/rekey" 2
	check "...and NEW then opens it" opens "$NEW"
	check_eq "...and no temporary file of the killed write is left" 0 \
		"$(temporaries)"
done
rm -f /etc/ld.so.preload "$CONTROL" "$HIT"
check "the re-key completed once unkilled (at most 50 kill points)" \
	test -n "$completed"
check "at least 3 kill points exercised ($kills)" test "$kills" -ge 3
diag "re-key killed at $kills points, completed at mutation point $n"

umount "$FS" && losetup -d "$loop"
rm -f /tmp/rk.img /etc/pam.d/kt-setpw
finish
