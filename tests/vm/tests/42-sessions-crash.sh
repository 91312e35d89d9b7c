#!/bin/sh
# The PAM host killed with SIGKILL at random points of login and of logout,
# 20 times (issue 4): the end state is always consistent, locked when no
# session remains, open while another session of the user lives. Then a
# process holding a file open in the mount at logout, under each busy
# policy: lazy, keep, kill.
. /kt/tests/lib.sh
. /kt/tests/sessions-lib.sh

USERS5="alice bob carol dave erin"
KILLS=4 # per user: 20 in all

installed || { finish; exit 1; }
T_FILE=$(now)
# shellcheck disable=SC2086
ses_setup $USERS5 || { ses_cleanup; finish; exit 1; }
diag "5 volumes ready in $(since "$T_FILE") s"
keys0=$(root_keys)

rnd() { od -An -N2 -tu2 /dev/urandom | tr -d ' \n'; }
# rnd_s MAX: a random delay in [0, MAX] s
rnd_s() { awk -v r="$(rnd)" -v m="$1" 'BEGIN { printf "%.2f", r / 65535 * m }'; }
alive() { # PID: running, not a zombie
	_s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -n "$_s" ] && [ "$_s" != Z ]
}

# ---- SIGKILL of the PAM host -----------------------------------------------------
# kill_run USER: KILLS logins of USER, each kt-login killed during its login
# (odd rounds) or its logout (even rounds); from round 3 on, another session
# of the user (the anchor) stays open meanwhile.
kill_run() {
	sub_init "$1"
	_u=$1 _pw=$(pw_of "$1") _anc="" _anc_agent=""
	_k=1
	while [ "$_k" -le "$KILLS" ]; do
		if [ "$_k" = 3 ]; then
			start_login "$SVC" "$_u" "$_pw" "$_u.anchor"
			wait_until 60 in_or_ended "$_u.anchor"
			_anc_agent=$(agents "$_u" | tr '\n' ' ')
			if session_in "$_u.anchor" && [ -n "$_anc_agent" ] &&
				vol_open "$_u"; then
				_anc=1
			else
				not_ok "$_u: the anchor session opens"
				diag_file "$KT_TMP/$_u.anchor.err" 3
			fi
		fi
		_tg=$_u.kill$_k
		if [ $((_k % 2)) = 1 ]; then
			# during the login: a locked volume takes ~3 s to open
			# here, an open one well under 1 s
			_d=$(rnd_s "$([ -n "$_anc" ] && echo 1 || echo 3.5)")
			start_login "$SVC" "$_u" "$_pw" "$_tg"
			sleep "$_d"
			_where="login, +$_d s"
			session_in "$_tg" && _where="$_where (session had begun)"
		else
			# a logout that locks takes a second or more, one
			# that keeps the volume for the anchor a fraction
			_d=$(rnd_s "$([ -n "$_anc" ] && echo 0.4 || echo 1.2)")
			start_login "$SVC" "$_u" "$_pw" "$_tg"
			wait_until 60 in_or_ended "$_tg"
			touch "$KT_TMP/$_tg.release"
			sleep "$_d"
			_where="logout, +$_d s"
		fi
		_pid=$(cat "$KT_TMP/$_tg.pid")
		if alive "$_pid"; then
			kill -KILL "$_pid"
		else
			_where="$_where (kt-login had ended)"
		fi
		touch "$KT_TMP/$_tg.release"
		wait "$_pid" 2>/dev/null
		if [ -n "$_anc" ]; then
			_want="open, the anchor session lives"
			_settled() { agents_are "$_u" "$_anc_agent" && vol_open "$_u"; }
		else
			_want="locked, no session left"
			_settled() { no_agents "$_u" && vol_locked "$_u"; }
		fi
		_t0=$(now)
		if wait_until 60 _settled; then
			ok "$_u, SIGKILL $_k at $_where: $_want"
			diag "$_u, SIGKILL $_k: settled in $(since "$_t0") s"
		else
			not_ok "$_u, SIGKILL $_k at $_where: $_want"
			diag "volume $(vol_state "$_u"), agents '$(agents "$_u" | tr '\n' ' ')', anchor's '$_anc_agent'"
			diag_file "$KT_TMP/$_tg.err" 3
		fi
		_k=$((_k + 1))
	done
	if [ -n "$_anc" ]; then
		end_session "$_u.anchor"
		_st=$(vol_state "$_u")
		if [ "$RC" = 0 ] && [ "$_st" = locked ]; then
			ok "$_u: the anchor logs out last: locked"
		else
			not_ok "$_u: the anchor logs out last: locked"
			diag "kt-login exit $RC, volume $_st"
		fi
	fi
	check "$_u: no agent left" wait_until 5 no_agents "$_u"
}
T0=$(now)
for u in $USERS5; do
	kill_run "$u" > "$KT_TMP/kill.$u" 2>&1 &
done
wait
for u in $USERS5; do
	replay "$KT_TMP/kill.$u"
done
diag "$((KILLS * 5)) SIGKILLs of the PAM host: $(since "$T0") s"
check "after the SIGKILLs: no agent left" no_agents
check "after the SIGKILLs: no ses-* dm device left" \
	sh -c "! dmsetup ls | grep -q '^ses-'"
check "after the SIGKILLs: root's keys back to $keys0 (/proc/key-users)" \
	wait_until 10 root_keys_le "$keys0"

