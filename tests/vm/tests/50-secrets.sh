#!/bin/sh
# Secrets, end to end: a canary login password (24 random characters made
# here, never on argv, in a file or in the output) unlocks a LUKS2 volume and
# an eCryptfs directory through the real PAM stack (pam_unix + pam_keyinit +
# pam_keyturn, debug on), and an fscrypt directory on an ext4 made with
# -O encrypt; while the session is open, neither the canary, the eCryptfs
# mount passphrase nor the fscrypt key is in the memory of the user's
# keyturn-agent,
# and keyturn adds no copy of the canary to the PAM host (kt-login); after the
# logout no process but the test's own shells holds it, and no log or file
# the VM keeps (syslog, dmesg, /run, /tmp, /var, /dev/shm, /etc, /home,
# /root) has it, nor any of the others.
#
# The fscrypt key is made at random by keyturnctl enroll fscrypt: kt-unwrap
# (tests/vm/tools, linked with libkeyturn) opens the wrapped file with the
# canary and prints it in hex, which kt-memscan -x looks for.
# Memory is read by kt-memscan through /proc/PID/mem, as root: the agent is
# non-dumpable (PR_SET_DUMPABLE 0), which CAP_SYS_PTRACE passes; the positive
# controls below show that such a read finds the canary where it is.
. /kt/tests/lib.sh
. /kt/tests/sessions-lib.sh

installed || { finish; exit 1; }
if ! command -v kt-memscan > /dev/null; then
	not_ok "kt-memscan in the image (tests/vm/kt-memscan.c)"
	finish
	exit 1
fi

U=sami
UNUM=1050
H=/home/$U
SVC=kt-secrets
BASE=kt-secrets-base
DM=sec-$U
MNT=$H/vault
IMG=/tmp/sec-$U.img
FAST="--argon2-ms 100 --argon2-memory 16384"
FSIMG=/tmp/sec-enc.img
FSMNT=/srv/sec-enc
FD=$FSMNT/$U/Secret
HAVE_FSCRYPT=0
[ -e /sys/fs/ext4/features/encryption ] && HAVE_FSCRYPT=1
ENROLL_OPTS="--pbkdf-memory 32768 --pbkdf-iterations 4"

# The secrets live in shell variables and go through pipes only (printf is
# a builtin of this shell: no argv).
rand() { head -c "$1" /dev/urandom | base64 | tr '+/' '-_'; }
CANARY=$(rand 18)
MP=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
VOLPW=$(rand 12)
check_eq "the canary has 24 characters" 24 "${#CANARY}"
check "printf is a builtin of the test shell (secrets stay off argv)" \
	sh -c 'type printf | grep -q builtin'

# scan NEEDLE WHAT ARGS...: kt-memscan ARGS with NEEDLE on stdin; its output
# in $KT_TMP/WHAT.scan, the hits it counted in HITS, its exit status returned
scan() {
	_n=$1 _w=$2
	shift 2
	printf '%s\n' "$_n" | kt-memscan "$@" > "$KT_TMP/$_w.scan" 2>&1
	_rc=$?
	HITS=$(awk '/^scanned / { n += $(NF - 1) } END { print n + 0 }' \
		"$KT_TMP/$_w.scan")
	return $_rc
}
# scan_none NEEDLE WHAT DESC ARGS...: ok when read and not found
scan_none() {
	_n=$1 _w=$2 _d=$3
	shift 3
	scan "$_n" "$_w" "$@"
	case $? in
	0) ok "$_d" ;;
	1) not_ok "$_d"; diag "found:" ;;
	*) not_ok "$_d"; diag "could not scan:" ;;
	esac
	diag_file "$KT_TMP/$_w.scan" 20
}
# scan_found NEEDLE WHAT DESC ARGS...: ok when found (positive controls)
scan_found() {
	_n=$1 _w=$2 _d=$3
	shift 3
	scan "$_n" "$_w" "$@"
	check_eq "$_d" 1 "$?"
	diag_file "$KT_TMP/$_w.scan" 4
}

