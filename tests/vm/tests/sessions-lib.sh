# Helpers of the session tests (40-, 41-, 42-*.sh), sourced after lib.sh.
# Each user of SES_USERS gets a small LUKS2 volume on a loop device, with a
# luks2-keyring token for their login password (Argon2id, 4 iterations,
# 32 MiB: software emulation), mounted on /home/USER/vault as the
# device-mapper device ses-USER.

SVC=kt-test
SES_DIR=/tmp/kt-ses

now() { uptime_s; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }
# le A B: A <= B (decimals)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
as_user() { su -s /bin/sh "$1" -c "$2"; }

installed() {
	for _f in /lib/x86_64-linux-gnu/security/pam_keyturn.so \
		/usr/libexec/keyturn/keyturn-agent /usr/bin/keyturnctl; do
		if [ ! -e "$_f" ]; then
			not_ok "keyturn installed in the image: $_f missing (${KT_BUILD_MSG:-})"
			return 1
		fi
	done
}

# ---- processes ------------------------------------------------------------------
# live keyturn-agent processes (zombies do not count), or those of USER
agents() {
	# by argv[0], set atomically by execve(): the name (comm) is the
	# file's until the image sets it, and an agent's process changes
	# image (keyturn-hold and back) while it lives
	for _c in $(grep -lxE 'keyturn-(agent|hold)|[0-9]+' \
		/proc/[0-9]*/comm 2>/dev/null); do
		_p=${_c%/comm}
		[ "$(tr '\0' '\n' < "$_p/cmdline" 2>/dev/null | head -n 1)" = \
			keyturn-agent ] || continue
		_st=$(awk '{ print $3 }' "$_p/stat" 2>/dev/null)
		[ "$_st" = Z ] || [ -z "$_st" ] && continue
		if [ -n "${1:-}" ]; then
			case " $(tr '\0' ' ' < "$_p/cmdline" 2>/dev/null)" in
			*" --user $1 "*) ;;
			*) continue ;;
			esac
		fi
		echo "${_p#/proc/}"
	done
}
no_agents() { [ -z "$(agents "${1:-}")" ]; }
agents_are() { [ "$(agents "$1" | tr '\n' ' ')" = "$2" ]; }
# root's number of keys and keyrings (/proc/key-users counts also those
# root cannot view in /proc/keys)
root_keys() { awk '$1 == "0:" { split($3, a, "/"); print a[1] }' /proc/key-users; }
root_keys_le() { [ "$(root_keys)" -le "$1" ]; }

# ---- volumes ----------------------------------------------------------------------
mnt_of() { echo "/home/$1/vault"; }
dm_of() { echo "ses-$1"; }
# open USER: dm device active and mounted; locked USER: neither
vol_open() { dm_exists "ses-$1" && is_mounted "/home/$1/vault"; }
vol_locked() { dm_gone "ses-$1" && not_mounted "/home/$1/vault"; }
vol_state() { # a word for diagnostics
	if vol_open "$1"; then echo open
	elif vol_locked "$1"; then echo locked
	elif is_mounted "/home/$1/vault"; then echo "mounted-without-dm"
	else echo "dm-active-not-mounted"
	fi
}

# The passwords of /kt/tests/users, whatever an earlier test changed.
ses_reset_passwords() {
	for _u in "$@"; do
		_h=$(printf '%s\n' "$(pw_of "$_u")" | mkpasswd -m sha512 -s) || return 1
		case $_h in '$6$'*) ;; *) return 1 ;; esac
		awk -F: -v u="$_u" -v h="$_h" 'BEGIN { OFS = ":" }
			$1 == u { $2 = h } { print }' /etc/shadow > /etc/shadow.kt &&
			cat /etc/shadow.kt > /etc/shadow && rm -f /etc/shadow.kt
	done
}

# ses_template: one LUKS2 image (ext4 inside, its root 1777, a file "held"
# in it) with a keyslot and a luks2-keyring token keyturn:USER for the login
# password of each of the 5 users, made once per boot in SES_CACHE (the
# session tests share it). keyslots are added with the volume key, so each
# costs one Argon2 run; the volume key is wiped afterwards.
SES_CACHE=/tmp/kt-ses-cache
ses_template() {
	_tpl=$SES_CACHE/template.img
	[ -e "$SES_CACHE/ok" ] && return 0
	rm -rf "$SES_CACHE"
	mkdir -m 0700 -p "$SES_CACHE"
	_vk=$SES_CACHE/vk
	head -c 64 /dev/urandom > "$_vk"
	dd if=/dev/zero of="$_tpl" bs=1M count=0 seek=12 2>/dev/null
	_slot=0
	for _u in alice bob carol dave erin; do
		if [ "$_slot" = 0 ]; then
			# shellcheck disable=SC2086
			printf '%s' "$(pw_of "$_u")" |
				cryptsetup luksFormat -q --type luks2 $KT_PBKDF \
				--luks2-metadata-size 16k \
				--luks2-keyslots-size 2m --key-slot 0 \
				--volume-key-file "$_vk" --key-file=- "$_tpl"
		else
			# shellcheck disable=SC2086
			printf '%s' "$(pw_of "$_u")" |
				cryptsetup luksAddKey -q $KT_PBKDF \
				--key-slot "$_slot" --volume-key-file "$_vk" \
				"$_tpl" -
		fi || return 1
		cryptsetup token add --key-description "keyturn:$_u" \
			--key-slot "$_slot" "$_tpl" || return 1
		_slot=$((_slot + 1))
	done
	cryptsetup open --volume-key-file "$_vk" "$_tpl" ses-template &&
	/sbin/mke2fs -q -t ext4 -F /dev/mapper/ses-template &&
	mkdir -p /mnt/ses-template &&
	mount /dev/mapper/ses-template /mnt/ses-template &&
	chmod 1777 /mnt/ses-template &&
	echo "held open at logout" > /mnt/ses-template/held &&
	chmod 0644 /mnt/ses-template/held &&
	umount /mnt/ses-template &&
	cryptsetup close ses-template || return 1
	rm -f "$_vk"
	touch "$SES_CACHE/ok"
}

