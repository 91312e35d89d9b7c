# Helpers for the VM tests (busybox sh); sourced by tests/NN-*.sh.
# Output: "ok - DESC", "not ok - DESC", "SKIP - DESC: WHY", "# diagnostics".

. /etc/kt-build
export DM_DISABLE_UDEV=1
KT_TMP=$(mktemp -d /tmp/kt.XXXXXX)
chmod 0777 "$KT_TMP" # the sessions' commands leave marks here
KT_FAILS=0
KT_CASE=${0##*/}
KT_CASE=${KT_CASE%.sh}

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; KT_FAILS=$((KT_FAILS + 1)); }
skip() { echo "SKIP - $1: $2"; }
diag() { echo "# $*"; }
diag_file() { # FILE [N]: the last N lines of FILE as diagnostics
	[ -s "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/#   /'
	return 0
}

# check DESC CMD...: ok when CMD succeeds
check() {
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
# check_fails DESC CMD...: ok when CMD fails
check_fails() {
	_d=$1
	shift
	if "$@" > "$KT_TMP/out" 2>&1; then
		not_ok "$_d"
		diag "succeeded but should not have: $*"
		diag_file "$KT_TMP/out"
	else
		ok "$_d"
	fi
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "expected '$2', got '$3'"
	fi
}

# finish: the exit status of a test script
finish() {
	rm -rf "$KT_TMP"
	[ "$KT_FAILS" -eq 0 ]
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }
# wait_until SECONDS CMD...: polls CMD every 0.2 s; fails on timeout
wait_until() {
	_end=$(awk -v u="$(uptime_s)" -v t="$1" 'BEGIN { print u + t }')
	shift
	while ! "$@" >/dev/null 2>&1; do
		if awk -v u="$(uptime_s)" -v e="$_end" 'BEGIN { exit !(u > e) }'
		then
			return 1
		fi
		sleep 0.2
	done
}

pw_of() { awk -v u="$1" '$1 == u { print $3 }' /kt/tests/users; }

# ---- LUKS2 ----------------------------------------------------------------
# Cheap KDF: this is software emulation.
KT_PBKDF="--pbkdf argon2id --pbkdf-force-iterations 4 --pbkdf-memory 32768"

# make_luks_volume IMAGE SIZE_MB PASSPHRASE [UID:GID]: LUKS2 image file with
# ext4 inside (its root owned by UID:GID, as an admin makes a user's volume)
make_luks_volume() {
	_img=$1 _size=$2 _pw=$3 _tmpname=ktmk$$ _owner=${4:-0:0}
	rm -f "$_img"
	dd if=/dev/zero of="$_img" bs=1M count=0 seek="$_size" 2>/dev/null ||
		return 1
	# shellcheck disable=SC2086
	printf '%s' "$_pw" | cryptsetup luksFormat -q --type luks2 $KT_PBKDF \
		--key-file=- "$_img" || return 1
	printf '%s' "$_pw" |
		cryptsetup open --key-file=- "$_img" "$_tmpname" || return 1
	/sbin/mke2fs -q -t ext4 -F -E root_owner="$_owner" \
		"/dev/mapper/$_tmpname" || { cryptsetup close "$_tmpname"; return 1; }
	cryptsetup close "$_tmpname"
}

dm_exists() { [ -e "/dev/mapper/$1" ] || dmsetup info "$1" >/dev/null 2>&1; }
dm_gone() { ! dm_exists "$1"; }
# mount_line MOUNTPOINT: the /proc/mounts line of MOUNTPOINT (empty if none)
mount_line() { awk -v m="$1" '$2 == m' /proc/mounts; }
is_mounted() { [ -n "$(mount_line "$1")" ]; }
not_mounted() { ! is_mounted "$1"; }
# keys_matching PATTERN: lines of /proc/keys whose description matches
keys_matching() { grep -E "$1" /proc/keys 2>/dev/null; }
no_keys_matching() { ! grep -qE "$1" /proc/keys 2>/dev/null; }

# ---- logins -----------------------------------------------------------------
# login_as SERVICE USER PASSWORD [COMMAND ARGS...]: a whole login through
# kt-login, password on stdin; returns kt-login's exit status, its stderr in
# $KT_TMP/login.err
login_as() {
	_svc=$1 _user=$2 _pw=$3
	shift 3
	[ $# -gt 0 ] || set -- true
	printf '%s\n' "$_pw" |
		kt-login -s "$_svc" "$_user" -- "$@" 2>"$KT_TMP/login.err"
}
# login_bg SERVICE USER PASSWORD TAG: a login whose command waits until
# release TAG; sets LOGIN_PID (the kt-login process); the session's command
# writes $KT_TMP/TAG.in when it runs
login_bg() {
	_tag=$4
	rm -f "$KT_TMP/$_tag.in" "$KT_TMP/$_tag.release" "$KT_TMP/$_tag.rc"
	(
		printf '%s\n' "$3" | kt-login -s "$1" "$2" -- /bin/sh -c \
			"touch $KT_TMP/$_tag.in; while [ ! -e $KT_TMP/$_tag.release ]; do sleep 0.2; done" \
			2>"$KT_TMP/$_tag.err"
		echo $? > "$KT_TMP/$_tag.rc"
	) 2>>"$KT_TMP/$_tag.err" &
	LOGIN_PID=""
	# the command runs: the session is open and kt-login waits for it
	wait_until 40 _started_or_ended "$_tag" || return 1
	[ -e "$KT_TMP/$_tag.in" ] || return 1
	# shellcheck disable=SC2034 # for the caller
	LOGIN_PID=$(pidof_login "$2" "$_tag")
}
_started_or_ended() { [ -e "$KT_TMP/$1.in" ] || [ -e "$KT_TMP/$1.rc" ]; }
# pidof_login USER TAG: pid of the kt-login process running session TAG
pidof_login() {
	for _p in /proc/[0-9]*; do
		_c=$(tr '\0' ' ' < "$_p/cmdline" 2>/dev/null) || continue
		case $_c in
		"kt-login -s "*" $1 -- /bin/sh -c "*"$2.release"*)
			echo "${_p#/proc/}"; return 0 ;;
		esac
	done
	return 1
}
# release TAG: ends the session's command; waits for kt-login to exit and
# returns its status
release() {
	touch "$KT_TMP/$1.release"
	wait_until 60 test -e "$KT_TMP/$1.rc" || return 99
	return "$(cat "$KT_TMP/$1.rc")"
}

# syslog_since MARK: what syslogd wrote after the line count MARK
syslog_mark() { wc -l < /var/log/messages 2>/dev/null || echo 0; }
syslog_since() { tail -n +"$(($1 + 1))" /var/log/messages 2>/dev/null; }
# logged MARK REGEX: a line syslog got since MARK matches REGEX. syslogd
# writes after the program that logged has gone on: wait up to 5 s.
logged() {
	_i=0
	while [ $_i -lt 50 ]; do
		syslog_since "$1" | grep -E "$2" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
