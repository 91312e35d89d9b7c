# Helpers of the tests on a real Debian system (dash); sourced by NN-*.sh.
# Output: "ok - DESC", "not ok - DESC", "SKIP - DESC: WHY", "# diagnostics".

KT_TMP=$(mktemp -d /tmp/kt.XXXXXX)
chmod 0755 "$KT_TMP"
KT_FAILS=0
KT_REL=$(cat /kt/release)
VOL=home-alice
MNT=/home/alice/vault
DEV=/dev/vdb
export LC_ALL=C

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; KT_FAILS=$((KT_FAILS + 1)); }
skip() { echo "SKIP - $1: $2"; }
diag() { echo "# $*"; }
diag_file() { # FILE [N]
	[ -s "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/#   /'
	return 0
}
check() { # DESC CMD...: ok when CMD succeeds
	_d=$1
	shift
	if "$@" > "$KT_TMP/out" 2>&1; then
		ok "$_d"
	else
		_rc=$?
		not_ok "$_d"
		diag "failed (exit $_rc): $*"
		diag_file "$KT_TMP/out"
	fi
}
pw_of() { awk -v u="$1" '$1 == u { print $3 }' /kt/users; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s, for SECONDS of uptime (a
# loaded machine makes each poll slow: counting polls would wait far longer)
wait_for() {
	_end=$(awk -v a="$(uptime_s)" -v s="$1" 'BEGIN { printf "%d", a + s }')
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(cut -d. -f1 /proc/uptime)" -ge "$_end" ] && return 1
		sleep 0.1
	done
}

# ---- what the system says ------------------------------------------------------
dm_exists() { dmsetup info "$1" >/dev/null 2>&1; }
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
# keys named keyturn:* (but $KT_IGNORE_KEY, a key id a test planted itself)
keyturn_keys() {
	grep -E 'keyturn:' /proc/keys 2>/dev/null |
		grep -v "^${KT_IGNORE_KEY:-no-key-ignored} "
}
# live agents by argv[0] (keyturn-agent, also while it waits as
# keyturn-hold): pgrep -f reads /proc/PID/cmdline, empty for zombies
agents() { pgrep -f '^keyturn-agent( |$)'; }
# alice's login sessions; systemd >= 256 (trixie) lists the user manager
# as a session of its own, class manager: not a login
alice_sessions() {
	loginctl list-sessions --no-legend | grep ' alice ' | grep -v ' manager'
}
no_alice_session() { [ -z "$(alice_sessions)" ]; }
no_agents() { [ -z "$(agents)" ]; }
not_mounted() { ! is_mounted "$1"; }
no_dm() { ! dm_exists "$1"; }
vol_open() { dm_exists "$VOL" && is_mounted "$MNT"; }
vol_locked() {
	! dm_exists "$VOL" && ! is_mounted "$MNT" && [ -z "$(keyturn_keys)" ] &&
		[ -z "$(agents)" ]
}
why_not_locked() {
	dm_exists "$VOL" && diag "dm device $VOL still there"
	is_mounted "$MNT" && diag "$MNT still mounted"
	keyturn_keys | sed 's/^/# key: /'
	for _a in $(agents); do diag "agent left: pid $_a $(tr '\0' ' ' < /proc/$_a/cmdline)"; done
	return 0
}
# wait_locked SECONDS START: waits for vol_locked, and says when each part
# of it came true (seconds since START)
wait_locked() {
	_end=$(awk -v a="$(uptime_s)" -v s="$1" 'BEGIN { printf "%d", a + s }')
	_um=- _dm=- _ky=- _ag=-
	while :; do
		[ "$_um" = - ] && ! is_mounted "$MNT" && _um=$(since "$2")
		[ "$_dm" = - ] && ! dm_exists "$VOL" && _dm=$(since "$2")
		[ "$_ky" = - ] && [ -z "$(keyturn_keys)" ] && _ky=$(since "$2")
		[ "$_ag" = - ] && no_agents && _ag=$(since "$2")
		if vol_locked; then
			diag "locked: unmounted at $_um s, dm device gone at $_dm s, keyturn keys gone at $_ky s, agents gone at $_ag s"
			return 0
		fi
		[ "$(cut -d. -f1 /proc/uptime)" -ge "$_end" ] && break
		sleep 0.2
	done
	diag "not locked: unmounted at $_um s, dm device gone at $_dm s, keyturn keys gone at $_ky s, agents gone at $_ag s"
	return 1
}
# journal lines of keyturn since the cursor file $1 (see journal_mark)
journal_mark() { journalctl -n 0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p' > "$1"; }
journal_since() { # CURSOR-FILE [journalctl options]
	_c=$(cat "$1")
	shift
	journalctl -q --no-pager --after-cursor="$_c" "$@"
}
keyturn_errors() { # CURSOR-FILE: lines at err or worse from keyturn
	journal_since "$1" -p err | grep -iE 'keyturn' || true
}

# ---- sessions --------------------------------------------------------------------
# A session is held open by its command: it waits for $KT_TMP/end-TAG.
hold_cmd() { # TAG: the shell command a session runs
	echo "while [ ! -e $KT_TMP/end-$1 ]; do sleep 0.2; done"
}
end_session() { touch "$KT_TMP/end-$1"; }
SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20"
ssh_pw() { # TAG USER METHOD(password|keyboard-interactive): in the background
	SSHPASS=$(pw_of "$2") setsid sshpass -e ssh $SSH_OPTS -o PubkeyAuthentication=no \
		-o PreferredAuthentications="$3" "$2@127.0.0.1" "$(hold_cmd "$1")" \
		> "$KT_TMP/ssh-$1.out" 2>&1 < /dev/null &
}
ssh_key() { # TAG USER [COMMAND-BEFORE]: by public key, in the background
	setsid ssh $SSH_OPTS -i "/root/id-$2" -o PreferredAuthentications=publickey \
		"$2@127.0.0.1" "${3:-true}; $(hold_cmd "$1")" \
		> "$KT_TMP/ssh-$1.out" 2>&1 < /dev/null &
}
# expect drives the programs that read the password from their terminal
expect_pw() { # TAG PASSWORD COMMAND...: spawn COMMAND on a pty, answer Password:
	_tag=$1 _pw=$2
	shift 2
	KT_PW=$_pw setsid expect /kt/tests/pw.exp "$@" \
		> "$KT_TMP/expect-$_tag.out" 2>&1 < /dev/null &
}
login_pty() { # TAG USER: the real login(1) on a pty, its shell runs the hold
	KT_PW=$(pw_of "$2") KT_HOLD="$(hold_cmd "$1"); exit" setsid \
		expect /kt/tests/login.exp "$2" \
		> "$KT_TMP/expect-$1.out" 2>&1 < /dev/null &
}
su_as() { # TAG FROM-USER TO-USER: FROM runs "su TO -c ..." on a pty
	expect_pw "$1" "$(pw_of "$3")" setpriv --reuid "$2" --regid "$2" --init-groups \
		--reset-env su "$3" -c "$(hold_cmd "$1")"
}

# open_and_close NAME TAG START-FUNCTION ARGS...: a session through a login
# program; the volume must be open during it and locked after it. Prints
# "# time RELEASE NAME login X logout Y" for run.sh's summary.
open_and_close() {
	_name=$1 _tag=$2
	shift 2
	journal_mark "$KT_TMP/cur-$_tag"
	_t0=$(uptime_s)
	"$@"
	if wait_for 90 vol_open; then
		_tin=$(since "$_t0")
		ok "$_name: the volume is open during the session (dm $VOL, $MNT mounted; ${_tin} s)"
	else
		_tin=-
		not_ok "$_name: the volume is open during the session"
		diag_file "$KT_TMP/ssh-$_tag.out" 5
		diag_file "$KT_TMP/expect-$_tag.out" 5
		journal_since "$KT_TMP/cur-$_tag" | grep -iE 'keyturn|pam' | tail -8 | sed 's/^/# journal: /'
	fi
	check "$_name: logind has a session of alice" alice_sessions
	_t1=$(uptime_s)
	end_session "$_tag"
	if wait_locked 90 "$_t1"; then
		_tout=$(since "$_t1")
		ok "$_name: locked after logout (no dm device, not mounted, no keyturn key, no agent; ${_tout} s)"
	else
		_tout=-
		not_ok "$_name: locked after logout"
		why_not_locked
		loginctl terminate-user alice 2>/dev/null
		wait_for 30 vol_locked || keyturnctl lock --user alice --force >/dev/null 2>&1
	fi
	_err=$(keyturn_errors "$KT_TMP/cur-$_tag")
	check "$_name: nothing at err from keyturn in the journal" test -z "$_err"
	[ -n "$_err" ] && echo "$_err" | head -5 | sed 's/^/# journal: /'
	echo "# time $KT_REL $_name login $_tin logout $_tout"
	wait_for 20 no_alice_session || true
}
