#!/bin/sh
# Makes the fscrypt vectors of tests/unit/test_fscrypt_meta.c with the real
# fscrypt tool (Debian package fscrypt; `apt-get download fscrypt` and
# `dpkg -x` are enough) on a kernel with fscrypt on ext4. Run as root:
#
#   unshare -m --propagation private sh make-vectors.sh FSCRYPT OUTDIR
#
# Inside a private mount namespace it builds a root of its own on tmpfs
# (the host's /usr bound in, a copy of /etc), so that fscrypt's
# /etc/fscrypt.conf, /.fscrypt and the test users never reach the host;
# then pivot_root, two ext4 -O encrypt loop images, and:
#   login-*      alice's directory under a login protector (pam_passphrase,
#                password "correct horse"), v2 policy, one file "hello"
#   custom-*     a custom_passphrase protector and its policy (refused)
#   v1-*         bob's login protector and a v1 policy (refused)
#   fscrypt-login.img.xz  the first image, locked, with that file in it
# Argon2id costs are set low (time 2, 8 MiB, 1 lane) so that tests run fast.
set -eu
[ $# -eq 2 ] || { echo "usage: make-vectors.sh FSCRYPT OUTDIR" >&2; exit 2; }
FSCRYPT=$(realpath "$1")
OUT=$(realpath "$2")
W=$(mktemp -d)
NR=$W/root
mkdir -p "$NR" "$OUT"
# $W stays on the host until the namespace ends; remove it by hand.
mount -t tmpfs tmpfs "$NR"
mkdir "$NR/usr" "$NR/proc" "$NR/dev" "$NR/tmp" "$NR/mnt" "$NR/mnt2" \
	"$NR/old" "$NR/out" "$NR/run"
mount --bind /usr "$NR/usr"
for l in bin lib lib64 sbin; do ln -s usr/$l "$NR/$l"; done
cp -a /etc "$NR/etc"
mount --rbind /dev "$NR/dev"
mount -t proc proc "$NR/proc"
mount --bind "$W" "$NR/out"
mkdir "$NR/vectors"
mount --bind "$OUT" "$NR/vectors"
cp "$FSCRYPT" "$NR/tmp/fscrypt"
truncate -s 64M "$W/a.img"; mke2fs -q -t ext4 -O encrypt "$W/a.img"
truncate -s 64M "$W/b.img"; mke2fs -q -t ext4 -O encrypt "$W/b.img"
mount -o loop "$W/a.img" "$NR/mnt"
mount -o loop "$W/b.img" "$NR/mnt2"
cat >"$NR/tmp/inner.sh" <<'INNER'
set -eux
F=/tmp/fscrypt
useradd -m -u 1500 alice
echo 'alice:correct horse' | chpasswd
useradd -m -u 1501 bob
echo 'bob:bob pass' | chpasswd
$F setup --quiet --time=1ms --force </dev/null
sed -i -e 's/"time": "[0-9]*"/"time": "2"/' \
	-e 's/"memory": "[0-9]*"/"memory": "8192"/' \
	-e 's/"parallelism": "[0-9]*"/"parallelism": "1"/' \
	-e 's/"policy_version": "[0-9]*"/"policy_version": "2"/' \
	/etc/fscrypt.conf
$F setup /mnt --quiet </dev/null
mkdir /mnt/login && chown alice:alice /mnt/login
echo 'correct horse' | $F encrypt /mnt/login --source=pam_passphrase \
	--user=alice --quiet --no-recovery
echo hello >/mnt/login/file
mkdir /mnt/custom && chown alice:alice /mnt/custom
echo 'custom pass' | $F encrypt /mnt/custom --source=custom_passphrase \
	--name=cust --user=alice --quiet --no-recovery
$F lock /mnt/login --user=alice
$F lock /mnt/custom --user=alice
sed -i 's/"policy_version": "2"/"policy_version": "1"/' /etc/fscrypt.conf
$F setup /mnt2 --quiet </dev/null
mkdir /mnt2/v1 && chown bob:bob /mnt2/v1
echo 'bob pass' | $F encrypt /mnt2/v1 --source=pam_passphrase --user=bob \
	--quiet --no-recovery
$F lock /mnt2/v1 --user=bob
# The login protector of each filesystem is a link file there and the
# protector itself on the root filesystem.
login=$(basename /mnt/.fscrypt/protectors/*.link .link)
cp /.fscrypt/protectors/$login /vectors/login-protector
cp /mnt/.fscrypt/protectors/$login.link /vectors/login-protector.link
for f in /mnt/.fscrypt/policies/*; do
	if grep -q "$login" "$f"; then cp "$f" /vectors/login-policy
	else cp "$f" /vectors/custom-policy; fi
done
cp $(ls /mnt/.fscrypt/protectors/* | grep -v '\.link$') \
	/vectors/custom-protector
cp /mnt2/.fscrypt/policies/* /vectors/v1-policy
cp /.fscrypt/protectors/$(basename /mnt2/.fscrypt/protectors/*.link .link) \
	/vectors/v1-login-protector
umount /mnt /mnt2
xz -9 -c /out/a.img >/vectors/fscrypt-login.img.xz
ls -l /vectors
INNER
# The whole namespace moves to the new root: nothing runs after this.
cd "$NR"
pivot_root . old
umount -l /old
exec /bin/sh /tmp/inner.sh
