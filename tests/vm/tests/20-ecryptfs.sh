#!/bin/sh
# keyturn's eCryptfs private directories, end to end: carol's directory is
# made by ecryptfs-utils' own tools (as ecryptfs-setup-private does) and
# imported with keyturnctl; bob's is made by keyturnctl; both are mounted at
# login by the real PAM stack (pam_unix + pam_keyinit + pam_keyturn in
# kt-login) and unmounted, keys gone, at logout.
. /kt/tests/lib.sh

SVC=kt-test
CPW=$(pw_of carol)
BPW=$(pw_of bob)
APW=$(pw_of alice)
C=/home/carol
B=/home/bob
ROOTDIR=/var/kt-rootdir
# Cheap Argon2id: this is software emulation (the cost is still measured).
FAST="--argon2-ms 100 --argon2-memory 16384"

for f in /lib/x86_64-linux-gnu/security/pam_keyturn.so \
	/usr/libexec/keyturn/keyturn-agent /usr/bin/keyturnctl \
	/usr/bin/ecryptfs-add-passphrase /usr/bin/ecryptfs-wrap-passphrase \
	/usr/bin/ecryptfs-unwrap-passphrase; do
	if [ ! -e "$f" ]; then
		not_ok "installed in the image: $f missing (${KT_BUILD_MSG:-})"
		finish
		exit 1
	fi
done

agents() {
	for _p in /proc/[0-9]*; do
		[ "$(cat "$_p/comm" 2>/dev/null)" = keyturn-agent ] || continue
		_st=$(awk '{ print $3 }' "$_p/stat" 2>/dev/null)
		[ "$_st" = Z ] || [ -z "$_st" ] || echo "${_p#/proc/}"
	done
}
no_agents() { [ -z "$(agents)" ]; }
root_keys() { awk '$1 == "0:" { split($3, a, "/"); print a[1] }' /proc/key-users; }
root_keys_le() { [ "$(root_keys)" -le "$1" ]; }
as_user() { su -s /bin/sh "$1" -c "$2"; }
ecryptfs_on() { mount_line "$1" | grep -q ' ecryptfs '; }
has_opt() { mount_line "$1" | awk '{ print $4 }' | tr ',' '\n' | grep -qx "$2"; }
# only_ciphertext LOWER TEXT: every name encrypted, TEXT in no file
only_ciphertext() {
	[ -n "$(ls -A "$1")" ] || return 1
	for _f in "$1"/* "$1"/.[!.]*; do
		[ -e "$_f" ] || continue
		case ${_f##*/} in
		ECRYPTFS_FNEK_ENCRYPTED.*) ;;
		*) return 1 ;;
		esac
	done
	! grep -rqF "$2" "$1"
}
now() { uptime_s; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }

# ---- carol: a private directory made by ecryptfs-utils' tools ---------------
# What ecryptfs-setup-private does, by hand: a random mount passphrase, its
# auth tokens added by ecryptfs-add-passphrase --fnek, Private.sig, the
# passphrase wrapped with the login password by ecryptfs-wrap-passphrase,
# the directory mounted and files written in it.
# libecryptfs finds sysfs (and so the kernel's filename-encryption support)
# through /etc/mtab, which this initramfs lacks.
[ -e /etc/mtab ] || ln -s /proc/self/mounts /etc/mtab
MP=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
for d in .Private Private .ecryptfs; do
	mkdir -m 0700 "$C/$d"
	chown carol:carol "$C/$d"
done
cat > "$KT_TMP/setup.sh" <<EOF
keyctl link @u @s
printf '%s\0' "$MP" | ecryptfs-add-passphrase --fnek - > $KT_TMP/sigs || exit 1
SIG=\$(sed -n 's/.*sig \[\([0-9a-f]*\)\].*/\1/p' $KT_TMP/sigs | sed -n 1p)
FNEK=\$(sed -n 's/.*sig \[\([0-9a-f]*\)\].*/\1/p' $KT_TMP/sigs | sed -n 2p)
[ -n "\$SIG" ] && [ -n "\$FNEK" ] || exit 2
printf '%s\n%s\n' "\$SIG" "\$FNEK" > $C/.ecryptfs/Private.sig
mount -t ecryptfs -o ecryptfs_cipher=aes,ecryptfs_key_bytes=16,ecryptfs_unlink_sigs,ecryptfs_sig=\$SIG,ecryptfs_fnek_sig=\$FNEK \
	$C/.Private $C/Private || exit 3
