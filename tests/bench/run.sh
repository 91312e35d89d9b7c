#!/bin/bash
# make bench: what keyturn costs a login, against cryptsetup and
# ecryptfs-utils. Builds tests/bench/kt-bench.c (a PAM and exec timer) and
# kt-bench-kdf.c (keyturn's unlock in verify mode, linked with
# libkeyturn.a), measures on the host what the host can run (PAM cycles
# through pam_wrapper, the KDF part in verify mode), boots the VM once
# (tests/vm/run.sh bench runs run-guest.sh there) for the real logins,
# prints the table and writes it to tests/bench/RESULTS.md.
#
# Knobs (environment): KT_BENCH_RUNS (runs per figure, default 10: the
# issue asks for at least 10), KT_BENCH_RUNS_SLOTS (item 3 in the VM,
# default RUNS), KT_BENCH_RUNS_CONC (item 4 in the VM and on the host,
# default RUNS), KT_BENCH_CONC_SETS (parallelism:volume counts, default
# "1:2,4 default:2,4"; one volume is item 2's login), KT_BENCH_ITER /
# KT_BENCH_MEM (Argon2id time and memory cost of the host's volumes,
# default 4 and 32768 KiB), KT_BENCH_VM_ITER / KT_BENCH_VM_MEM (the VM's,
# default 4 and 16384 KiB: one KDF then takes 2-3 s under emulation on the
# loaded machine), KT_BENCH_PAM_CYCLES (item 1, 400), KT_BENCH_SECTIONS
# (VM sections, default "pam luks slots conc ecr fsc"), KT_BENCH_HOST=0 /
# KT_BENCH_VM=0 (skip the host or the VM part), KT_BENCH_OUT (results
# file). A quick run of every piece (a few minutes, figures not worth
# keeping): KT_BENCH_RUNS=2 KT_BENCH_PAM_CYCLES=20
# KT_BENCH_CONC_SETS="1:2 default:4" KT_BENCH_OUT=/tmp/bench.md.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
B=$HERE/build
RUNS=${KT_BENCH_RUNS:-10}
RUNS_SLOTS=${KT_BENCH_RUNS_SLOTS:-$RUNS}
RUNS_CONC=${KT_BENCH_RUNS_CONC:-$RUNS}
CONC_SETS=${KT_BENCH_CONC_SETS:-1:2,4 default:2,4}
ITER=${KT_BENCH_ITER:-4}
VM_ITER=${KT_BENCH_VM_ITER:-$ITER}
VM_MEM=${KT_BENCH_VM_MEM:-16384}
MEM=${KT_BENCH_MEM:-32768}
SECTIONS=${KT_BENCH_SECTIONS:-pam luks slots conc ecr fsc}
OUT=${KT_BENCH_OUT:-$HERE/RESULTS.md}
PAM_CYCLES=${KT_BENCH_PAM_CYCLES:-400}
SAMPLES=$B/samples
T0=$(date +%s)

mkdir -p "$B"
: > "$SAMPLES"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- build -----------------------------------------------------------------
CFLAGS_B=(-O2 -g -std=gnu11 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2)
cc "${CFLAGS_B[@]}" -o "$B/kt-bench" "$HERE/kt-bench.c" -lpam -lkeyutils
# shellcheck disable=SC2046
cc "${CFLAGS_B[@]}" -I"$REPO/lib" $(pkg-config --cflags libcryptsetup) \
	-o "$B/kt-bench-kdf" "$HERE/kt-bench-kdf.c" "$REPO/lib/libkeyturn.a" \
	$(pkg-config --libs pam libkeyutils libcryptsetup libsodium libargon2)
cat > "$B/params" <<EOF
RUNS=$RUNS
RUNS_SLOTS=$RUNS_SLOTS
RUNS_CONC=$RUNS_CONC
CONC_SETS="$CONC_SETS"
ITER=$VM_ITER
MEM=$VM_MEM
PAM_CYCLES=$PAM_CYCLES
SECTIONS="$SECTIONS"
EOF

