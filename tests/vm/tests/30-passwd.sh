#!/bin/sh
# Password change: a real PAM password change (kt-passwd, set-uid root as
# passwd, pam_unix + pam_keyturn in the password stack) run by the user
# re-keys a LUKS2 volume and an eCryptfs directory; the new password then
# opens them at login, the old one is refused. root changing the password
# (no old one) warns; keyturnctl rekey then brings the volumes in step.
. /kt/tests/lib.sh

SVC=kt-pw
APW=$(pw_of alice)
NEWPW="alice-Changed-pw7"
ROOTPW="alice-Set-by-root-pw9"
MNT=/home/alice/vault
DM=home-alice
FAST="--pbkdf-memory 32768 --pbkdf-iterations 4"
EFAST="--argon2-ms 100 --argon2-memory 16384"

if ! command -v kt-passwd >/dev/null 2>&1; then
	skip "password change" "kt-passwd is not in the image (tests/vm/run.sh builds it)"
	finish
	exit 0
fi
# set-uid root, as passwd: pam_unix then asks a user for the current
# password and can still write /etc/shadow
chown root:root "$(command -v kt-passwd)" &&
	chmod 4755 "$(command -v kt-passwd)"
[ -e /etc/mtab ] || ln -s /proc/self/mounts /etc/mtab
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }

cat > /etc/pam.d/$SVC <<'EOF'
auth required pam_unix.so
auth optional pam_keyturn.so
account required pam_unix.so
session required pam_keyinit.so force revoke
session optional pam_keyturn.so
password required pam_unix.so sha512
password optional pam_keyturn.so
EOF

# ---- alice: a LUKS2 volume and an eCryptfs directory, both enrolled ----------
IMG=/tmp/alice-pw.img
make_luks_volume "$IMG" 48 "alice-Volume-pw" "$(id -u alice):$(id -g alice)" \
	> "$KT_TMP/mk" 2>&1
LOOP=$(losetup -f) && losetup "$LOOP" "$IMG"
check "alice's LUKS2 volume made ($LOOP)" test -b "$LOOP"
# shellcheck disable=SC2086
printf '%s\n%s\n' "alice-Volume-pw" "$APW" |
	keyturnctl enroll luks "$LOOP" --user alice --stdin $FAST \
	> "$KT_TMP/enroll" 2>&1
check_eq "keyturnctl enroll luks: alice" 0 "$?"
diag_file "$KT_TMP/enroll" 3
# shellcheck disable=SC2086
printf '%s\n%s\n' "alice-Volume-pw" "admin-Recovery-pw" |
	keyturnctl enroll luks "$LOOP" --recovery --stdin $FAST \
	> "$KT_TMP/enroll" 2>&1
check_eq "keyturnctl enroll luks --recovery: a recovery keyslot" 0 "$?"
diag_file "$KT_TMP/enroll" 3
mkdir -p "$MNT" && chown alice:alice "$MNT" && chmod 0700 "$MNT"

# shellcheck disable=SC2086
printf '%s\n' "$APW" |
	keyturnctl enroll ecryptfs --user alice --stdin $EFAST \
	> "$KT_TMP/enroll.e" 2>&1
ECRYPTFS=$?
check_eq "keyturnctl enroll ecryptfs: alice" 0 "$ECRYPTFS"
diag_file "$KT_TMP/enroll.e" 3

{
	cat <<EOF
[volume home]
user = alice
type = luks2
device = $LOOP
name = home-%u
mountpoint = $MNT
EOF
	[ "$ECRYPTFS" = 0 ] && cat <<'EOF'

[volume private]
user = alice
type = ecryptfs
source = %h/.Private
mountpoint = %h/Private
wrapped = %h/.ecryptfs/keyturn-wrapped
EOF
} > /etc/security/keyturn.conf
chmod 0644 /etc/security/keyturn.conf
check "keyturnctl check accepts the config" keyturnctl check --user alice

all_open() {
	is_mounted "$MNT" || return 1
	[ "$ECRYPTFS" != 0 ] || return 0
	mount_line /home/alice/Private | grep -q ' ecryptfs '
}
all_locked() {
	dm_gone "$DM" && not_mounted "$MNT" || return 1
	[ "$ECRYPTFS" != 0 ] || return 0
	not_mounted /home/alice/Private
}
# login_opens PASSWORD: a login with PASSWORD opens every volume (checked
# from inside the session), and the logout locks them again
login_opens() {
	rm -f "$KT_TMP/inside"
	login_as "$SVC" alice "$1" /bin/sh -c \
		"grep -E ' ($MNT|/home/alice/Private) ' /proc/mounts > $KT_TMP/inside" ||
		return 1
	[ "$(wc -l < "$KT_TMP/inside")" -eq "$([ "$ECRYPTFS" = 0 ] && echo 2 || echo 1)" ] ||
		return 1
	wait_until 10 all_locked
}

