#!/bin/sh
# Builds the libFuzzer targets and runs them. Called by tests/fuzz/fuzz.mk:
#   run.sh check  replay every corpus and regression input once (no
#                 mutation), then a short pass of each target; exits 0 all
#                 passed, 1 something failed, 77 skipped (no clang/libFuzzer)
#   run.sh fuzz   each target for FUZZ_SECONDS (default 60; check: 10);
#                 new inputs go to tests/fuzz/build/fuzz/work/<target>
# A crash leaves its input in tests/fuzz/build/fuzz/artifacts/<target>/:
# minimise it, fix the bug, commit it to tests/fuzz/regress/<target>/.
set -u
cd "$(dirname "$0")/../.."

mode=${1:-check}
: "${MAKE:=make}"
if [ "$mode" = check ]; then
	: "${FUZZ_SECONDS:=10}"
else
	: "${FUZZ_SECONDS:=60}"
fi
: "${FUZZ_TARGETS:=config wrapped protocol keydesc mount fscrypt_meta}"
: "${FUZZ_CC:=$(command -v clang-14 || command -v clang)}"
out=tests/fuzz/build/fuzz

passed=0 failed=0 skipped=0 failures=""
result() { # rc name
	case $1 in
	0) passed=$((passed + 1)); echo "PASS: $2" ;;
	77) skipped=$((skipped + 1)); echo "SKIP: $2" ;;
	*) failed=$((failed + 1)); failures="$failures $2"
	   echo "FAIL: $2 (exit $1)" ;;
	esac
}

# The largest input worth trying per target: past it, the parsers refuse
# by length alone.
max_len() {
	case $1 in
	config) echo 8192 ;;
	wrapped) echo 4300 ;;
	protocol) echo 2048 ;;
	fscrypt_meta) echo 4096 ;;
	*) echo 1024 ;;
	esac
}

skip_all() {
	echo "SKIP: fuzz: $*"
	exit 77
}

[ -n "$FUZZ_CC" ] && [ -x "$FUZZ_CC" ] || skip_all "no clang (install clang)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	'{ (void)d; (void)n; return 0; }' >"$probe/p.c"
"$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" \
	>"$probe/log" 2>&1 ||
	skip_all "$FUZZ_CC cannot build a libFuzzer target with ASan+UBSan:" \
		"$(grep -m 1 . "$probe/log")"

echo "== fuzz ($mode)"
if ! $MAKE --no-print-directory fuzz-build FUZZ_CC="$FUZZ_CC" \
	FUZZ_TARGETS="$FUZZ_TARGETS" >"$probe/build" 2>&1; then
	tail -n 30 "$probe/build"
	result 1 "fuzz build"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

for t in $FUZZ_TARGETS; do
	bin=$out/fuzz_$t
	dict=tests/fuzz/dict/$t.dict
	log=$out/log/$t.log
	mkdir -p "$out/log" "$out/artifacts/$t" "$out/work/$t"
	# FUZZ_FLAGS: more libFuzzer flags, e.g. "-fork=1 -ignore_crashes=1"
	# to go on past a known crash.
	# shellcheck disable=SC2086
	set -- ${FUZZ_FLAGS:-}
	[ -f "$dict" ] && set -- "$@" "-dict=$dict"

	if [ "$mode" = check ]; then
		# Every committed input once, as files: libFuzzer runs each
		# and stops at the first that fails.
		files=$(find tests/fuzz/corpus/$t tests/fuzz/regress/$t \
			-type f ! -name '.*' 2>/dev/null | sort)
		n=$(printf '%s\n' "$files" | grep -c .)
		if [ "$n" -eq 0 ]; then
			result 1 "replay $t (no inputs)"
		else
			# shellcheck disable=SC2086
			"$bin" -error_exitcode=1 -runs=1 $files \
				>"$log.replay" 2>&1
			rc=$?
			[ $rc -ne 0 ] && tail -n 40 "$log.replay"
			result $rc "replay $t ($n inputs)"
		fi
	fi

	"$bin" "$@" -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$t")" \
		-timeout=20 -error_exitcode=1 -timeout_exitcode=1 \
		-print_final_stats=1 \
		-artifact_prefix="$out/artifacts/$t/" \
		"$out/work/$t" tests/fuzz/corpus/$t tests/fuzz/regress/$t \
		>"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $rc -ne 0 ]; then
		tail -n 40 "$log"
		ls "$out/artifacts/$t"
	fi
	result $rc "fuzz $t (${FUZZ_SECONDS}s, ${runs:-?} runs)"
done

echo
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