# ses_setup USER...: each user's copy of the template, with a UUID of its
# own, on a loop device, in keyturn.conf
ses_setup() {
	SES_USERS="$*"
	id dave >/dev/null 2>&1 || {
		not_ok "users dave and erin exist (tests/vm/tests/users)"
		return 1
	}
	ses_reset_passwords "$@" ||
		{ not_ok "reset the users' passwords"; return 1; }
	ses_template > "$KT_TMP/setup" 2>&1 || {
		not_ok "the template LUKS2 volume made"
		diag_file "$KT_TMP/setup"
		return 1
	}
	mkdir -p "$SES_DIR"
	for _u in "$@"; do
		_img=$SES_DIR/$_u.img
		cp "$SES_CACHE/template.img" "$_img" &&
		cryptsetup luksUUID -q --uuid "$(cat /proc/sys/kernel/random/uuid)" \
			"$_img" &&
		_loop=$(losetup -f) && losetup "$_loop" "$_img" &&
		echo "$_loop" > "$SES_DIR/$_u.loop" || {
			not_ok "$_u's volume attached"
			return 1
		}
		mkdir -p "/home/$_u/vault"
		chown "$_u:$_u" "/home/$_u/vault"
		chmod 0700 "/home/$_u/vault"
	done
	ses_conf
}

# ses_conf [DEFAULTS-LINE...]: writes keyturn.conf, one volume per user of
# SES_USERS; $SES_EXTRA_<user> holds extra lines for that user's volume
ses_conf() {
	{
		echo "[defaults]"
		for _l in "$@"; do echo "$_l"; done
		for _u in $SES_USERS; do
			echo
			echo "[volume ses-$_u]"
			echo "user = $_u"
			echo "type = luks2"
			echo "device = $(cat "$SES_DIR/$_u.loop")"
			echo "name = ses-%u"
			echo "mountpoint = /home/%u/vault"
			eval "_x=\${SES_EXTRA_$_u:-}"
			[ -n "$_x" ] && printf '%s\n' "$_x"
		done
	} > /etc/security/keyturn.conf
	chown root:root /etc/security/keyturn.conf
	chmod 0644 /etc/security/keyturn.conf
}

ses_cleanup() {
	for _u in $SES_USERS; do
		is_mounted "/home/$_u/vault" && umount -l "/home/$_u/vault"
		dm_exists "ses-$_u" && cryptsetup close "ses-$_u"
		[ -e "$SES_DIR/$_u.loop" ] && losetup -d "$(cat "$SES_DIR/$_u.loop")"
	done 2>/dev/null
	rm -rf "$SES_DIR" /etc/security/keyturn.conf
}

# ---- logins ---------------------------------------------------------------------
# start_login [-n] SERVICE USER PASSWORD TAG: a login in the background that
# holds its session until end_session TAG; returns at once. $TAG.in appears
# when the session's command runs (the uptime in it); START_PID is
# kt-login's pid.
start_login() {
	_nopw=""
	[ "$1" = -n ] && { _nopw=-n; shift; }
	_t=$KT_TMP/$4
	rm -f "$_t.in" "$_t.release" "$_t.err"
	# shellcheck disable=SC2086
	printf '%s\n' "$3" | kt-login -s "$1" $_nopw "$2" -- /bin/sh -c \
		"cut -d' ' -f1 /proc/uptime > $_t.in; while [ ! -e $_t.release ]; do sleep 0.1; done" \
		2> "$_t.err" &
	START_PID=$!
	echo "$START_PID" > "$_t.pid"
}
# login_wait TAG: waits for kt-login (started by this shell, not in a $()
# subshell), its exit status in RC
login_wait() {
	wait "$(cat "$KT_TMP/$1.pid")"
	RC=$?
}
session_in() { [ -e "$KT_TMP/$1.in" ]; }
# the session's start, in uptime seconds
session_t() { cat "$KT_TMP/$1.in"; }
ended() {
	_s=$(awk '{ print $3 }' "/proc/$(cat "$KT_TMP/$1.pid")/stat" 2>/dev/null)
	[ -z "$_s" ] || [ "$_s" = Z ]
}
in_or_ended() { session_in "$1" || ended "$1"; }
# end_session TAG: releases the session, waits for kt-login: status in RC
end_session() {
	touch "$KT_TMP/$1.release"
	login_wait "$1"
}

# ---- subshells run in parallel ------------------------------------------------
# Their output goes to a file; replay FILE turns it into our ok/not ok.
sub_init() { # NAME: check() and friends with their own scratch file
	_sub=$1
	check() {
		_d=$1; shift
		if "$@" > "$KT_TMP/out.$_sub" 2>&1; then ok "$_d"
		else _rc=$?; not_ok "$_d"; diag "failed (exit $_rc): $*"
			diag_file "$KT_TMP/out.$_sub"
		fi
	}
}
replay() {
	while IFS= read -r _line; do
		case $_line in
		"not ok - "*) not_ok "${_line#not ok - }" ;;
		*) echo "$_line" ;;
		esac
	done < "$1"
}