check "before: alice's password opens her volumes" login_opens "$APW"

# ---- alice changes her password ---------------------------------------------------
mark=$(syslog_mark)
t0=$(uptime_s)
printf '%s\n%s\n%s\n' "$APW" "$NEWPW" "$NEWPW" |
	su -s /bin/sh alice -c "kt-passwd -s $SVC" > "$KT_TMP/passwd.out" 2>&1
rc=$?
took=$(since "$t0")
check_eq "alice runs kt-passwd (pam_unix + pam_keyturn): exit 0" 0 "$rc"
diag_file "$KT_TMP/passwd.out" 6
diag "password change with $([ "$ECRYPTFS" = 0 ] && echo "one LUKS2 volume and one eCryptfs directory" || echo "one LUKS2 volume"): ${took} s (emulated CPU, fast KDF)"
check "pam_keyturn logged volume home rekeyed" \
	logged "$mark" "pam_keyturn.*home.*rekeyed"
[ "$ECRYPTFS" = 0 ] && check "pam_keyturn logged volume private rekeyed" \
	logged "$mark" "pam_keyturn.*private.*rekeyed"
check "the user was told (conversation)" \
	grep -q "keyturn: .*new password" "$KT_TMP/passwd.out"
check "the re-key agent is gone" wait_until 10 sh -c \
	"! grep -qx keyturn-agent /proc/[0-9]*/comm 2>/dev/null"

check "the new password logs in and opens every volume" login_opens "$NEWPW"
login_as "$SVC" alice "$APW" true
check_eq "the old password: login refused (exit 10)" 10 "$?"
check "the old password: volumes stay locked" all_locked
check "the recovery passphrase still opens the LUKS2 volume" sh -c \
	"printf admin-Recovery-pw | cryptsetup open --test-passphrase --key-file=- $LOOP"

# ---- root changes alice's password: no old password, a warning ------------------
mark=$(syslog_mark)
printf '%s\n%s\n' "$ROOTPW" "$ROOTPW" |
	kt-passwd -s "$SVC" alice > "$KT_TMP/passwd.out" 2>&1
check_eq "root runs kt-passwd alice: exit 0 (the change is not refused)" 0 "$?"
diag_file "$KT_TMP/passwd.out" 4
check "the conversation names the volumes and keyturnctl rekey" sh -c \
	"grep 'still take the old password' $KT_TMP/passwd.out | grep home | grep -q 'keyturnctl rekey --user alice'"
check "the log says so too" \
	logged "$mark" "pam_keyturn.*old password.*keyturnctl rekey --user alice"
login_as "$SVC" alice "$ROOTPW" true
check_eq "the root-set password logs in (exit 0)" 0 "$?"
check "...but opens nothing yet" all_locked

# keyturnctl rekey with the password before root's change
printf '%s\n%s\n' "$NEWPW" "$ROOTPW" |
	keyturnctl rekey --user alice --stdin > "$KT_TMP/rekey.out" 2>&1
check_eq "keyturnctl rekey --user alice (old password): exit 0" 0 "$?"
diag_file "$KT_TMP/rekey.out" 4
check "the root-set password now opens every volume" login_opens "$ROOTPW"

# ---- the old password lost: the LUKS2 recovery passphrase re-keys ---------------
printf '%s\n%s\n' "$NEWPW" "$NEWPW" |
	kt-passwd -s "$SVC" alice > "$KT_TMP/passwd.out" 2>&1
check_eq "root sets another password" 0 "$?"
printf '%s\n%s\n' "admin-Recovery-pw" "$NEWPW" |
	keyturnctl rekey --user alice --stdin > "$KT_TMP/rekey.out" 2>&1
check "keyturnctl rekey with the recovery passphrase re-keys the LUKS2 volume" \
	grep -q "^home: re-keyed" "$KT_TMP/rekey.out"
diag_file "$KT_TMP/rekey.out" 4
rm -f "$KT_TMP/inside"
login_as "$SVC" alice "$NEWPW" /bin/sh -c \
	"grep -E ' $MNT ' /proc/mounts > $KT_TMP/inside"
check "...and the password then opens it" test -s "$KT_TMP/inside"
wait_until 10 all_locked

losetup -d "$LOOP" 2>/dev/null
finish