# ---- the user, a LUKS2 volume and an eCryptfs directory ----------------------
echo "$U:x:$UNUM:$UNUM::$H:/bin/sh" >> /etc/passwd
echo "$U:x:$UNUM:" >> /etc/group
hash=$(printf '%s\n' "$CANARY" | mkpasswd -m sha512 -s)
case $hash in
'$6$'*) echo "$U:$hash:19000:0:99999:7:::" >> /etc/shadow
	ok "user $U, the canary as login password (SHA-512)" ;;
*) not_ok "user $U, the canary as login password (SHA-512)" ;;
esac
mkdir -m 0755 "$H"
chown "$U:$U" "$H"

make_luks_volume "$IMG" 32 "$VOLPW" "$UNUM:$UNUM" > "$KT_TMP/mkvol" 2>&1 &&
	LOOP=$(losetup -f) && losetup "$LOOP" "$IMG"
check "$U's LUKS2 volume made (${LOOP:-})" test -b "${LOOP:-/nonexistent}"
diag_file "$KT_TMP/mkvol" 3
# shellcheck disable=SC2086 # several words
printf '%s\n%s\n' "$VOLPW" "$CANARY" |
	keyturnctl enroll luks "$LOOP" --user "$U" --stdin $ENROLL_OPTS \
	> "$KT_TMP/enroll.luks" 2>&1
check_eq "keyturnctl enroll luks: the canary" 0 "$?"
diag_file "$KT_TMP/enroll.luks" 3

# An ecryptfs-utils directory (its signature from ecryptfs-add-passphrase,
# the auth token dropped at once), imported with the mount passphrase MP.
for d in .Private Private .ecryptfs vault; do
	mkdir -m 0700 "$H/$d"
	chown "$U:$U" "$H/$d"
done
cat > "$KT_TMP/sig.sh" <<EOF
keyctl link @u @s || exit 1
ecryptfs-add-passphrase - > $KT_TMP/sig.out || exit 2
SIG=\$(sed -n 's/.*sig \[\([0-9a-f]*\)\].*/\1/p' $KT_TMP/sig.out | sed -n 1p)
[ -n "\$SIG" ] || exit 3
echo "\$SIG" > $H/.ecryptfs/Private.sig
keyctl invalidate \$(keyctl search @u user \$SIG) || exit 4
EOF
printf '%s\0' "$MP" | keyctl session kt-sig sh "$KT_TMP/sig.sh" \
	> "$KT_TMP/sig.err" 2>&1
check_eq "an ecryptfs-utils signature for the mount passphrase" 0 "$?"
diag_file "$KT_TMP/sig.err" 3
chown "$U:$U" "$H/.ecryptfs/Private.sig"
chmod 0600 "$H/.ecryptfs/Private.sig"
# shellcheck disable=SC2086 # several words
printf '%s\n%s\n' "$MP" "$CANARY" |
	keyturnctl enroll ecryptfs --import --user "$U" --stdin $FAST \
	> "$KT_TMP/enroll.ecr" 2>&1
check_eq "keyturnctl enroll ecryptfs --import: wrapped with the canary" \
	0 "$?"
diag_file "$KT_TMP/enroll.ecr" 3

# An fscrypt directory (keyturnctl makes its key at random, wraps it with
# the canary), on an ext4 made with -O encrypt (/sbin/mke2fs by its path:
# busybox's shell would run its own).
FSKEY=""
if [ "$HAVE_FSCRYPT" = 1 ]; then
	dd if=/dev/zero of="$FSIMG" bs=1M count=0 seek=64 2>/dev/null
	/sbin/mke2fs -q -t ext4 -O encrypt -F "$FSIMG" > "$KT_TMP/mkfs" 2>&1
	FSLOOP=$(losetup -f) && losetup "$FSLOOP" "$FSIMG" &&
		mkdir -p "$FSMNT" && mount -t ext4 "$FSLOOP" "$FSMNT"
	check "ext4 -O encrypt mounted on $FSMNT" is_mounted "$FSMNT"
	mkdir -p "$FD" && chown "$U:$U" "$FSMNT/$U" "$FD" && chmod 0700 "$FD"
	# shellcheck disable=SC2086 # several words
	printf '%s\n' "$CANARY" |
		keyturnctl enroll fscrypt "$FD" --user "$U" --stdin $FAST \
		> "$KT_TMP/enroll.fs" 2>&1
	check_eq "keyturnctl enroll fscrypt: a random key, wrapped with the canary" \
		0 "$?"
	diag_file "$KT_TMP/enroll.fs" 3
	FSKEY=$(printf '%s\n' "$CANARY" | kt-unwrap "$H/.keyturn/fscrypt-Secret")
	check_eq "kt-unwrap: the fscrypt key (64 bytes, in hex)" 128 "${#FSKEY}"
	printf '%s\n' "not-$CANARY" | kt-unwrap "$H/.keyturn/fscrypt-Secret" \
		> /dev/null 2>&1
	check_eq "kt-unwrap: not with another password (exit 1)" 1 "$?"
