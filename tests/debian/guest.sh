#!/bin/sh
# Runs in the Debian guest at boot, from kt-tests.service (after
# multi-user.target): the tests of this phase, their output on the serial
# console with "KT| " in front (tests/debian/run.sh reads it), then poweroff.
# Phase 1 is the first boot, phase 2 the boot after its poweroff (tests
# named 9N-*.sh: what the poweroff left behind).
PHASE=$(sed -n 's/.*kt\.phase=\([0-9]*\).*/\1/p' /proc/cmdline)
ONLY=$(sed -n 's/.*kt\.only=\([0-9,]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
echo "KT| @booted phase $PHASE, uptime $(cut -d' ' -f1 /proc/uptime) s"
for t in /kt/tests/[0-9][0-9]-*.sh; do
	n=${t##*/}
	n=${n%%-*}
	case $n in 9?) [ "$PHASE" = 2 ] || continue ;; *) [ "$PHASE" = 1 ] || continue ;; esac
	if [ -n "$ONLY" ] && [ "$n" != 00 ]; then
		case " $ONLY " in *" $n "*) ;; *) continue ;; esac
	fi
	echo "KT| # ---- ${t##*/} (uptime $(cut -d' ' -f1 /proc/uptime) s)"
	sh "$t" 2>&1 | sed -u 's/^/KT| /'
done
# for the record: the whole journal of this boot, read by run.sh from the
# kt disk (build/journal-RELEASE-PHASE.log)
journalctl -b --no-pager -o short-monotonic > "/kt/journal-$PHASE.log" 2>&1
sync
echo "KT| @done"
systemctl --no-block poweroff
