#!/bin/sh
# The VM itself, without keyturn: kernel modules, LUKS2 activation through a
# luks2-keyring token from a real session keyring, a pam_unix login.
. /kt/tests/lib.sh

# ---- kernel -----------------------------------------------------------------
for m in dm_mod dm_crypt ext4 ecryptfs loop xts ecb algif_skcipher; do
	check "module $m loaded" grep -q "^$m " /proc/modules
done
check "ext4 and ecryptfs registered" \
	sh -c 'grep -qw ext4 /proc/filesystems && grep -qw ecryptfs /proc/filesystems'
check "device-mapper answers" dmsetup version
check "a session keyring can be joined" keyctl session - keyctl show @s

# ---- LUKS2 through a luks2-keyring token --------------------------------------
IMG=/tmp/infra.img
PW="infra-Volume-pw"
DESC=kt-infra:volume
check "luksFormat LUKS2 (argon2id) with ext4 inside" \
	make_luks_volume "$IMG" 48 "$PW"
check "luks2-keyring token added to keyslot 0" \
	cryptsetup token add --key-description "$DESC" --key-slot 0 "$IMG"
check "cryptsetup sees the luks2-keyring token" \
	sh -c "cryptsetup luksDump '$IMG' | grep -q 'luks2-keyring'"
check_fails "token-only open fails while no key is in the keyring" \
	keyctl session - cryptsetup open --token-only "$IMG" infra
check "dm device absent after the failed open" dm_gone infra

# The key goes into a fresh session keyring, read from stdin; cryptsetup in
# the same session finds it.
cat > "$KT_TMP/open.sh" <<EOF
set -e
printf '%s' "\$1" | keyctl padd user "$DESC" @s >/dev/null
cryptsetup open --token-only "$IMG" infra
keyctl clear @s
EOF
printf '%s\n' "$PW" > "$KT_TMP/pw"
check "token-only open with the key in a real session keyring" \
	keyctl session - sh -c "read -r p < $KT_TMP/pw; sh $KT_TMP/open.sh \"\$p\""
rm -f "$KT_TMP/pw"
check "dm device active" dm_exists infra
check "dm device is crypt" sh -c "dmsetup table infra | grep -q ' crypt '"
mkdir -p /mnt/infra
check "ext4 mounts nosuid,nodev" \
	mount -t ext4 -o nosuid,nodev /dev/mapper/infra /mnt/infra
check "mount options read back" \
	sh -c "awk '\$2 == \"/mnt/infra\" { print \$4 }' /proc/mounts |
		grep -q 'nosuid,nodev'"
check "a file written and read back" \
	sh -c 'echo hello > /mnt/infra/f && sync && [ "$(cat /mnt/infra/f)" = hello ]'
check "unmount" umount /mnt/infra
check "close" cryptsetup close infra
check "dm device gone after close" dm_gone infra
check "no key left in /proc/keys" no_keys_matching "$DESC"
rm -f "$IMG"

# ---- eCryptfs with ecryptfs-utils' auth token ------------------------------------
# The token goes to @u; the kernel finds it through a session keyring that
# links @u (as pam_keyinit makes it).
mkdir -p /tmp/ecr/lower /tmp/ecr/upper
cat > "$KT_TMP/ecr.sh" <<'EOS'
set -e
keyctl link @u @s
sig=$(printf '%s' "infra-Mount-pw" | ecryptfs-add-passphrase - |
	sed -n 's/.*sig \[\([0-9a-f]*\)\].*/\1/p')
[ -n "$sig" ]
mount -t ecryptfs -o "ecryptfs_sig=$sig,ecryptfs_cipher=aes,ecryptfs_key_bytes=16,ecryptfs_unlink_sigs" \
	/tmp/ecr/lower /tmp/ecr/upper
echo plaintext-secret > /tmp/ecr/upper/f
[ "$(cat /tmp/ecr/upper/f)" = plaintext-secret ]
umount /tmp/ecr/upper
keyctl purge user "$sig" >/dev/null
EOS
check "eCryptfs: ecryptfs-add-passphrase token mounts, a file round-trips" \
	keyctl session - sh "$KT_TMP/ecr.sh"
check "eCryptfs: the lower file is encrypted" \
	sh -c '[ -s /tmp/ecr/lower/f ] && ! grep -q plaintext-secret /tmp/ecr/lower/f'
check "eCryptfs: unmounted" not_mounted /tmp/ecr/upper
rm -rf /tmp/ecr

# ---- a real PAM login (pam_unix) ----------------------------------------------
APW=$(pw_of alice)
# open fds of the command, less the one ls opens to list them
login_as kt-infra alice "$APW" /bin/sh -c \
	'echo "$(id -u) $(id -g) $PWD"; exec ls -l /proc/self/fd' \
	> "$KT_TMP/who"
rc=$?
check_eq "pam_unix login of alice with the right password" 0 "$rc"
[ "$rc" = 0 ] || diag_file "$KT_TMP/login.err"
read -r uid gid dir < "$KT_TMP/who"
fds=$(awk 'NR > 1 && $9 != "" && !(NF < 11 || $11 ~ /^\/proc\/[0-9]+\/fd$/) { print $9 }' \
	"$KT_TMP/who" | sort -n | tr '\n' ' ')
fds=${fds% }
[ "$fds" = "0 1 2" ] || diag_file "$KT_TMP/who"
check_eq "the session's command runs as alice" "1001 1001" "$uid $gid"
check_eq "the session's command starts in the home" /home/alice "$dir"
check_eq "the session's command gets fds 0 1 2 only" "0 1 2" "$fds"

login_as kt-infra alice "wrong-$APW" true
check_eq "pam_unix login with a wrong password is refused (exit 10)" 10 "$?"
login_as kt-infra nosuchuser "$APW" true
check_eq "login of an unknown user is refused (exit 10)" 10 "$?"
login_as kt-infra bob "$(pw_of bob)" false
check_eq "a failing command gives exit 13" 13 "$?"
printf '%s\n' "$(pw_of carol)" | kt-login -s kt-infra carol 2>"$KT_TMP/err"
check_eq "a login without a command opens and closes the session" 0 "$?"
check "pam_unix logged the session to syslog" \
	sh -c 'grep -q "session opened for user carol" /var/log/messages'

finish