else
	skip "the fscrypt key" "this kernel's ext4 has no encryption"
fi

cat > /etc/security/keyturn.conf <<EOF
[volume home]
user = $U
type = luks2
device = $LOOP
name = sec-%u
mountpoint = /home/%u/vault

[volume private]
user = $U
type = ecryptfs
source = %h/.Private
mountpoint = %h/Private
wrapped = %h/.ecryptfs/keyturn-wrapped
EOF
[ -n "$FSKEY" ] && cat >> /etc/security/keyturn.conf <<EOF

[volume secret]
user = $U
type = fscrypt
directory = $FD
wrapped = %h/.keyturn/fscrypt-Secret
EOF
chmod 0644 /etc/security/keyturn.conf
check "keyturnctl check accepts the config" keyturnctl check --user "$U"
# keyturn at its most talkative (LOG_DEBUG), and the same stack without it
# as the baseline of the PAM host
cat > "/etc/pam.d/$SVC" <<'EOF'
auth required pam_unix.so
auth optional pam_keyturn.so debug
account required pam_unix.so
session required pam_keyinit.so force revoke
session optional pam_keyturn.so debug
password required pam_unix.so
EOF
grep -v pam_keyturn "/etc/pam.d/$SVC" > "/etc/pam.d/$BASE"

# ---- positive controls: the scan finds the canary where it is -------------
scan_found "$CANARY" self "control: kt-memscan finds the canary in itself" \
	self
rm -f "$KT_TMP/hold.out"
printf '%s\n' "$CANARY" | kt-memscan -H > "$KT_TMP/hold.out" &
HOLD=$!
wait_until 10 grep -q holding "$KT_TMP/hold.out"
check_eq "control: a non-dumpable root process holds the canary" \
	kt-memscan "$(cat "/proc/$HOLD/comm" 2>/dev/null)"
scan_found "$CANARY" hold \
	"control: found in the heap of that non-dumpable process" "$HOLD"
scan_none "not-$CANARY" hold-neg \
	"control: a string it does not hold is not found there" "$HOLD"
kill "$HOLD" 2>/dev/null
if [ -n "$FSKEY" ]; then
	rm -f "$KT_TMP/hold.out"
	printf '%s\n' "$FSKEY" | kt-memscan -x -H > "$KT_TMP/hold.out" &
	HOLD=$!
	wait_until 10 grep -q holding "$KT_TMP/hold.out"
	scan_found "$FSKEY" hold-key \
		"control: the fscrypt key (binary) found where it is held" \
		-x "$HOLD"
	kill "$HOLD" 2>/dev/null
fi
printf '%s\n' "$CANARY" |
	sh -c 'read -r v; while :; do sleep 1; done' > /dev/null 2>&1 &
SHV=$!
sleep 1
scan_found "$CANARY" shvar \
	"control: found in a sleeping sh that holds it in a variable" "$SHV"
kill "$SHV" 2>/dev/null
CTL=$(rand 18)
printf 'bin\000\000%s\000\n' "$CTL" > "$KT_TMP/control.bin"
scan_found "$CTL" ctl-file \
	"control: the file scan finds a string after NUL bytes" -f "$KT_TMP"
rm -f "$KT_TMP/control.bin"

