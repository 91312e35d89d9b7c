#!/bin/sh
# keyturn demo (run inside the test VM by /init, mode demo): a login unlocks a
# LUKS2 volume, mounts an eCryptfs private directory and unlocks an fscrypt
# directory with the login password; the logout locks all three again.
. /kt/tests/lib.sh

say() { echo; echo ">> $*"; }
show() { echo "   \$ $*"; "$@" 2>&1 | sed 's/^/     /'; }
fail() { not_ok "demo: $*"; finish; exit 1; }

for f in /lib/x86_64-linux-gnu/security/pam_keyturn.so \
	/usr/libexec/keyturn/keyturn-agent /usr/bin/keyturnctl; do
	[ -e "$f" ] ||
		fail "keyturn is not installed in the image ($f missing; ${KT_BUILD_MSG:-})"
done

APW=$(pw_of alice)
IMG=/tmp/alice-home.img
MNT=/home/alice/vault

say "The admin makes a LUKS2 volume for alice (ext4 inside, owned by her)"
make_luks_volume "$IMG" 48 "alice-Volume-pw" 1001:1001 ||
	fail "cannot make the volume"
LOOP=$(losetup -f) && losetup "$LOOP" "$IMG" || fail "losetup"
echo "   $LOOP: LUKS2, argon2id, one passphrase keyslot"

say "...and enrolls alice's login password (keyslot + luks2-keyring token)"
echo "   \$ keyturnctl enroll luks $LOOP --user alice --stdin   (passphrases on stdin)"
printf '%s\n%s\n' "alice-Volume-pw" "$APW" |
	keyturnctl enroll luks "$LOOP" --user alice --stdin \
	--pbkdf-memory 32768 --pbkdf-iterations 4 2>&1 | sed 's/^/     /'
mkdir -p "$MNT" && chown alice:alice "$MNT" && chmod 0700 "$MNT"

say "...and gives her an eCryptfs private directory, its mount passphrase wrapped
   with her login password (Argon2id + XChaCha20-Poly1305)"
echo "   \$ keyturnctl enroll ecryptfs --user alice --stdin   (login password on stdin)"
# Cheap Argon2id: this is software emulation.
printf '%s\n' "$APW" | keyturnctl enroll ecryptfs --user alice --stdin \
	--argon2-ms 100 --argon2-memory 16384 2>&1 | sed 's/^/     /'
PRIV=/home/alice/Private

say "...and an fscrypt directory on an ext4 made with -O encrypt: a v2 policy,
   a random key wrapped with her login password the same way"
dd if=/dev/zero of=/tmp/enc.img bs=1M count=0 seek=64 2>/dev/null
/sbin/mke2fs -q -t ext4 -O encrypt -F /tmp/enc.img > /dev/null 2>&1 || fail "mke2fs"
ELOOP=$(losetup -f) && losetup "$ELOOP" /tmp/enc.img || fail "losetup"
mkdir -p /srv/enc && mount -t ext4 "$ELOOP" /srv/enc || fail "mount /srv/enc"
SECRET=/srv/enc/alice/Secret
mkdir -p "$SECRET" && chown alice:alice /srv/enc/alice "$SECRET" &&
	chmod 0700 /srv/enc/alice "$SECRET"
echo "   \$ keyturnctl enroll fscrypt $SECRET --user alice --stdin"
printf '%s\n' "$APW" | keyturnctl enroll fscrypt "$SECRET" --user alice \
	--stdin --argon2-ms 100 --argon2-memory 16384 2>&1 |
	sed -n '/^Encrypted\|^Wrapped/s/^/     /p'
fscrypt_state() {
	keyturnctl status --user alice 2>/dev/null |
		awk '$1 == "state:" && seen { print $2; exit } /fscrypt/ { seen = 1 }'
}
cat > /etc/security/keyturn.conf <<EOF
[volume home]
user = alice
type = luks2
device = $LOOP
name = home-%u
mountpoint = /home/%u/vault

[volume private]
user = alice
type = ecryptfs
source = %h/.Private
mountpoint = %h/Private
wrapped = %h/.ecryptfs/keyturn-wrapped

