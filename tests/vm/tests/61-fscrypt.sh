#!/bin/sh
# fscrypt directories, end to end, on a loop-mounted ext4 made with
# -O encrypt: keyturnctl encrypts dave's empty directory (v2 policy, a
# random key wrapped with his login password); the real PAM stack
# (kt-login) adds the key at login and removes it at the last logout;
# files held open at logout, a config changed meanwhile, hostile inputs
# (a symlink, a non-empty directory, a v1 policy, a filesystem without
# encryption, a wrapped file of another directory), a password change,
# and the import of a directory the real fscrypt tool made.
. /kt/tests/lib.sh
. /kt/tests/fscrypt-lib.sh

SVC=kt-test
DPW=$(pw_of dave)
EPW=$(pw_of erin)
ENC=/srv/enc
PLAIN=/srv/plain
D=$ENC/dave/Secret
E=$ENC/erin/Secret

fscrypt_installed
if [ ! -e /sys/fs/ext4/features/encryption ]; then
	skip "fscrypt directories" "this kernel's ext4 has no encryption"
	finish
	exit 0
fi


# ---- two ext4 filesystems: one with encryption, one without ---------------------
for fs in enc plain; do
	dd if=/dev/zero of="/tmp/$fs.img" bs=1M count=0 seek=64 2>/dev/null
	opt=""
	[ "$fs" = enc ] && opt="-O encrypt"
	# by its path: busybox's shell would run its own mke2fs
	# shellcheck disable=SC2086
	/sbin/mke2fs -q -t ext4 $opt -F "/tmp/$fs.img" > "$KT_TMP/mkfs" 2>&1
	loop=$(losetup -f) && losetup "$loop" "/tmp/$fs.img"
	mkdir -p "/srv/$fs"
	mount -t ext4 "$loop" "/srv/$fs"
	check "ext4 /srv/$fs ($opt) mounted on $loop" is_mounted "/srv/$fs"
done
for u in dave erin; do
	new_dir "$u" "$ENC/$u"
	new_dir "$u" "$PLAIN/$u"
done

# ---- enrollment refusals: nothing written ---------------------------------------
new_dir dave "$ENC/dave/Full"
echo some > "$ENC/dave/Full/file" && chown dave:dave "$ENC/dave/Full/file"
enroll "$ENC/dave/Full" dave "$DPW"
check_eq "a non-empty directory: refused (exit 1)" 1 "$?"
check "...saying it is not empty" grep -q "not empty" "$KT_TMP/enroll"
diag_file "$KT_TMP/enroll" 2

new_dir dave "$D"
ln -s "$D" "$ENC/dave/Link"
chown -h dave:dave "$ENC/dave/Link"
enroll "$ENC/dave/Link" dave "$DPW"
check_eq "a symlink to the directory: refused (exit 1)" 1 "$?"
check "...saying it is a symbolic link" grep -q "symbolic link" "$KT_TMP/enroll"

new_dir dave "$PLAIN/dave/Secret"
enroll "$PLAIN/dave/Secret" dave "$DPW"
check_eq "a filesystem without encryption: refused (exit 1)" 1 "$?"
check "...naming the filesystem and the fix" \
	grep -q "no encryption.*tune2fs -O encrypt /dev/loop" "$KT_TMP/enroll"
diag_file "$KT_TMP/enroll" 2

new_dir dave "$ENC/dave/V1"
if kt-fscrypt-v1 "$ENC/dave/V1" > "$KT_TMP/v1" 2>&1; then
	enroll "$ENC/dave/V1" dave "$DPW"
	check_eq "a directory with a v1 policy: refused (exit 1)" 1 "$?"
	check "...saying why v1 is refused" grep -q "v1 fscrypt policy" \
		"$KT_TMP/enroll"
	enroll "$ENC/dave/V1" dave "$DPW" --import
	check_eq "a v1 directory for --import: refused (exit 1)" 1 "$?"
	diag_file "$KT_TMP/enroll" 2
else
	not_ok "a v1 policy set with kt-fscrypt-v1"
	diag_file "$KT_TMP/v1"