su -s /bin/sh carol -c 'echo secret-of-carol > $C/Private/note.txt' || exit 4
umount $C/Private || exit 5
for s in \$SIG \$FNEK; do
	keyctl invalidate \$(keyctl search @u user \$s) || exit 6
done
EOF
if keyctl session kt-setup sh "$KT_TMP/setup.sh" > "$KT_TMP/setup.out" 2>&1
then
	ok "carol's private directory made with ecryptfs-utils' tools"
else
	not_ok "carol's private directory made with ecryptfs-utils' tools"
	diag_file "$KT_TMP/setup.out"
	diag_file "$KT_TMP/sigs"
fi
chown carol:carol "$C/.ecryptfs/Private.sig"
chmod 0600 "$C/.ecryptfs/Private.sig"
printf '%s\n%s' "$MP" "$CPW" |
	ecryptfs-wrap-passphrase "$C/.ecryptfs/wrapped-passphrase" - \
	> "$KT_TMP/wrap.out" 2>&1
check_eq "ecryptfs-wrap-passphrase wraps it with carol's login password" \
	0 "$?"
chown carol:carol "$C/.ecryptfs/wrapped-passphrase"
SIG=$(sed -n 1p "$C/.ecryptfs/Private.sig")
FNEK=$(sed -n 2p "$C/.ecryptfs/Private.sig")
diag "carol: signatures $SIG, $FNEK"
check "carol's lower directory holds only ciphertext" \
	only_ciphertext "$C/.Private" secret-of-carol
check "the setup left no auth-token key" no_keys_matching "$SIG|$FNEK"

# ---- import, the mount passphrase from ecryptfs-unwrap-passphrase -------------
# A wrong mount passphrase first: refused before anything is written.
# shellcheck disable=SC2086 # $FAST: several words
printf '%s\n%s\n' "00$MP" "$CPW" |
	keyturnctl enroll ecryptfs --import --user carol --stdin $FAST \
	> "$KT_TMP/enroll" 2>&1
check_eq "import with a wrong mount passphrase: refused (exit 1)" 1 "$?"
check "import with a wrong mount passphrase: nothing written" \
	test ! -e "$C/.ecryptfs/keyturn-wrapped"
diag_file "$KT_TMP/enroll" 2

t0=$(now)
# shellcheck disable=SC2086 # $FAST: several words
{
	printf '%s' "$CPW" |
		ecryptfs-unwrap-passphrase "$C/.ecryptfs/wrapped-passphrase" -
	printf '%s\n' "$CPW"
} | keyturnctl enroll ecryptfs --import --user carol --stdin $FAST \
	> "$KT_TMP/enroll" 2>&1
check_eq "keyturnctl enroll ecryptfs --import: carol" 0 "$?"
diag "enrollment took $(since "$t0") s"
diag_file "$KT_TMP/enroll" 12
check "the import printed the signature of Private.sig" \
	grep -q "Signature: $SIG" "$KT_TMP/enroll"
check "keyturn's wrapped file: carol's, mode 0600" \
	sh -c "[ \"\$(stat -c '%U %a' $C/.ecryptfs/keyturn-wrapped)\" = 'carol 600' ]"

# ---- bob: a private directory made by keyturnctl ---------------------------------
# shellcheck disable=SC2086 # $FAST: several words
printf '%s\n' "$BPW" |
	keyturnctl enroll ecryptfs --user bob --stdin $FAST > "$KT_TMP/enroll.b" 2>&1
check_eq "keyturnctl enroll ecryptfs: bob, a new directory" 0 "$?"
diag_file "$KT_TMP/enroll.b" 4
for d in .Private Private .ecryptfs; do
	check "bob's $d: bob's, mode 0700" \
		sh -c "[ \"\$(stat -c '%U %a %F' $B/$d)\" = 'bob 700 directory' ]"
done
BSIG=$(sed -n 's/^Signature: //p' "$KT_TMP/enroll.b")
BFNEK=$(sed -n 's/^Filename key signature: //p' "$KT_TMP/enroll.b")

