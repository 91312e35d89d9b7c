#!/bin/sh
# The package leaves as Debian's PAM modules do: prerm takes pam_keyturn out
# of /etc/pam.d with pam-auth-update, purge removes the conffile; nothing of
# keyturn is left on the system, and logins keep working.
. /kt/tests/lib.sh

dpkg --purge keyturn > "$KT_TMP/purge" 2>&1
check "dpkg --purge keyturn" test $? = 0
diag_file "$KT_TMP/purge" 4
check "dpkg knows no keyturn" sh -c "! dpkg -l keyturn 2>/dev/null | grep -q '^[a-z][a-z] '"
check "no file of dpkg's database names keyturn" sh -c "! dpkg -S keyturn 2>/dev/null"
check "pam_keyturn in no file of /etc/pam.d" sh -c "! grep -rl pam_keyturn /etc/pam.d"
check "keyturn in no state of pam-auth-update (/var/lib/pam)" sh -c "! grep -rl keyturn /var/lib/pam"
left=$(find / -xdev \( -path /kt -o -path /proc -o -path /sys -o -path /root \) -prune -o \
	-name '*keyturn*' -print 2>/dev/null | grep -v "^$KT_TMP" | grep -v '^/var/log/journal')
check "no file named *keyturn* left" test -z "$left"
[ -n "$left" ] && echo "$left" | head -5 | sed 's/^/# left: /'
t=$(uptime_s)
SSHPASS=$(pw_of alice) sshpass -e ssh $SSH_OPTS -o PubkeyAuthentication=no \
	-o PreferredAuthentications=password alice@127.0.0.1 true < /dev/null
check "an ssh login still works without keyturn ($(since "$t") s)" test $? = 0
exit 0