# ---- host: PAM cycles (pam_wrapper) and the KDF in verify mode -------------
PW=bench-Login-pw1
host_part() {
	local d wrap=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so sec
	d=$(mktemp -d "$B/host.XXXXXX")
	sec=/lib/x86_64-linux-gnu/security
	# --- 1. PAM: a user (nobody) with no volume, a config naming another
	cat > "$d/keyturn.conf" <<'EOF'
[volume home]
user = daemon
type = luks2
device = /dev/ktb-no-such-device
name = ktb-daemon
mountpoint = /nonexistent/ktb
EOF
	chmod 0644 "$d/keyturn.conf"
	mkdir "$d/pam.d"
	# libpam reads "other" for defaults at every pam_start
	printf '%s\n' "auth required $sec/pam_deny.so" \
		"account required $sec/pam_deny.so" \
		"session required $sec/pam_deny.so" > "$d/pam.d/other"
	printf '%s\n' "auth required $sec/pam_permit.so" \
		"account required $sec/pam_permit.so" \
		"session required $sec/pam_permit.so" > "$d/pam.d/ktb-plain"
	printf '%s\n' "auth required $sec/pam_permit.so" \
		"auth optional $REPO/pam/pam_keyturn.so config=$d/keyturn.conf" \
		"account required $sec/pam_permit.so" \
		"session required $sec/pam_permit.so" \
		"session optional $REPO/pam/pam_keyturn.so config=$d/keyturn.conf" \
		> "$d/pam.d/ktb-kt"
	if [ -e "$wrap" ]; then
		echo "# host: PAM cycles through pam_wrapper"
		local i s
		for i in 1 2 3 4 5 6 7 8 9 10; do
			for s in plain kt; do
				LD_PRELOAD=$wrap PAM_WRAPPER=1 \
				PAM_WRAPPER_SERVICE_DIR=$d/pam.d \
					"$B/kt-bench" pam "ktb-$s" nobody \
					$((PAM_CYCLES / 10)) |
					sed "s/^us=/@s host.pam.$s /" >> "$SAMPLES"
			done
		done
	else
		echo "# host: no pam_wrapper, PAM cycles only in the VM"
	fi
	# --- 2-4. the KDF part, verify mode, image files
	mkimg() { # IMAGE PARALLEL SLOTS
		local pb=(--pbkdf argon2id --pbkdf-force-iterations "$ITER"
			--pbkdf-memory "$MEM") first=$PW k new
		[ "$2" = default ] || pb+=(--pbkdf-parallel "$2")
		truncate -s 24M "$1"
		[ "$3" -gt 1 ] && first=other-pw-0
		printf '%s' "$first" | cryptsetup luksFormat -q --type luks2 \
			--luks2-keyslots-size 4m "${pb[@]}" --key-file=- "$1"
		for ((k = 1; k < $3; k++)); do
			new=other-pw-$k
			[ "$k" = $(($3 - 1)) ] && new=$PW
			printf '%s\n%s\n' "$first" "$new" |
				cryptsetup luksAddKey -q "${pb[@]}" --key-slot "$k" "$1"
		done
		cryptsetup token add --key-description keyturn:bench \
			--key-slot $(($3 - 1)) "$1"
	}
	echo "# host: LUKS2 images (Argon2id m=$MEM t=$ITER)"
	mkimg "$d/one.img" default 1
	mkimg "$d/four.img" default 4
	for k in 1 2 3 4; do
		mkimg "$d/p1-$k.img" 1 1
		mkimg "$d/pd-$k.img" default 1
	done
	echo "# host: verify mode, keyturn (kt_luks_open) vs cryptsetup"
	for ((i = 0; i < RUNS; i++)); do
		printf '%s\n' "$PW" | "$B/kt-bench-kdf" keyturn:bench 1 \
			"$d/one.img" | sed 's/^ms=/@s host.luks1.kt /' >> "$SAMPLES"
		printf '%s\n' "$PW" | "$B/kt-bench" exec -k keyturn:bench -- \
			cryptsetup open --test-passphrase --token-only \
			"$d/one.img" | sed -n 's/^ms=\([0-9.]*\) .*rc=0$/@s host.luks1.cs \1/p' \
			>> "$SAMPLES"
		printf '%s\n' "$PW" | "$B/kt-bench-kdf" keyturn:bench 1 \
			"$d/four.img" | sed 's/^ms=/@s host.slots4.kt /' >> "$SAMPLES"
		printf '%s\n' "$PW" | "$B/kt-bench" exec -- \
			cryptsetup open --test-passphrase "$d/four.img" |
			sed -n 's/^ms=\([0-9.]*\) .*rc=0$/@s host.slots4.cs \1/p' \
			>> "$SAMPLES"
	done
	echo "# host: the KDFs of 2 and 4 volumes, one after another vs at once"
	local t n devs
	for t in p1 pd; do
		for n in 2 4; do
			devs=()
			for ((k = 1; k <= n; k++)); do devs+=("$d/$t-$k.img"); done
			printf '%s\n' "$PW" | "$B/kt-bench-kdf" keyturn:bench \
				"$RUNS_CONC" "${devs[@]}" |
				sed -n "s/^seq_ms=\([0-9.]*\) conc_ms=\([0-9.]*\)$/@s host.conc.$t.$n.seq \1\n@s host.conc.$t.$n.kt \2/p" \
				>> "$SAMPLES"
		done
	done
	rm -rf "$d"
}
if [ "${KT_BENCH_HOST:-1}" != 0 ]; then
	host_part
