# cli_common.sh: the preamble the shell tests share, sourced as
#     . "$(dirname "$0")/../cli_common.sh" NAME
# root (the checkout), HAMC (the binary, overridable), HAM_STDLIB, a C locale, no REPL
# history, a temporary directory $tmp (ham-NAME.XXXXXX, removed on exit), and the
# counters pass/fail with ok, bad (a failure, to stderr) and summary, which prints the
# closing line `N passed, N failed` and returns nonzero when any failed.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HAMC=${HAMC:-$root/bin/hamc}
export HAM_STDLIB=$root/stdlib LC_ALL=C HAM_HISTORY=/dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-${1:-test}.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
summary() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
