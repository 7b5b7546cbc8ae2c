#!/usr/bin/env bash
# fuzz_regressions.sh: every input the fuzzer once broke must now be handled.
#
# Runs each tests/fuzz/regressions/ file under a 20 s timeout, by its kind: `$HAMC
# check` on *.ham (specs), `$HAMC run --params` on *.ckpt (checkpoints), `$HAMC
# run-script --keep-going` on *.repl (REPL scripts, in an empty directory).  The
# files are malformed or odd on purpose, so errors are fine: a file passes when hamc
# exits 0 (it checks) or 1 (errors in the input), and fails on anything else: a
# signal (crash, sanitizer abort), a timeout (124), or a usage/internal status.
# Last line: `N passed, N failed`; exit status 1 if any failed.
#
# Environment: HAMC, the hamc to test (default ../../bin/hamc from this script);
# HAM_STDLIB defaults to the repo's stdlib.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${HAMC:=$here/../../bin/hamc}"
: "${HAM_STDLIB:=$here/../../stdlib}"
export HAM_STDLIB

pass=0 fail=0
empty=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-reg.XXXXXX") || exit 1
trap 'rm -rf "$empty"' EXIT
for f in "$here"/../fuzz/regressions/*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    case $name in
        *.ham) cmd=("$HAMC" check -q "$f") ;;
        *.ckpt) cmd=("$HAMC" run "$here/../../examples/phnn_small.ham" --task quadratic --runs 1 --steps 1 --params "$f") ;;
        *.repl) cmd=("$HAMC" run-script --keep-going "$f") ;;
        *) continue ;;
    esac
    # A subshell keeps bash's "Segmentation fault" notice out of the output.
    (cd "$empty" && timeout 20 "${cmd[@]}" >/dev/null 2>"${TMPDIR:-/tmp}/fuzz-reg.$$"; exit $?) 2>/dev/null
    status=$?
    if [ "$status" -eq 0 ] || [ "$status" -eq 1 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        case $status in
            124) why="timed out after 20 s" ;;
            125|126|127) why="could not run $HAMC (status $status)" ;;
            12[89]|1[3-9][0-9]|2[0-9][0-9]) why="killed by signal $((status - 128))" ;;
            *) why="exit status $status" ;;
        esac
        echo "FAIL $name: $why"
        tail -n 5 "${TMPDIR:-/tmp}/fuzz-reg.$$" | sed 's/^/    /'
    fi
done
rm -f "${TMPDIR:-/tmp}/fuzz-reg.$$"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
