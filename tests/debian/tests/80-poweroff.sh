#!/bin/sh
# The last test of the first boot: a session of alice stays open, and the
# system is powered off (guest.sh, after this). 90-after-poweroff.sh, in the
# next boot, reads what happened.
. /kt/tests/lib.sh

ssh_pw p alice password
check "a session open at poweroff" wait_for 90 vol_open
echo "data written before poweroff" > /dev/null
su -s /bin/sh alice -c "date > $MNT/before-poweroff && sync"
check "alice wrote a file in the volume" test -s "$MNT/before-poweroff"
exit 0
