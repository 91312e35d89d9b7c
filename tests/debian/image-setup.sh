#!/bin/sh
# Runs inside a fresh Debian system made by mmdebstrap (tests/debian/run.sh),
# once per image: what an admin would have on a small server, and the unit
# that runs the tests at boot. Everything about keyturn itself happens in the
# guest, from the package (tests/00-package.sh).
set -eu

echo kt-debian > /etc/hostname
echo "127.0.1.1 kt-debian" >> /etc/hosts
cat > /etc/fstab <<'EOT'
/dev/vda / ext4 defaults,errors=remount-ro 0 1
# the tests and the package of this run (tests/debian/run.sh)
/dev/vdc /kt ext4 defaults,nofail 0 2
EOT
mkdir -p /kt /var/log/journal

# The users of the tests: name uid login-password (tests/users).
while read -r u uid pw; do
	case $u in ''|'#'*) continue ;; esac
	useradd -m -u "$uid" -s /bin/bash "$u"
	printf '%s:%s\n' "$u" "$pw" | chpasswd
done < /tmp/kt-users
passwd -l root >/dev/null

# What only slows a test boot down, or writes to the console.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer man-db.timer dpkg-db-backup.timer \
	getty@tty1.service serial-getty@ttyS0.service \
	systemd-timesyncd.service; do
	ln -sf /dev/null "/etc/systemd/system/$u"
done

# Boot into kt.target: multi-user.target, then the tests. The unit is
# ordered after multi-user.target; a target pulls it in so that there is no
# ordering cycle with the target's own implicit After= on what it wants.
cat > /etc/systemd/system/kt.target <<'EOT'
[Unit]
Description=keyturn tests
Requires=multi-user.target
After=multi-user.target
Wants=kt-tests.service
AllowIsolate=yes
EOT
cat > /etc/systemd/system/kt-tests.service <<'EOT'
[Unit]
Description=keyturn tests on a real Debian system
After=multi-user.target ssh.service systemd-user-sessions.service
RequiresMountsFor=/kt

[Service]
Type=oneshot
ExecStart=/bin/sh /kt/guest.sh
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity
EOT
ln -sf /etc/systemd/system/kt.target /etc/systemd/system/default.target

# A little space in the journal's console forwarding would interleave with
# the test output: keep the journal off the console.
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nForwardToConsole=no\n' > /etc/systemd/journald.conf.d/kt.conf

rm -f /var/cache/apt/archives/*.deb
