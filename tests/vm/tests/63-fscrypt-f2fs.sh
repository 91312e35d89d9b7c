#!/bin/sh
# fscrypt directories on f2fs, end to end, as 61-fscrypt.sh does on ext4:
# two loop-mounted f2fs of 64 MiB (mkfs.f2fs of f2fs-tools 1.15 refuses
# less than 52 MiB), one made with -O encrypt and one without. On the one
# without, keyturnctl refuses and names the fix for f2fs, and the fix
# (fsck.f2fs -O encrypt on the unmounted device) is applied and works. On
# both, an empty directory is enrolled, the real PAM stack (kt-test) opens
# it at login and locks it at the last of two sessions; a wrong password
# adds nothing; a file held open at logout (busy = lazy); a re-key after
# root changed the password.
. /kt/tests/lib.sh
. /kt/tests/fscrypt-lib.sh

SVC=kt-test
DPW=$(pw_of dave)
EPW=$(pw_of erin)
ENC=/srv/f2enc
PLAIN=/srv/f2plain
D=$ENC/dave/F2
E=$PLAIN/erin/F2
DW=/home/dave/.keyturn/fscrypt-F2
EW=/home/erin/.keyturn/fscrypt-F2
# by their paths: busybox's shell would run an applet of the same name
MKFS=/sbin/mkfs.f2fs
FSCK=/sbin/fsck.f2fs

fscrypt_installed
if ! grep -qw f2fs /proc/filesystems; then
	skip "fscrypt directories on f2fs" "this kernel has no f2fs"
	finish
	exit 0
fi
if [ ! -e /sys/fs/f2fs/features/encryption ]; then
	skip "fscrypt directories on f2fs" "this kernel's f2fs has no encryption"
	finish
	exit 0
fi
if [ ! -x "$MKFS" ]; then
	skip "fscrypt directories on f2fs" "no $MKFS in the image (Debian's f2fs-tools)"
	finish
	exit 0
fi

# fstype_of MOUNTPOINT
fstype_of() { awk -v m="$1" '$2 == m { print $3 }' /proc/mounts; }

# ---- two f2fs: one with encryption, one without --------------------------------
for fs in f2enc f2plain; do
	dd if=/dev/zero of="/tmp/$fs.img" bs=1M count=0 seek=64 2>/dev/null
	opt="" what="without -O encrypt"
	[ "$fs" = f2enc ] && opt="-O encrypt" what="with -O encrypt"
	# shellcheck disable=SC2086 # $opt: two words or none
	"$MKFS" -q -f $opt "/tmp/$fs.img" > "$KT_TMP/mkfs" 2>&1
	check_eq "mkfs.f2fs $what: a 64 MiB image (exit 0)" 0 "$?"
	diag_file "$KT_TMP/mkfs" 3
	loop=$(losetup -f) && losetup "$loop" "/tmp/$fs.img"
	mkdir -p "/srv/$fs"
	mount -t f2fs "$loop" "/srv/$fs"
	check_eq "f2fs /srv/$fs ($what) mounted on $loop" f2fs \
		"$(fstype_of "/srv/$fs")"
done
PLAIN_DEV=$(awk -v m="$PLAIN" '$2 == m { print $1 }' /proc/mounts)
new_dir dave "$ENC/dave"
new_dir erin "$PLAIN/erin"

# ---- f2fs without encryption: refused, with the fix for f2fs -------------------
new_dir erin "$E"
enroll "$E" erin "$EPW"
check_eq "an f2fs without encryption: refused (exit 1)" 1 "$?"
check "...naming the filesystem" \
	grep -q "on $PLAIN_DEV (f2fs, mounted on $PLAIN).*no encryption" \
	"$KT_TMP/enroll"
check "...and the fix for f2fs: fsck.f2fs -O encrypt $PLAIN_DEV" \
	grep -qF "fsck.f2fs -O encrypt $PLAIN_DEV" "$KT_TMP/enroll"
check "...and not the one for ext4" \
	sh -c "! grep -q tune2fs $KT_TMP/enroll"
diag_file "$KT_TMP/enroll" 2
check "no wrapped file written by the refusal" test ! -e "$EW"
check "the directory is still plain" \
	as_user erin "echo x > $E/x && rm $E/x"

# a login with the directory in the config: refused, logged with the fix
cat > "$CONF" <<EOF
[volume f2fixed]
user = erin
type = fscrypt
directory = $E
wrapped = %h/.keyturn/fscrypt-F2
EOF
chmod 0644 "$CONF"
mark=$(syslog_mark)
check "a login of erin all the same (pam_keyturn is optional)" \
	login_as "$SVC" erin "$EPW" true
