#!/bin/sh
# keyturn installed as an admin would: the package of this release with
# dpkg, enabled with pam-auth-update; a LUKS2 volume for alice on the second
# disk, enrolled with keyturnctl. Every later test needs this one.
. /kt/tests/lib.sh

DEB=$(ls /kt/keyturn_*_amd64.deb)
dpkg -i "$DEB" > "$KT_TMP/dpkg" 2>&1
rc=$?
check "dpkg -i $(basename "$DEB") (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || diag_file "$KT_TMP/dpkg"

SECDIR=$(dirname "$(dpkg -L libpam-modules | grep '/pam_unix\.so$' | head -1)")
for f in "$SECDIR/pam_keyturn.so" /usr/libexec/keyturn/keyturn-agent \
	/usr/libexec/keyturn/keyturn-hold /usr/bin/keyturnctl \
	/usr/share/pam-configs/keyturn /usr/share/man/man8/keyturnctl.8.gz \
	/usr/share/man/man5/keyturn.conf.5.gz /etc/security/keyturn.conf; do
	check "the package installs $f" sh -c "dpkg -S '$f' | grep -q '^keyturn:'"
done
check "/etc/security/keyturn.conf is a conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' keyturn | grep -q ' /etc/security/keyturn.conf '"
check "postinst registered the profile, not enabled (Default: no)" \
	sh -c "! grep -q pam_keyturn /etc/pam.d/common-session"

pam-auth-update --enable keyturn > "$KT_TMP/pau" 2>&1
check "pam-auth-update --enable keyturn" test $? = 0
for s in auth session password; do
	check "pam_keyturn in /etc/pam.d/common-$s" grep -q pam_keyturn.so "/etc/pam.d/common-$s"
done
diag "common-session: $(grep -v '^#' /etc/pam.d/common-session | grep . | awk '{ print $1, $2, $3 }' | tr '\n' ';')"

# The volume: LUKS2 with a fast KDF (software emulation), ext4 owned by alice.
VPW=alice-Volume-pw
KDF="--pbkdf argon2id --pbkdf-force-iterations 4 --pbkdf-memory 32768"
# shellcheck disable=SC2086
printf '%s' "$VPW" | cryptsetup luksFormat -q --type luks2 $KDF --key-file=- "$DEV" &&
	printf '%s' "$VPW" | cryptsetup open --key-file=- "$DEV" ktmk &&
	mke2fs -q -t ext4 -E root_owner=1001:1001 /dev/mapper/ktmk &&
	cryptsetup close ktmk
check "a LUKS2 volume with ext4 on $DEV" cryptsetup isLuks "$DEV"
printf '%s\n%s\n' "$VPW" "$(pw_of alice)" |
	keyturnctl enroll luks "$DEV" --user alice --stdin \
	--pbkdf-memory 32768 --pbkdf-iterations 4 > "$KT_TMP/enroll" 2>&1
check "keyturnctl enroll luks $DEV --user alice" test $? = 0
diag_file "$KT_TMP/enroll" 4
check "the luks2-keyring token keyturn:alice" \
	sh -c "cryptsetup luksDump $DEV | grep -q 'keyturn:alice'"
install -d -o alice -g alice -m 0700 "$MNT"
cat > /etc/security/keyturn.conf <<EOT
[defaults]
skip_services = systemd-user cron

[volume home]
user = alice
type = luks2
device = $DEV
name = home-%u
mountpoint = /home/%u/vault
EOT
check "keyturnctl check --user alice" keyturnctl check --user alice
# alice's key for the public-key logins
install -d -o alice -g alice -m 0700 /home/alice/.ssh
ssh-keygen -q -t ed25519 -N '' -f "$KT_TMP/id-alice" -C kt
cat "$KT_TMP/id-alice.pub" > /home/alice/.ssh/authorized_keys
chown alice:alice /home/alice/.ssh/authorized_keys
cp "$KT_TMP/id-alice" "$KT_TMP/id-alice.pub" /root/
check "sshd answers on 127.0.0.1" wait_for 60 sh -c "ss -ltn | grep -q ':22 '"
check "nothing of keyturn runs yet" vol_locked
