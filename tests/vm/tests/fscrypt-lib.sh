# What the fscrypt tests (61, 62, 63) share; sourced after lib.sh.
#
# fscrypt_installed [FILE...]: keyturn's programs (and FILEs) in the image,
# else not ok and the test ends. The rest are checks and steps on a user's
# directory and keyturnctl's view of it.
FAST="--argon2-ms 100 --argon2-memory 16384"
CONF=/etc/security/keyturn.conf

fscrypt_installed() {
	for _f in /lib/x86_64-linux-gnu/security/pam_keyturn.so \
		/usr/libexec/keyturn/keyturn-agent /usr/bin/keyturnctl "$@"; do
		if [ ! -e "$_f" ]; then
			not_ok "installed in the image: $_f missing (${KT_BUILD_MSG:-})"
			finish
			exit 1
		fi
	done
}
as_user() { su -s /bin/sh "$1" -c "$2"; }
live_agents() {
	for _p in /proc/[0-9]*; do
		[ "$(cat "$_p/comm" 2>/dev/null)" = keyturn-agent ] || continue
		_st=$(awk '{ print $3 }' "$_p/stat" 2>/dev/null)
		[ "$_st" = Z ] || [ -z "$_st" ] || echo "${_p#/proc/}"
	done
}
no_agents() { [ -z "$(live_agents)" ]; }
# state USER: what keyturnctl status says of the key (open, locked, ...)
state() {
	keyturnctl status --user "$1" 2>/dev/null |
		awk '$1 == "state:" { print $2; exit }'
}
is_open() { [ "$(state "$1")" = open ]; }
is_locked() { [ "$(state "$1")" = locked ]; }
# locked_dir DIR TEXT: names encrypted (no plain name), TEXT unreadable
locked_dir() {
	[ -n "$(ls -A "$1")" ] || return 1
	[ ! -e "$1/note.txt" ] || return 1
	! cat "$1"/* 2>/dev/null | grep -qF "$2"
}
enroll() { # DIR USER PASSWORD [OPTIONS]: keyturnctl enroll fscrypt
	_dir=$1 _user=$2 _pw=$3
	shift 3
	# shellcheck disable=SC2086 # $FAST: several words
	printf '%s\n' "$_pw" |
		keyturnctl enroll fscrypt "$_dir" --user "$_user" --stdin \
		$FAST "$@" > "$KT_TMP/enroll" 2>&1
}
new_dir() { # OWNER DIR
	mkdir -p "$2" && chown "$1:$1" "$2" && chmod 0700 "$2"
}
