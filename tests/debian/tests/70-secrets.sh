#!/bin/sh
# The secrets canary, after every login program of the tests before: alice's
# login password is in no memory of an agent during a session, in no file
# under /run, /var, /tmp, and in no journal line.
. /kt/tests/lib.sh

APW=$(pw_of alice)
ssh_pw s alice password
check "a session: open" wait_for 90 vol_open
# the agent of the session, waiting in keyturn-hold, and while it worked
for a in $(agents); do
	printf '%s\n' "$APW" | /kt/kt-memscan "$a" > "$KT_TMP/scan" 2>&1
	rc=$?
	check "the password is in no memory of agent $a (kt-memscan exit $rc)" test "$rc" = 0
	[ "$rc" = 0 ] || diag_file "$KT_TMP/scan" 4
done
# the PAM host: sshd's process of the session (privileged monitor and
# the user's), for the record: OpenSSH's own handling of the password
for p in $(pgrep -f 'sshd: alice'); do
	printf '%s\n' "$APW" | /kt/kt-memscan "$p" > "$KT_TMP/scan" 2>&1
	diag "sshd pid $p ($(tr '\0' ' ' < /proc/$p/cmdline)): kt-memscan exit $? ($(grep -c '^found' "$KT_TMP/scan") mappings with it)"
done
end_session s
check "locked" wait_for 60 vol_locked
printf '%s\n' "$APW" | /kt/kt-memscan -f /run /var /tmp > "$KT_TMP/scan" 2>&1
rc=$?
check "the password is in no file under /run, /var, /tmp (exit $rc; $(tail -n 1 "$KT_TMP/scan"))" test "$rc" = 0
[ "$rc" = 0 ] || grep '^found' "$KT_TMP/scan" | head -5 | sed 's/^/# /'
journalctl --flush 2>/dev/null
n=$(journalctl -q --no-pager -o cat | grep -cF "$APW")
check "the password is in no journal line ($(journalctl -q --no-pager | wc -l) lines)" test "$n" = 0
exit 0
