#!/bin/sh
# keyturn benchmarks, the part that runs in the VM (busybox sh), started by
# tests/vm/run.sh bench through init. Prints raw samples, one per line:
#   @s ROW VALUE     a sample of ROW (ms, us for pam.*, KiB for mem.*)
#   @m KEY VALUE...  a fact about the run (kernel, cost, load...)
#   # ...            progress and diagnostics; "not ok - ..." on failure
# tests/bench/run.sh turns them into the table. Knobs: /bench/build/params.
export DM_DISABLE_UDEV=1
PATH=/usr/sbin:/usr/bin:/sbin:/bin
RUNS=10 RUNS_SLOTS=10 RUNS_CONC=10 PAM_CYCLES=400 ITER=4 MEM=65536
SECTIONS="pam luks slots conc ecr fsc" CONC_SETS="1:1,2,4 default:1,2,4"
[ -r /bench/build/params ] && . /bench/build/params
KB=/bench/build/kt-bench
T=/tmp/ktb
mkdir -p "$T"
chmod 0755 "$T"
FAILS=0

say() { echo "# $*"; }
bad() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
meta() { echo "@m $*"; }
pw_of() { awk -v u="$1" '$1 == u { print $3 }' /kt/tests/users; }
# sample ROW LINE KEY: the KEY=value of LINE as a sample of ROW
sample() {
	_v=$(echo "$2" | tr ' ' '\n' | sed -n "s/^$3=//p")
	[ -n "$_v" ] && echo "@s $1 $_v"
}
up() { cut -d' ' -f1 /proc/uptime; }
# tries RUNS: how many attempts a loop makes to get RUNS good samples (a
# login that fails under load is retried, so that every figure has RUNS)
tries() { echo $(($1 + $1 / 2 + 2)); }
# section_done NAME T0: how long a section took, in the log and the table
section_done() {
	_s=$(awk -v a="$2" -v b="$(up)" 'BEGIN { printf "%.0f", b - a }')
	say "$1 took $_s s"
	meta "t_$1" "$_s"
}

APW=$(pw_of alice)
CPW=$(pw_of carol)
DPW=$(pw_of dave)
EPW=$(pw_of erin)
meta kernel "$(uname -r)"
meta vm_cpus "$(grep -c ^processor /proc/cpuinfo)"
meta vm_mem_kib "$(awk '/MemTotal/ { print $2 }' /proc/meminfo)"
meta cryptsetup "$(cryptsetup --version)"
T_START=$(up)

# cgroup v2 with the memory controller: peaks of whole logins
CG=""
mkdir -p /sys/fs/cgroup
if mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null &&
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	CG=/sys/fs/cgroup
fi
newcg() { # prints -g DIR for a fresh cgroup, or nothing
	[ -n "$CG" ] || return 0
	_cg=$(mktemp -d "$CG/ktb.XXXXXX" 2>/dev/null) && echo "-g $_cg"
}

# ---- PAM services ------------------------------------------------------------
cat > /etc/pam.d/ktb-plain <<'EOF'
auth required pam_permit.so
account required pam_permit.so
session required pam_permit.so
password required pam_permit.so
EOF
cat > /etc/pam.d/ktb-kt <<'EOF'
auth required pam_permit.so
auth optional pam_keyturn.so
account required pam_permit.so
session required pam_permit.so
session optional pam_keyturn.so
password required pam_permit.so
EOF
# the login stack of the unlock benchmarks: kt-test of tests/vm/run.sh
# (pam_unix + pam_keyinit + pam_keyturn)