# ---- baseline: the PAM host without keyturn -------------------------------
# The PAM host holds copies that are not keyturn's: kt-login's stdin buffer
# (stdio, filled by fgets before pam_start: the first heap chunk, +0x2a0),
# and whatever libpam or pam_unix keep (libpam wipes PAM_AUTHTOK at the end
# of pam_authenticate, which is why pam_keyturn keeps its own copy from auth
# to open_session). Having the host clear them is not keyturn's to ask. The
# fair check of the host is then: with pam_keyturn in the stack it holds the
# canary no more often than the same stack without it. A copy keyturn left
# in a struct kt_secret shows as one more hit, in an anonymous mapping of
# its own (sodium_malloc) ending 1 byte after the canary: e.g. the kept
# passphrase, when open_session had nothing to open, before
# pam_sm_open_session dropped it on every path.
BASE_HITS=""
if login_bg "$BASE" "$U" "$CANARY" b1 && [ -n "$LOGIN_PID" ]; then
	ok "baseline: $U logs in without keyturn (PAM host $LOGIN_PID)"
	scan "$CANARY" base "$LOGIN_PID"
	[ $? -le 1 ] && BASE_HITS=$HITS
	diag "baseline PAM host holds the canary $BASE_HITS time(s):"
	diag_file "$KT_TMP/base.scan" 10
else
	not_ok "baseline: $U logs in without keyturn"
	diag_file "$KT_TMP/b1.err"
fi
release b1
check_eq "baseline: logout (exit 0)" 0 "$?"

# ---- the session open: the agent and the host -----------------------------
mark=$(syslog_mark)
if login_bg "$SVC" "$U" "$CANARY" s1 && [ -n "$LOGIN_PID" ]; then
	ok "$U logs in through pam_keyturn (PAM host $LOGIN_PID)"
else
	not_ok "$U logs in through pam_keyturn"
	diag_file "$KT_TMP/s1.err"
fi
check "the LUKS2 volume is open and mounted (the canary was used)" \
	sh -c "dmsetup info $DM > /dev/null && grep -q ' $MNT ' /proc/mounts"
check "the eCryptfs directory is mounted (the mount passphrase was used)" \
	sh -c "grep -q ' $H/Private ecryptfs ' /proc/mounts"
[ -n "$FSKEY" ] && check "the fscrypt directory is open (the key was added)" \
	su -s /bin/sh "$U" -c "echo note > $FD/note.txt"
AGENTS=$(agents "$U")
check "a keyturn-agent of $U holds the session" test -n "$AGENTS"
for a in $AGENTS; do
	scan_none "$CANARY" "agent.$a" \
		"session open: the canary is not in keyturn-agent $a" "$a"
	scan_none "$MP" "agent-mp.$a" \
		"session open: the mount passphrase is not in keyturn-agent $a" \
		"$a"
	[ -n "$FSKEY" ] && scan_none "$FSKEY" "agent-fs.$a" \
		"session open: the fscrypt key is not in keyturn-agent $a" -x "$a"
done
if [ -n "$LOGIN_PID" ]; then
	HOSTDESC="session open: keyturn adds no copy of the canary to the PAM host"
	scan "$CANARY" host "$LOGIN_PID"
	rc=$?
	if [ "$rc" -le 1 ] && [ -n "$BASE_HITS" ] &&
		[ "$HITS" -le "$BASE_HITS" ]; then
		ok "$HOSTDESC ($HITS, without keyturn $BASE_HITS)"
	else
		not_ok "$HOSTDESC ($HITS, without keyturn ${BASE_HITS:-?})"
	fi
	diag_file "$KT_TMP/host.scan" 12
	scan_none "$MP" host-mp \
		"session open: the mount passphrase is not in the PAM host" \
		"$LOGIN_PID"
fi
debug_logged() {
	syslog_since "$mark" | grep -q 'pam_keyturn.*Kept the passphrase'
}
check "syslog got pam_keyturn's LOG_DEBUG lines (debug on)" debug_logged

# ---- after the logout: processes, logs, files -----------------------------
release s1
check_eq "$U logs out (exit 0)" 0 "$?"
all_locked() {
	dm_gone "$DM" && not_mounted "$MNT" && not_mounted "$H/Private" &&
		{ [ -z "$FSKEY" ] || [ ! -e "$FD/note.txt" ]; }
}
check "logout: locked" wait_until 10 all_locked
LEFT=$(agents "$U")
if [ -n "$LEFT" ]; then
	# shellcheck disable=SC2086 # one argument per pid
	scan_none "$CANARY" agent-left \
		"logout: the canary is not in the agents left" $LEFT
else
	ok "logout: no keyturn-agent of $U left to hold anything"
