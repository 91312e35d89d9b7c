#!/bin/sh
# logind ends alice's sessions: loginctl terminate-session, terminate-user,
# and a logout with KillUserProcesses=yes and =no (a process left behind
# outside the volume). Locked every time, no agent left, no error.
. /kt/tests/lib.sh

sid_of_alice() { alice_sessions | awk '{ print $1; exit }'; }
by_logind() { # NAME loginctl-ARGS...
	_n=$1
	shift
	journal_mark "$KT_TMP/cur"
	ssh_pw t alice password
	check "$_n: open" wait_for 90 vol_open
	_s=$(sid_of_alice)
	_t=$(uptime_s)
	# shellcheck disable=SC2046
	loginctl "$@" $( [ "$1" = terminate-session ] && echo "$_s" )
	if wait_for 60 vol_locked; then
		ok "$_n: locked ($(since "$_t") s)"
	else
		not_ok "$_n: locked"
		why_not_locked
	fi
	_e=$(keyturn_errors "$KT_TMP/cur")
	check "$_n: nothing at err from keyturn in the journal" test -z "$_e"
	[ -n "$_e" ] && echo "$_e" | head -5 | sed 's/^/# journal: /'
	rm -f "$KT_TMP"/end-t "$KT_TMP"/in-t
	wait_for 20 no_alice_session
}
by_logind "loginctl terminate-session" terminate-session
by_logind "loginctl terminate-user" terminate-user alice

kill_user_processes() { # yes|no
	mkdir -p /etc/systemd/logind.conf.d
	printf '[Login]\nKillUserProcesses=%s\n' "$1" > /etc/systemd/logind.conf.d/kt.conf
	systemctl restart systemd-logind
	sleep 1
	journal_mark "$KT_TMP/cur"
	SSHPASS=$(pw_of alice) setsid sshpass -e ssh $SSH_OPTS -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password alice@127.0.0.1 \
		"cd /; setsid sleep 600 > /dev/null 2>&1 < /dev/null & $(hold_cmd k$1)" \
		> "$KT_TMP/ssh-k$1.out" 2>&1 < /dev/null &
	check "KillUserProcesses=$1: open" wait_for 90 vol_open
	_t=$(uptime_s)
	end_session "k$1"
	if wait_for 60 vol_locked; then
		ok "KillUserProcesses=$1: locked at logout ($(since "$_t") s)"
	else
		not_ok "KillUserProcesses=$1: locked at logout"
		why_not_locked
	fi
	sleep 1
	if [ "$1" = yes ]; then
		check "KillUserProcesses=yes: the process left behind was killed" \
			wait_for 20 sh -c "! pgrep -u alice -x sleep"
	else
		check "KillUserProcesses=no: the process left behind runs on" \
			pgrep -u alice -x sleep
	fi
	_e=$(keyturn_errors "$KT_TMP/cur")
	check "KillUserProcesses=$1: nothing at err from keyturn in the journal" test -z "$_e"
	[ -n "$_e" ] && echo "$_e" | head -5 | sed 's/^/# journal: /'
	pkill -u alice -x sleep
	wait_for 20 no_alice_session
}
kill_user_processes yes
kill_user_processes no
rm -f /etc/systemd/logind.conf.d/kt.conf
systemctl restart systemd-logind
exit 0