# ---- volumes -------------------------------------------------------------------
# mkvol IMAGE PARALLEL SLOTS: LUKS2 image with ext4 (root owned by alice),
# SLOTS-1 keyslots of other passphrases first, alice's login password in the
# last one, a luks2-keyring token keyturn:alice bound to it (what keyturnctl
# enroll luks makes; made with cryptsetup to choose the parallelism).
# Prints the loop device.
mkvol() {
	_img=$1 _par=$2 _slots=$3
	_pb="--pbkdf argon2id --pbkdf-force-iterations $ITER --pbkdf-memory $MEM"
	[ "$_par" = default ] || _pb="$_pb --pbkdf-parallel $_par"
	dd if=/dev/zero of="$_img" bs=1M count=0 seek=24 2>/dev/null
	_first=$APW
	[ "$_slots" -gt 1 ] && _first=other-pw-0
	# a volume key of our own: mke2fs below needs no KDF to open it
	[ -s "$T/vk" ] || head -c 64 /dev/urandom > "$T/vk"
	# shellcheck disable=SC2086
	printf '%s' "$_first" | cryptsetup luksFormat -q --type luks2 \
		--luks2-keyslots-size 4m --volume-key-file "$T/vk" $_pb \
		--key-file=- "$_img" || return 1
	_i=1
	while [ "$_i" -lt "$_slots" ]; do
		_new=other-pw-$_i
		[ "$_i" = $((_slots - 1)) ] && _new=$APW
		# shellcheck disable=SC2086
		printf '%s\n%s\n' "$_first" "$_new" |
			cryptsetup luksAddKey -q $_pb --key-slot "$_i" \
			"$_img" || return 1
		_i=$((_i + 1))
	done
	cryptsetup token add --key-description keyturn:alice \
		--key-slot $((_slots - 1)) "$_img" || return 1
	cryptsetup open --volume-key-file "$T/vk" "$_img" ktbmk || return 1
	/sbin/mke2fs -q -t ext4 -F -E root_owner=1001:1001 /dev/mapper/ktbmk ||
		return 1
	cryptsetup close ktbmk || return 1
	_l=$(losetup -f) && losetup "$_l" "$_img" && echo "$_l"
}
# conf NAME:LOOP...: alice's LUKS2 volumes in keyturn.conf, mounted on
# /home/alice/NAME, dm names ktb-NAME; bob has one so that the config has
# other users too
conf() {
	{
		for _v in "$@"; do
			cat <<EOF
[volume ${_v%%:*}]
user = alice
type = luks2
device = ${_v#*:}
name = ktb-${_v%%:*}
mountpoint = /home/alice/${_v%%:*}

EOF
		done
		cat <<'EOF'
[volume bobs]
user = bob
type = luks2
device = /dev/ktb-no-such-device
name = ktb-bob
mountpoint = /home/bob/v
EOF
	} > /etc/security/keyturn.conf
	chmod 0644 /etc/security/keyturn.conf
	for _v in "$@"; do
		mkdir -p "/home/alice/${_v%%:*}"
		chown alice:alice "/home/alice/${_v%%:*}"
	done
}
vflags() { # NAME...: kt-bench login -v arguments
	for _n in "$@"; do printf ' -v ktb-%s:/home/alice/%s' "$_n" "$_n"; done
}
# kt_login ROWPREFIX NAME...: one login of alice through kt-test; samples
# ROWPREFIX.open, .logout, .hwm, .rss (and .cgpeak)
kt_login() {
	_p=$1
	shift
	# shellcheck disable=SC2046
	_o=$(printf '%s\n' "$APW" | $KB login -s kt-test $(newcg) \
		$(vflags "$@") alice 2>"$T/err")
	_rc=$?
	case $_o in
	*"opened=$#/$#"*"locked=1"*) ;;
	*) bad "$_p: login of alice with $# volume(s) (exit $_rc): $_o"
	   sed 's/^/#   /' "$T/err" | tail -n 5
	   tail -n 8 /var/log/messages | sed 's/^/#   /'
	   return 1 ;;
	esac
	sample "$_p.open" "$_o" open_ms
	sample "$_p.logout" "$_o" locked_ms
	sample "$_p.hwm" "$_o" hwm_kib
	sample "$_p.rss" "$_o" rss_kib
	sample "$_p.anon" "$_o" anon_kib
	[ -n "$CG" ] && sample "$_p.cgpeak" "$_o" cg_peak_kib
	# how kt-bench found the agent (its control socket, or its name)
	echo "$_o" | tr ' ' '\n' | sed -n 's/^agents_via=//p' >> "$T/via"
	return 0
}
# keep_kt LINE: the samples of an fscrypt login (item 8), once both sides
# of the run succeeded
keep_kt() {
	sample fsc.kt.open "$1" open_ms
	sample fsc.kt.logout "$1" locked_ms
	sample fsc.kt.hwm "$1" hwm_kib
	sample fsc.kt.rss "$1" rss_kib
	sample fsc.kt.anon "$1" anon_kib
	[ -n "$CG" ] && sample fsc.kt.cgpeak "$1" cg_peak_kib
	echo "$1" | tr ' ' '\n' | sed -n 's/^agents_via=//p' >> "$T/via"
}
# unwind NAME...: what a failed run may have left open
unwind() {
	for _n in "$@"; do
		umount "/home/alice/$_n" 2>/dev/null
		cryptsetup close "ktb-$_n" 2>/dev/null
	done
	return 0
}
# cs_open ROWPREFIX NAME:LOOP...: what a script does without keyturn: the
# key in a session keyring, cryptsetup open --token-only and mount, one
# volume after another; then umount and close (timed as its logout)
cs_open() {
	_p=$1
	shift
	_cmd=""
	_close=""
	for _v in "$@"; do
		_n=${_v%%:*} _d=${_v#*:}
		_cmd="$_cmd cryptsetup open --token-only $_d ktb-$_n &&"
		_cmd="$_cmd mount -t ext4 -o nosuid,nodev /dev/mapper/ktb-$_n /home/alice/$_n &&"
		_close="umount /home/alice/$_n && cryptsetup close ktb-$_n && $_close"
	done
	# shellcheck disable=SC2046
	_o=$(printf '%s\n' "$APW" | $KB exec $(newcg) -k keyturn:alice -- \
		sh -c "$_cmd true" 2>"$T/err")
	case $_o in
	*"rc=0"*) ;;
	*) bad "$_p: cryptsetup open --token-only of $# volume(s): $_o"
	   sed 's/^/#   /' "$T/err" | tail -n 5
	   return 1 ;;
	esac
	sample "$_p.open" "$_o" ms
	sample "$_p.maxrss" "$_o" maxrss_kib
	[ -n "$CG" ] && sample "$_p.cgpeak" "$_o" cg_peak_kib
	_o=$($KB exec -- sh -c "$_close true" 2>"$T/err")
	sample "$_p.logout" "$_o" ms
}

