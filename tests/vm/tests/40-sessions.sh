#!/bin/sh
# Sessions of one user, end to end (issue 4): two and three sessions in every
# logout order keep the volume open until the last, and the last logout
# returns with it locked. Users run their orders in parallel.
. /kt/tests/lib.sh
. /kt/tests/sessions-lib.sh

installed || { finish; exit 1; }
T_FILE=$(now)
ses_setup alice bob carol dave erin || { ses_cleanup; finish; exit 1; }
diag "5 volumes ready in $(since "$T_FILE") s"
check "keyturnctl check accepts the config" keyturnctl check --user alice
APW=$(pw_of alice)
keys0=$(root_keys)

open_once() {
	vol_open "$1" &&
		[ "$(awk -v m="/home/$1/vault" '$2 == m' /proc/mounts | wc -l)" = 1 ]
}

# ---- two and three sessions, every logout order ----------------------------------
# order_run USER ORDER: logs in ${#ORDER} sessions, then out in ORDER; the
# volume must stay open until the last logout, which returns with it locked
order_run() {
	sub_init "$1"
	_u=$1 _o=$2 _pw=$(pw_of "$1")
	_n=$(printf %s "$_o" | wc -c)
	_k=1
	while [ "$_k" -le "$_n" ]; do
		_tg=$_u.$_o.$_k
		_t0=$(now)
		start_login "$SVC" "$_u" "$_pw" "$_tg"
		wait_until 60 in_or_ended "$_tg"
		if ! session_in "$_tg"; then
			not_ok "$_u, order $_o: session $_k opens"
			diag_file "$KT_TMP/$_tg.err" 5
			for _d in $(echo "$_o" | sed 's/./& /g'); do
				touch "$KT_TMP/$_u.$_o.$_d.release"
			done
			return 1
		fi
		diag "$_u, order $_o: session $_k open after" \
			"$(awk -v a="$_t0" -v b="$(session_t "$_tg")" \
			'BEGIN { printf "%.2f", b - a }') s"
		_k=$((_k + 1))
	done
	check "$_u: $_n sessions open, the volume open and mounted once" \
		open_once "$_u"
	_left=$_n
	for _d in $(echo "$_o" | sed 's/./& /g'); do
		end_session "$_u.$_o.$_d"
		_left=$((_left - 1))
		_st=$(vol_state "$_u")
		if [ "$_left" -gt 0 ]; then
			_want=open _what="$_left left: still open"
		else
			_want=locked _what="the last: locked when the logout returns"
		fi
		if [ "$RC" = 0 ] && [ "$_st" = "$_want" ]; then
			ok "$_u, logout order $_o: session $_d out, $_what"
		else
			not_ok "$_u, logout order $_o: session $_d out, $_what"
			diag "kt-login exit $RC, volume $_st"
			diag_file "$KT_TMP/$_u.$_o.$_d.err" 5
		fi
	done
	check "$_u, order $_o: no agent left" wait_until 5 no_agents "$_u"
}
T0=$(now)
for round in "alice:12 bob:21 carol:123 dave:132 erin:213" \
	"alice:231 bob:312 carol:321"; do
	for spec in $round; do
		order_run "${spec%:*}" "${spec#*:}" > "$KT_TMP/order.${spec%:*}" 2>&1 &
	done
	wait
	for spec in $round; do
		replay "$KT_TMP/order.${spec%:*}"
	done
done
diag "every logout order of 2 and 3 sessions: $(since "$T0") s"

# ---- nothing left ---------------------------------------------------------------------
check "no agent left" wait_until 5 no_agents
check "no ses-* dm device left" sh -c "! dmsetup ls | grep -q '^ses-'"
check "nothing mounted on a vault" sh -c "! grep -q '/vault ' /proc/mounts"
check "root's keys back to $keys0 (/proc/key-users)" \
	wait_until 10 root_keys_le "$keys0"
ses_cleanup
diag "40-sessions: $(since "$T_FILE") s"
finish
