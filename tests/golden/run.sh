#!/usr/bin/env bash
# run.sh: golden diagnostic tests for `hamc check`.
#
# Every tests/golden/*.ham is a small spec with mistakes in it, and carries what hamc
# must say about them inline, one comment per diagnostic:
#     # expect-error: 3:14: unknown function 'sofplus'
#     # expect-warning: 2:11: param 'b' is never used
# (line:col, then the message exactly as hamc prints it after `error: `/`warning: `).
# A file passes when the set of `L:C: error: MSG` and `L:C: warning: MSG` that hamc
# prints (from its lines `PATH:L:C: error: MSG`) equals the set of expectations, and
# the exit status is 1 if an error is expected, 0 otherwise.  A crash (exit status
# above 2, a signal) or a hang (past 20 s) never passes.  Diagnostics about other
# files, or with no location, count as unexpected.  Notes and hints are not compared.
#
# Failures go to stderr (the file, the missing and the unexpected diagnostics); the
# last line of stdout is `N passed, N failed`.  Exit status 1 if any file failed or
# none ran.  Environment: HAMC, the absolute path of hamc (default ../../bin/hamc
# beside this script).
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${HAMC:=$here/../../bin/hamc}"
export LC_ALL=C

pass=0 fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-golden.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# expectations FILE: the expected diagnostics as `L:C: error: MSG` lines, sorted.
expectations() {
    sed -n 's/^.*# expect-\(error\|warning\): \([0-9]*:[0-9]*\): \(.*\)$/\2: \1: \3/p' "$1" |
        sed 's/[[:space:]]*$//' | sort -u
}

# actual FILE OUTPUT: the diagnostics hamc printed, as `L:C: kind: MSG` lines, sorted.
# Those located in another file keep their path in front; unlocated ones (`hamc:
# error: ...`) read `?:?:`; either way they match no expectation.
actual() {
    awk -v file="$1" '
        /^ / { next }   # the echoed source line, the caret, hints
        index($0, file ":") == 1 && match(substr($0, length(file) + 2), /^[0-9]+:[0-9]+: (error|warning): /) {
            print substr($0, length(file) + 2); next
        }
        /:[0-9]+:[0-9]+: (error|warning): / { print; next }
        /^hamc: (error|warning): / { sub(/^hamc: /, ""); print "?:?: " $0 }
    ' "$2" | sed 's/[[:space:]]*$//' | sort -u
}

report_failure() {   # FILE WHY: the file, why it failed, and the diagnostics that differ
    {
        echo "FAIL $1: $2"
        comm -23 "$tmp/want" "$tmp/got" | sed 's/^/    missing:    /'
        comm -13 "$tmp/want" "$tmp/got" | sed 's/^/    unexpected: /'
    } >&2
}

if [ ! -x "$HAMC" ]; then
    echo "run.sh: no hamc at $HAMC (set HAMC)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

for f in "$here"/*.ham; do
    [ -f "$f" ] || continue
    rel=${f#"$here"/}
    # The subshell's stderr is muted: bash's own "Segmentation fault" notice is noise,
    # the status tells.
    (cd "$here" && timeout 20 "$HAMC" check "$rel" >"$tmp/out" 2>&1) 2>/dev/null
    status=$?
    expectations "$f" >"$tmp/want"
    actual "$rel" "$tmp/out" >"$tmp/got"
    want_status=0
    grep -q ': error: ' "$tmp/want" && want_status=1
    if [ "$status" -gt 2 ]; then
        report_failure "$rel" "hamc crashed or timed out (exit status $status)"
        fail=$((fail + 1))
    elif ! cmp -s "$tmp/want" "$tmp/got"; then
        report_failure "$rel" "diagnostics differ"
        fail=$((fail + 1))
    elif [ "$status" -ne "$want_status" ]; then
        report_failure "$rel" "exit status $status, expected $want_status"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