vol_setup() { # VAR IMAGE PARALLEL SLOTS
	_l=$(mkvol "$2" "$3" "$4" 2>"$T/mkvol.err")
	if [ -b "$_l" ]; then
		eval "$1=$_l"
	else
		bad "volume $2 made (parallel $3, $4 keyslots)"
		sed 's/^/#   /' "$T/mkvol.err" | tail -n 5
		eval "$1="
	fi
}

# ---- 1. PAM cost for a user with no volume --------------------------------------
if case " $SECTIONS " in *" pam "*) true ;; *) false ;; esac; then
	say "1. PAM cycles for dave (no volume): $PAM_CYCLES each, interleaved"
	t_sec=$(up)
	conf v0:/dev/ktb-none
	_batch=$((PAM_CYCLES / 10))
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		for _s in plain kt; do
			$KB pam "ktb-$_s" dave "$_batch" 2>"$T/err" |
				sed "s/^us=/@s pam.$_s /" || true
			[ -s "$T/err" ] && { bad "pam cycles $_s"; sed 's/^/#   /' "$T/err"; }
		done
	done
	# keyturn-agent, or the keyturn-hold an idle agent may become
	if pgrep keyturn- >/dev/null 2>&1 ||
		ls /run/keyturn/*/agent.* >/dev/null 2>&1; then
		bad "an agent was started for a user with no volume"
	fi
	section_done pam "$t_sec"
fi

# ---- 2. one LUKS2 volume; 6. logout; 7. memory -----------------------------------
if case " $SECTIONS " in *" luks "*) true ;; *) false ;; esac; then
	say "2. one LUKS2 volume (Argon2id m=$MEM t=$ITER, default parallelism)"
	t_sec=$(up)
	vol_setup L1 "$T/l1.img" default 1
	if [ -n "$L1" ]; then
		meta luks_pbkdf "$(cryptsetup luksDump "$L1" |
			awk '/PBKDF:|Time cost|Memory:|Threads:/ { $1 = $1; printf "%s; ", $0 }')"
		conf one:"$L1"
		i=0 ok=0
		while [ $ok -lt "$RUNS" ] && [ $i -lt "$(tries "$RUNS")" ]; do
			i=$((i + 1))
			kt_login luks1.kt one || { unwind one; continue; }
			cs_open luks1.cs one:"$L1" || { unwind one; continue; }
			ok=$((ok + 1))
		done
		# what the idle agent's resident memory is made of
		export KT_BENCH_SMAPS="$T/smaps"
		kt_login luks1.smaps one
		unset KT_BENCH_SMAPS
		if [ -s "$T/smaps" ]; then
			awk '/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]" }
				/^Rss:/ { rss[name] += $2 }
				/^Pss:/ { pss[name] += $2 }
				/^Private_Dirty:/ { pd[name] += $2 }
				END { for (n in rss) if (rss[n] > 0)
					print rss[n], pss[n], pd[n], n }' \
				"$T/smaps" | sort -rn | head -n 14 |
				while read -r kb pss pd name; do
					echo "@r $kb $pss $pd $name"
				done
			awk '/^Rss:/ { r += $2 } /^Pss:/ { p += $2 }
				/^Private_Dirty:/ { d += $2 }
				END { print "@r", r, p, d, "(all)" }' "$T/smaps"
		fi
	fi
	section_done luks "$t_sec"
fi

# ---- 3. keyslot targeting: the login keyslot is the last of 4 -------------------
if case " $SECTIONS " in *" slots "*) true ;; *) false ;; esac; then
	say "3. login keyslot the last of 4 (each Argon2id m=$MEM t=$ITER, default parallelism)"
	t_sec=$(up)
	vol_setup L4 "$T/l4.img" default 4
	if [ -n "$L4" ]; then
		conf four:"$L4"
		i=0 ok=0
		while [ $ok -lt "$RUNS_SLOTS" ] &&
			[ $i -lt "$(tries "$RUNS_SLOTS")" ]; do
			i=$((i + 1))
			kt_login slots4.kt four || { unwind four; continue; }
			# the passphrase piped to cryptsetup: every keyslot tried
			_o=$(printf '%s\n' "$APW" | $KB exec -- cryptsetup open \
				"$L4" ktb-four 2>"$T/err")
			case $_o in
			*"rc=0"*) sample slots4.cs.open "$_o" ms ;;
			*) bad "cryptsetup open with the passphrase on stdin: $_o"
			   unwind four
			   continue ;;
			esac
			# the same mount as keyturn's, timed apart
			_o=$($KB exec -- mount -t ext4 -o nosuid,nodev \
				/dev/mapper/ktb-four /home/alice/four)
			sample slots4.cs.mount "$_o" ms
			umount /home/alice/four
			cryptsetup close ktb-four
			ok=$((ok + 1))
		done
	fi
	section_done slots "$t_sec"
fi

# ---- 4. several volumes, concurrently vs one after another -------------------------
if case " $SECTIONS " in *" conc "*) true ;; *) false ;; esac; then
	t_sec=$(up)
	for set in $CONC_SETS; do
		par=${set%%:*}
		ns=$(echo "${set#*:}" | tr , ' ')
		say "4. $ns volumes, Argon2id m=$MEM t=$ITER parallel $par, $RUNS_CONC runs"
		tag=p$par
		[ "$par" = default ] && tag=pd
		vs=""
		names=""
		for k in 1 2 3 4; do
			vol_setup V "$T/c$tag$k.img" "$par" 1
			[ -n "$V" ] || continue
			vs="$vs c$tag$k:$V"
			names="$names c$tag$k"
		done
		set -- $vs
		[ $# -eq 4 ] || continue
		meta "conc_${tag}_pbkdf" "$(cryptsetup luksDump "${1#*:}" |
			awk '/PBKDF:|Time cost|Memory:|Threads:/ { $1 = $1; printf "%s; ", $0 }')"
		for n in $ns; do
			sel=""
			seln=""
			j=0
			for v in $vs; do
				j=$((j + 1))
				[ $j -le $n ] || break
				sel="$sel $v"
				seln="$seln ${v%%:*}"
			done
			# shellcheck disable=SC2086
			conf $sel
			i=0 ok=0
			while [ $ok -lt "$RUNS_CONC" ] &&
				[ $i -lt "$(tries "$RUNS_CONC")" ]; do
				i=$((i + 1))
				# shellcheck disable=SC2086
				kt_login "conc.$tag.$n.kt" $seln ||
					{ unwind $seln; continue; }
				# shellcheck disable=SC2086
				cs_open "conc.$tag.$n.seq" $sel ||
					{ unwind $seln; continue; }
				ok=$((ok + 1))
			done
		done
	done
	section_done conc "$t_sec"
fi

# ---- 5. eCryptfs --------------------------------------------------------------------
if case " $SECTIONS " in *" ecr "*) true ;; *) false ;; esac; then
	say "5. eCryptfs: carol's private directory made by ecryptfs-utils, imported"
	t_sec=$(up)
	C=/home/carol
	MP=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	for d in .Private Private .ecryptfs; do
		mkdir -m 0700 "$C/$d"
		chown carol:carol "$C/$d"
	done
	cat > "$T/setup.sh" <<EOF
keyctl link @u @s
printf '%s\0' "$MP" | ecryptfs-add-passphrase --fnek - > $T/sigs || exit 1
SIG=\$(sed -n 's/.*sig \[\([0-9a-f]*\)\].*/\1/p' $T/sigs | sed -n 1p)
FNEK=\$(sed -n 's/.*sig \[\([0-9a-f]*\)\].*/\1/p' $T/sigs | sed -n 2p)
printf '%s\n%s\n' "\$SIG" "\$FNEK" > $C/.ecryptfs/Private.sig
for s in \$SIG \$FNEK; do keyctl invalidate \$(keyctl search @u user \$s); done
EOF
	keyctl session ktb-setup sh "$T/setup.sh" > "$T/setup.out" 2>&1 ||
		{ bad "carol's directory made"; sed 's/^/#   /' "$T/setup.out"; }
	chown carol:carol "$C/.ecryptfs/Private.sig"
	printf '%s\n%s' "$MP" "$CPW" | ecryptfs-wrap-passphrase \
		"$C/.ecryptfs/wrapped-passphrase" - > /dev/null 2>&1
	chown carol:carol "$C/.ecryptfs/wrapped-passphrase"
	SIG=$(sed -n 1p "$C/.ecryptfs/Private.sig")
	FNEK=$(sed -n 2p "$C/.ecryptfs/Private.sig")
	{
		printf '%s' "$CPW" |
			ecryptfs-unwrap-passphrase "$C/.ecryptfs/wrapped-passphrase" -
		printf '%s\n' "$CPW"
	} | keyturnctl enroll ecryptfs --import --user carol --stdin \
		--argon2-ms "${ECR_MS:-1000}" --argon2-memory "$MEM" \
		> "$T/enroll" 2>&1 || { bad "keyturnctl enroll ecryptfs --import"; sed 's/^/#   /' "$T/enroll"; }
	meta ecr_wrap "$(sed -n 's/^Argon2id: //p' "$T/enroll" | head -n 1)"
	cat > /etc/security/keyturn.conf <<EOF
