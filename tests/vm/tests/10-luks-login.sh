#!/bin/sh
# keyturn's LUKS2 login, end to end: real /etc/passwd and /etc/shadow, a
# LUKS2 volume enrolled with keyturnctl, the PAM stack pam_unix +
# pam_keyinit + pam_keyturn driven by a real PAM application (kt-login).
. /kt/tests/lib.sh

SVC=kt-test
APW=$(pw_of alice)
BPW=$(pw_of bob)
MNT_A=/home/alice/vault
MNT_B=/home/bob/vault
DM_A=home-alice
DM_B=home-bob

for f in /lib/x86_64-linux-gnu/security/pam_keyturn.so \
	/usr/libexec/keyturn/keyturn-agent /usr/libexec/keyturn/keyturn-hold \
	/usr/bin/keyturnctl; do
	if [ ! -x "$f" ] && [ ! -f "$f" ]; then
		not_ok "keyturn installed in the image: $f missing (${KT_BUILD_MSG:-})"
		finish
		exit 1
	fi
done

# live keyturn-agent processes (zombies waiting for /init do not count)
agents() {
	for _p in /proc/[0-9]*; do
		[ "$(cat "$_p/comm" 2>/dev/null)" = keyturn-agent ] || continue
		_st=$(awk '{ print $3 }' "$_p/stat" 2>/dev/null)
		[ "$_st" = Z ] || [ -z "$_st" ] || echo "${_p#/proc/}"
	done
}
no_agents() { [ -z "$(agents)" ]; }
some_agent() { [ -n "$(agents)" ]; }
# every live agent waits in keyturn-hold (same PID, libc only)
agents_held() {
	_n=0
	for _a in $(agents); do
		[ "$(readlink "/proc/$_a/exe")" = \
			/usr/libexec/keyturn/keyturn-hold ] || return 1
		# still counted: the session lock was handed over
		case $(readlink "/proc/$_a/fd/4") in
		/run/keyturn/*/sessions) ;;
		*) return 1 ;;
		esac
		_n=$((_n + 1))
	done
	[ "$_n" -gt 0 ]
}
mount_opts() { mount_line "$1" | awk '{ print $4 }'; }
has_opt() { # MOUNTPOINT OPTION
	mount_opts "$1" | tr ',' '\n' | grep -qx "$2"
}
mount_count() { awk -v m="$1" '$2 == m' /proc/mounts | wc -l; }
locked() { dm_gone "$1" && not_mounted "$2"; }
# root's number of keys and keyrings (/proc/key-users counts them all, also
# those root cannot view in /proc/keys)
root_keys() { awk '$1 == "0:" { split($3, a, "/"); print a[1] }' /proc/key-users; }
root_keys_le() { [ "$(root_keys)" -le "$1" ]; }
# mounted_from MOUNTPOINT DM-NAME: mounted from that dm device
mounted_from() {
	_minor=$(dmsetup info -c --noheadings -o minor "$2" 2>/dev/null | tr -d ' ')
	mount_line "$1" | grep -qE "^/dev/(mapper/$2|dm-$_minor) "
}
as_user() { # USER CMD: CMD with the user's uid, outside of any session
	su -s /bin/sh "$1" -c "$2"
}

# ---- setup: volumes made by the admin, enrolled with keyturnctl --------------
# alice: her login password enrolled. bob: enrolled with a password that is
# not (any longer) his login password.
IMG_A=/tmp/alice-home.img
IMG_B=/tmp/bob-home.img
ENROLL_OPTS="--pbkdf-memory 32768 --pbkdf-iterations 4"

mkvol() { # IMAGE USER VOLUME-PASSPHRASE: prints the loop device
	make_luks_volume "$1" 48 "$3" "$(id -u "$2"):$(id -g "$2")" \
		> "$KT_TMP/mkvol.out" 2>&1 || return 1
	_loop=$(losetup -f) && losetup "$_loop" "$1" && echo "$_loop"
}
LOOP_A=$(mkvol "$IMG_A" alice "alice-Volume-pw")
check "alice's LUKS2 volume made ($LOOP_A)" test -b "$LOOP_A"
[ -b "$LOOP_A" ] || diag_file "$KT_TMP/mkvol.out"
LOOP_B=$(mkvol "$IMG_B" bob "bob-Volume-pw")
check "bob's LUKS2 volume made ($LOOP_B)" test -b "$LOOP_B"

# shellcheck disable=SC2086
printf '%s\n%s\n' "alice-Volume-pw" "$APW" |
	keyturnctl enroll luks "$LOOP_A" --user alice --stdin $ENROLL_OPTS \
	> "$KT_TMP/enroll" 2>&1
check_eq "keyturnctl enroll luks: alice's login password" 0 "$?"
diag_file "$KT_TMP/enroll" 3
check "a luks2-keyring token keyturn:alice on the volume" \
	sh -c "cryptsetup luksDump '$LOOP_A' | grep -q 'keyturn:alice'"
# shellcheck disable=SC2086
printf '%s\n%s\n' "bob-Volume-pw" "bob-Former-login-pw" |
	keyturnctl enroll luks "$LOOP_B" --user bob --stdin $ENROLL_OPTS \
	> "$KT_TMP/enroll" 2>&1
check_eq "keyturnctl enroll luks: bob, a password that is not his login's" \
	0 "$?"

for u in alice bob; do
	mkdir -p "/home/$u/vault"
	chown "$u:$u" "/home/$u/vault"
	chmod 0700 "/home/$u/vault"
done
# alice's volume pinned by its LUKS2 UUID, bob's not (still opened, with a
# warning).
UUID_A=$(cryptsetup luksUUID "$LOOP_A")
write_conf() { # DEVICE-OF-ALICE
	cat > /etc/security/keyturn.conf <<EOF
[volume home]
user = alice
type = luks2
device = $1
uuid = $UUID_A
name = home-%u
mountpoint = /home/%u/vault

[volume bobhome]
user = bob
type = luks2
device = $LOOP_B
name = home-%u
mountpoint = /home/%u/vault
EOF
	chown root:root /etc/security/keyturn.conf
	chmod 0644 /etc/security/keyturn.conf
}
write_conf "$LOOP_A"
check "keyturnctl check accepts the config" keyturnctl check --user alice
check "keyturnctl check: bob's volume is not pinned" \
	sh -c "keyturnctl check | grep -q 'volume bobhome.*not pinned'"

# ---- right password: unlocked and mounted; logout: locked --------------------
keys0=$(root_keys)
mark=$(syslog_mark)
# The session's first process records what it can see of the keyring.
cat > "$KT_TMP/first.sh" <<EOF
cat /proc/keys > $KT_TMP/first.keys
touch $KT_TMP/s1.in
while [ ! -e $KT_TMP/s1.release ]; do sleep 0.2; done
EOF
chmod 0755 "$KT_TMP/first.sh"
rm -f "$KT_TMP/s1.rc"
(
	printf '%s\n' "$APW" | kt-login -s "$SVC" alice -- /bin/sh \
		"$KT_TMP/first.sh" 2>"$KT_TMP/s1.err"
	echo $? > "$KT_TMP/s1.rc"
) &
if wait_until 40 _started_or_ended s1 && [ -e "$KT_TMP/s1.in" ]; then
	ok "alice logs in with the right password"
else
	not_ok "alice logs in with the right password"
	diag_file "$KT_TMP/s1.err"
	syslog_since "$mark" | tail -n 10 | sed 's/^/#   /'
fi
check "dm device $DM_A active" dm_exists "$DM_A"
check "dm device $DM_A is dm-crypt" \
	sh -c "dmsetup table $DM_A | grep -q ' crypt '"
check "$MNT_A mounted" is_mounted "$MNT_A"
check "mounted from the dm device" mounted_from "$MNT_A" "$DM_A"
check "mounted nosuid" has_opt "$MNT_A" nosuid
check "mounted nodev" has_opt "$MNT_A" nodev
diag "$(mount_line "$MNT_A")"
check "alice writes a file on the volume" \
	as_user alice "echo written-by-alice > $MNT_A/hello && sync"
check "the file belongs to alice" \
	sh -c "[ \"\$(stat -c %U $MNT_A/hello)\" = alice ]"
check "the session's first process sees no keyturn key" \
	sh -c "! grep -q 'keyturn:' $KT_TMP/first.keys"
check "pam_keyturn logged the volume opened" \
	logged "$mark" "pam_keyturn.*home.*opened"
check "a keyturn-agent holds the session" some_agent
check "the idle agent waits in keyturn-hold" wait_until 5 agents_held
for _a in $(agents); do
	diag "idle agent $_a: $(grep -E '^(VmRSS|RssAnon|RssFile):' \
		"/proc/$_a/status" | tr -s ' \t\n' ' ')"
done

mark=$(syslog_mark)
release s1
check_eq "alice logs out (kt-login exit 0)" 0 "$?"
diag_file "$KT_TMP/s1.err" 5
check "logout: $MNT_A unmounted" wait_until 5 not_mounted "$MNT_A"
check "logout: dm device $DM_A gone" wait_until 5 dm_gone "$DM_A"
check "logout: no keyturn key in /proc/keys" no_keys_matching 'keyturn'
check "logout: root's keys back to $keys0 (/proc/key-users)" \
	wait_until 10 root_keys_le "$keys0"
[ "$(root_keys)" -le "$keys0" ] || { diag "key-users:"; sed 's/^/#   /' /proc/key-users; }
check "logout: the agent is gone" wait_until 5 no_agents
check "pam_keyturn logged the volume closed" \
	logged "$mark" "pam_keyturn.*home.*closed"

# ---- wrong password: refused, nothing opened -----------------------------------
mark=$(syslog_mark)
keys0=$(root_keys)
login_as "$SVC" alice "not-$APW" true
check_eq "wrong password: login refused (exit 10)" 10 "$?"
check "wrong password: no dm device" dm_gone "$DM_A"
check "wrong password: nothing mounted" not_mounted "$MNT_A"
check "wrong password: no agent started" no_agents
check "wrong password: no keyturn key" no_keys_matching 'keyturn'
check "wrong password: root's keys still $keys0 (/proc/key-users)" \
	wait_until 5 root_keys_le "$keys0"

# ---- a login password that is not enrolled: allowed, locked, says why -----------
mark=$(syslog_mark)
login_as "$SVC" bob "$BPW" /bin/sh -c "ls $MNT_B > /dev/null"
check_eq "bob (password not enrolled) logs in (exit 0)" 0 "$?"
diag_file "$KT_TMP/login.err" 5
check "bob's volume stays locked" locked "$DM_B" "$MNT_B"
# the module's line names the volume, says it stayed locked or failed, and why
# (the password)
if syslog_since "$mark" | grep 'pam_keyturn' | grep -w bobhome |
	grep -iE 'locked|fail' | grep -iE 'password|passphrase|keyslot' \
	> "$KT_TMP/why"; then
	ok "a log line says why bob's volume stayed locked"
	diag_file "$KT_TMP/why" 3
else
	not_ok "a log line says why bob's volume stayed locked"
	syslog_since "$mark" | tail -n 10 | sed 's/^/#   /'
fi
check "bob: no agent left" wait_until 5 no_agents

# ---- two sessions of one user ------------------------------------------------------
mark=$(syslog_mark)
login_bg "$SVC" alice "$APW" a1
check "alice's first session open" test -e "$KT_TMP/a1.in"
check "first session: $DM_A active and mounted" \
	sh -c "[ -e /dev/mapper/$DM_A ] && grep -q ' $MNT_A ' /proc/mounts"
check "the file of the earlier login is still there" \
	sh -c "[ \"\$(cat $MNT_A/hello)\" = written-by-alice ]"
mark=$(syslog_mark)
login_bg "$SVC" alice "$APW" a2
check "alice's second session open" test -e "$KT_TMP/a2.in"
check_eq "second session: mounted once, not twice" 1 "$(mount_count "$MNT_A")"
check "second session: pam_keyturn logged the volume reused" \
	logged "$mark" "pam_keyturn.*home.*reused"
release a1
check_eq "first session logs out (exit 0)" 0 "$?"
sleep 1
check "first logout keeps $DM_A active" dm_exists "$DM_A"
check "first logout keeps $MNT_A mounted" is_mounted "$MNT_A"
check "the second session can still use the volume" \
	as_user alice "cat $MNT_A/hello > /dev/null"
release a2
check_eq "last session logs out (exit 0)" 0 "$?"
check "last logout: locked (unmounted, dm device gone)" \
	wait_until 5 locked "$DM_A" "$MNT_A"
check "last logout: no agent left" wait_until 5 no_agents

# ---- the login process killed with SIGKILL --------------------------------------
login_bg "$SVC" alice "$APW" k1
check "a session to kill is open and unlocked" \
	sh -c "[ -n '$LOGIN_PID' ] && [ -e /dev/mapper/$DM_A ]"
if [ -n "$LOGIN_PID" ]; then
	kill -KILL "$LOGIN_PID"
	diag "killed kt-login (pid $LOGIN_PID) with SIGKILL"
fi
t0=$(uptime_s)
check "after SIGKILL of the login: locked within 10 s" \
	wait_until 10 locked "$DM_A" "$MNT_A"
diag "locked $(awk -v a="$t0" -v b="$(uptime_s)" \
	'BEGIN { printf "%.1f", b - a }') s after the SIGKILL"
check "after SIGKILL of the login: no agent left" wait_until 5 no_agents
touch "$KT_TMP/k1.release"

# ---- the dm name taken by another device: refused, that device untouched ---------
dmsetup create "$DM_A" --table "0 8 error" 2> "$KT_TMP/dmcreate.err" ||
	diag_file "$KT_TMP/dmcreate.err" 3
check "a foreign device holds the name $DM_A" dm_exists "$DM_A"
mark=$(syslog_mark)
login_bg "$SVC" alice "$APW" t1
check "dm name taken: the login still goes through" test -e "$KT_TMP/t1.in"
check "dm name taken: nothing mounted on $MNT_A" not_mounted "$MNT_A"
check_eq "dm name taken: the foreign device is untouched (error target)" \
	"0 8 error" "$(dmsetup table "$DM_A" 2>/dev/null | sed "s/ *$//")"
check "dm name taken: the log says which volume and why" \
	logged "$mark" "device-mapper name $DM_A is taken by another device"
release t1
check "dm name taken: logout leaves the foreign device alone" \
	sh -c "dmsetup table $DM_A | grep -q error"
check "dm name taken: no agent left" wait_until 5 no_agents
dmsetup remove "$DM_A" 2>/dev/null

# ---- the pinned path names another LUKS2 device: refused, nothing opened ------
# (bob's volume at the path of alice's: a disk that took its name)
write_conf "$LOOP_B"
mark=$(syslog_mark)
login_bg "$SVC" alice "$APW" p1
check "another device at the pinned path: the login still goes through" \
	test -e "$KT_TMP/p1.in"
check "another device at the pinned path: not opened" locked "$DM_A" "$MNT_A"
check "another device at the pinned path: the log names the volume and why" \
	logged "$mark" "home.*has LUKS2 UUID .*not $UUID_A"
release p1
check "another device at the pinned path: no agent left" wait_until 5 no_agents
write_conf "$LOOP_A"

# ---- cleanup --------------------------------------------------------------------
for d in "$DM_A" "$DM_B"; do
	grep -q " /home/${d#home-}/vault " /proc/mounts &&
		umount "/home/${d#home-}/vault"
	dm_exists "$d" && cryptsetup close "$d"
done
losetup -d "$LOOP_A" "$LOOP_B" 2>/dev/null
losetup -d "$LOOP_A" 2>/dev/null
losetup -d "$LOOP_B" 2>/dev/null
rm -f "$IMG_A" "$IMG_B" /etc/security/keyturn.conf
finish