# ---- busy at logout: lazy (alice), keep (bob), kill (carol) -------------------------
SES_EXTRA_alice="busy = lazy
busy_timeout = 1"
SES_EXTRA_bob="busy = keep
busy_timeout = 1"
SES_EXTRA_carol="busy = kill
busy_timeout = 1"
ses_conf
# holders USER: pids with a file of the user's vault open (zombies aside)
holders() {
	for _p in /proc/[0-9]*; do
		ls -l "$_p/fd" 2>/dev/null | grep -q " /home/$1/vault/" || continue
		alive "${_p#/proc/}" && echo "${_p#/proc/}"
	done
}
for u in alice bob carol; do
	start_login "$SVC" "$u" "$(pw_of "$u")" "$u.busy"
done
for u in alice bob carol; do
	wait_until 60 in_or_ended "$u.busy"
	check "$u logs in for the busy test: volume open" vol_open "$u"
	# the user's process keeps a file of the volume open
	su -s /bin/sh "$u" -c "exec sleep 300 < /home/$u/vault/held" &
done
# and one of carol's ignores SIGTERM
su -s /bin/sh carol -c \
	"trap '' TERM; exec 3< /home/carol/vault/held; while :; do sleep 1 3<&-; done" &
n_holders() { [ "$(holders "$1" | wc -l)" -ge "$2" ]; }
wait_until 10 n_holders alice 1
wait_until 10 n_holders bob 1
wait_until 10 n_holders carol 2
h_alice=$(holders alice | tr '\n' ' ')
h_bob=$(holders bob | tr '\n' ' ')
h_carol=$(holders carol | tr '\n' ' ')
check "holders running: alice '$h_alice', bob '$h_bob', carol '$h_carol'" \
	sh -c "[ -n '$h_alice' ] && [ -n '$h_bob' ] && [ \$(echo $h_carol | wc -w) = 2 ]"
mark=$(syslog_mark)
t0=$(now)
for u in alice bob carol; do touch "$KT_TMP/$u.busy.release"; done
for u in alice bob carol; do
	login_wait "$u.busy"
	eval "rc_$u=$RC"
done
diag "the three busy logouts took $(since "$t0") s"
busy_logged() { # USER PIDS: the agent logged the busy mount with its holders
	syslog_since "$mark" | grep "keyturn-agent" |
		grep "/home/$1/vault still busy" > "$KT_TMP/busy.$1" || return 1
	for _p in $2; do grep -qw "$_p" "$KT_TMP/busy.$1" || return 1; done
}

# lazy: detached, the device goes when the holder does
check_eq "lazy: alice logs out (exit 0)" 0 "$rc_alice"
check "lazy: the vault is detached (not mounted)" not_mounted /home/alice/vault
check "lazy: the holder still runs and reads its file" \
	sh -c "for p in $h_alice; do cat /proc/\$p/fd/0 | grep -q 'held open'; done"
check "lazy: logged with the holder's pid ($h_alice)" busy_logged alice "$h_alice"
diag_file "$KT_TMP/busy.alice" 2
diag "lazy: dm device while the holder runs: $(dm_exists ses-alice && echo present || echo gone)"
# shellcheck disable=SC2086
kill $h_alice
check "lazy: the holder gone, the dm device is removed" \
	wait_until 10 dm_gone ses-alice

# keep: stays open, logged; keyturnctl lock once the holder is gone
check_eq "keep: bob logs out (exit 0)" 0 "$rc_bob"
check "keep: the volume stays open" vol_open bob
check "keep: the holder still runs" sh -c "for p in $h_bob; do [ -d /proc/\$p ]; done"
check "keep: logged with the holder's pid ($h_bob)" busy_logged bob "$h_bob"
diag_file "$KT_TMP/busy.bob" 2
check "keep: pam_keyturn logged the volume kept" \
	logged "$mark" "pam_keyturn.*ses-bob.*kept"
# shellcheck disable=SC2086
kill $h_bob
no_holders() { [ -z "$(holders "$1")" ]; }
wait_until 5 no_holders bob
check "keep: keyturnctl lock --user bob locks it afterwards" \
	keyturnctl lock --user bob
check "keep: locked" vol_locked bob

# kill: the holders are signalled (TERM, then KILL), the volume locked
check_eq "kill: carol logs out (exit 0)" 0 "$rc_carol"
all_dead() { for _p in "$@"; do alive "$_p" && return 1; done; return 0; }
# shellcheck disable=SC2086
check "kill: the holders are gone" all_dead $h_carol
check "kill: locked" vol_locked carol
check "kill: logged with the holders' pids ($h_carol)" busy_logged carol "$h_carol"
diag_file "$KT_TMP/busy.carol" 2
check "kill: the SIGTERM-proof holder was killed (logged)" \
	logged "$mark" "keyturn-agent.*/home/carol/vault.*killing pids"
for u in alice bob carol; do eval "SES_EXTRA_$u=''"; done
ses_conf

# ---- nothing left ---------------------------------------------------------------------
check "no agent left" wait_until 5 no_agents
check "no ses-* dm device left" sh -c "! dmsetup ls | grep -q '^ses-'"
check "nothing mounted on a vault" sh -c "! grep -q '/vault ' /proc/mounts"
check "root's keys back to $keys0 (/proc/key-users)" \
	wait_until 10 root_keys_le "$keys0"
ses_cleanup
diag "42-sessions-crash: $(since "$T_FILE") s"
finish