[volume private]
user = carol
type = ecryptfs
source = %h/.Private
mountpoint = %h/Private
wrapped = %h/.ecryptfs/keyturn-wrapped
EOF
	# by hand with ecryptfs-utils: unwrap, add the auth tokens, mount
	cat > "$T/byhand.sh" <<EOF
keyctl link @u @s >/dev/null || exit 1
ecryptfs-insert-wrapped-passphrase-into-keyring $C/.ecryptfs/wrapped-passphrase - >/dev/null || exit 2
mount -t ecryptfs -o ecryptfs_cipher=aes,ecryptfs_key_bytes=16,ecryptfs_unlink_sigs,ecryptfs_sig=$SIG,ecryptfs_fnek_sig=$FNEK,nosuid,nodev $C/.Private $C/Private || exit 3
EOF
	cat > "$T/byhand-close.sh" <<EOF
umount $C/Private || exit 1
for s in $SIG $FNEK; do keyctl invalidate \$(keyctl search @u user \$s) 2>/dev/null; done
exit 0
EOF
	i=0 ok=0
	while [ $ok -lt "$RUNS" ] && [ $i -lt "$(tries "$RUNS")" ]; do
		i=$((i + 1))
		# shellcheck disable=SC2046
		_o=$(printf '%s\n' "$CPW" | $KB login -s kt-test $(newcg) \
			-v ":$C/Private" carol 2>"$T/err")
		case $_o in
		*"opened=1/1"*"locked=1"*)
			sample ecr.kt.open "$_o" open_ms
			sample ecr.kt.logout "$_o" locked_ms
			sample ecr.kt.hwm "$_o" hwm_kib
			sample ecr.kt.rss "$_o" rss_kib
			sample ecr.kt.anon "$_o" anon_kib
			[ -n "$CG" ] && sample ecr.kt.cgpeak "$_o" cg_peak_kib
			echo "$_o" | tr ' ' '\n' |
				sed -n 's/^agents_via=//p' >> "$T/via" ;;
		*) bad "carol's login with eCryptfs: $_o"
		   sed 's/^/#   /' "$T/err" | tail -n 5
		   umount "$C/Private" 2>/dev/null
		   continue ;;
		esac
		# shellcheck disable=SC2046
		_o=$(printf '%s' "$CPW" | keyctl session - \
			$KB exec $(newcg) -- sh "$T/byhand.sh" 2>"$T/err")
		case $_o in
		*"rc=0"*) grep -q " $C/Private ecryptfs " /proc/mounts ||
				{ bad "by hand: not mounted"; continue; }
			  sample ecr.hand.open "$_o" ms
			  sample ecr.hand.maxrss "$_o" maxrss_kib
			  [ -n "$CG" ] &&
				sample ecr.hand.cgpeak "$_o" cg_peak_kib ;;
		*) bad "eCryptfs by hand with ecryptfs-utils: $_o"
		   sed 's/^/#   /' "$T/err" | tail -n 5
		   umount "$C/Private" 2>/dev/null
		   continue ;;
		esac
		_o=$(keyctl session - $KB exec -- sh "$T/byhand-close.sh")
		sample ecr.hand.logout "$_o" ms
		ok=$((ok + 1))
	done
	section_done ecr "$t_sec"
