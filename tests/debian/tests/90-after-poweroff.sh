#!/bin/sh
# Second boot: the poweroff of the first one, with alice's session open,
# unmounted and closed the volume before the system went down: keyturn's
# agent locked it (journal of the previous boot), the file system is clean
# (no needs_recovery), and mounting it again shows no ext4 recovery.
. /kt/tests/lib.sh

b1=$KT_TMP/boot-1
journalctl -q --no-pager -b -1 -o short-monotonic > "$b1" 2>&1
check "the journal of the previous boot is there" grep -q 'kt-tests' "$b1"
grep -E 'keyturn|EXT4-fs \(dm-|Power-Off|Reached target.*(Shutdown|Power)' "$b1" | tail -12 | sed 's/^/# boot -1: /'
check "previous boot: the kernel saw the volume's ext4 unmounted" \
	grep -qE 'EXT4-fs \(dm-[0-9]+\): unmounting filesystem' "$b1"
check "previous boot: nothing at err from keyturn" \
	sh -c "! journalctl -q --no-pager -b -1 -p err | grep -i keyturn"
# before anyone mounts it: the file system was not left dirty
VPW=alice-Volume-pw
printf '%s' "$VPW" | cryptsetup open --readonly --key-file=- "$DEV" ktcheck
dumpe2fs -h /dev/mapper/ktcheck > "$KT_TMP/dumpe2fs" 2>/dev/null
cryptsetup close ktcheck
check "the file system state is clean" grep -qE '^Filesystem state: +clean$' "$KT_TMP/dumpe2fs"
check "no needs_recovery flag" sh -c "! grep -q needs_recovery '$KT_TMP/dumpe2fs'"
journal_mark "$KT_TMP/cur"
ssh_pw q alice password
check "alice logs in again: open" wait_for 90 vol_open
check "the file written before the poweroff is there" test -s "$MNT/before-poweroff"
check "this boot's kernel log: no ext4 recovery of the volume" \
	sh -c "! journalctl -q --no-pager -k -b 0 | grep -E 'EXT4-fs \(dm-[0-9]+\).*(recovery|orphan)'"
end_session q
check "locked" wait_for 60 vol_locked
exit 0