check "...its log names the f2fs fix" logged "$mark" \
	"pam_keyturn.*f2fixed.*no encryption.*fsck.f2fs -O encrypt"
syslog_since "$mark" | grep pam_keyturn > "$KT_TMP/log"
diag_file "$KT_TMP/log" 2

# the fix it names, applied: unmounted, fsck.f2fs -O encrypt, mounted again
umount "$PLAIN"
if [ -x "$FSCK" ]; then
	"$FSCK" -O encrypt "$PLAIN_DEV" > "$KT_TMP/fsck" 2>&1
	check_eq "fsck.f2fs -O encrypt $PLAIN_DEV (exit 0)" 0 "$?"
	diag_file "$KT_TMP/fsck" 2
	mount -t f2fs "$PLAIN_DEV" "$PLAIN"
	check_eq "mounted again" f2fs "$(fstype_of "$PLAIN")"
	enroll "$E" erin "$EPW"
	check_eq "after the fix: erin's empty directory enrolled" 0 "$?"
	diag_file "$KT_TMP/enroll" 4
else
	skip "the fix applied" "no $FSCK in the image"
	mount -t f2fs "$PLAIN_DEV" "$PLAIN"
fi

# ---- dave: a new directory on the f2fs made with -O encrypt --------------------
new_dir dave "$D"
enroll "$D" dave "$DPW"
check_eq "keyturnctl enroll fscrypt: dave's empty directory on f2fs" 0 "$?"
diag_file "$KT_TMP/enroll" 8
check "keyturn's wrapped file: dave's, mode 0600" \
	sh -c "[ \"\$(stat -c '%U %a' $DW)\" = 'dave 600' ]"
check "after enrollment: locked (dave cannot create a file)" \
	sh -c "! su -s /bin/sh dave -c 'echo x > $D/x' 2>/dev/null"
enroll "$D" dave "$DPW"
check_eq "enrolling again: refused (exit 1)" 1 "$?"

cat > "$CONF" <<EOF
[volume f2]
user = dave
type = fscrypt
directory = $D
wrapped = %h/.keyturn/fscrypt-F2
busy = lazy
busy_timeout = 1

[volume f2fixed]
user = erin
type = fscrypt
directory = $E
wrapped = %h/.keyturn/fscrypt-F2
EOF
chmod 0644 "$CONF"
check "keyturnctl check accepts the config" keyturnctl check --user dave
check "dave's directory: locked before any login" is_locked dave

# ---- login opens; two sessions; the last logout locks ----------------------------
mark=$(syslog_mark)
login_bg "$SVC" dave "$DPW" d1
check "dave logs in" test -e "$KT_TMP/d1.in"
check "dave writes into his directory" \
	as_user dave "echo secret-of-dave > $D/note.txt && mkdir $D/sub && sync"
check_eq "and reads it back" secret-of-dave "$(as_user dave "cat $D/note.txt")"
check "keyturnctl status: open" is_open dave
keyturnctl status --user dave > "$KT_TMP/status" 2>&1
diag_file "$KT_TMP/status" 8
check "the session recorded the directory and its key" \
	grep -q "^volume f2 fscrypt own lazy 1 .* [0-9a-f]\{32\} 0:0 0 0 $D\$" \
	"/run/keyturn/$(id -u dave)/open.f2"
check "pam_keyturn logged the directory opened" \
	logged "$mark" "pam_keyturn.*f2.*opened"

login_bg "$SVC" dave "$DPW" d2
check "a second session of dave" test -e "$KT_TMP/d2.in"
release d1
check_eq "the first session ends (exit 0)" 0 "$?"
check "one session left: still open" is_open dave
check_eq "one session left: the file still reads" secret-of-dave \
	"$(as_user dave "cat $D/note.txt")"
mark=$(syslog_mark)
release d2
check_eq "the last session ends (exit 0)" 0 "$?"
check "last logout: locked (no key left)" wait_until 5 is_locked dave
check "last logout: names encrypted, contents unreadable" \
	locked_dir "$D" secret-of-dave
check "last logout: dave cannot create a file" \
	sh -c "! su -s /bin/sh dave -c 'echo x > $D/y' 2>/dev/null"
check "last logout: the agent is gone" wait_until 5 no_agents
check "pam_keyturn logged the directory closed" \
	logged "$mark" "pam_keyturn.*f2.*closed"
