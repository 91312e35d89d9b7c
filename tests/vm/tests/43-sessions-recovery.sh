#!/bin/sh
# Sessions that behave (issue 4): logins that bring no password reuse an
# open volume or leave it locked for keyturnctl unlock; an agent killed with
# SIGKILL is recovered by the next login and keyturnctl lock locks by hand;
# skipped services start no agent; a hung agent holds the login no longer
# than unlock_timeout.
. /kt/tests/lib.sh
. /kt/tests/sessions-lib.sh

installed || { finish; exit 1; }
T_FILE=$(now)
ses_setup alice || { ses_cleanup; finish; exit 1; }
diag "alice's volume ready in $(since "$T_FILE") s"
check "keyturnctl check accepts the config" keyturnctl check --user alice
APW=$(pw_of alice)
keys0=$(root_keys)

# ---- logins that bring no password ------------------------------------------------
start_login "$SVC" alice "$APW" na1
wait_until 60 in_or_ended na1
check "alice logs in with her password: volume open" vol_open alice
mark=$(syslog_mark)
start_login -n "$SVC" alice "" na2
wait_until 60 in_or_ended na2
check "no-password login while the volume is open: session opens" session_in na2
check "...: pam_keyturn logged the volume reused" \
	logged "$mark" "pam_keyturn.*ses-alice.*reused"
check "...: alice reads her volume" as_user alice "cat /home/alice/vault/held"
end_session na2
check_eq "...: logs out (exit 0)" 0 "$RC"
check "...: the other session keeps the volume open" vol_open alice
end_session na1
check_eq "the password session logs out last (exit 0)" 0 "$RC"
check "...: locked" vol_locked alice

mark=$(syslog_mark)
t0=$(now)
start_login -n "$SVC" alice "" nb
wait_until 60 in_or_ended nb
check "no-password login, volume locked: the login is allowed" session_in nb
session_in nb && diag "session open after" \
	"$(awk -v a="$t0" -v b="$(session_t nb)" 'BEGIN { printf "%.2f", b - a }') s"
check "...: the volume stays locked" vol_locked alice
if syslog_since "$mark" | grep 'pam_keyturn' | grep -iE 'passphrase|password' \
	> "$KT_TMP/why"; then
	ok "...: pam_keyturn logged why"
	diag_file "$KT_TMP/why" 3
else
	not_ok "...: pam_keyturn logged why"
	syslog_since "$mark" | tail -n 8 | sed 's/^/#   /'
fi
check "...: nothing prompted (kt-login answered no prompt)" \
	sh -c "! grep -q 'unanswered prompt' $KT_TMP/nb.err"
printf 'not-the-pw\n' |
	su -s /bin/sh alice -c '/usr/bin/keyturnctl unlock --stdin' \
	> "$KT_TMP/unlock" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q '^ses-alice: failed' "$KT_TMP/unlock"; then
	ok "keyturnctl unlock with a wrong password: the agent says failed"
else
	not_ok "keyturnctl unlock with a wrong password: the agent says failed"
	diag "exit $rc"
	diag_file "$KT_TMP/unlock" 3
	diag "$(ls -ld /run/keyturn /run/keyturn/"$(id -u alice)" 2>&1 | tr '\n' ';')"
	diag "$(ls -l /run/keyturn/"$(id -u alice)" 2>&1 | tr '\n' ';')"
fi
check "...: still locked" vol_locked alice
check_fails "bob cannot unlock alice's volumes" \
	sh -c "printf '%s\n' '$APW' | su -s /bin/sh bob -c '/usr/bin/keyturnctl unlock --user alice --stdin'"
t0=$(now)
printf '%s\n' "$APW" |
	su -s /bin/sh alice -c '/usr/bin/keyturnctl unlock --stdin' \
	> "$KT_TMP/unlock" 2>&1