fi
# A login for which keyturn has nothing to open (no volume of the user in
# the config): what pam_keyturn kept at auth must not stay in the host.
sed -i "s/^user = $U\$/user = alice/" /etc/security/keyturn.conf
if login_bg "$SVC" "$U" "$CANARY" n1 && [ -n "$LOGIN_PID" ]; then
	NDESC="nothing to open: keyturn adds no copy of the canary to the host"
	scan "$CANARY" none "$LOGIN_PID"
	if [ $? -le 1 ] && [ -n "$BASE_HITS" ] && [ "$HITS" -le "$BASE_HITS" ]
	then
		ok "$NDESC ($HITS, without keyturn $BASE_HITS)"
	else
		not_ok "$NDESC ($HITS, without keyturn ${BASE_HITS:-?})"
	fi
	diag_file "$KT_TMP/none.scan" 6
else
	not_ok "$U logs in with no volume to open"
	diag_file "$KT_TMP/n1.err"
fi
release n1
check_eq "nothing to open: logout (exit 0)" 0 "$?"

# Every process but the test's own shells (this one and its forks hold the
# canary in their variables) and kernel threads (no memory of their own);
# one at a time, as short-lived ones may end meanwhile.
# (/proc files have size 0: the first line of maps tells.)
has_memory() { read -r _l < "$1/maps" 2>/dev/null; }
n=0 held=""
for p in /proc/[0-9]*; do
	has_memory "$p" || continue
	[ "$(cat "$p/comm" 2>/dev/null)" = sh ] && continue
	scan "$CANARY" sweep "${p#/proc/}"
	case $? in
	0) n=$((n + 1)) ;;
	1) held="$held ${p#/proc/}($(cat "$p/comm" 2>/dev/null))"
		diag_file "$KT_TMP/sweep.scan" 8 ;;
	*) has_memory "$p" && held="$held ${p#/proc/}(unreadable)" ;;
	esac
done
check_eq "logout: only the test's shells hold the canary ($n others scanned)" \
	"" "$held"
dmesg > "$KT_TMP/dmesg.txt"
diag "logs: syslog $(wc -l < /var/log/messages) lines," \
	"dmesg $(wc -l < "$KT_TMP/dmesg.txt") lines"
WHERE="syslog, dmesg, /run, /tmp, /var, /dev/shm, /etc, /home, /root"
scan_none "$CANARY" files "no log or file has the canary ($WHERE)" \
	-f /var /run /tmp /dev/shm /etc /home /root
if [ -n "$FSKEY" ]; then
	n=0 held=""
	for p in /proc/[0-9]*; do
		has_memory "$p" || continue
		[ "$(cat "$p/comm" 2>/dev/null)" = sh ] && continue
		scan "$FSKEY" sweep-fs -x "${p#/proc/}"
		case $? in
		0) n=$((n + 1)) ;;
		1) held="$held ${p#/proc/}($(cat "$p/comm" 2>/dev/null))" ;;
		esac
	done
	check_eq "logout: no process holds the fscrypt key ($n scanned)" \
		"" "$held"
	scan_none "$FSKEY" files-fs "no log or file has the fscrypt key" \
		-x -f /var /run /tmp /dev/shm /etc /home /root "$FSMNT"
fi
scan_none "$MP" files-mp \
	"no log or file has the mount passphrase" \
	-f /var /run /tmp /dev/shm /etc /home /root

# ---- cleanup --------------------------------------------------------------
for m in "$MNT" "$H/Private"; do
	is_mounted "$m" && umount "$m"
done
dm_exists "$DM" && cryptsetup close "$DM"
[ -n "${LOOP:-}" ] && losetup -d "$LOOP"
if is_mounted "$FSMNT"; then
	umount "$FSMNT"
	losetup -d "$FSLOOP"
fi
rm -f "$FSIMG"
rm -f "$IMG" /etc/security/keyturn.conf "/etc/pam.d/$SVC" "/etc/pam.d/$BASE"
rm -rf "$H"
for f in passwd group shadow; do
	grep -v "^$U:" "/etc/$f" > "/etc/$f.kt" && cat "/etc/$f.kt" > "/etc/$f"
	rm -f "/etc/$f.kt"
done
finish