fi

# ---- 8. fscrypt: keyturn's login vs the fscrypt tool's unlock -------------------------
# dave's directory enrolled with keyturnctl (v2 policy, key wrapped with his
# password); erin's made by the fscrypt tool with a login protector of the
# same Argon2id cost, unlocked and locked by hand (as erin). Without the
# tool (tests/vm/run.sh puts Debian's package in), keyturn's side alone.
if case " $SECTIONS " in *" fsc "*) true ;; *) false ;; esac; then
	say "8. fscrypt: dave's directory by keyturn, erin's by the fscrypt tool"
	t_sec=$(up)
	F=/srv/fsc
	D=$F/dave/Secret
	TD=$F/erin/Tool
	FSC_OK=1
	if [ ! -e /sys/fs/ext4/features/encryption ]; then
		echo "SKIP: fsc: this kernel's ext4 has no encryption"
		FSC_OK=""
	fi
	if [ -n "$FSC_OK" ]; then
		dd if=/dev/zero of="$T/fsc.img" bs=1M count=0 seek=64 2>/dev/null
		# by its path: busybox's shell would run its own mke2fs
		FL=$(losetup -f)
		if /sbin/mke2fs -q -t ext4 -O encrypt -F "$T/fsc.img" \
			> "$T/err" 2>&1 && losetup "$FL" "$T/fsc.img" &&
			mkdir -p "$F" && mount -t ext4 "$FL" "$F"; then
			meta fsc_fs "ext4 -O encrypt on $FL"
		else
			bad "fsc: ext4 -O encrypt made and mounted on $F"
			sed 's/^/#   /' "$T/err" | tail -n 5
			FSC_OK=""
		fi
	fi
	if [ -n "$FSC_OK" ]; then
		for _u in dave erin; do
			mkdir -m 0700 "$F/$_u" && chown "$_u:$_u" "$F/$_u"
		done
		mkdir -m 0700 "$D" "$TD" && chown dave:dave "$D" &&
			chown erin:erin "$TD"
		printf '%s\n' "$DPW" | keyturnctl enroll fscrypt "$D" \
			--user dave --stdin --argon2-ms "${FSC_MS:-1000}" \
			--argon2-memory "$MEM" > "$T/enroll" 2>&1 ||
			{ bad "fsc: keyturnctl enroll fscrypt $D"
			  sed 's/^/#   /' "$T/enroll"; FSC_OK=""; }
	fi
	W=/home/dave/.keyturn/fscrypt-Secret
	if [ -n "$FSC_OK" ]; then
		# the Argon2id cost of dave's wrapped file (its header: t_cost,
		# m_cost KiB, parallelism at offset 12), given to the tool too
		# shellcheck disable=SC2046 # three numbers
		set -- $(od -An -tu4 -j12 -N12 "$W")
		FT=$1 FM=$2 FP=$3
		meta fsc_costs "t=$FT m=$FM KiB p=$FP"
		cat > /etc/security/keyturn.conf <<EOF
