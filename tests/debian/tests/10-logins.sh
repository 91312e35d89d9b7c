#!/bin/sh
# Every login program of a Debian system opens alice's volume and its end
# locks it: OpenSSH by password, by keyboard-interactive, by public key then
# keyturnctl unlock; login(1) on a pty; su(1) from another user.
. /kt/tests/lib.sh

open_and_close "ssh password" sshpw ssh_pw sshpw alice password

# keyboard-interactive as an admin turns it on (two-factor setups need it):
# sshd runs PAM's authentication in a child of the process that opens the
# session.
sed -i 's/^#*KbdInteractiveAuthentication.*/KbdInteractiveAuthentication yes/' /etc/ssh/sshd_config
grep -q '^KbdInteractiveAuthentication yes' /etc/ssh/sshd_config ||
	echo 'KbdInteractiveAuthentication yes' >> /etc/ssh/sshd_config
systemctl restart ssh
wait_for 30 sh -c "ss -ltn | grep -q ':22 '"
open_and_close "ssh keyboard-interactive" sshkbd ssh_pw sshkbd alice keyboard-interactive

# by key: no password, the volume stays locked until keyturnctl unlock.
# keyturnctl is in /usr/bin, on the PATH sshd gives a user's command, so
# the user runs it by name as the README says.
unlock_by_key() {
	pw_of alice | setsid ssh $SSH_OPTS -i /root/id-alice \
		-o PreferredAuthentications=publickey alice@127.0.0.1 \
		"sleep 2; mountpoint -q $MNT && echo OPEN-BEFORE-UNLOCK;
		keyturnctl unlock --stdin; $(hold_cmd sshkey)" \
		> "$KT_TMP/ssh-sshkey.out" 2>&1 &
}
open_and_close "ssh key + keyturnctl unlock" sshkey unlock_by_key
check "ssh key: locked until keyturnctl unlock" \
	sh -c "! grep -q OPEN-BEFORE-UNLOCK $KT_TMP/ssh-sshkey.out"

open_and_close "login on a pty" login login_pty login alice
open_and_close "su from bob" su su_as su bob alice
exit 0