# alice: enrolled with a password that is not her login password.
# shellcheck disable=SC2086 # $FAST: several words
printf '%s\n' "alice-Former-login-pw" |
	keyturnctl enroll ecryptfs --user alice --stdin $FAST > "$KT_TMP/enroll.a" 2>&1
check_eq "keyturnctl enroll ecryptfs: alice, a password not her login's" \
	0 "$?"

cat > /etc/security/keyturn.conf <<'EOF'
[volume private]
user = carol bob alice
type = ecryptfs
source = %h/.Private
mountpoint = %h/Private
wrapped = %h/.ecryptfs/keyturn-wrapped
EOF
chown root:root /etc/security/keyturn.conf
chmod 0644 /etc/security/keyturn.conf
check "keyturnctl check accepts the config" keyturnctl check --user carol

# ---- carol logs in: mounted; files of before read back; logout: unmounted ----------
keys0=$(root_keys)
mark=$(syslog_mark)
t0=$(now)
login_bg "$SVC" carol "$CPW" c1
check "carol logs in" test -e "$KT_TMP/c1.in"
diag "login with one eCryptfs directory: session open $(since "$t0") s after the start"
check "$C/Private mounted, eCryptfs" ecryptfs_on "$C/Private"
check "mounted with carol's signature" has_opt "$C/Private" "ecryptfs_sig=$SIG"
check "mounted with the filename key" \
	has_opt "$C/Private" "ecryptfs_fnek_sig=$FNEK"
check "mounted nosuid" has_opt "$C/Private" nosuid
check "mounted nodev" has_opt "$C/Private" nodev
diag "$(mount_line "$C/Private")"
check_eq "the file written before the import reads back" secret-of-carol \
	"$(as_user carol "cat $C/Private/note.txt" 2>&1)"
check "carol writes a new file" \
	as_user carol "echo second-of-carol > $C/Private/two.txt && sync"
check "pam_keyturn logged the directory opened" \
	logged "$mark" "pam_keyturn.*private.*opened"

mark=$(syslog_mark)
release c1
check_eq "carol logs out (exit 0)" 0 "$?"
check "logout: $C/Private unmounted" wait_until 5 not_mounted "$C/Private"
check "logout: the lower directory holds only ciphertext" \
	only_ciphertext "$C/.Private" -of-carol
check "logout: no auth-token key in /proc/keys" no_keys_matching "$SIG|$FNEK"
check "logout: root's keys back to $keys0 (/proc/key-users)" \
	wait_until 10 root_keys_le "$keys0"
[ "$(root_keys)" -le "$keys0" ] || sed 's/^/#   /' /proc/key-users
check "logout: the agent is gone" wait_until 5 no_agents
check "pam_keyturn logged the directory closed" \
	logged "$mark" "pam_keyturn.*private.*closed"

# A whole login and logout, timed, against one without keyturn's volumes.
t0=$(now)
login_as kt-infra carol "$CPW" true
t_plain=$(since "$t0")
t0=$(now)
login_as "$SVC" carol "$CPW" true
rc=$?
t_ecr=$(since "$t0")
check_eq "a timed login and logout of carol (exit 0)" 0 "$rc"
diag "login+logout: $t_ecr s with the eCryptfs directory, $t_plain s with pam_unix alone"
check "after the timed login: unmounted" wait_until 5 not_mounted "$C/Private"

# ---- bob: the directory keyturnctl made works the same ------------------------------
keys0=$(root_keys)
check "bob logs in and writes into his directory" \
	login_as "$SVC" bob "$BPW" /bin/sh -c \
	"grep -q ' $B/Private ecryptfs ' /proc/mounts && echo secret-of-bob > $B/Private/b.txt"
diag_file "$KT_TMP/login.err" 5
check "bob's logout: unmounted" wait_until 5 not_mounted "$B/Private"
check "bob's lower directory holds only ciphertext" \
	only_ciphertext "$B/.Private" secret-of-bob
check "bob's logout: no auth-token key left" no_keys_matching "$BSIG|$BFNEK"
check "bob's logout: root's keys back to $keys0" wait_until 10 root_keys_le "$keys0"
login_as "$SVC" bob "$BPW" /bin/sh -c "cat $B/Private/b.txt" > "$KT_TMP/b.out"
check_eq "bob's file reads back at the next login" secret-of-bob \
	"$(cat "$KT_TMP/b.out")"
