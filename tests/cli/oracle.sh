#!/usr/bin/env bash
# oracle.sh: the sympy oracle (tests/oracle/sympy_oracle.py) on every stdlib/*.ham and
# examples/*.ham, and on 200 random specs.
#
# Checks what `hamc derive --format sympy` builds against sympy's own derivatives:
# dH/dx, the vector field (J - R) dH/dx + G u, the energy balance, the structure of J
# and R, and the adjoint (the VJP of the step and the update).  See the oracle's
# docstring.  Environment: HAMC (path of hamc; default ../../bin/hamc relative to this
# script), ORACLE_RANDOM (number of random specs, default 200), ORACLE_SEED (default 1).
# Last line: the summed `N passed, N failed`; exit status 1 on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAMC:=$root/bin/hamc}"
: "${ORACLE_RANDOM:=200}"
: "${ORACLE_SEED:=1}"
py=/usr/bin/python3
oracle=$root/tests/oracle/sympy_oracle.py

if ! [ -x "$py" ] || ! "$py" -c 'import sympy, mpmath' 2>/dev/null; then
    echo "oracle.sh: $py cannot import sympy: install python3-sympy (make deps does)" >&2
    echo "oracle.sh: $py cannot import sympy: install python3-sympy (make deps does)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! [ -x "$HAMC" ]; then
    echo "oracle.sh: no hamc at $HAMC (set HAMC)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
# hamc finds its prelude next to itself; a copy elsewhere needs to be told
[ -d "$root/stdlib" ] && : "${HAM_STDLIB:=$root/stdlib}" && export HAM_STDLIB

total_pass=0 total_fail=0
out=$(mktemp "${TMPDIR:-/tmp}/ham-oracle.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT

# run_oracle ARGS...: one run of the oracle; its output, then its counts added up.
run_oracle() {
    local last status
    "$py" "$oracle" --hamc "$HAMC" "$@" >"$out"
    status=$?
    grep -v '^[0-9]* passed, [0-9]* failed$' "$out"
    last=$(tail -n 1 "$out")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        total_pass=$((total_pass + BASH_REMATCH[1]))
        total_fail=$((total_fail + BASH_REMATCH[2]))
        if [ "$status" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
            echo "oracle.sh: the oracle exited $status with no failure reported ($*)"
            total_fail=$((total_fail + 1))
        fi
    else
        echo "oracle.sh: the oracle crashed (exit $status) on: $*"
        total_fail=$((total_fail + 1))
    fi
}

shopt -s nullglob
specs=()
for f in "$root"/stdlib/*.ham "$root"/examples/*.ham; do
    grep -qE '^[[:space:]]*optimizer[[:space:]]' "$f" && specs+=("$f")
done
[ ${#specs[@]} -gt 0 ] && run_oracle "${specs[@]}"
[ "$ORACLE_RANDOM" -gt 0 ] && run_oracle --random "$ORACLE_RANDOM" --seed "$ORACLE_SEED"

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