check_eq "alice: keyturnctl unlock (her password on stdin) exit 0" 0 "$?"
diag "keyturnctl unlock took $(since "$t0") s"
diag_file "$KT_TMP/unlock" 3
check "...: the volume is open" vol_open alice
check "...: the session's user reads it" as_user alice "cat /home/alice/vault/held"
end_session nb
check_eq "the no-password session logs out (exit 0)" 0 "$RC"
check "...: locked" vol_locked alice
check "...: no agent left" wait_until 5 no_agents alice
check "...: root's keys back to $keys0 (/proc/key-users)" \
	wait_until 10 root_keys_le "$keys0"

# ---- the agent killed ------------------------------------------------------------------
start_login "$SVC" alice "$APW" k1
wait_until 60 in_or_ended k1
check "a session whose agent will die: volume open" vol_open alice
pa=$(agents alice)
[ -n "$pa" ] && kill -KILL $pa
diag "killed the agent (pid $pa) with SIGKILL"
check "...: the agent is gone" wait_until 5 no_agents alice
check "...: the volume stays open" vol_open alice
mark=$(syslog_mark)
start_login "$SVC" alice "$APW" k2
wait_until 60 in_or_ended k2
check "the next login recovers: session opens" session_in k2
check "...: the open volume is reused" logged "$mark" "pam_keyturn.*ses-alice.*reused"
if syslog_since "$mark" | grep -iE 'keyturn.*(fail|error)' > "$KT_TMP/errs"; then
	not_ok "...: no error logged"
	diag_file "$KT_TMP/errs" 5
else
	ok "...: no error logged"
fi
check_fails "keyturnctl lock --user alice refuses while a session is open" \
	keyturnctl lock --user alice
check "...: still open" vol_open alice
end_session k1
check_eq "the session of the dead agent logs out (exit 0)" 0 "$RC"
diag_file "$KT_TMP/k1.err" 3
check "...: the volume stays open for the other session" vol_open alice
end_session k2
check_eq "the last session logs out (exit 0)" 0 "$RC"
check "...: locked" vol_locked alice

start_login "$SVC" alice "$APW" k3
wait_until 60 in_or_ended k3
pa=$(agents alice)
[ -n "$pa" ] && kill -KILL $pa
wait_until 5 no_agents alice
end_session k3
check_eq "a session whose agent was killed logs out (exit 0)" 0 "$RC"
check "...: nobody is left to lock: the volume is open" vol_open alice
keyturnctl lock --user alice > "$KT_TMP/lock" 2>&1
check_eq "keyturnctl lock --user alice: exit 0" 0 "$?"
diag_file "$KT_TMP/lock" 3
check "...: locked" vol_locked alice
check "...: no agent left" no_agents
diag "left in /run/keyturn/$(id -u alice): $(ls /run/keyturn/"$(id -u alice)" | tr '\n' ' ')"

# ---- services keyturn skips ---------------------------------------------------------
for s in cron kt-skipme kt-other; do
	cp /etc/pam.d/kt-test "/etc/pam.d/$s"
done
skipped() { # SERVICE WHY
	start_login "$1" alice "$APW" "skip-$1"
	wait_until 60 in_or_ended "skip-$1"
	_a=$(agents alice)
	_st=$(vol_state alice)
	end_session "skip-$1"
	if [ "$RC" = 0 ] && [ -z "$_a" ] && [ "$_st" = locked ]; then
		ok "service $1 ($2): login ok, no agent, volume locked"
	else
		not_ok "service $1 ($2): login ok, no agent, volume locked"
		diag "kt-login exit $RC, agents: '$_a', volume $_st"
		diag_file "$KT_TMP/skip-$1.err" 3
	fi
}
skipped cron "skipped by default"
ses_conf "skip_services = kt-skipme"
skipped kt-skipme "in skip_services"
ses_conf "services = kt-test"
skipped kt-other "not in services"
ses_conf
rm -f /etc/pam.d/cron /etc/pam.d/kt-skipme /etc/pam.d/kt-other