fi
HOST_S=$(($(date +%s) - T0))

# ---- the VM ----------------------------------------------------------------
echo "# VM: tests/vm/run.sh bench"
VMRC=0
if [ "${KT_BENCH_VM:-1}" != 0 ]; then
	KT_VM_TIMEOUT=${KT_VM_TIMEOUT:-3600} "$REPO/tests/vm/run.sh" bench \
		> "$B/vm.out" 2>&1 || VMRC=$?
else
	: > "$B/vm.out"
fi
grep -E '^(# |not ok|ok |SKIP)' "$B/vm.out" | grep -v '^# vm: ' || true
grep '^# vm: ' "$B/vm.out" || true
grep '^@s ' "$B/vm.out" | sed 's/^@s /@s vm./' >> "$SAMPLES" || true
grep '^@m ' "$B/vm.out" > "$B/meta" || true
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
TOTAL_S=$(($(date +%s) - T0))

# ---- the table ---------------------------------------------------------------
meta() { sed -n "s/^@m $1 //p" "$B/meta" | head -n 1; }
metaor() { # KEY TEXT: the fact, or TEXT when the VM did not report it
	local v
	v=$(meta "$1")
	printf '%s' "${v:-$2}"
}
# stats: ROW -> "median min max count", after the sums below

st() { awk -v r="$1" -v f="$2" '$1 == r { print $f }' "$B/stats"; }
# fig ROW [SCALE] [DIGITS]: "median (min–max)" or "n/a"
fig() {
	local s=${2:-1} dg=${3:-0}
	awk -v r="$1" -v s="$s" -v d="$dg" '$1 == r {
		f = "%." d "f"
		printf f " (" f "–" f ", n=%d)", $2 * s, $3 * s, $4 * s, $5; ok = 1 }
		END { if (!ok) printf "n/a" }' "$B/stats"
}
ratio() { # ROW-A ROW-B: median(A) / median(B)
	awk -v a="$1" -v b="$2" '$1 == a { x = $2 } $1 == b { y = $2 }
		END { if (x != "" && y > 0) printf "%.2f×", x / y; else printf "n/a" }' \
		"$B/stats"
}
sumrow() { # NEW A B: samples of NEW = A[i] + B[i]
	awk -v a="$2" -v b="$3" -v n="$1" '$1 == "@s" && $2 == a { x[++i] = $3 }
		$1 == "@s" && $2 == b { y[++j] = $3 }
		END { for (k = 1; k <= i && k <= j; k++) print "@s", n, x[k] + y[k] }' \
		"$SAMPLES" >> "$SAMPLES"
}
diffus() { # A B: median(A) - median(B) in µs
	awk -v a="$1" -v b="$2" '$1 == a { x = $2 } $1 == b { y = $2 }
		END { if (x != "" && y != "") printf "%+.0f µs", x - y; else printf "n/a" }' \
		"$B/stats"
}
count() { st "$1" 5; }
# the cryptsetup side of item 3 in the VM: open + the same mount
sumrow vm.slots4.cs.total vm.slots4.cs.open vm.slots4.cs.mount
# re-run the statistics with the sums
awk '$1 == "@s" { v[$2] = v[$2] " " $3 }
END {
	for (r in v) {
		n = split(substr(v[r], 2), a, " ")
		for (i = 1; i <= n; i++) x[i] = a[i] + 0
		for (i = 2; i <= n; i++) {
			k = x[i]; j = i - 1
			while (j > 0 && x[j] > k) { x[j + 1] = x[j]; j-- }
			x[j + 1] = k
		}
		med = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
		print r, med, x[1], x[n], n
		delete x
	}
}' "$SAMPLES" | sort > "$B/stats"

HOSTCPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
MEMTOTAL=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
{
	echo "# keyturn benchmarks"
	echo
	echo "Made by \`make bench\` (tests/bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo "Each figure: median (min–max) of N runs; times in ms unless said."
	echo
	echo "- host: $(uname -srm), $HOSTCPU, $(nproc) CPUs, $MEMTOTAL;" \
		"load average $LOAD0 at the start, $LOAD1 at the end (shared" \
		"machine: other builds, VM runs and a fuzzer ran meanwhile)"
	echo "- VM: Debian kernel $(meta kernel), qemu $(qemu-system-x86_64 --version |
		head -n 1 | awk '{ print $4 }') TCG (software emulation)," \
		"$(meta vm_cpus) CPUs, $(meta vm_mem_kib | awk '{ printf "%.0f MiB", $1 / 1024 }');" \
		"guest load average at the end $(metaor vm_loadavg "n/a (the VM run did not finish)")"
	echo "- $(meta cryptsetup); benchmark volumes Argon2id m=$VM_MEM KiB t=$VM_ITER"
	echo "  in the VM (emulation is slow), m=$MEM KiB t=$ITER on the host;"
	echo "  parallelism 1 or cryptsetup's default (VM: $(meta luks_pbkdf))"
	echo "- runs: n per figure below; host part ${HOST_S} s, whole run ${TOTAL_S} s;"
	echo "  VM sections (s): $(for k in pam luks slots conc ecr fsc; do
		printf '%s %s; ' "$k" "$(metaor t_$k n/a)"; done)guest total $(metaor vm_seconds n/a)"
	echo
	echo "| # | what | keyturn | baseline | ratio / added | target | where |"
	echo "|---|---|---|---|---|---|---|"
	echo "| 1 | PAM login/logout cycle, user with no volume: pam_permit + pam_keyturn vs pam_permit alone (µs, $(count vm.pam.kt) cycles) | $(fig vm.pam.kt) | $(fig vm.pam.plain) | $(diffus vm.pam.kt vm.pam.plain) | < 1000 µs added | VM |"
	echo "| 1h | the same through pam_wrapper (µs, $(count host.pam.kt) cycles) | $(fig host.pam.kt) | $(fig host.pam.plain) | $(diffus host.pam.kt host.pam.plain) | < 1000 µs added | host |"
	echo "| 2 | one LUKS2 volume: pam_open_session (key, agent, token unlock, mount, report) vs key in keyring + \`cryptsetup open --token-only\` + mount | $(fig vm.luks1.kt.open) | $(fig vm.luks1.cs.open) | $(ratio vm.luks1.kt.open vm.luks1.cs.open) | ≤ 1.05× | VM |"
	echo "| 2h | the KDF part, verify mode: keyturn's kt_luks_open(NULL name) vs \`cryptsetup open --test-passphrase --token-only\` | $(fig host.luks1.kt) | $(fig host.luks1.cs) | $(ratio host.luks1.kt host.luks1.cs) | ≤ 1.05× | host |"
	echo "| 3 | login keyslot last of 4: pam_open_session vs passphrase piped to \`cryptsetup open\` + mount | $(fig vm.slots4.kt.open) | $(fig vm.slots4.cs.total) | $(ratio vm.slots4.kt.open vm.slots4.cs.total) | ≤ 0.35× | VM |"
	echo "| 3h | the same, verify mode: kt_luks_open vs \`cryptsetup open --test-passphrase\` (stdin) | $(fig host.slots4.kt) | $(fig host.slots4.cs) | $(ratio host.slots4.kt host.slots4.cs) | ≤ 0.35× | host |"
	for t in p1 pd; do
		tn="parallel 1"
		[ $t = pd ] && tn="default parallelism"
		if [ $t = pd ] && [ -z "$(st vm.conc.pd.1.kt.open 2)" ]; then
			echo "| 4 | 1 volume, default parallelism: item 2 (the same login, nothing to run concurrently) | $(fig vm.luks1.kt.open) | $(fig vm.luks1.cs.open) | $(ratio vm.luks1.kt.open vm.luks1.cs.open) | ≈ 1× | VM |"
		fi
		for n in 1 2 4; do
			tg="report"
			[ $t = p1 ] && [ $n = 2 ] && tg="≤ 0.65×"
			[ $n = 1 ] && tg="≈ 1×"
			[ -n "$(st vm.conc.$t.$n.kt.open 2)" ] || continue
			echo "| 4 | $n volume(s), $tn: keyturn's login (concurrent) vs \`cryptsetup open --token-only\` + mount one after another | $(fig vm.conc.$t.$n.kt.open) | $(fig vm.conc.$t.$n.seq.open) | $(ratio vm.conc.$t.$n.kt.open vm.conc.$t.$n.seq.open) | $tg | VM |"
		done
		for n in 2 4; do
			[ -n "$(st host.conc.$t.$n.kt 2)" ] || continue
			echo "| 4h | $n volumes, $tn, KDF only: all at once vs one after another | $(fig host.conc.$t.$n.kt) | $(fig host.conc.$t.$n.seq) | $(ratio host.conc.$t.$n.kt host.conc.$t.$n.seq) | | host |"
		done
		for n in 1 2 4; do
			[ -n "$(st vm.conc.$t.$n.kt.hwm 2)" ] || continue
			echo "| 4m | $n volumes, $tn: peak memory (MiB): cgroup memory.peak of the whole login vs of the script; agent VmHWM vs cryptsetup's maxrss | cgroup $(fig vm.conc.$t.$n.kt.cgpeak 0.0009765625 1); agent $(fig vm.conc.$t.$n.kt.hwm 0.0009765625 1) | cgroup $(fig vm.conc.$t.$n.seq.cgpeak 0.0009765625 1); cryptsetup $(fig vm.conc.$t.$n.seq.maxrss 0.0009765625 1) | | report | VM |"
		done
	done
	echo "| 5 | eCryptfs, one private directory: pam_open_session vs by hand (\`ecryptfs-insert-wrapped-passphrase-into-keyring\` + mount) | $(fig vm.ecr.kt.open) | $(fig vm.ecr.hand.open) | $(ratio vm.ecr.kt.open vm.ecr.hand.open) | report | VM |"
	echo "| 6 | logout, one LUKS2 volume: close_session until unmounted and dm device gone vs umount + \`cryptsetup close\` | $(fig vm.luks1.kt.logout) | $(fig vm.luks1.cs.logout) | $(ratio vm.luks1.kt.logout vm.luks1.cs.logout) | report | VM |"
	echo "| 6 | logout, 4 volumes (default parallelism) | $(fig vm.conc.pd.4.kt.logout) | $(fig vm.conc.pd.4.seq.logout) | $(ratio vm.conc.pd.4.kt.logout vm.conc.pd.4.seq.logout) | report | VM |"
	echo "| 6 | logout, eCryptfs: close_session until unmounted vs umount + key unlink | $(fig vm.ecr.kt.logout) | $(fig vm.ecr.hand.logout) | $(ratio vm.ecr.kt.logout vm.ecr.hand.logout) | report | VM |"
	echo "| 7 | idle agent holding a session, VmRSS (KiB): one LUKS2 volume | $(fig vm.luks1.kt.rss) | | | < 2048 KiB | VM |"
	echo "| 7 | idle agent, VmRSS (KiB): 4 volumes (default parallelism) | $(fig vm.conc.pd.4.kt.rss) | | | < 2048 KiB | VM |"
	echo "| 7 | idle agent, VmRSS (KiB): one eCryptfs directory | $(fig vm.ecr.kt.rss) | | | < 2048 KiB | VM |"
	echo "| 7 | the same three, RssAnon only (KiB; the rest is file-backed: shared libraries): one LUKS2; 4 volumes; eCryptfs | $(fig vm.luks1.kt.anon); $(fig vm.conc.pd.4.kt.anon); $(fig vm.ecr.kt.anon) | | | | VM |"
	echo "| 7 | peak during unlock (MiB), one LUKS2 volume: cgroup memory.peak of the whole login vs of the script; agent VmHWM vs cryptsetup's maxrss | cgroup $(fig vm.luks1.kt.cgpeak 0.0009765625 1); agent $(fig vm.luks1.kt.hwm 0.0009765625 1) | cgroup $(fig vm.luks1.cs.cgpeak 0.0009765625 1); cryptsetup $(fig vm.luks1.cs.maxrss 0.0009765625 1) | | report | VM |"
	echo "| 7 | peak during unlock (MiB), 4 volumes (default parallelism): the same | cgroup $(fig vm.conc.pd.4.kt.cgpeak 0.0009765625 1); agent $(fig vm.conc.pd.4.kt.hwm 0.0009765625 1) | cgroup $(fig vm.conc.pd.4.seq.cgpeak 0.0009765625 1); cryptsetup $(fig vm.conc.pd.4.seq.maxrss 0.0009765625 1) | | report | VM |"
	echo "| 7 | peak during unlock (MiB), eCryptfs: the same, by hand with ecryptfs-utils | cgroup $(fig vm.ecr.kt.cgpeak 0.0009765625 1); agent $(fig vm.ecr.kt.hwm 0.0009765625 1) | cgroup $(fig vm.ecr.hand.cgpeak 0.0009765625 1); by-hand script $(fig vm.ecr.hand.maxrss 0.0009765625 1) | | report | VM |"
	echo "| 8 | fscrypt, one directory: pam_open_session (key, agent, unwrap, add the key, report) vs \`fscrypt unlock DIR --unlock-with=/:PROTECTOR\` by hand (passphrase on stdin, as the user) | $(fig vm.fsc.kt.open) | $(fig vm.fsc.tool.open) | $(ratio vm.fsc.kt.open vm.fsc.tool.open) | report | VM |"
	echo "| 8 | the tool's part that is not Argon2id: \`fscrypt status DIR\` as the user (its start, the metadata of both filesystems read) | | $(fig vm.fsc.tool.status) | | report | VM |"
	echo "| 8 | logout, fscrypt: close_session until the kernel holds no key of the directory vs \`fscrypt lock DIR\` | $(fig vm.fsc.kt.logout) | $(fig vm.fsc.tool.logout) | $(ratio vm.fsc.kt.logout vm.fsc.tool.logout) | report | VM |"
	echo "| 8 | idle agent, VmRSS (KiB): one fscrypt directory; RssAnon only | $(fig vm.fsc.kt.rss); $(fig vm.fsc.kt.anon) | | | < 2048 KiB | VM |"
	echo "| 8 | peak during unlock (MiB), fscrypt: cgroup memory.peak of the whole login vs of \`fscrypt unlock\`; agent VmHWM vs the tool's maxrss | cgroup $(fig vm.fsc.kt.cgpeak 0.0009765625 1); agent $(fig vm.fsc.kt.hwm 0.0009765625 1) | cgroup $(fig vm.fsc.tool.cgpeak 0.0009765625 1); fscrypt $(fig vm.fsc.tool.maxrss 0.0009765625 1) | | report | VM |"
	echo
	echo "Where: **VM** = real logins (kt-bench login: pam_unix + pam_keyinit +"
	echo "pam_keyturn, service kt-test) and real \`cryptsetup open\` in the qemu VM"
	echo "(both sides pay device-mapper activation, ~2 s per \`cryptsetup open\` under"
	echo "emulation, and the same ext4 mount); **host** = this machine, no"
	echo "device-mapper: verify mode (the KDF part only) on LUKS2 image files, and PAM"
	echo "through pam_wrapper. 4h runs the KDFs in one process per volume: the most"
	echo "concurrency can win here. Item 4 in the VM: the agent opens a user's"
	echo "volumes concurrently, as many at once as keyslot memory and CPUs allow,"
	echo "and has no switch to force one after another; the sequential side is"
	echo "therefore the same volumes opened one by one with \`cryptsetup open"
	echo "--token-only\` (key in the keyring) and mounted. Peak memory: the"
	echo "agent's own VmHWM leaves out the children in which it runs the KDFs, and"
	echo "is read after the agent became keyturn-hold (execve resets it: the"
	echo "holder's own, under 0.1 MiB, shows as 0.0), so"
	echo "the figure that counts them is the memory.peak of a cgroup v2 made for"
	echo "each run (the whole login: the PAM application, the agent and its"
	echo "children; on the baseline side the script with cryptsetup). Item 7"
	echo "finds the agent by its control socket /run/keyturn/UID/agent.PID"
	echo "(whatever the process runs by then), by name only when there is no"
	echo "socket (logins of this run: $(metaor agents_via "n/a")). eCryptfs: carol's private"
	echo "directory is made by ecryptfs-utils (ecryptfs-add-passphrase --fnek,"
	echo "ecryptfs-wrap-passphrase) and imported with \`keyturnctl enroll ecryptfs"
	echo "--import\`; keyturn's wrapped file: Argon2id $(metaor ecr_wrap "n/a (the eCryptfs section did not run)")"
	echo "By hand: \`ecryptfs-insert-wrapped-passphrase-into-keyring\` (ecryptfs-utils'"
	echo "own wrapping) and \`mount -t ecryptfs\`; its logout: umount and the two"
	echo "auth-token keys invalidated. fscrypt (item 8): on an ext4 made with"
	echo "\`mke2fs -O encrypt\` (loop image), dave's empty directory enrolled with"
	echo "\`keyturnctl enroll fscrypt --argon2-ms 1000 --argon2-memory $VM_MEM\`"
	echo "(v2 policy; his wrapped file: Argon2id $(metaor fsc_costs "n/a (the fscrypt section did not run)"));"
	echo "erin's directory made by the fscrypt tool ($(metaor fsc_tool n/a), Debian's"
	echo "package) with \`fscrypt encrypt --source=pam_passphrase\` after the same"
	echo "t, m and p were written into /etc/fscrypt.conf's hash_costs (there:"
	echo "$(metaor fsc_tool_costs n/a)), so that both sides pay the same Argon2id. The"
	echo "tool's unlock and lock run as erin (\`kt-bench exec -u\`), each a whole"
	echo "process (its start included); keyturn's open is pam_open_session alone"
	echo "(the password was checked before). Unlocked and locked are the kernel's"
	echo "word: FS_IOC_GET_ENCRYPTION_KEY_STATUS says the directory's key is present,"
	echo "then absent (\`kt-bench login -d\`, \`kt-bench keystatus\`)."
	if grep -q '^@r ' "$B/vm.out"; then
		echo
		echo "Item 7, what the idle agent's resident memory (one LUKS2 volume)"
		echo "is made of, from its /proc/PID/smaps (KiB, largest first):"
		echo
		echo "| Rss | Pss | Private_Dirty | mapping |"
		echo "|---|---|---|---|"
		sed -n 's/^@r \([0-9]*\) \([0-9]*\) \([0-9]*\) \(.*\)$/| \1 | \2 | \3 | \4 |/p' \
			"$B/vm.out"
	fi
	if [ "$VMRC" != 0 ] || grep -q '^not ok' "$B/vm.out"; then
		echo
		echo "VM run problems (exit $VMRC):"
		echo
		grep -E '^(not ok|#   )' "$B/vm.out" | head -n 40 | sed 's/^/    /'
	fi
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
[ "$VMRC" = 0 ] && ! grep -q '^not ok' "$B/vm.out"