fi
check "no wrapped file written by the refusals" \
	test ! -e /home/dave/.keyturn/fscrypt-Secret

# ---- dave: a new directory ---------------------------------------------------------
enroll "$D" dave "$DPW"
check_eq "keyturnctl enroll fscrypt: dave's empty directory" 0 "$?"
diag_file "$KT_TMP/enroll" 8
W=/home/dave/.keyturn/fscrypt-Secret
check "keyturn's wrapped file: dave's, mode 0600" \
	sh -c "[ \"\$(stat -c '%U %a' $W)\" = 'dave 600' ]"
check "after enrollment: locked (dave cannot create a file)" \
	sh -c "! su -s /bin/sh dave -c 'echo x > $D/x' 2>/dev/null"
enroll "$D" dave "$DPW"
check_eq "enrolling again: refused (exit 1)" 1 "$?"

write_conf() { # [BUSY] [DIRECTORY TEMPLATE]
	cat > "$CONF" <<EOF
[volume secret]
user = dave erin
type = fscrypt
directory = ${2:-$ENC/%u/Secret}
wrapped = %h/.keyturn/fscrypt-Secret
busy = ${1:-lazy}
busy_timeout = 1
EOF
	chmod 0644 "$CONF"
}
write_conf
check "keyturnctl check accepts the config" keyturnctl check --user dave
check "dave's directory: locked before any login" is_locked dave

# ---- login opens, the user reads and writes; logout locks -------------------------
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
	grep -q "^volume secret fscrypt own lazy 1 .* [0-9a-f]\{32\} 0:0 0 0 $D\$" \
	"/run/keyturn/$(id -u dave)/open.secret"
check "pam_keyturn logged the directory opened" \
	logged "$mark" "pam_keyturn.*secret.*opened"

# a second session: the first logout leaves it open, the last locks it
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
	logged "$mark" "pam_keyturn.*secret.*closed"
check "the record is gone" test ! -e "/run/keyturn/$(id -u dave)/open.secret"

# a whole login, timed (bench: median of 5), the file read inside it
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms_since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%d\n", (b - a) * 1000 }'; }
: > "$KT_TMP/t.kt"
: > "$KT_TMP/t.plain"
for _ in 1 2 3 4 5; do
	t0=$(uptime_s)
	login_as "$SVC" dave "$DPW" /bin/sh -c "cat $D/note.txt" > "$KT_TMP/out"
	rc=$?
	ms_since "$t0" >> "$KT_TMP/t.kt"
	wait_until 5 is_locked dave
	t0=$(uptime_s)
	login_as kt-infra dave "$DPW" true
	ms_since "$t0" >> "$KT_TMP/t.plain"
done
check_eq "a timed login reads the file (exit 0)" "0 secret-of-dave" \
	"$rc $(cat "$KT_TMP/out")"
t_login=$(median < "$KT_TMP/t.kt")
t_plain=$(median < "$KT_TMP/t.plain")
diag "bench: login+logout with one fscrypt directory: $t_login ms (pam_unix alone: $t_plain ms; median of 5)"
check "and locks it again" wait_until 5 is_locked dave

# ---- wrong password: nothing added -----------------------------------------------
login_as "$SVC" dave "not-$DPW" true
check_eq "wrong password: login refused (exit 10)" 10 "$?"
check "wrong password: still locked" is_locked dave

# ---- a file held open at logout ----------------------------------------------------
hold_file() { # USER FILE: a process of USER that keeps FILE open
	su -s /bin/sh "$1" -c "exec sleep 60 < $2" &
	HOLDER=$!
	wait_until 5 sh -c "ls -l /proc/$HOLDER/fd 2>/dev/null | grep -q note.txt"
}
# busy = lazy: the key goes, the open file stays readable until closed
mark=$(syslog_mark)
login_bg "$SVC" dave "$DPW" h1
hold_file dave "$D/note.txt"
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

