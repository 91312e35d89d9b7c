#!/bin/sh
# make check-valgrind: every PAM test under valgrind's memcheck. A definite
# leak, an invalid access or a read of uninitialised memory in any process
# it runs (the test after its re-execution under pam_wrapper, with
# pam_keyturn.so loaded in real libpam) fails it. The agent the module
# starts is the test's own probe (argv "--user"), not keyturn's code, and
# is left out: valgrind's own descriptors and environment would show in
# what it checks.
set -u
cd "$(dirname "$0")/../.."

out=tests/fuzz/build/valgrind
if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: check-valgrind: no valgrind (make deps installs it)"
	exit 77
fi
mkdir -p "$out"
if ! ${CC:-cc} -shared -fPIC -O2 -Wall -Wextra -o "$out/vg_exec.so" \
	tests/fuzz/vg_exec.c; then
	echo "FAIL: check-valgrind: cannot build tests/fuzz/vg_exec.c"
	exit 1
fi

passed=0 failed=0 skipped=0 failures=""
echo "== valgrind"
for t in tests/pam/test_*; do
	case $t in *.c|*'*') continue ;; esac
	[ -x "$t" ] || continue
	name=$(basename "$t")
	rm -f "$out/$name".*.log
	LD_PRELOAD="$PWD/$out/vg_exec.so" valgrind -q \
		--trace-children=yes --trace-children-skip-by-arg=--user \
		--child-silent-after-fork=yes \
		--leak-check=full --errors-for-leak-kinds=definite \
		--track-origins=yes --error-exitcode=1 \
		--suppressions=tests/fuzz/valgrind.supp \
		--log-file="$out/$name.%p.log" "$t"
	rc=$?
	# Any process with an error fails the test, whatever it exited.
	bad=$(grep -l -E "ERROR SUMMARY: [1-9]|definitely lost: [1-9]" \
		"$out/$name".*.log 2>/dev/null)
	if [ -n "$bad" ]; then
		cat $bad
		[ $rc -eq 0 ] || [ $rc -eq 77 ] && rc=1
	fi
	case $rc in
	0) passed=$((passed + 1)); echo "PASS: valgrind $t" ;;
	77) skipped=$((skipped + 1)); echo "SKIP: valgrind $t" ;;
	*) failed=$((failed + 1)); failures="$failures $t"
	   echo "FAIL: valgrind $t (exit $rc, logs: $out/$name.*.log)" ;;
	esac
done

echo
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