[volume secret]
user = alice
type = fscrypt
directory = /srv/enc/%u/Secret
wrapped = %h/.keyturn/fscrypt-Secret
EOF
chmod 0644 /etc/security/keyturn.conf
echo "   /etc/security/keyturn.conf:"
sed 's/^/     | /' /etc/security/keyturn.conf
echo "   /etc/pam.d/kt-test:"
sed 's/^/     | /' /etc/pam.d/kt-test

say "Before the login: nothing is open"
show dmsetup ls --target crypt
show lsblk -o NAME,TYPE,SIZE,MOUNTPOINT "$LOOP"

say "alice logs in (kt-login, a real PAM application; password on stdin)"
mark=$(syslog_mark)
t0=$(uptime_s)
login_bg kt-test alice "$APW" demo || fail "the login did not open a session"
echo "   session open in $(awk -v a="$t0" -v b="$(uptime_s)" \
	'BEGIN { printf "%.1f", b - a }') s (software-emulated CPU)"
show dmsetup ls --target crypt
show lsblk -o NAME,TYPE,SIZE,MOUNTPOINT "$LOOP"
echo "   mount lines:"
mount_line "$MNT" | sed 's/^/     /'
mount_line "$PRIV" | sed 's/^/     /'
echo "   pam_keyturn in syslog:"
syslog_since "$mark" | grep pam_keyturn | sed 's/^.*kt-login/     kt-login/'

say "alice writes a file in her volume and one in her private directory"
su -s /bin/sh alice -c "echo 'hello from alice' > $MNT/note.txt" ||
	not_ok "demo: alice cannot write to $MNT"
su -s /bin/sh alice -c "echo 'private words of alice' > $PRIV/diary.txt" ||
	not_ok "demo: alice cannot write to $PRIV"
su -s /bin/sh alice -c "echo 'secret words of alice' > $SECRET/plan.txt" ||
	not_ok "demo: alice cannot write to $SECRET"
show ls -l "$MNT" "$PRIV" "$SECRET"
show cat "$MNT/note.txt" "$PRIV/diary.txt"
echo "   what is on disk, in /home/alice/.Private (names and contents encrypted):"
ls /home/alice/.Private | sed 's/^/     /'
dm_exists home-alice && is_mounted "$MNT" && ok "demo: login unlocked and mounted the volume" ||
	not_ok "demo: login unlocked and mounted the volume"
mount_line "$PRIV" | grep -q ' ecryptfs ' &&
	ok "demo: login mounted the eCryptfs private directory" ||
	not_ok "demo: login mounted the eCryptfs private directory"
[ "$(fscrypt_state)" = open ] &&
	ok "demo: login unlocked the fscrypt directory (key in the filesystem)" ||
	not_ok "demo: login unlocked the fscrypt directory (key in the filesystem)"

say "alice logs out"
mark=$(syslog_mark)
release demo
echo "   kt-login exit status $?"
wait_until 5 not_mounted "$MNT"
wait_until 5 not_mounted "$PRIV"
show dmsetup ls --target crypt
show lsblk -o NAME,TYPE,SIZE,MOUNTPOINT "$LOOP"
echo "   mount lines: $(mount_line "$MNT")$(mount_line "$PRIV")(none)"
echo "   keyturn keys in /proc/keys: $(grep -c 'keyturn:' /proc/keys)"
echo "   eCryptfs auth tokens in /proc/keys: $(grep -c ' user .*: 740$' /proc/keys)"
echo "   grep 'private words' in /home/alice/.Private: $(grep -rlF 'private words' /home/alice/.Private | wc -l) files"
echo "   $SECRET after the logout (names encrypted):"
ls "$SECRET" | sed 's/^/     /'
echo "   pam_keyturn in syslog:"
syslog_since "$mark" | grep pam_keyturn | sed 's/^.*kt-login/     kt-login/'
[ "$(fscrypt_state)" = locked ] && [ ! -e "$SECRET/plan.txt" ] &&
	ok "demo: logout removed the fscrypt key: names and contents encrypted" ||
	not_ok "demo: logout removed the fscrypt key: names and contents encrypted"
if dm_gone home-alice && not_mounted "$MNT" && not_mounted "$PRIV" &&
	no_keys_matching 'keyturn:' && no_keys_matching ': 740$'
then
	ok "demo: logout locked the volume, unmounted the private directory and left no key"
else
	not_ok "demo: logout locked the volume, unmounted the private directory and left no key"
fi
losetup -d "$LOOP"
finish