# busy = keep: left open, said so; keyturnctl lock locks it once free
write_conf keep
mark=$(syslog_mark)
login_bg "$SVC" dave "$DPW" h2
hold_file dave "$D/note.txt"
release h2
check_eq "busy = keep: logout (exit 0)" 0 "$?"
check "busy = keep: still open" is_open dave
check "busy = keep: logged with the holder" \
	logged "$mark" "still busy.*held by pids: .*$HOLDER.*busy = keep"
keyturnctl status --user dave > "$KT_TMP/status" 2>&1
check "busy = keep: keyturnctl status says it was not locked" \
	grep -q "not locked at the last logout" "$KT_TMP/status"
diag_file "$KT_TMP/status" 12
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
keyturnctl lock --user dave > "$KT_TMP/lock" 2>&1
check "busy = keep: keyturnctl lock locks it once free" wait_until 5 is_locked dave
diag_file "$KT_TMP/lock" 3

# busy = kill: the holder is ended, the key removed
write_conf kill
login_bg "$SVC" dave "$DPW" h3
hold_file dave "$D/note.txt"
release h3
check_eq "busy = kill: logout (exit 0)" 0 "$?"
check "busy = kill: the holder was ended" \
	wait_until 5 sh -c "! kill -0 $HOLDER 2>/dev/null"
wait "$HOLDER" 2>/dev/null
check "busy = kill: locked" wait_until 5 is_locked dave
write_conf

# ---- teardown from the record, whatever happened meanwhile -------------------------
# the config names another directory during the session
login_bg "$SVC" dave "$DPW" r1
check "dave logs in (config changed next)" is_open dave
write_conf lazy "$ENC/%u/Elsewhere"
release r1
check_eq "config changed: logout (exit 0)" 0 "$?"
write_conf
check "config changed: the logout locked the recorded directory" \
	is_locked dave
# the directory swapped for a symlink during the session
login_bg "$SVC" dave "$DPW" r2
as_user dave "mv $D $D.real && ln -s $D.real $D"
release r2
check_eq "swapped for a symlink: logout (exit 0)" 0 "$?"
as_user dave "rm $D && mv $D.real $D"
check "swapped for a symlink: the key is removed all the same" \
	wait_until 5 is_locked dave
# at login, a symlink is refused: nothing added
as_user dave "mv $D $D.real && ln -s $D.real $D"
mark=$(syslog_mark)
login_as "$SVC" dave "$DPW" true
check "a symlink at login: refused, logged" \
	logged "$mark" "pam_keyturn.*secret.*symbolic link"
as_user dave "rm $D && mv $D.real $D"
check "a symlink at login: still locked" is_locked dave

# ---- a wrapped file of another directory -------------------------------------------
new_dir erin "$E"
enroll "$E" erin "$EPW"
check_eq "keyturnctl enroll fscrypt: erin's directory" 0 "$?"
cp -p "$W" "$KT_TMP/dave.wrapped"
# the key of dave's other directory, wrapped with his password, where the
# wrapped file of Secret was: it unwraps, and is not Secret's key
new_dir dave "$ENC/dave/Other"
enroll "$ENC/dave/Other" dave "$DPW"
check_eq "keyturnctl enroll fscrypt: dave's other directory" 0 "$?"
cp "/home/dave/.keyturn/fscrypt-Other" "$W"
chown dave:dave "$W"
mark=$(syslog_mark)
login_as "$SVC" dave "$DPW" true
check "a wrapped file of another directory: logged as such" \
	logged "$mark" "pam_keyturn.*secret.*key of another directory"
check "a wrapped file of another directory: still locked" is_locked dave
cp -p "$KT_TMP/dave.wrapped" "$W"

# ---- password change: the wrapped file re-wrapped ------------------------------------
NEWPW="dave-Changed-pw8"
if command -v kt-passwd > /dev/null 2>&1; then
	chown root:root "$(command -v kt-passwd)" &&
		chmod 4755 "$(command -v kt-passwd)"
	cat > /etc/pam.d/kt-fspw <<'EOF'
