#!/bin/sh
# An fscrypt directory on a real Debian system: carol's empty directory on an
# ext4 made with -O encrypt, enrolled with keyturnctl from the package. The
# real login programs add its key at login: OpenSSH by password, login(1) on
# a pty, su from bob beside an ssh session; the session's own command writes
# into it. The end of the last session removes the key: the kernel says
# locked (keyturnctl status reads FS_IOC_GET_ENCRYPTION_KEY_STATUS), the
# names are encrypted again, no agent and no keyturn key is left.
. /kt/tests/lib.sh

CPW=$(pw_of carol)
ENC=/srv/enc
SD=$ENC/carol/Secret

if [ ! -e /sys/fs/ext4/features/encryption ]; then
	skip "fscrypt directories" "this kernel's ext4 has no encryption"
	exit 0
fi

# ---- the filesystem, the enrollment, the config ---------------------------------
# (a loop file: the same ext4 code as a disk, and no disk of the image to
# change for it)
img=/var/tmp/kt-enc.img
truncate -s 64M "$img"
mkdir -p "$ENC"
mke2fs -q -t ext4 -O encrypt -F "$img" > "$KT_TMP/mkfs" 2>&1 &&
	mount -o loop "$img" "$ENC"
check "an ext4 mounted on $ENC" is_mounted "$ENC"
check "...with the encrypt feature" \
	sh -c "dumpe2fs -h '$img' 2>/dev/null | grep -q '^Filesystem features:.* encrypt'"
diag_file "$KT_TMP/mkfs" 3
install -d -o carol -g carol -m 0700 "$ENC/carol" "$SD"
cp /etc/security/keyturn.conf "$KT_TMP/keyturn.conf"
printf '%s\n' "$CPW" | keyturnctl enroll fscrypt "$SD" --user carol --stdin \
	--argon2-ms 100 --argon2-memory 16384 > "$KT_TMP/enroll" 2>&1
check "keyturnctl enroll fscrypt $SD --user carol" test $? = 0
diag_file "$KT_TMP/enroll" 4
cat >> /etc/security/keyturn.conf <<EOT

[volume secret]
user = carol
type = fscrypt
directory = $ENC/%u/Secret
wrapped = %h/.keyturn/fscrypt-Secret
EOT
check "keyturnctl check --user carol" keyturnctl check --user carol

# ---- what the system says of carol's directory ----------------------------------
state() { keyturnctl status --user carol 2>/dev/null | awk '$1 == "state:" { print $2; exit }'; }
dir_open() { [ "$(state)" = open ]; }
# locked: the kernel has no key, the names are encrypted (no plain name
# of what the sessions wrote), no agent, no keyturn key
no_plain_name() {
	for _f in "$SD"/written-*; do [ -e "$_f" ] && return 1; done
	return 0
}
dir_locked() {
	[ "$(state)" = locked ] && [ -z "$(agents)" ] && [ -z "$(keyturn_keys)" ] &&
		no_plain_name
}
check "after enrollment: locked" dir_locked

# the session's own command writes into the directory, then holds
write_hold() { # TAG
	echo "echo by-$1 > $SD/written-$1; $(hold_cmd "$1")"
}
ssh_carol() { # TAG
	SSHPASS=$CPW setsid sshpass -e ssh $SSH_OPTS -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password carol@127.0.0.1 \
		"$(write_hold "$1")" > "$KT_TMP/ssh-$1.out" 2>&1 < /dev/null &
}
login_carol() { # TAG
	KT_PW=$CPW KT_HOLD="$(write_hold "$1"); exit" setsid \
		expect /kt/tests/login.exp carol \
		> "$KT_TMP/expect-$1.out" 2>&1 < /dev/null &
}
su_carol() { # TAG: bob runs "su carol -c ..." on a pty
	expect_pw "$1" "$CPW" setpriv --reuid bob --regid bob --init-groups \
		--reset-env su carol -c "$(write_hold "$1")"
}
opened() { # NAME TAG T0: open, and what the session wrote reads back
	if wait_for 90 dir_open; then
		ok "$1: the directory is open during the session ($(since "$3") s)"
	else
		not_ok "$1: the directory is open during the session"
		diag_file "$KT_TMP/ssh-$2.out" 5
		diag_file "$KT_TMP/expect-$2.out" 5
		journal_since "$KT_TMP/cur" | grep -iE 'keyturn' | tail -5 | sed 's/^/# journal: /'
	fi
	check "$1: the session wrote into it, root reads it back" \
		wait_for 30 grep -qx "by-$2" "$SD/written-$2"
}
closed() { # NAME T1: locked after the last session
	if wait_for 60 dir_locked; then
		ok "$1: locked after logout (no key in the kernel, names encrypted, no agent; $(since "$2") s)"
	else
		not_ok "$1: locked after logout"
		diag "state $(state); agents: $(agents | tr '\n' ' '); names: $(ls "$SD" | head -3 | tr '\n' ' ')"
		keyturn_keys | sed 's/^/# key: /'
		keyturnctl lock --user carol --force > /dev/null 2>&1
	fi
	_e=$(keyturn_errors "$KT_TMP/cur")
	check "$1: nothing at err from keyturn in the journal" test -z "$_e"
	[ -n "$_e" ] && echo "$_e" | head -5 | sed 's/^/# journal: /'
	wait_for 20 sh -c "! loginctl list-sessions --no-legend | grep ' carol ' | grep -qv ' manager'"
}
one_session() { # NAME TAG START-FUNCTION
	journal_mark "$KT_TMP/cur"
	_t0=$(uptime_s)
	"$3" "$2"
	opened "$1" "$2" "$_t0"
	_t1=$(uptime_s)
	end_session "$2"
	closed "$1" "$_t1"
}

one_session "fscrypt, ssh password" fssh ssh_carol
one_session "fscrypt, login on a pty" flogin login_carol

# two sessions: su from bob beside an ssh session; the first end keeps it
journal_mark "$KT_TMP/cur"
t=$(uptime_s)
ssh_carol fa
opened "fscrypt, ssh beside su" fa "$t"
t=$(uptime_s)
su_carol fb
check "fscrypt, su from bob: its session wrote into it" \
	wait_for 90 grep -qx by-fb "$SD/written-fb"
end_session fb
check "fscrypt, su's end: pam_keyturn kept the directory for the ssh session" \
	wait_for 30 sh -c "journalctl -q --after-cursor='$(cat "$KT_TMP/cur")' |
		grep -q 'pam_keyturn(su:session).*secret.*kept'"
check "fscrypt, su's end: still open" dir_open
t=$(uptime_s)
end_session fa
closed "fscrypt, the last of two sessions" "$t"
check "locked: carol's files are not readable by their names" \
	sh -c "! cat '$SD/written-fssh' 2>/dev/null"

# the tests after this one know only alice's volume: carol's directory,
# her wrapped key and the config's section go (the purge test looks for
# any file named *keyturn* left)
umount "$ENC" && rm -f "$img"
rm -rf /home/carol/.keyturn
cp "$KT_TMP/keyturn.conf" /etc/security/keyturn.conf
exit 0