# ---- a hung agent: the login waits no longer than unlock_timeout --------------------
BOUND=3
SLACK=2
ses_conf "unlock_timeout = $BOUND"
lockfile=/run/keyturn/$(id -u alice)/lock
ino=$(stat -c %i "$lockfile" 2>/dev/null)
check "alice's lock file exists ($lockfile)" test -n "$ino"
# catch_agent: stops the agent that holds alice's lock (one awk per poll:
# the window is the ~2 s of the unlock)
catch_agent() {
	_p=$(awk -v i=":$ino\$" \
		'$2 == "FLOCK" && $4 == "WRITE" && $6 ~ i { print $5; exit }' \
		/proc/locks)
	[ -n "$_p" ] && [ "$(tr '\0' '\n' < "/proc/$_p/cmdline" 2>/dev/null |
		head -n 1)" = keyturn-agent ] ||
		return 1
	kill -STOP "$_p" && echo "$_p" > "$KT_TMP/stopped"
}
mark=$(syslog_mark)
rm -f "$KT_TMP/stopped"
t0=$(now)
start_login "$SVC" alice "$APW" h1
wait_until 20 catch_agent
stopped=$(cat "$KT_TMP/stopped" 2>/dev/null)
check "alice's agent stopped (SIGSTOP) while it unlocks under her lock" \
	test -n "$stopped"
wait_until 30 in_or_ended h1
t=$(awk -v a="$t0" -v b="$(session_t h1 2>/dev/null || now)" \
	'BEGIN { printf "%.2f", b - a }')
check "the login of the stopped agent goes on: session opens" session_in h1
check "...within unlock_timeout ($BOUND s) + $SLACK s: took $t s" \
	le "$t" $((BOUND + SLACK))
diag "volume at the session's start: $(vol_state alice)"
t0=$(now)
start_login "$SVC" alice "$APW" h2
wait_until 30 in_or_ended h2
t=$(awk -v a="$t0" -v b="$(session_t h2 2>/dev/null || now)" \
	'BEGIN { printf "%.2f", b - a }')
check "a second login, its agent waiting for the stopped one: session opens" \
	session_in h2
check "...within unlock_timeout ($BOUND s) + $SLACK s: took $t s" \
	le "$t" $((BOUND + SLACK))
t0=$(now)
end_session h2
t=$(since "$t0")
check "its logout (agent still waiting) returns in $t s, exit $RC" \
	sh -c "[ $RC = 0 ] && awk 'BEGIN { exit !($t <= $BOUND + $SLACK) }'"
t0=$(now)
end_session h1
t=$(since "$t0")
check "the logout of the stopped agent's session returns in $t s, exit $RC" \
	sh -c "[ $RC = 0 ] && awk 'BEGIN { exit !($t <= $BOUND + $SLACK) }'"
if syslog_since "$mark" | grep 'pam_keyturn' | grep -iE 'time' > "$KT_TMP/to"; then
	ok "pam_keyturn logged the timeouts"
	diag_file "$KT_TMP/to" 4
else
	not_ok "pam_keyturn logged the timeouts"
	syslog_since "$mark" | grep keyturn | tail -n 8 | sed 's/^/#   /'
fi
[ -n "$stopped" ] && kill -CONT "$stopped"
t0=$(now)
settled() { vol_locked alice && no_agents alice; }
check "after SIGCONT the agents finish their work and lock" \
	wait_until 30 settled
diag "locked $(since "$t0") s after SIGCONT; volume $(vol_state alice)"
ses_conf

# ---- nothing left ---------------------------------------------------------------------
check "no agent left" wait_until 5 no_agents
check "no ses-* dm device left" sh -c "! dmsetup ls | grep -q '^ses-'"
check "nothing mounted on a vault" sh -c "! grep -q '/vault ' /proc/mounts"
check "root's keys back to $keys0 (/proc/key-users)" \
	wait_until 10 root_keys_le "$keys0"
ses_cleanup
diag "43-sessions-recovery: $(since "$T_FILE") s"
finish