[volume secret]
user = dave
type = fscrypt
directory = $D
wrapped = %h/.keyturn/fscrypt-Secret
EOF
		chmod 0644 /etc/security/keyturn.conf
	fi
	# the tool's side, set up as tests/vm/tests/61-fscrypt.sh does
	PROT=""
	if [ -n "$FSC_OK" ] && ! command -v fscrypt > /dev/null 2>&1; then
		echo "SKIP: fsc: no fscrypt tool in the image (tests/vm/run.sh puts Debian's package in): its rows n/a"
		meta fsc_tool "n/a (not in the image)"
	elif [ -n "$FSC_OK" ]; then
		meta fsc_tool "$(fscrypt --version 2>&1 | head -n 1)"
		echo "auth required pam_unix.so" > /etc/pam.d/fscrypt
		# the tool checks erin's passphrase as erin: pam_unix's
		# helper is set-gid shadow, as Debian installs it
		chown root:shadow /usr/sbin/unix_chkpwd &&
			chmod 2755 /usr/sbin/unix_chkpwd
		if fscrypt setup --force --quiet --all-users > "$T/err" 2>&1 &&
			sed -i -e "s/\"time\": \"[0-9]*\"/\"time\": \"$FT\"/" \
				-e "s/\"memory\": \"[0-9]*\"/\"memory\": \"$FM\"/" \
				-e "s/\"parallelism\": \"[0-9]*\"/\"parallelism\": \"$FP\"/" \
				/etc/fscrypt.conf &&
			fscrypt setup "$F" --quiet --all-users >> "$T/err" 2>&1 &&
			printf '%s\n' "$EPW" | su -s /bin/sh erin -c \
				"fscrypt encrypt $TD --source=pam_passphrase --quiet" \
				>> "$T/err" 2>&1 &&
			su -s /bin/sh erin -c "echo made-by-fscrypt > $TD/tool.txt" &&
			su -s /bin/sh erin -c "fscrypt lock $TD" >> "$T/err" 2>&1
		then
			meta fsc_tool_costs "$(sed -n 's/^[[:space:]]*"\(time\|memory\|parallelism\)": "\([0-9]*\)".*/\1=\2/p' /etc/fscrypt.conf | tr '\n' ' ' | sed 's/ $//')"
			fscrypt status "$TD" > "$T/fs.status" 2>&1
			# the login protector (the tool also made a recovery one)
			PROT=$(awk '/login protector for erin/ { print $1; exit }' \
				"$T/fs.status")
			[ -n "$PROT" ] || { bad "fsc: the tool made a login protector for erin"
				sed 's/^/#   /' "$T/fs.status"; }
		else
			bad "fsc: the tool's directory made (fscrypt setup, encrypt --source=pam_passphrase, lock)"
			sed 's/^/#   /' "$T/err" | tail -n 8
		fi
	fi
	# keystatus DIR: present, absent or incompletely-removed
	keystatus() { $KB keystatus "$1" 2>/dev/null | sed -n 's/^key=//p'; }
	i=0 ok=0
	while [ -n "$FSC_OK" ] && [ $ok -lt "$RUNS" ] &&
		[ $i -lt "$(tries "$RUNS")" ]; do
		i=$((i + 1))
		# shellcheck disable=SC2046
		_o=$(printf '%s\n' "$DPW" | $KB login -s kt-test $(newcg) \
			-d "$D" dave 2>"$T/err")
		case $_o in
		*"opened=1/1"*"locked=1"*) ;;
		*) bad "fsc: dave's login with one fscrypt directory: $_o"
		   sed 's/^/#   /' "$T/err" | tail -n 5
		   tail -n 8 /var/log/messages | sed 's/^/#   /'
		   keyturnctl lock --user dave > /dev/null 2>&1
		   continue ;;
		esac
		[ -n "$PROT" ] || { keep_kt "$_o"; ok=$((ok + 1)); continue; }
		# by hand: the passphrase on stdin, as erin
		# shellcheck disable=SC2046
		_u=$(printf '%s\n' "$EPW" | $KB exec $(newcg) -u erin -- \
			fscrypt unlock "$TD" "--unlock-with=/:$PROT" --quiet \
			2>"$T/err")
		case $_u in
		*"rc=0"*) [ "$(keystatus "$TD")" = present ] || {
				bad "fsc: fscrypt unlock: the key is not there"
				continue; } ;;
		*) bad "fsc: fscrypt unlock by hand: $_u"
		   sed 's/^/#   /' "$T/err" | tail -n 5
		   $KB exec -u erin -- fscrypt lock "$TD" > /dev/null 2>&1
		   continue ;;
		esac
		_l=$($KB exec -u erin -- fscrypt lock "$TD" 2>"$T/err")
		case $_l in
		*"rc=0"*) [ "$(keystatus "$TD")" = absent ] || {
				bad "fsc: fscrypt lock: the key is still there"
				continue; } ;;
		*) bad "fsc: fscrypt lock: $_l"
		   sed 's/^/#   /' "$T/err" | tail -n 5
		   continue ;;
		esac
		# the tool's own start and metadata reading, no KDF: what of
		# its unlock is not Argon2id
		_s=$($KB exec -u erin -- fscrypt status "$TD" 2>"$T/err")
		case $_s in
		*"rc=0"*) ;;
		*) bad "fsc: fscrypt status: $_s"
		   sed 's/^/#   /' "$T/err" | tail -n 5
		   continue ;;
		esac
		keep_kt "$_o"
		sample fsc.tool.open "$_u" ms
		sample fsc.tool.status "$_s" ms
		sample fsc.tool.maxrss "$_u" maxrss_kib
		[ -n "$CG" ] && sample fsc.tool.cgpeak "$_u" cg_peak_kib
		sample fsc.tool.logout "$_l" ms
		ok=$((ok + 1))
	done
	section_done fsc "$t_sec"
fi

[ -s "$T/via" ] &&
	meta agents_via "$(sort "$T/via" | uniq -c | awk '{ printf "%s%s by %s", n++ ? ", " : "", $1, $2 }')"
meta vm_seconds "$(awk -v a="$T_START" -v b="$(up)" 'BEGIN { printf "%.0f", b - a }')"
meta vm_loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
[ "$FAILS" -eq 0 ] && echo "ok - benchmarks ran"
