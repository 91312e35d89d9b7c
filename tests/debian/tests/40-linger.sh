#!/bin/sh
# Lingering: alice's user manager runs on after her last session, with a
# user service that holds a file open in the volume. At logout the volume's
# busy policy (lazy, the default: retries for busy_timeout, then detach)
# applies, and the journal names the process that held it.
. /kt/tests/lib.sh

loginctl enable-linger alice
check "loginctl enable-linger alice" test -e /var/lib/systemd/linger/alice
journal_mark "$KT_TMP/cur"
SSHPASS=$(pw_of alice) setsid sshpass -e ssh $SSH_OPTS -o PubkeyAuthentication=no \
	-o PreferredAuthentications=password alice@127.0.0.1 \
	"echo data > $MNT/held && systemd-run --user --unit=kt-holder \
		sh -c 'exec 3< $MNT/held; exec sleep 600' && $(hold_cmd l)" \
	> "$KT_TMP/ssh-l.out" 2>&1 < /dev/null &
check "open" wait_for 90 vol_open
# root reaches alice's user manager only through her user bus
# (dbus-user-session, not in this image): the holder is found by its
# process, and its cgroup says it is the user service
holder_pid() { pgrep -u alice -x sleep | head -n 1 | grep .; }
check "the user service kt-holder runs" wait_for 30 holder_pid
holder=$(holder_pid)
diag "holder pid ${holder:-?}"
[ -n "$holder" ] || { holder=0; diag_file "$KT_TMP/ssh-l.out" 5; }
check "the holder is alice's user service kt-holder" \
	grep -q 'user@1001.service/.*kt-holder.service' "/proc/$holder/cgroup"
check "the holder has the file in the volume open" \
	sh -c "ls -l /proc/$holder/fd | grep -q '$MNT/held'"
t=$(uptime_s)
end_session l
check "the last session ended, the user manager lingers" \
	wait_for 20 sh -c "! loginctl list-sessions --no-legend | grep ' alice ' |
		grep -v ' manager' | grep -q . &&
		systemctl is-active user@1001.service | grep -qx active"
# busy_timeout 5 s, then detached
if wait_for 60 not_mounted "$MNT"; then
	ok "busy: detached from the mount table ($(since "$t") s)"
else
	not_ok "busy: detached from the mount table"
fi
check "the journal names the holder's pid ($holder)" wait_for 20 sh -c \
	"journalctl -q --after-cursor='$(cat "$KT_TMP/cur")' | grep -E 'busy|held' | grep -qw '$holder'"
journal_since "$KT_TMP/cur" | grep -E 'busy|held' | head -3 | sed 's/^/# journal: /'
check "the holder still runs (lazy does not kill)" kill -0 "$holder"
kill "$holder"
# the device goes when no longer used
check "the holder gone: the dm device is removed" wait_for 60 no_dm "$VOL"
check "no agent left" wait_for 30 no_agents
loginctl disable-linger alice
loginctl terminate-user alice 2>/dev/null
wait_for 30 sh -c "! systemctl is-active user@1001.service | grep -qx active"
if ! vol_locked; then
	why_not_locked
	keyturnctl lock --user alice --force > /dev/null 2>&1
	dmsetup remove "$VOL" 2>/dev/null
fi
e=$(keyturn_errors "$KT_TMP/cur")
[ -n "$e" ] && echo "$e" | head -5 | sed 's/^/# journal at err: /'
exit 0
