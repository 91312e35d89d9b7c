#!/bin/sh
# Two sessions of alice through different programs (ssh, su): the volume
# stays open until the last one ends, and the user manager (user@.service)
# running on does not keep it open.
. /kt/tests/lib.sh

journal_mark "$KT_TMP/cur"
ssh_pw a alice password
check "ssh session: open" wait_for 90 vol_open
su_as b bob alice
# su's own session, seen by keyturn (not logind's count: trixie lists
# the user manager as a session too)
check "su session beside it, keyturn's module ran in it" wait_for 90 sh -c \
	"journalctl -q --after-cursor='$(cat "$KT_TMP/cur")' | grep -q 'pam_keyturn(su:session)'"
dm1=$(dmsetup info -c --noheadings -o uuid "$VOL")
end_session a
wait_for 20 sh -c "journalctl -q --after-cursor='$(cat "$KT_TMP/cur")' | grep -q 'pam_keyturn(sshd:session).*kept'"
sleep 3
check "the ssh session ended, the su session remains: still open" vol_open
check "the same dm device as before" test "$(dmsetup info -c --noheadings -o uuid "$VOL")" = "$dm1"
t=$(uptime_s)
end_session b
if wait_for 60 vol_locked; then
	ok "the last session ended: locked ($(since "$t") s)"
else
	not_ok "the last session ended: locked"
	why_not_locked
fi
um=$(systemctl is-active user@1001.service)
diag "user@1001.service when it was locked: $um"
# logind stops the user manager UserStopDelaySec (10 s) after the last
# session: it was still running when the volume was locked
check "locked while user@1001.service still ran ($um)" \
	sh -c "[ '$um' = active ] || [ '$um' = deactivating ]"
e=$(keyturn_errors "$KT_TMP/cur")
check "nothing at err from keyturn in the journal" test -z "$e"
[ -n "$e" ] && echo "$e" | head -5 | sed 's/^/# journal: /'
wait_for 20 no_alice_session
exit 0
