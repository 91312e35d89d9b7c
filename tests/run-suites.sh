#!/bin/sh
# Runs test suites and prints one line per program and a closing count.
# A program passes with exit 0, is skipped with exit 77 (it prints why),
# and fails otherwise.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0 failures="" times=""

run() { # name command...
	name=$1
	shift
	"$@"
	rc=$?
	case $rc in
	0) passed=$((passed + 1)); echo "PASS: $name" ;;
	77) skipped=$((skipped + 1)); echo "SKIP: $name" ;;
	*) failed=$((failed + 1)); failures="$failures $name"
	   echo "FAIL: $name (exit $rc)" ;;
	esac
}

for suite in "$@"; do
	echo "== $suite"
	t0=$(date +%s)
	case $suite in
	unit|pam|host)
		for t in tests/$suite/test_*; do
			case $t in *.c|*'*') continue ;; esac
			[ -x "$t" ] || continue
			run "$t" "$t"
		done ;;
	man)
		for m in man/*.[58]; do
			[ -e "$m" ] || continue
			run "mandoc-lint $m" mandoc -Tlint -Wwarning "$m"
		done ;;
	vm)
		run "tests/vm/run.sh check" tests/vm/run.sh check ;;
	debian)	# keyturn's package on Debian 12 and 13 images, systemd as PID 1
		run "tests/debian/run.sh" tests/debian/run.sh ;;
	fuzz)	# replay of every corpus and regression input, then 10 s each
		run "tests/fuzz/run.sh check" env FUZZ_SECONDS=10 \
			tests/fuzz/run.sh check ;;
	asan)	# unit, PAM and host tests built with ASan+UBSan
		run "tests/fuzz/check-asan.sh" tests/fuzz/check-asan.sh ;;
	valgrind) # the PAM tests under memcheck
		run "tests/fuzz/check-valgrind.sh" tests/fuzz/check-valgrind.sh ;;
	*)
		echo "unknown suite $suite" >&2; exit 2 ;;
	esac
	times="$times $suite $(($(date +%s) - t0)) s,"
done

echo
# where the time went (CI's budget), at the end where a log's tail shows it
echo "suites took:${times%,}"
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