check "and is unmounted again" wait_until 5 not_mounted "$B/Private"

# ---- wrong passwords: nothing mounted ---------------------------------------------
login_as "$SVC" carol "not-$CPW" true
check_eq "wrong password: login refused (exit 10)" 10 "$?"
check "wrong password: nothing mounted" not_mounted "$C/Private"
check "wrong password: no agent" no_agents
mark=$(syslog_mark)
login_as "$SVC" alice "$APW" true
check_eq "alice (wrapped with another password) logs in (exit 0)" 0 "$?"
check "alice: nothing mounted" not_mounted /home/alice/Private
check "a log line says why alice's directory stayed locked" \
	logged "$mark" "pam_keyturn.*private.*/home/alice/.ecryptfs/keyturn-wrapped"
syslog_since "$mark" | grep pam_keyturn | tail -n 3 | sed 's/^/#   /'

# ---- a tampered wrapped file: nothing mounted, the file named in the log -------------
W=$C/.ecryptfs/keyturn-wrapped
check "carol's wrapped file is there to tamper with" test -s "$W"
cp -p "$W" "$KT_TMP/wrapped.good"
# flip one byte of the ciphertext (offset 70), keeping owner and mode
b=$(dd if="$W" bs=1 skip=70 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
# shellcheck disable=SC2059 # the byte as an octal escape
printf "$(printf '\\%03o' $(((b + 1) % 256)))" |
	dd of="$W" bs=1 seek=70 count=1 conv=notrunc 2>/dev/null
check "the wrapped file was changed" sh -c "! cmp -s $W $KT_TMP/wrapped.good"
mark=$(syslog_mark)
login_as "$SVC" carol "$CPW" true
check_eq "tampered wrapped file: carol still logs in (exit 0)" 0 "$?"
check "tampered wrapped file: nothing mounted" not_mounted "$C/Private"
if syslog_since "$mark" | grep pam_keyturn | grep -F "$W" |
	grep -q 'tampered'; then
	ok "tampered wrapped file: a log line names $W"
else
	not_ok "tampered wrapped file: a log line names $W"
	syslog_since "$mark" | tail -n 8 | sed 's/^/#   /'
fi
syslog_since "$mark" | grep -F "$W" | tail -n 1 | sed 's/^/#   /'
cp -p "$KT_TMP/wrapped.good" "$W"

# ---- ~/Private replaced by a symlink to a root-owned directory ------------------------
mkdir -m 0755 "$ROOTDIR"
as_user carol "mv $C/Private $C/Private.moved && ln -s $ROOTDIR $C/Private"
mark=$(syslog_mark)
login_as "$SVC" carol "$CPW" true
check_eq "symlinked mount point: carol still logs in (exit 0)" 0 "$?"
check "symlinked mount point: nothing mounted on $ROOTDIR" not_mounted "$ROOTDIR"
check "symlinked mount point: nothing mounted on $C/Private" \
	not_mounted "$C/Private"
check "symlinked mount point: $ROOTDIR still empty" \
	sh -c "[ -z \"\$(ls -A $ROOTDIR)\" ]"
check "symlinked mount point: logged as refused" \
	logged "$mark" "pam_keyturn.*private.*mount point $C/Private refused"
syslog_since "$mark" | grep pam_keyturn | tail -n 2 | sed 's/^/#   /'
check "symlinked mount point: no auth-token key left" \
	no_keys_matching "$SIG|$FNEK"
rm -f "$C/Private"
mv "$C/Private.moved" "$C/Private"

# ---- and once more the right way, after all that -----------------------------------
login_as "$SVC" carol "$CPW" /bin/sh -c "cat $C/Private/two.txt" > "$KT_TMP/c.out"
check_eq "carol's files read back after the refusals" second-of-carol \
	"$(cat "$KT_TMP/c.out")"
check "no agent left" wait_until 5 no_agents

# ---- cleanup -----------------------------------------------------------------------
for m in "$C/Private" "$B/Private" /home/alice/Private "$ROOTDIR"; do
	is_mounted "$m" && umount "$m"
done
rm -rf "$ROOTDIR" /etc/security/keyturn.conf
for u in alice bob carol; do
	rm -rf "/home/$u/.Private" "/home/$u/Private" "/home/$u/.ecryptfs"
done
finish