auth required pam_unix.so
auth optional pam_keyturn.so
account required pam_unix.so
session required pam_keyinit.so force revoke
session optional pam_keyturn.so
password required pam_unix.so sha512
password optional pam_keyturn.so
EOF
	printf '%s\n%s\n%s\n' "$DPW" "$NEWPW" "$NEWPW" |
		su -s /bin/sh dave -c "kt-passwd -s kt-fspw" > "$KT_TMP/pw" 2>&1
	check_eq "dave changes his password (kt-passwd exit 0)" 0 "$?"
	diag_file "$KT_TMP/pw" 4
	check "the new password opens the directory" \
		login_as kt-fspw dave "$NEWPW" /bin/sh -c "grep -q secret-of-dave $D/note.txt"
	check "and the logout locks it" wait_until 5 is_locked dave
	# root sets the first one back (no old password: nothing re-keyed),
	# then keyturnctl rekey brings the directory in step
	printf '%s\n%s\n' "$DPW" "$DPW" |
		kt-passwd -s kt-fspw dave > "$KT_TMP/pw" 2>&1
	check_eq "root sets dave's first password back (exit 0)" 0 "$?"
	printf '%s\n%s\n' "$NEWPW" "$DPW" |
		keyturnctl rekey --user dave --stdin > "$KT_TMP/rekey" 2>&1
	check "keyturnctl rekey re-wraps it" grep -q "^secret: re-keyed" "$KT_TMP/rekey"
	diag_file "$KT_TMP/rekey" 3
	check "the first password opens it again" \
		login_as "$SVC" dave "$DPW" /bin/sh -c "grep -q secret-of-dave $D/note.txt"
else
	skip "password change" "kt-passwd is not in the image"
fi

# ---- import from the real fscrypt tool ------------------------------------------------
T=$ENC/erin/Tool
if command -v fscrypt > /dev/null 2>&1; then
	cat > /etc/pam.d/fscrypt <<'EOF'
auth required pam_unix.so
EOF
	# the tool checks erin's login passphrase as erin: pam_unix's helper
	# is set-gid shadow, as Debian installs it
	chown root:shadow /usr/sbin/unix_chkpwd && chmod 2755 /usr/sbin/unix_chkpwd
	# as README.md of fscrypt says, for users who make their own metadata
	fscrypt setup --force --quiet --all-users > "$KT_TMP/fs.setup" 2>&1
	check_eq "fscrypt setup (/etc/fscrypt.conf, /.fscrypt)" 0 "$?"
	diag_file "$KT_TMP/fs.setup" 3
	# The tool's Argon2id cost made the one of dave's wrapped file (its
	# header: t_cost, m_cost KiB, parallelism at offset 12), so that the
	# bench below compares like with like.
	# shellcheck disable=SC2046 # three numbers
	set -- $(od -An -tu4 -j12 -N12 "$W")
	sed -i -e "s/\"time\": \"[0-9]*\"/\"time\": \"$1\"/" \
		-e "s/\"memory\": \"[0-9]*\"/\"memory\": \"$2\"/" \
		-e "s/\"parallelism\": \"[0-9]*\"/\"parallelism\": \"$3\"/" \
		/etc/fscrypt.conf
	diag "Argon2id of both for the bench: t=$1 m=$2 KiB p=$3"
	COSTS="t=$1 m=$2 KiB p=$3"
	fscrypt setup "$ENC" --quiet --all-users > "$KT_TMP/fs.setup" 2>&1
	check_eq "fscrypt setup $ENC" 0 "$?"
	diag_file "$KT_TMP/fs.setup" 3
	new_dir erin "$T"
	printf '%s\n' "$EPW" | su -s /bin/sh erin -c \
		"fscrypt encrypt $T --source=pam_passphrase --quiet" \
		> "$KT_TMP/fs.enc" 2>&1
	check_eq "fscrypt encrypt $T --source=pam_passphrase (as erin)" 0 "$?"
	diag_file "$KT_TMP/fs.enc" 4
	as_user erin "echo made-by-fscrypt > $T/tool.txt"
	su -s /bin/sh erin -c "fscrypt lock $T" > "$KT_TMP/fs.lock" 2>&1
	check_eq "fscrypt lock $T" 0 "$?"
	diag_file "$KT_TMP/fs.lock" 3
	check "the tool's directory is locked" \
		sh -c "! cat $T/tool.txt 2>/dev/null"
	# bench: the tool's own unlock, by hand (median of 5), with the login
	# protector (the tool also made a recovery one)
	fscrypt status "$T" > "$KT_TMP/fs.status" 2>&1
	PROT=$(awk '/login protector for erin/ { print $1; exit }' \
		"$KT_TMP/fs.status")
	check "the tool made a login protector for erin" test -n "$PROT"
	diag_file "$KT_TMP/fs.status" 12
	: > "$KT_TMP/t.tool"
	for _ in 1 2 3 4 5; do
		t0=$(uptime_s)
		printf '%s\n' "$EPW" | su -s /bin/sh erin -c \
			"fscrypt unlock $T --unlock-with=/:$PROT --quiet" \
			> "$KT_TMP/fs.unlock" 2>&1
		rc=$?
		ms_since "$t0" >> "$KT_TMP/t.tool"
		su -s /bin/sh erin -c "fscrypt lock $T" > /dev/null 2>&1
	done
	check_eq "fscrypt unlock by hand (exit 0)" 0 "$rc"
	diag_file "$KT_TMP/fs.unlock" 2
	diag "bench: fscrypt unlock by hand: $(median < "$KT_TMP/t.tool") ms; keyturn's login+logout $t_login ms, pam_unix's alone $t_plain ms (median of 5; Argon2id $COSTS)"

	# shellcheck disable=SC2086 # $FAST: several words
	printf '%s\n' "$EPW" | keyturnctl enroll fscrypt --import "$T" \
		--user erin --stdin $FAST > "$KT_TMP/enroll" 2>&1
	check_eq "keyturnctl enroll fscrypt --import: the tool's directory" 0 "$?"
	diag_file "$KT_TMP/enroll" 6
	cat > "$CONF" <<EOF