check "the record is gone" test ! -e "/run/keyturn/$(id -u dave)/open.f2"

# one whole login reads the file
login_as "$SVC" dave "$DPW" /bin/sh -c "cat $D/note.txt" > "$KT_TMP/out"
check_eq "a login reads the file (exit 0)" "0 secret-of-dave" \
	"$? $(cat "$KT_TMP/out")"
check "and its logout locks it" wait_until 5 is_locked dave

# erin, on the f2fs that got encryption by fsck.f2fs
if [ -s "$EW" ]; then
	check "erin's login writes and reads on the fixed f2fs" \
		login_as "$SVC" erin "$EPW" /bin/sh -c \
		"echo secret-of-erin > $E/note.txt && grep -q secret-of-erin $E/note.txt"
	check "and its logout locks it" wait_until 5 is_locked erin
	check "erin's directory: names encrypted, contents unreadable" \
		locked_dir "$E" secret-of-erin
fi

# ---- wrong password: nothing added -----------------------------------------------
login_as "$SVC" dave "not-$DPW" true
check_eq "wrong password: login refused (exit 10)" 10 "$?"
check "wrong password: still locked" is_locked dave

# ---- a file held open at logout (busy = lazy) ------------------------------------
mark=$(syslog_mark)
login_bg "$SVC" dave "$DPW" h1
su -s /bin/sh dave -c "exec sleep 60 < $D/note.txt" &
HOLDER=$!
wait_until 5 sh -c "ls -l /proc/$HOLDER/fd 2>/dev/null | grep -q note.txt"
check "a process of dave holds $D/note.txt" kill -0 "$HOLDER"
release h1
check_eq "busy = lazy: logout (exit 0)" 0 "$?"
check "busy = lazy: the log names the holder" \
	logged "$mark" "still busy.*held by pids: .*$HOLDER"
check "busy = lazy: no new file can be made" \
	sh -c "! su -s /bin/sh dave -c 'echo x > $D/z' 2>/dev/null"
diag "after a lazy removal: state $(state dave)"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
check "busy = lazy: a new login opens it again" \
	login_as "$SVC" dave "$DPW" /bin/sh -c "grep -q secret-of-dave $D/note.txt"
check "and its logout locks it" wait_until 5 is_locked dave

# ---- root changes the password; keyturnctl rekey follows -------------------------
NEWPW="dave-F2fs-pw9"
if command -v kt-passwd > /dev/null 2>&1; then
	cat > /etc/pam.d/kt-f2pw <<'EOF'
auth required pam_unix.so
account required pam_unix.so
password required pam_unix.so sha512
EOF
	printf '%s\n%s\n' "$NEWPW" "$NEWPW" |
		kt-passwd -s kt-f2pw dave > "$KT_TMP/pw" 2>&1
	check_eq "root sets a new password of dave (exit 0)" 0 "$?"
	diag_file "$KT_TMP/pw" 3
	printf '%s\n%s\n' "$DPW" "$NEWPW" |
		keyturnctl rekey --user dave --stdin > "$KT_TMP/rekey" 2>&1
	check "keyturnctl rekey re-wraps it" grep -q "^f2: re-keyed" "$KT_TMP/rekey"
	diag_file "$KT_TMP/rekey" 3
	check "the new password opens it" \
		login_as "$SVC" dave "$NEWPW" /bin/sh -c "grep -q secret-of-dave $D/note.txt"
	check "and the logout locks it" wait_until 5 is_locked dave
	# as it was, for the tests after this one
	printf '%s\n%s\n' "$DPW" "$DPW" | kt-passwd -s kt-f2pw dave > /dev/null 2>&1
	printf '%s\n%s\n' "$NEWPW" "$DPW" |
		keyturnctl rekey --user dave --stdin > "$KT_TMP/rekey" 2>&1
	check "the first password back, re-keyed" \
		login_as "$SVC" dave "$DPW" /bin/sh -c "grep -q secret-of-dave $D/note.txt"
else
	skip "password change" "kt-passwd is not in the image"
fi

# ---- leave nothing mounted for the tests after this one ---------------------------
rm -f "$CONF"
for fs in f2enc f2plain; do
	dev=$(awk -v m="/srv/$fs" '$2 == m { print $1 }' /proc/mounts)
	umount "/srv/$fs" && losetup -d "$dev" && rm -f "/tmp/$fs.img"
done
finish
