#!/usr/bin/env bash
# run_all.sh: the test-suite driver behind `make check-tests`.
#
# Runs, from the repo root, every executable in $TEST_BIN (the unit-test binaries), then
# every tests/cli/*.sh and tests/reliability/*.sh (with $HAMC in the environment), then
# tests/golden/run.sh if it exists.  Each suite must end its stdout with the line
# `N passed, N failed`; a suite that lacks that line (it crashed, hung, or broke the
# contract) counts as 1 failed, and
# so does one whose exit status is nonzero while it reports no failures (say, a leak
# found by the sanitizer at exit).  One line per suite, the tail of the output of each
# failing suite, and as the very last line the sums: `N passed, N failed`.  The exit
# status is 1 if anything failed or if no test ran at all.
#
# Environment: HAMC (abs path of bin/hamc), TEST_BIN (abs path of build/tests),
# TEST_TIMEOUT (seconds per suite, default 900: a hung suite must not hang CI).
set -u

cd "$(dirname "$0")/.." || exit 1
: "${HAMC:=$PWD/bin/hamc}"
: "${TEST_BIN:=$PWD/build/tests}"
: "${TEST_TIMEOUT:=900}"
export HAMC TEST_BIN

total_pass=0 total_fail=0 suites=0
work=$(mktemp -d "${TMPDIR:-/tmp}/ham-tests.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# run_suite NAME CMD...: run one suite, print its line, add its counts to the totals.
run_suite() {
    local name=$1 pass=0 fail=0 status last note=""
    shift
    # The subshell keeps bash's own "Aborted"/"Segmentation fault" notice out of the way;
    # the status says it all.
    (timeout "$TEST_TIMEOUT" "$@" </dev/null >"$work/out" 2>"$work/err"; exit $?) 2>/dev/null
    status=$?
    last=$(tail -n 1 "$work/out")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        pass=${BASH_REMATCH[1]} fail=${BASH_REMATCH[2]}
        if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
            fail=1 note=" (exit status $status)"
        fi
    else
        fail=1
        case $status in
            0)   note=" (no 'N passed, N failed' line)" ;;
            124) note=" (timed out after ${TEST_TIMEOUT}s)" ;;
            *)   note=" (exit status $status, no summary line)" ;;
        esac
        [ "$status" -gt 128 ] && [ "$status" -ne 124 ] && note=" (killed by signal $((status - 128)))"
    fi
    suites=$((suites + 1))
    total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail))
    if [ "$fail" -eq 0 ]; then
        printf '  ok    %-28s %5d passed, %d failed\n' "$name" "$pass" "$fail"
        grep -h '^skipped:' "$work/err" "$work/out" | sed 's/^/        /'
    else
        printf '  FAIL  %-28s %5d passed, %d failed%s\n' "$name" "$pass" "$fail" "$note"
        # stderr carries the failed checks, stdout the summary; show the end of each.
        tail -n 30 "$work/err" | sed 's/^/        | /'
        tail -n 10 "$work/out" | sed 's/^/        > /'
    fi
}

echo "tests:"
if [ -d "$TEST_BIN" ]; then
    for t in "$TEST_BIN"/*; do
        # Skip the compiler's .d dependency files and anything else not executable.
        if [ -f "$t" ] && [ -x "$t" ]; then run_suite "$(basename "$t")" "$t"; fi
    done
fi
for t in tests/cli/*.sh tests/reliability/*.sh; do
    [ -f "$t" ] || continue
    run_suite "${t#tests/}" bash "$t"
done
if [ -f tests/golden/run.sh ]; then
    run_suite golden/run.sh bash tests/golden/run.sh
fi

if [ $((total_pass + total_fail)) -eq 0 ]; then
    echo "run_all.sh: no tests ran ($suites suites; is TEST_BIN=$TEST_BIN built?)" >&2
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ $((total_pass + total_fail)) -gt 0 ]