[volume tool]
user = erin
type = fscrypt
directory = $T
wrapped = %h/.keyturn/fscrypt-Tool
EOF
	check "erin's login reads the file the tool encrypted" \
		login_as "$SVC" erin "$EPW" /bin/sh -c "grep -q made-by-fscrypt $T/tool.txt"
	check "and the logout locks it" wait_until 5 is_locked erin
	# erin unlocks it herself with the tool: keyturn reuses it, and its
	# logout says the key is not keyturn's to remove
	printf '%s\n' "$EPW" | su -s /bin/sh erin -c \
		"fscrypt unlock $T --unlock-with=/:$PROT --quiet" > /dev/null 2>&1
	mark=$(syslog_mark)
	check "unlocked by erin with the tool, a login reuses it" \
		login_as "$SVC" erin "$EPW" /bin/sh -c "grep -q made-by-fscrypt $T/tool.txt"
	check "...and its logout says the key is another user's" \
		logged "$mark" "tool.*added by another user"
	check "...and leaves it open" is_open erin
	su -s /bin/sh erin -c "fscrypt lock $T" > /dev/null 2>&1
	check "the tool locks it" is_locked erin
	mv /home/erin/.keyturn/fscrypt-Secret "$KT_TMP/erin.wrapped"
	# shellcheck disable=SC2086 # $FAST: several words
	printf '%s\n' "$EPW" | keyturnctl enroll fscrypt --import "$E" \
		--user erin --stdin $FAST > "$KT_TMP/enroll" 2>&1
	check_eq "--import of a directory the tool did not make: refused" 1 "$?"
	check "...saying it has no fscrypt metadata" \
		grep -q "Cannot import $E" "$KT_TMP/enroll"
	check "...and writing nothing" test ! -e /home/erin/.keyturn/fscrypt-Secret
	diag_file "$KT_TMP/enroll" 2
	mv "$KT_TMP/erin.wrapped" /home/erin/.keyturn/fscrypt-Secret
	write_conf
else
	skip "import from the fscrypt tool" "no fscrypt in the image (tests/vm/run.sh fetches Debian's package)"
fi
finish
