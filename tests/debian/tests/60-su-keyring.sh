#!/bin/sh
# Issue 10: Debian's /etc/pam.d/su has no pam_keyinit, so "su alice" runs in
# the session keyring of the shell it was started from. bob starts a shell
# with a session keyring of his own, plants a key "keyturn:alice" in it,
# and reads that keyring in a tight loop (keyctl search, keyctl show, print
# of every key found, /proc/keys) while alice's password is typed into
# "su alice" three times. He must never see it; his planted key is neither
# used nor updated; the volume opens every time.
. /kt/tests/lib.sh

D=$KT_TMP/spy
install -d -o bob -g bob -m 0755 "$D"
APW=$(pw_of alice)
PLANTED=bob-planted-payload
cat > "$KT_TMP/spy.sh" <<'EOT'
#!/bin/sh
# bob's shell, in its own session keyring (keyctl session -)
D=$1 PLANTED=$2
planted=$(keyctl add user keyturn:alice "$PLANTED" @s) || exit 1
# readable, writable and searchable by all: whatever keyturn does with it,
# nothing stops it but keyturn itself
keyctl setperm "$planted" 0x3f3f3f3f
echo "$planted" > "$D/planted"
(
	while [ ! -e "$D/stop" ]; do
		k=$(keyctl search @s user keyturn:alice 2>/dev/null)
		[ -n "$k" ] && [ "$k" != "$planted" ] &&
			{ echo "found $k"; keyctl print "$k" 2>&1; } >> "$D/found"
		for k in $(keyctl rlist @s 2>/dev/null); do
			[ "$k" = "$planted" ] && continue
			{ echo "key $k"; keyctl describe "$k" 2>&1;
			  keyctl print "$k" 2>&1; } >> "$D/other"
		done
		keyctl show @s 2>&1 | grep -v "$planted" | grep keyturn >> "$D/show"
		grep keyturn /proc/keys 2>/dev/null | grep -v "^$(printf %08x "$planted") " >> "$D/proc"
	done
) &
spy=$!
i=1
while [ "$i" -le 3 ]; do
	# the next su only once the test saw the last one locked: a su that
	# began at once could open before the last agent was gone, and the
	# test would never see the volume locked in between
	while [ ! -e "$D/go-$i" ]; do sleep 0.2; done
	expect /kt/tests/pw.exp su alice -c \
		"while [ ! -e $D/end-$i ]; do sleep 0.2; done" \
		> "$D/expect-$i" 2>&1
	i=$((i + 1))
done
touch "$D/stop"
wait "$spy"
keyctl print "$planted" > "$D/planted-after" 2>&1
keyctl describe "$planted" >> "$D/planted-after" 2>&1
echo done > "$D/finished"
EOT
chmod 0755 "$KT_TMP/spy.sh"
journal_mark "$KT_TMP/cur"
setpriv --reuid bob --regid bob --init-groups --reset-env \
	env KT_PW="$APW" keyctl session - sh "$KT_TMP/spy.sh" "$D" "$PLANTED" \
	> "$KT_TMP/spy.out" 2>&1 < /dev/null &
check "bob planted keyturn:alice in his session keyring" wait_for 20 test -s "$D/planted"
# bob's own key is no trace of keyturn: the locked checks pass over it
KT_IGNORE_KEY=$(printf %08x "$(cat "$D/planted" 2>/dev/null || echo 0)")
i=1
while [ "$i" -le 3 ]; do
	t=$(uptime_s)
	touch "$D/go-$i"
	if wait_for 90 vol_open; then
		ok "su alice #$i from bob's keyring: the volume opens ($(since "$t") s)"
	else
		not_ok "su alice #$i from bob's keyring: the volume opens"
		diag_file "$D/expect-$i" 3
		journal_since "$KT_TMP/cur" | grep -iE 'keyturn' | tail -5 | sed 's/^/# journal: /'
	fi
	t=$(uptime_s)
	touch "$D/end-$i"
	if wait_for 60 vol_locked; then
		ok "su alice #$i: locked at its end ($(since "$t") s)"
	else
		not_ok "su alice #$i: locked at its end"
		why_not_locked
	fi
	i=$((i + 1))
done
check "bob's loop ran to the end" wait_for 60 test -e "$D/finished"
diag "bob's reads: $(wc -c < "$D/show" 2>/dev/null || echo 0) bytes of keyctl show, $(wc -c < "$D/proc" 2>/dev/null || echo 0) of /proc/keys, $(wc -l < "$D/other" 2>/dev/null || echo 0) lines of other keys printed"
printf '%s\n' "$APW" | /kt/kt-memscan -f "$D" > "$KT_TMP/scan" 2>&1
rc=$?
check "bob never saw alice's password (kt-memscan -f over all he read, exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || diag_file "$KT_TMP/scan" 5
check "bob's search never found a keyturn:alice key but his own" test ! -s "$D/found"
[ -s "$D/found" ] && diag "found another keyturn:alice $(grep -c '^found' "$D/found") times"
check "bob's planted key was not updated (payload read back)" \
	sh -c "head -n 1 '$D/planted-after' | grep -qx '$PLANTED'"
diag "planted after: $(tail -n 1 "$D/planted-after")"
exit 0
